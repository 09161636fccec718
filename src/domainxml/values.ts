/**
 * Scalar values of domain XML parsed the way libvirt parses them: memory sizes
 * with units, UUIDs, unsigned integers.
 */
import { randomUUID } from 'node:crypto';
import { xmlError } from '../errors.js';

/** libvirt's unit suffixes (virScaleInteger): powers of 1024 and of 1000. */
const UNIT_SCALE: Readonly<Record<string, bigint>> = (() => {
  const t: Record<string, bigint> = { b: 1n, byte: 1n, bytes: 1n };
  const names = ['k', 'm', 'g', 't', 'p', 'e'];
  names.forEach((n, i) => {
    const bin = 1024n ** BigInt(i + 1);
    const dec = 1000n ** BigInt(i + 1);
    t[n] = bin;
    t[`${n}ib`] = bin;
    t[`${n}b`] = dec;
  });
  return t;
})();

/** Largest size in bytes libvirt accepts for memory (its limit is ULLONG_MAX / 1024 KiB). */
const MAX_MEMORY_KIB = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Parse `<memory unit='…'>N</memory>` into KiB, rounding up like libvirt
 * (VIR_DIV_UP). `where` names the element for error messages.
 */
export function parseMemoryKiB(text: string, unit: string | undefined, where: string): number {
  const trimmed = text.trim();
  if (!/^[0-9]+$/.test(trimmed)) {
    throw xmlError(`Invalid value '${text}' for element or attribute '${where}'`, { where });
  }
  const scale = unit === undefined || unit === '' ? 1024n : UNIT_SCALE[unit.toLowerCase()];
  if (scale === undefined) {
    throw xmlError(`unknown suffix '${unit}' in ${where}`, { where });
  }
  const bytes = BigInt(trimmed) * scale;
  const kib = (bytes + 1023n) / 1024n;
  if (kib > MAX_MEMORY_KIB) {
    throw xmlError(`value '${text}' of ${where} is too large`, { where });
  }
  return Number(kib);
}

/** Where an unsigned value was read: an attribute of an element, or an element's text. */
export type ValueSite = { attr: string; element: string } | { element: string };

/** Unsigned integer in [min, max] (decimal, or 0x hex as libvirt allows), in libvirt 9's wording on error. */
export function parseUnsigned(text: string, site: ValueSite, min = 0, max = 0xffffffff): number {
  const t = text.trim();
  const ok = /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(t);
  const n = ok ? Number(t) : NaN;
  if (ok && Number.isSafeInteger(n) && n >= min && n <= max) return n;
  const expected = /^-[0-9]+$/.test(t) ? 'Expected non-negative value' : 'Expected integer value';
  if ('attr' in site) {
    throw xmlError(`Invalid value for attribute '${site.attr}' in element '${site.element}': '${text}'. ${expected}`, {
      where: `${site.element}/@${site.attr}`,
    });
  }
  throw xmlError(`Invalid value for element '${site.element}': '${text}'. ${expected}`, { where: site.element });
}

/**
 * libvirt's virUUIDParse: 32 hex digits, dashes allowed between byte pairs,
 * surrounding blanks ignored. Returns the canonical lower-case dashed form.
 */
export function parseUuid(text: string): string | undefined {
  const t = text.trim();
  let hex = '';
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (c === '-') {
      if (hex.length % 2 !== 0) return undefined;
      continue;
    }
    if (!/[0-9a-fA-F]/.test(c)) return undefined;
    hex += c.toLowerCase();
  }
  if (hex.length !== 32) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function generateUuid(): string {
  return randomUUID();
}

/**
 * A MAC address as libvirt reads it (virMacAddrParse: six groups of one or two hex digits
 * separated by ':') and writes it back (virMacAddrFormat: lower case, two digits each). A
 * multicast address is refused: a guest NIC cannot have one.
 */
export function parseMacAddress(text: string): string {
  const m = /^([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})(?:[\0- ].*)?$/s.exec(text);
  if (!m) throw xmlError(`unable to parse mac address '${text}'`);
  const bytes = m.slice(1, 7).map((h) => parseInt(h, 16));
  if ((bytes[0]! & 1) === 1) throw xmlError(`expected unicast mac address, found multicast '${text}'`);
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
