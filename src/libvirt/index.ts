/**
 * A typed binding to libvirt's C library (libvirt.so.0, libvirt-qemu.so.0) through koffi: works
 * against any libvirt URI — `test:///default`, a libvirtd, mpvirtd. See docs/binding.md.
 */
export { connect, libvirtVersion, Connection } from './connection.js';
export type { AuthOptions, ConnectOptions, Credential, DomainStatsRecord, ListDomainsOptions } from './connection.js';
export { ConnectionEvents, Subscription } from './connection-events.js';
export type { CloseEvent, ConnectionEventMap, QemuMonitorEventFilter } from './connection-events.js';
export { Domain, domainStateName } from './domain.js';
export type { CreateOptions, DomainInfo, DomainStateName, Flags, Impact, MetadataType, UndefineOptions, XmlOptions } from './domain.js';
export { lifecycleNamesOf } from './domain-events.js';
export type { DomainEventKind, DomainEventMap, EventDomain, LifecycleEvent, LifecycleEventName, QemuMonitorEvent } from './domain-events.js';
export { StoragePool, StorageVolume } from './storage.js';
export type { Size, StoragePoolInfo, StoragePoolStateName, StorageVolumeInfo, StorageVolTypeName } from './storage.js';
export { Stream } from './stream.js';
export type { DomainStats, StatsItem, TypedParamValue } from './stats.js';
export { LibvirtError, BindingError, BindingErrors } from './errors.js';
export type { BindingErrorCode, LibvirtErrorCode, LibvirtErrorDomain } from './errors.js';
export { LibvirtObject } from './object.js';
export * as enums from './enums.js';
