import { MpvirtError } from '../errors.js';
/**
 * Safe construction of QEMU option values. Every user-controlled string that
 * reaches a QEMU option goes through one of these: either QEMU's own comma
 * escaping (`,` → `,,`) for the legacy `key=value,…` syntax, or JSON for
 * `-device`/`-blockdev`/`-object`, where a value can never split into options.
 */

/** Escape a value for QEMU's `key=value,key=value` option syntax. */
export function escapeOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** `key=value,…` with every value escaped; undefined values are left out. */
export function optList(pairs: ReadonlyArray<readonly [string, string | number | boolean | undefined]>): string {
  const out: string[] = [];
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    const s = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
    out.push(k === '' ? escapeOptValue(s) : `${k}=${escapeOptValue(s)}`);
  }
  return out.join(',');
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

/** JSON syntax for -device/-blockdev/-object; keys with undefined values are dropped. */
export function jsonArg(obj: { [key: string]: JsonValue | undefined }): string {
  return JSON.stringify(obj);
}

/**
 * QEMU ids (device, chardev, node-name) must start with a letter and contain
 * only letters, digits, '-', '.', '_'. libvirt's user aliases (`ua-…`) already
 * do; anything else is refused by the caller rather than mangled.
 */
export function isQemuId(id: string): boolean {
  return /^[A-Za-z][A-Za-z0-9._-]{0,127}$/.test(id);
}

/** Linux limit for a UNIX socket path (sun_path is 108 bytes, NUL included). */
export const MAX_UNIX_PATH_BYTES = 107;

/** A UNIX socket path QEMU can bind: at most {@link MAX_UNIX_PATH_BYTES} bytes. */
export function checkSocketPath(path: string): string {
  if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `socket path '${path}' is longer than the ${MAX_UNIX_PATH_BYTES} bytes a UNIX socket allows`);
  }
  return path;
}
