/** libvirt's enums, numbers from libvirt 9.0's headers (generated: gen-enums.mjs). */
export * from './enums-domain.js';
export * from './enums-errors.js';
export * from './enums-misc.js';
