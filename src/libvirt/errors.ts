/**
 * The binding's errors, one table with stable codes (undici's pattern): a failed libvirt call is a
 * {@link LibvirtError} whose `code` is libvirt's own symbolic name (`VIR_ERR_NO_DOMAIN`), taken from
 * virGetLastError on the thread that made the call; misuse of the binding itself (a freed object,
 * an event loop that cannot start) is a {@link BindingError} with an `ERR_LIBVIRT_*` code.
 */
import koffi from 'koffi';
import { ErrorDomain, ErrorLevel, ErrorNumber } from './enums-errors.js';
import { lv, types, type RawError } from './ffi.js';

/** libvirt's symbolic error names (`VIR_ERR_NO_DOMAIN`, …). */
export type LibvirtErrorCode = keyof typeof ErrorNumber;
/** libvirt's error domain names (`VIR_FROM_QEMU`, …). */
export type LibvirtErrorDomain = keyof typeof ErrorDomain;

const codeNames = new Map<number, LibvirtErrorCode>(
  Object.entries(ErrorNumber).map(([k, v]) => [v, k as LibvirtErrorCode]),
);
const domainNames = new Map<number, LibvirtErrorDomain>(
  Object.entries(ErrorDomain).map(([k, v]) => [v, k as LibvirtErrorDomain]),
);

/** A libvirt call failed: what virGetLastError reported for it. */
export class LibvirtError extends Error {
  override readonly name = 'LibvirtError';
  /** libvirt's symbolic name for {@link number}; `VIR_ERR_UNKNOWN` for a number newer than libvirt 9.0 */
  readonly code: LibvirtErrorCode | 'VIR_ERR_UNKNOWN';
  /** virErrorNumber */
  readonly number: number;
  /** virErrorDomain: the part of libvirt that raised it */
  readonly domain: number;
  readonly domainName: LibvirtErrorDomain | 'VIR_FROM_UNKNOWN';
  /** virErrorLevel: 1 warning, 2 error */
  readonly level: number;
  readonly str1: string | null;
  readonly str2: string | null;
  readonly str3: string | null;
  readonly int1: number;
  readonly int2: number;
  /** the libvirt function that failed */
  readonly call: string;

  constructor(raw: RawError, call: string) {
    super(raw.message ?? `${call} failed`);
    this.number = raw.code;
    this.code = codeNames.get(raw.code) ?? 'VIR_ERR_UNKNOWN';
    this.domain = raw.domain;
    this.domainName = domainNames.get(raw.domain) ?? 'VIR_FROM_UNKNOWN';
    this.level = raw.level;
    this.str1 = raw.str1;
    this.str2 = raw.str2;
    this.str3 = raw.str3;
    this.int1 = raw.int1;
    this.int2 = raw.int2;
    this.call = call;
  }
}

/** The binding's own error codes. */
export const BindingErrors = {
  /** a method was called on an object after free() / [Symbol.dispose]() */
  ERR_LIBVIRT_FREED: 'libvirt object already freed',
  /** libvirt's event loop thread could not start */
  ERR_LIBVIRT_EVENT_LOOP: 'libvirt event loop failed',
  /** a value libvirt returned is not what its API promises */
  ERR_LIBVIRT_UNEXPECTED: 'unexpected answer from libvirt',
} as const;
export type BindingErrorCode = keyof typeof BindingErrors;

export class BindingError extends Error {
  override readonly name = 'BindingError';
  constructor(readonly code: BindingErrorCode, detail: string) {
    super(`${BindingErrors[code]}: ${detail}`);
  }
}

/**
 * The error of the libvirt call just made on this thread. libvirt sets it on every public API
 * failure; a failure without one (never seen) still throws, with VIR_ERR_INTERNAL_ERROR.
 */
export function lastError(call: string): LibvirtError {
  const p = lv().virGetLastError();
  const raw: RawError =
    p === null
      ? { code: ErrorNumber.VIR_ERR_INTERNAL_ERROR, domain: ErrorDomain.VIR_FROM_NONE, message: null, level: ErrorLevel.ERROR, str1: null, str2: null, str3: null, int1: 0, int2: 0 }
      : (koffi.decode(p, types().error) as RawError);
  lv().virResetLastError();
  return new LibvirtError(raw, call);
}

/** `r` if it is not -1 (libvirt's failure value for int results), else the call's LibvirtError. */
export function check(r: number, call: string): number {
  if (r < 0) throw lastError(call);
  return r;
}

/** A pointer result; null is failure. */
export function checkPtr<T>(p: T | null, call: string): T {
  if (p === null) throw lastError(call);
  return p;
}

/** virConnectIsAlive-style tri-state: 1 true, 0 false, -1 error. */
export function checkBool(r: number, call: string): boolean {
  return check(r, call) === 1;
}
