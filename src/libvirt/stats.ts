/**
 * virTypedParameter arrays and virDomainStatsRecord lists, decoded into typed records.
 *
 * A virTypedParameter is `char field[80]; int type; union value` (96 bytes on LP64), read by
 * offset: koffi's union decoding cannot know which member is live.
 */
import koffi from 'koffi';
import { TypedParameterType as T } from './enums-misc.js';
import type { Ptr } from './ffi.js';

export type TypedParamValue = number | bigint | string | boolean;

const FIELD_LEN = 80;
const TYPE_OFF = 80;
const VALUE_OFF = 88;
const PARAM_SIZE = 96;

/** 64-bit integers as numbers while exact, bigints beyond 2^53. */
function int64(v: number | bigint): number | bigint {
  return typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

/** `n` typed parameters at `p`, in libvirt's order (field names may repeat, e.g. in job stats). */
export function decodeTypedParams(p: Ptr | null, n: number): Array<[string, TypedParamValue]> {
  const out: Array<[string, TypedParamValue]> = [];
  if (p === null) return out;
  for (let i = 0; i < n; i++) {
    const base = i * PARAM_SIZE;
    const field = (koffi.decode(p, base, koffi.array('char', FIELD_LEN, 'String')) as string).replace(/\0.*$/s, '');
    const type = koffi.decode(p, base + TYPE_OFF, 'int') as number;
    const at = base + VALUE_OFF;
    let v: TypedParamValue;
    switch (type) {
      case T.INT: v = koffi.decode(p, at, 'int') as number; break;
      case T.UINT: v = koffi.decode(p, at, 'uint') as number; break;
      case T.LLONG: v = int64(koffi.decode(p, at, 'int64') as number | bigint); break;
      case T.ULLONG: v = int64(koffi.decode(p, at, 'uint64') as number | bigint); break;
      case T.DOUBLE: v = koffi.decode(p, at, 'double') as number; break;
      case T.BOOLEAN: v = (koffi.decode(p, at, 'char') as number) !== 0; break;
      case T.STRING: {
        const s = koffi.decode(p, at, 'void *') as Ptr | null;
        v = s === null ? '' : (koffi.decode(s, 'char', -1) as string);
        break;
      }
      default: continue; // a type newer than libvirt 9.0: skipped rather than misread
    }
    out.push([field, v]);
  }
  return out;
}

/** One indexed item of a stats group (`vcpu.0.*`, `net.1.*`, `block.2.*`), its keys without the prefix. */
export type StatsItem = Record<string, TypedParamValue>;

/** virConnectGetAllDomainStats' record for one domain: every field, plus the groups split out. */
export interface DomainStats {
  /** every field, as libvirt named it (`state.state`, `block.0.rd.bytes`, …) */
  params: Readonly<Record<string, TypedParamValue>>;
  /** VIR_DOMAIN_STATS_STATE */
  state?: { state: number; reason: number };
  /** VIR_DOMAIN_STATS_CPU_TOTAL: `time`, `user`, `system`, … in ns */
  cpu?: StatsItem;
  /** VIR_DOMAIN_STATS_BALLOON: `current`, `maximum`, `rss`, … in KiB */
  balloon?: StatsItem;
  /** VIR_DOMAIN_STATS_VCPU: `current`, `maximum`, and one item per vCPU (`state`, `time`, `wait`) */
  vcpu?: { current?: number; maximum?: number; list: StatsItem[] };
  /** VIR_DOMAIN_STATS_INTERFACE: one item per interface (`name`, `rx.bytes`, …) */
  net?: StatsItem[];
  /** VIR_DOMAIN_STATS_BLOCK: one item per disk (`name`, `path`, `rd.bytes`, …) */
  block?: StatsItem[];
  /** other groups (`perf`, `iothread`, `memory`, `dirtyrate`, …): their un-indexed fields */
  other: Record<string, StatsItem>;
}

/** Groups `group.N.rest` into lists and `group.rest` into items. */
export function groupStats(params: Array<[string, TypedParamValue]>): DomainStats {
  const flat: Record<string, TypedParamValue> = {};
  const items = new Map<string, StatsItem>();
  const lists = new Map<string, StatsItem[]>();
  for (const [k, v] of params) {
    flat[k] = v;
    const m = /^([^.]+)\.(\d+)\.(.+)$/.exec(k);
    if (m) {
      const list = lists.get(m[1]!) ?? [];
      lists.set(m[1]!, list);
      (list[Number(m[2])] ??= {})[m[3]!] = v;
      continue;
    }
    const dot = k.indexOf('.');
    const group = dot < 0 ? '' : k.slice(0, dot);
    const item = items.get(group) ?? {};
    items.set(group, item);
    item[dot < 0 ? k : k.slice(dot + 1)] = v;
  }
  const dense = (g: string): StatsItem[] => Array.from(lists.get(g) ?? [], (x) => x ?? {});
  const st: DomainStats = { params: flat, other: {} };
  const state = items.get('state');
  if (state) st.state = { state: Number(state.state ?? 0), reason: Number(state.reason ?? 0) };
  if (items.has('cpu')) st.cpu = items.get('cpu')!;
  if (items.has('balloon')) st.balloon = items.get('balloon')!;
  const vcpu = items.get('vcpu');
  if (vcpu || lists.has('vcpu')) {
    st.vcpu = { list: dense('vcpu') };
    if (vcpu?.current !== undefined) st.vcpu.current = Number(vcpu.current);
    if (vcpu?.maximum !== undefined) st.vcpu.maximum = Number(vcpu.maximum);
  }
  if (items.has('net') || lists.has('net')) st.net = dense('net');
  if (items.has('block') || lists.has('block')) st.block = dense('block');
  for (const [g, item] of items) if (!['state', 'cpu', 'balloon', 'vcpu', 'net', 'block'].includes(g)) st.other[g] = item;
  return st;
}
