/**
 * libvirt's typed parameters (virTypedParameter): the field/value lists of stats and tuning
 * calls — `virsh domstats`, `domblkstat`, `numatune`, `blkdeviotune`, … . Every layer may build
 * them (the driver reports stats in them, the RPC layer encodes them), so they live beside
 * errors.ts. Field names are libvirt's (VIR_DOMAIN_BLOCK_STATS_*, "block.0.rd.reqs", …).
 */
import { MpvirtError } from './errors.js';

export type TypedValue =
  | { type: 'int'; v: number }
  | { type: 'uint'; v: number }
  | { type: 'llong'; v: bigint }
  | { type: 'ullong'; v: bigint }
  | { type: 'double'; v: number }
  | { type: 'boolean'; v: boolean }
  | { type: 'string'; v: string };

export interface TypedParam {
  field: string;
  value: TypedValue;
}

/** VIR_TYPED_PARAM_FIELD_LENGTH: libvirt refuses longer names */
export const TYPED_PARAM_FIELD_LENGTH = 80;
/** VIR_TYPED_PARAM_STRING_OKAY: the client can take string values (libvirt.c adds it) */
export const TYPED_PARAM_STRING_OKAY = 4;

export const tp = {
  int: (field: string, v: number): TypedParam => ({ field, value: { type: 'int', v } }),
  uint: (field: string, v: number): TypedParam => ({ field, value: { type: 'uint', v } }),
  llong: (field: string, v: bigint | number): TypedParam => ({ field, value: { type: 'llong', v: BigInt(v) } }),
  ullong: (field: string, v: bigint | number): TypedParam => ({ field, value: { type: 'ullong', v: BigInt(v) } }),
  double: (field: string, v: number): TypedParam => ({ field, value: { type: 'double', v } }),
  bool: (field: string, v: boolean): TypedParam => ({ field, value: { type: 'boolean', v } }),
  string: (field: string, v: string): TypedParam => ({ field, value: { type: 'string', v } }),
};

/**
 * The two-call pattern of libvirt's get-parameter APIs: `nparams` 0 asks how many there are;
 * otherwise the first `nparams` are returned (qemuDomainGetNumaParameters and its siblings). A
 * client that cannot take strings (no STRING_OKAY) is not sent any, as libvirt's
 * virTypedParamsFilter… does.
 */
export function answerParams(all: readonly TypedParam[], nparams: number, flags: number, max: number): { params: TypedParam[]; nparams: number } {
  if (nparams < 0 || nparams > max) throw new MpvirtError('VIR_ERR_RPC', 'nparams too large');
  const usable = flags & TYPED_PARAM_STRING_OKAY ? all : all.filter((p) => p.value.type !== 'string');
  if (nparams === 0) return { params: [], nparams: usable.length };
  const params = usable.slice(0, nparams);
  return { params, nparams: params.length };
}

/** A typed parameter's value as text, for logs and tests. */
export function typedValueText(v: TypedValue): string {
  return v.type === 'boolean' ? (v.v ? 'yes' : 'no') : String(v.v);
}
