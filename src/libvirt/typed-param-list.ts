/**
 * Typed parameter lists that keep each parameter's virTypedParameterType beside its value (stats.ts
 * decodes the values; a printer such as virsh's vshGetTypedParamValue also needs the type, since
 * an INT 5 and a DOUBLE 5 print differently), and the small memory helpers the binding's
 * caller-allocated structs need: a Buffer's address for libvirt to fill in, 64-bit reads.
 */
import koffi from 'koffi';
import { TypedParameterType as T } from './enums-misc.js';
import { declareFunctions, libc, type Ptr } from './ffi.js';
import { decodeTypedParams, type TypedParamValue } from './stats.js';

/** sizeof(virTypedParameter) on LP64 */
export const TYPED_PARAM_SIZE = 96;
const TYPE_OFF = 80;

export interface TypedParam {
  readonly field: string;
  /** virTypedParameterType (1 int … 7 string) */
  readonly type: number;
  readonly value: TypedParamValue;
}

interface Fns {
  virTypedParamsFree(params: Ptr | null, n: number): void;
  virTypedParamsClear(params: Ptr | null, n: number): void;
}
const tv = declareFunctions<Fns>({
  virTypedParamsFree: 'void virTypedParamsFree(void *params, int nparams)',
  virTypedParamsClear: 'void virTypedParamsClear(void *params, int nparams)',
});

const KNOWN = new Set<number>(Object.values(T));

/** The `n` parameters at `p` with their types (stats.ts skips types newer than 9.0; so does this). */
export function typedParamsAt(p: Ptr | null, n: number): TypedParam[] {
  if (p === null || n <= 0) return [];
  const types: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = koffi.decode(p, i * TYPED_PARAM_SIZE + TYPE_OFF, 'int') as number;
    if (KNOWN.has(t)) types.push(t);
  }
  return decodeTypedParams(p, n).map(([field, value], i) => ({ field, type: types[i]!, value }));
}

/**
 * A caller-allocated array libvirt fills in (virDomainBlockStatsFlags, virDomainGetNumaParameters,
 * …): decoded with types, then cleared (libvirt's strdup'ed strings released), in `n` slots of
 * which libvirt reported `filled`.
 */
export function takeFilledParams(buf: Buffer, filled: number): TypedParam[] {
  const p = koffi.address(buf) as Ptr;
  try {
    return typedParamsAt(p, filled);
  } finally {
    tv().virTypedParamsClear(p, buf.length / TYPED_PARAM_SIZE);
  }
}

/** An array libvirt allocated itself (virDomainGetJobStats, virDomainGetLaunchSecurityInfo): decoded, then freed. */
export function takeAllocatedParams(p: Ptr | null, n: number): TypedParam[] {
  try {
    return typedParamsAt(p, n);
  } finally {
    if (p !== null) tv().virTypedParamsFree(p, n);
  }
}

/** A zeroed buffer for `n` typed parameters (at least one slot, so its address is never NULL-sized). */
export const paramsBuffer = (n: number): Buffer => Buffer.alloc(Math.max(n, 1) * TYPED_PARAM_SIZE);

/** virTypedParamsGet: the first parameter named `field`. */
export const paramNamed = (params: readonly TypedParam[], field: string): TypedParam | undefined => params.find((p) => p.field === field);

/** 64-bit integers as numbers while exact, bigints beyond 2^53 (the binding's rule). */
export function exact(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

export const u64 = (b: Buffer, off: number): number | bigint => exact(b.readBigUInt64LE(off));
export const s64 = (b: Buffer, off: number): number | bigint => exact(b.readBigInt64LE(off));

/** The address of a Buffer libvirt writes into (valid while the Buffer is referenced). */
export const addressOf = (b: Buffer): Ptr => koffi.address(b) as Ptr;

/** A `char *` stored in a struct at `off` (not freed: its owner frees it). */
export function cStringAt(p: Ptr, off: number): string | null {
  const s = koffi.decode(p, off, 'void *') as Ptr | null;
  return s === null ? null : (koffi.decode(s, 'char', -1) as string);
}

/**
 * A virTypedParameter array for a Set call, strings strdup'ed: call `release()` once libvirt has
 * read it (it copies what it keeps).
 */
export function encodeParams(params: readonly TypedParam[]): { buf: Buffer; release(): void } {
  const buf = paramsBuffer(params.length);
  const strings: Ptr[] = [];
  params.forEach((p, i) => {
    const at = i * TYPED_PARAM_SIZE;
    buf.write(p.field.slice(0, 79), at, 'utf8');
    buf.writeInt32LE(p.type, at + TYPE_OFF);
    const v = at + 88;
    switch (p.type) {
      case T.INT: buf.writeInt32LE(Number(p.value), v); break;
      case T.UINT: buf.writeUInt32LE(Number(p.value), v); break;
      case T.LLONG: buf.writeBigInt64LE(BigInt(p.value), v); break;
      case T.ULLONG: buf.writeBigUInt64LE(BigInt(p.value), v); break;
      case T.DOUBLE: buf.writeDoubleLE(Number(p.value), v); break;
      case T.BOOLEAN: buf.writeInt8(p.value ? 1 : 0, v); break;
      case T.STRING: {
        const s = libc().strdup(String(p.value));
        strings.push(s);
        buf.writeBigUInt64LE(BigInt(s), v);
        break;
      }
      default: throw new RangeError(`typed parameter '${p.field}' has no type ${p.type}`);
    }
  });
  return { buf, release: () => strings.splice(0).forEach((s) => libc().free(s)) };
}
