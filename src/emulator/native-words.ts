/**
 * The words and options of a QEMU command line, for domxml-from-native: a shell's word
 * splitting, QEMU's `key=value,…` syntax (and its JSON one), and the split of a text into the
 * command lines of the QEMU processes it starts.
 */
import { MpvirtError } from '../errors.js';

/** Shell words of a command line: quotes, backslash escapes and line continuations, `#` comments. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const src = text.replace(/\\\r?\n/g, ' ');
  while (i < src.length) {
    const c = src[i]!;
    if (c === '#' && !inWord) {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = src.indexOf("'", i + 1);
      if (end < 0) throw new MpvirtError('VIR_ERR_INVALID_ARG', 'unterminated single quote in the command line');
      cur += src.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\\' && i + 1 < src.length && '"\\$`'.includes(src[i + 1]!)) i++;
        cur += src[i++];
      }
      if (i >= src.length) throw new MpvirtError('VIR_ERR_INVALID_ARG', 'unterminated double quote in the command line');
      i++;
    } else if (c === '\\' && i + 1 < src.length) {
      cur += src[i + 1];
      i += 2;
    } else {
      cur += c;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** QEMU's option syntax: `a=b,c,d=e,,f` (`,,` is a comma); a bare key is `on`; the first may be implied. */
export function qemuOpts(value: string, implied?: string): Array<[string, string]> {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] === ',') {
      if (value[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      parts.push(cur);
      cur = '';
    } else cur += value[i];
  }
  parts.push(cur);
  return parts.map((p, i): [string, string] => {
    const eq = p.indexOf('=');
    if (eq >= 0) return [p.slice(0, eq), p.slice(eq + 1)];
    return i === 0 && implied ? [implied, p] : [p, 'on'];
  });
}

/** One QEMU command line: its binary (when the text names one) and its arguments. */
export interface NativeCommand { binary?: string; args: string[] }

/** Command lines: each starts at a QEMU binary (environment assignments before it are dropped). */
export function splitCommands(words: string[]): NativeCommand[] {
  const out: NativeCommand[] = [];
  let cur: NativeCommand | undefined;
  for (const w of words) {
    if (/(^|\/)(qemu-system-\w+|qemu-kvm)$/.test(w)) {
      cur = { binary: w, args: [] };
      out.push(cur);
    } else if (cur === undefined) {
      if (/^[A-Za-z_]\w*=/.test(w)) continue;
      cur = { args: [w] };
      out.push(cur);
    } else cur.args.push(w);
  }
  return out;
}

/** One option value as properties: QEMU's JSON syntax (`{"driver":…}`) or `key=value,…`. */
export type NativeValue = string | number | boolean | null | NativeValue[] | { [key: string]: NativeValue };
export type NativeProps = Record<string, NativeValue>;

export function optionProps(value: string, implied?: string): NativeProps {
  if (value.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new MpvirtError('VIR_ERR_INVALID_ARG', `the option value '${value}' is not valid JSON`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new MpvirtError('VIR_ERR_INVALID_ARG', `the option value '${value}' is not a JSON object`);
    return parsed as NativeProps;
  }
  return Object.fromEntries(qemuOpts(value, implied));
}
