/**
 * Number formats of virsh's storage commands: vshPrettyCapacity (tools/vsh.c) and C's `%.2lf`,
 * whose rounding of an exact tie is to even (glibc), where JS's toFixed rounds it up; and
 * virScaleInteger's size suffixes (vol-create-as, vol-resize).
 */
import type { Size } from '../../libvirt/storage.js';

/** printf("%.<digits>f", v) as glibc writes it (v finite, not huge). */
export function printfFixed(v: number, digits: number): string {
  const rounded = v.toFixed(digits);
  // every double used here has at most ~64 fractional binary digits: toFixed(100) is its exact value
  const exact = v.toFixed(100);
  const point = exact.indexOf('.');
  const rest = exact.slice(point + 1 + digits);
  if (!/^50*$/.test(rest)) return rounded; // not a tie: toFixed rounded to nearest, as glibc
  const kept = exact.slice(0, point + 1 + digits).replace(/\.$/, '');
  const last = Number(kept[kept.length - 1]);
  return last % 2 === 0 ? kept : rounded; // a tie: to even
}

/** vshPrettyCapacity: the value in B, KiB, … EiB (each step 1024), as a double. */
export function prettyCapacity(value: Size): { val: number; unit: string } {
  const v = Number(value);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let limit = 1024;
  for (let i = 0; i < units.length; i++) {
    if (v < limit) return { val: i === 0 ? v : v / (limit / 1024), unit: units[i]! };
    limit *= 1024;
  }
  return { val: v / (limit / 1024), unit: 'EiB' };
}

/** `%.2lf %s` of vshPrettyCapacity */
export function pretty(value: Size): string {
  const { val, unit } = prettyCapacity(value);
  return `${printfFixed(val, 2)} ${unit}`;
}

const POWERS = 'kmgtpe';
const ULLONG_MAX = 2n ** 64n - 1n;

/**
 * virshVolSize: virStrToLong_ullp (base 10 after optional blanks and `+`; no `-`) then
 * virScaleInteger: no suffix or `b` is bytes, `k`…`e` alone or with `iB` powers of 1024, with `B`
 * powers of 1000, any case. A bad size is `undefined`, or the message of libvirt's own error when
 * virScaleInteger raised one (virsh prints it after `Malformed size`).
 */
export function volSize(text: string): { value: bigint } | { error?: { code: 'VIR_ERR_INVALID_ARG' | 'VIR_ERR_OVERFLOW'; message: string } } {
  const m = /^[ \t\n\v\f\r]*\+?(\d+)(.*)$/s.exec(text);
  if (!m) return {};
  const v = BigInt(m[1]!);
  if (v > ULLONG_MAX) return {};
  const suffix = m[2]!;
  let scale = 1n;
  if (suffix !== '') {
    const unit = suffix[0]!.toLowerCase();
    const tail = suffix.slice(1);
    const power = POWERS.indexOf(unit) + 1;
    const unknown = { error: { code: 'VIR_ERR_INVALID_ARG' as const, message: `invalid argument: unknown suffix '${suffix}'` } };
    if (unit === 'b') {
      if (tail !== '') return unknown;
    } else if (power > 0 && (tail === '' || tail.toLowerCase() === 'ib')) scale = 1024n ** BigInt(power);
    else if (power > 0 && tail.toLowerCase() === 'b') scale = 1000n ** BigInt(power);
    else return unknown;
  }
  if (v > ULLONG_MAX / scale) return { error: { code: 'VIR_ERR_OVERFLOW', message: `numerical overflow: value too large: ${v}${suffix}` } };
  return { value: v * scale };
}
