/**
 * Option values virsh parses with libvirt's util functions: scaled sizes (vshCommandOptScaledInt
 * over virScaleInteger), CPU lists (virshParseCPUList over virBitmapParse), and the
 * --config/--live impact flags most changing commands share. Their failures print what virsh
 * prints — virsh's own line and then the libvirt util error it leaves behind.
 */
import type { ParsedCommand } from '../vsh/command-def.js';
import { optBool, VshError } from '../vsh/options.js';
import type { Ctl } from './ctl.js';

/** VIR_DOMAIN_AFFECT_CONFIG (2) for --config, VIR_DOMAIN_AFFECT_LIVE (1) for --live. */
export function affectFlags(cmd: ParsedCommand): number {
  return (optBool(cmd, 'config') ? 2 : 0) | (optBool(cmd, 'live') ? 1 : 0);
}

/** A failure printed as two lines: virsh's, then the libvirt error a util function set. */
function twoLines(ctl: Ctl, first: string, second: string): never {
  ctl.error(first);
  throw new VshError(second);
}

/**
 * vshCommandOptScaledInt: a number with an optional suffix (k, KiB, MB, G, …; none means `scale`),
 * in bytes, at most `max`; undefined when the option is absent.
 */
export function scaledOpt(ctl: Ctl, cmd: ParsedCommand, name: string, scale: bigint, max: bigint): bigint | undefined {
  const o = cmd.opts.find((x) => x.def.name === name);
  if (!o) return undefined;
  const text = o.data ?? '';
  const bad = `Scaled numeric value '${text}' for <${name}> option is malformed or out of range`;
  // virStrToLong_ullp: blanks, '+', digits; no '-'; the rest is the suffix
  const m = /^([ \t\n\v\f\r]*\+?)(\d+)(.*)$/s.exec(text);
  if (!m) throw new VshError(bad);
  let value = BigInt(m[2]!);
  if (value > 2n ** 64n - 1n) throw new VshError(bad);
  const suffix = m[3]!;
  if (suffix === 'b' || suffix === 'B') {
    scale = 1n; // bytes: only the lone letter
  } else if (suffix !== '') {
    let base: bigint;
    if (suffix.length === 1 || suffix.slice(1).toLowerCase() === 'ib') base = 1024n;
    else if (suffix[1]!.toLowerCase() === 'b' && suffix.length === 2) base = 1000n;
    else twoLines(ctl, bad, `invalid argument: unknown suffix '${suffix}'`);
    const power = 'kmgtpe'.indexOf(suffix[0]!.toLowerCase()) + 1;
    if (power === 0) twoLines(ctl, bad, `invalid argument: unknown suffix '${suffix}'`);
    scale = base ** BigInt(power);
  }
  if (value !== 0n && value > max / scale) twoLines(ctl, bad, `numerical overflow: value too large: ${value}${suffix}`);
  value *= scale;
  return value;
}

const BITMAP_PARSE_SIZE = 1024;

/** virBitmapParse(str, &map, 1024): the set bits, or undefined when malformed or out of range. */
function parseBitmap(str: string): Set<number> | undefined {
  const bits = new Set<number>();
  let i = 0;
  const spaces = (): void => {
    while (i < str.length && /[ \t\n\v\f\r]/.test(str[i]!)) i++;
  };
  const number = (): number | undefined => {
    const m = /^[ \t\n\v\f\r]*[-+]?\d+/.exec(str.slice(i));
    if (!m) return undefined;
    const v = Number(m[0].trim());
    if (v > 2 ** 31 - 1) return undefined;
    i += m[0].length;
    return v;
  };
  spaces();
  if (i >= str.length) return undefined;
  while (i < str.length) {
    let neg = false;
    if (str[i] === '^') {
      i++;
      neg = true;
    }
    if (!/\d/.test(str[i] ?? '')) return undefined;
    const start = number();
    if (start === undefined || start < 0) return undefined;
    spaces();
    if (str[i] === ',' || i >= str.length) {
      if (start >= BITMAP_PARSE_SIZE) return undefined;
      if (neg) bits.delete(start);
      else bits.add(start);
    } else if (str[i] === '-') {
      if (neg) return undefined;
      i++;
      spaces();
      const last = number();
      if (last === undefined || last < start) return undefined;
      for (let b = start; b <= last; b++) {
        if (b >= BITMAP_PARSE_SIZE) return undefined;
        bits.add(b);
      }
      spaces();
    }
    if (str[i] === ',') {
      i++;
      spaces();
    } else if (i >= str.length) {
      break;
    } else {
      return undefined;
    }
  }
  return bits;
}

/** virBitmapToData: one bit per CPU, as many bytes as the highest set bit needs. */
function toCpuMap(bits: Iterable<number>): Buffer {
  const list = [...bits];
  const last = list.length ? Math.max(...list) : -1;
  const map = Buffer.alloc(last < 0 ? 1 : Math.floor(last / 8) + 1);
  for (const b of list) map[b >> 3]! |= 1 << (b & 7);
  return map;
}

/** virshParseCPUList: `r` for every host CPU, else a bitmap list none of whose CPUs is past the host's. */
export function cpuMapFromList(ctl: Ctl, cpulist: string, maxcpu: number): Buffer {
  if (cpulist.startsWith('r')) return toCpuMap(Array.from({ length: maxcpu }, (_, i) => i));
  const bits = parseBitmap(cpulist);
  if (!bits) twoLines(ctl, `Invalid cpulist '${cpulist}'`, `invalid argument: Failed to parse bitmap '${cpulist}'`);
  if (bits.size === 0) throw new VshError(`Invalid cpulist '${cpulist}'`);
  const last = Math.max(...bits);
  if (last >= maxcpu) throw new VshError(`CPU ${last} in cpulist '${cpulist}' exceed the maxcpu ${maxcpu}`);
  return toCpuMap(bits);
}
