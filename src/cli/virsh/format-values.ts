/**
 * Values as virsh prints them: typed parameters (vsh.c vshGetTypedParamValue, libvirt's
 * virTypedParameterToString), sizes (vshPrettyCapacity), CPU maps (virBitmapDataFormat and the
 * `y`/`-` strings), and glibc printf's `%.Nf` (round half to even on the exact binary value, `-nan`
 * for x86's default NaN), which JavaScript's toFixed does not match.
 */
import { TypedParameterType as T } from '../../libvirt/enums-misc.js';
import type { TypedParam } from '../../libvirt/typed-param-list.js';

/** printf("%.<digits>f", x) as glibc prints it. */
export function fixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return '-nan'; // 0.0/0.0 on x86 is the negative default NaN
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  // x = mant * 2^exp exactly; then round mant * 10^digits / 2^-exp half to even
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const e = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = e - 1075;
  if (e === 0) exp = -1074;
  else mant |= 1n << 52n;
  const scale = 10n ** BigInt(digits);
  let n: bigint;
  if (exp >= 0) n = (mant << BigInt(exp)) * scale;
  else {
    const den = 1n << BigInt(-exp);
    const num = mant * scale;
    n = num / den;
    const rem2 = (num % den) * 2n;
    if (rem2 > den || (rem2 === den && n % 2n === 1n)) n += 1n;
  }
  const s = n.toString().padStart(digits + 1, '0');
  const body = digits === 0 ? s : `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  return negative ? `-${body}` : body;
}

/** vshGetTypedParamValue */
export function typedParamValue(p: TypedParam): string {
  switch (p.type) {
    case T.DOUBLE: return fixed(Number(p.value), 6);
    case T.BOOLEAN: return p.value ? 'yes' : 'no';
    default: return String(p.value);
  }
}

/** printf("%g", x) */
export function shortest(x: number): string {
  if (Number.isNaN(x)) return '-nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(6)))));
  if (exp < -4 || exp >= 6) {
    const [m, e] = x.toExponential(5).split('e') as [string, string];
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = x.toFixed(Math.max(0, 5 - exp));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** libvirt's virTypedParameterToString (domjobinfo --rawstats) */
export function typedParamString(p: TypedParam): string {
  switch (p.type) {
    case T.DOUBLE: return shortest(Number(p.value));
    case T.BOOLEAN: return p.value ? '1' : '0';
    default: return String(p.value);
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** vshPrettyCapacity: the value in the largest unit it is at least one of, up to EiB. */
export function prettyCapacity(v: number | bigint): { value: number; unit: string } {
  const val = Number(v);
  let limit = 1024;
  for (let i = 0; i < UNITS.length; i++) {
    if (val < limit) return { value: i === 0 ? val : val / (limit / 1024), unit: UNITS[i]! };
    limit *= 1024;
  }
  return { value: val / (limit / 1024), unit: 'EiB' };
}

/** "%.3lf %s" of vshPrettyCapacity */
export const prettySize = (v: number | bigint): string => {
  const { value, unit } = prettyCapacity(v);
  return `${fixed(value, 3)} ${unit}`;
};

/** VIR_CPU_USED: host CPU `cpu` set in `map` */
export const cpuUsed = (map: Buffer, cpu: number): boolean => ((map[cpu >> 3] ?? 0) & (1 << (cpu & 7))) !== 0;

/** VIR_CPU_MAPLEN */
export const cpuMapLen = (cpus: number): number => Math.floor((cpus + 7) / 8);

/** virBitmapDataFormat: set bits of `len` bytes as ranges, `0-3,6` ('' when none). */
export function bitmapFormat(map: Buffer, len = map.length): string {
  const parts: string[] = [];
  let start = -1;
  const bits = len * 8;
  for (let i = 0; i <= bits; i++) {
    const set = i < bits && cpuUsed(map, i);
    if (set && start < 0) start = i;
    if (!set && start >= 0) {
      parts.push(start === i - 1 ? String(start) : `${start}-${i - 1}`);
      start = -1;
    }
  }
  return parts.join(',');
}

/** The `y`/`-` string of the first `cpus` host CPUs. */
export const cpuMapString = (map: Buffer, cpus: number): string => Array.from({ length: cpus }, (_, i) => (cpuUsed(map, i) ? 'y' : '-')).join('');

/** virBitmapParse of a cpulist (`0-3,^2,5`) into a map of host CPUs; undefined when malformed. */
export function parseCpuList(text: string, maxBits = 1024): Set<number> | undefined {
  const set = new Set<number>();
  const items = text.split(',');
  for (const raw of items) {
    const item = raw.trim();
    const neg = item.startsWith('^');
    const m = /^(\d+)(?:-(\d+))?$/.exec(neg ? item.slice(1) : item);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (neg && m[2] !== undefined) return undefined;
    if (a > b || b >= maxBits) return undefined;
    for (let i = a; i <= b; i++) {
      if (neg) set.delete(i);
      else set.add(i);
    }
  }
  return set;
}
