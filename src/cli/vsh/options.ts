/**
 * virsh's option getters (tools/vsh.c vshCommandOpt*): a parsed command's options as typed
 * values, refusing a bad value with virsh's message. A refusal is a {@link VshError}: the command
 * fails with that one `error:` line, as virsh's handlers `return false` after vshError.
 */
import type { ParsedCommand } from './command-def.js';

/** A command failed with a message of virsh's own (not a libvirt error). */
export class VshError extends Error {
  override readonly name = 'VshError';
}

function find(cmd: ParsedCommand, name: string): { data?: string } | undefined {
  if (!cmd.def.opts.some((o) => o.name === name)) throw new Error(`mpvirsh bug: command '${cmd.def.name}' has no option --${name}`);
  return cmd.opts.find((o) => o.def.name === name);
}

export function optBool(cmd: ParsedCommand, name: string): boolean {
  return find(cmd, name) !== undefined;
}

/** vshCommandOptStringReq: undefined when absent; an empty value refused unless the option allows it. */
export function optString(cmd: ParsedCommand, name: string): string | undefined {
  const o = find(cmd, name);
  if (!o) return undefined;
  const def = cmd.def.opts.find((d) => d.name === name)!;
  if (o.data === '' && !def.emptyOk) throw new VshError(`Failed to get option '${name}': Option argument is empty`);
  return o.data;
}

/** vshCommandOptStringQuiet: the raw value, empty or not. */
export function optStringQuiet(cmd: ParsedCommand, name: string): string | undefined {
  return find(cmd, name)?.data;
}

/** Every value an argv option collected, in order. */
export function optArgv(cmd: ParsedCommand, name: string): string[] {
  find(cmd, name);
  return cmd.opts.filter((o) => o.def.name === name).map((o) => o.data ?? '');
}

/**
 * virStrToLong_* as virsh uses them: optional sign, decimal (base 10) or, for the unsigned
 * variants, base 10 too; the whole string must be the number. Negative values of unsigned options
 * are refused unless `wrap` (the *Wrap getters turn -1 into the type's maximum).
 */
function parseInteger(text: string, min: bigint, max: bigint, wrap: boolean): bigint | undefined {
  if (!/^\s*[-+]?\d+$/.test(text)) return undefined;
  let v = BigInt(text.trim());
  if (v < 0n && min === 0n) {
    if (!wrap) return undefined;
    // strtoull semantics: -N is 2^64 - N (then range-checked against the type)
    if (-v > max) return undefined;
    v = max + 1n + v;
  }
  return v < min || v > max ? undefined : v;
}

const malformed = (cmd: ParsedCommand, name: string): VshError =>
  new VshError(`Numeric value '${find(cmd, name)!.data ?? ''}' for <${name}> option is malformed or out of range`);

function optInteger(cmd: ParsedCommand, name: string, min: bigint, max: bigint, wrap = false): bigint | undefined {
  const o = find(cmd, name);
  if (!o) return undefined;
  const v = parseInteger(o.data ?? '', min, max, wrap);
  if (v === undefined) throw malformed(cmd, name);
  return v;
}

const INT_MAX = 2n ** 31n - 1n;

export const optInt = (cmd: ParsedCommand, name: string): number | undefined => {
  const v = optInteger(cmd, name, -INT_MAX - 1n, INT_MAX);
  return v === undefined ? undefined : Number(v);
};
export const optUInt = (cmd: ParsedCommand, name: string, wrap = false): number | undefined => {
  const v = optInteger(cmd, name, 0n, 2n ** 32n - 1n, wrap);
  return v === undefined ? undefined : Number(v);
};
export const optULongLong = (cmd: ParsedCommand, name: string, wrap = false): bigint | undefined => optInteger(cmd, name, 0n, 2n ** 64n - 1n, wrap);
export const optLongLong = (cmd: ParsedCommand, name: string): bigint | undefined => optInteger(cmd, name, -(2n ** 63n), 2n ** 63n - 1n);

/** VSH_EXCLUSIVE_OPTIONS: two options that cannot be given together. */
export function exclusive(cmd: ParsedCommand, a: string, b: string): void {
  if (optBool(cmd, a) && optBool(cmd, b)) throw new VshError(`Options --${a} and --${b} are mutually exclusive`);
}
