/**
 * virsh's command-line grammar (tools/vsh.c vshCommandParse, vshCommandStringGetArg,
 * vshCommandArgvGetArg), rule for rule, so mpvirsh accepts exactly what virsh accepts and refuses
 * the rest with virsh's own messages:
 * - the first word is the command (or a `#` comment); `--name value`, `--name=value`, bools;
 *   a bare word fills the next positional option (data, int or string without requireName, in
 *   definition order; an argv option takes all the rest); `--` makes every later word data;
 * - in a string (the shell, or one argument): blanks split words, `;` or a newline ends a command,
 *   `'…'` quotes literally, `"…"` quotes with `\` escapes, `\` escapes outside quotes, `#` starts a
 *   comment;
 * - `--help` anywhere turns the command into `help COMMAND`.
 */
import type { CmdDef, OptDef, ParsedCommand, ParsedOpt } from './command-def.js';

type Token = { kind: 'arg'; data: string } | { kind: 'end' } | { kind: 'subcmdEnd' } | { kind: 'error'; message: string };

interface TokenSource {
  next(): Token;
  /** where the last word returned ended (vshCommandParser.pos) */
  pos(): number;
}

/** vshCommandArgvGetArg: each argument is one word; no `;` handling. */
function argvSource(args: readonly string[]): TokenSource {
  let i = 0;
  return { next: () => (i < args.length ? { kind: 'arg', data: args[i++]! } : { kind: 'end' }), pos: () => i };
}

/** vshCommandStringGetArg */
function stringSource(line: string, lenient = false): TokenSource {
  let p = 0;
  let end = 0;
  return {
    pos: () => end,
    next(): Token {
      while (line[p] === ' ' || line[p] === '\t' || (line[p] === '\\' && line[p + 1] === '\n')) p += line[p] === '\\' ? 2 : 1;
      if (p >= line.length) return { kind: 'end' };
      if (line[p] === ';' || line[p] === '\n') {
        end = ++p;
        return { kind: 'subcmdEnd' };
      }
      if (line[p] === '#') {
        while (p < line.length && line[p] !== '\n') p++;
        if (p < line.length) p++;
        end = p;
        return { kind: 'subcmdEnd' };
      }
      let single = false;
      let double = false;
      let out = '';
      while (p < line.length) {
        const c = line[p]!;
        if (!double && !single && (c === ' ' || c === '\t' || c === ';' || c === '\n')) break;
        if (!double && c === "'") {
          single = !single;
          p++;
          continue;
        } else if (!single && c === '\\') {
          p++;
          if (p >= line.length) return { kind: 'error', message: 'dangling \\' };
          if (line[p] === '\n') {
            p++;
            continue;
          }
        } else if (!single && c === '"') {
          double = !double;
          p++;
          continue;
        }
        out += line[p++];
      }
      // an open double quote is fine while completing (the word is still being typed)
      if (double && !lenient) return { kind: 'error', message: 'missing "' };
      end = p;
      return { kind: 'arg', data: out };
    },
  };
}

export type ParseResult = { ok: true; commands: ParsedCommand[] } | { ok: false; errors: string[]; commands: ParsedCommand[] };

export interface CommandLookup {
  /** vshCmddefSearch: a command by name, aliases included */
  find(name: string): CmdDef | undefined;
}

const HELP_OPT: OptDef = { name: 'help', type: 'bool', help: 'print help for this function' };

/** Parse a list of words (virsh's argv mode: `virsh CMD ARG…`). */
export function parseArgv(args: readonly string[], lookup: CommandLookup): ParseResult {
  return parse(argvSource(args), lookup);
}

/** Parse a command string (the shell, or `virsh 'CMD ARG; CMD'`). */
export function parseString(line: string, lookup: CommandLookup): ParseResult {
  return parse(stringSource(line), lookup);
}

function parse(src: TokenSource, lookup: CommandLookup): ParseResult {
  const commands: ParsedCommand[] = [];
  const fail = (message: string): ParseResult => ({ ok: false, errors: [message], commands: [] });
  for (;;) {
    let cmd: CmdDef | undefined;
    let opts: ParsedOpt[] = [];
    let dataOnly = false;
    let needArg = 0n; // bit i: option i can still be filled positionally
    let required = 0n;
    let seen = 0n;
    let tk: Token;
    for (;;) {
      tk = src.next();
      if (tk.kind === 'error') return fail(tk.message);
      if (tk.kind !== 'arg') break;
      const word = tk.data;
      let opt: OptDef | undefined;
      let data: string | undefined;
      if (cmd === undefined) {
        if (word.startsWith('#')) {
          do tk = src.next(); while (tk.kind === 'arg');
          break;
        }
        cmd = lookup.find(word);
        if (!cmd) return fail(`unknown command: '${word}'`);
        if (cmd.alias !== undefined) cmd = lookup.find(cmd.alias)!;
        [needArg, required] = optMasks(cmd);
        continue;
      } else if (!dataOnly && word.startsWith('--') && /^[A-Za-z0-9]/.test(word.slice(2))) {
        const eq = word.indexOf('=', 2);
        let name = eq >= 0 ? word.slice(2, eq) : word.slice(2);
        let optstr = eq >= 0 ? word.slice(eq + 1) : undefined;
        const found = getOption(cmd, name, seen, optstr);
        if ('error' in found) {
          if (cmd.name === 'help') continue; // help ignores spurious options
          return fail(found.error);
        }
        ({ opt, optstr } = found);
        name = opt.name;
        if (found.index !== undefined) seen |= 1n << BigInt(found.index);
        if (opt.type !== 'bool') {
          if (optstr !== undefined) data = optstr;
          else {
            tk = src.next();
            if (tk.kind === 'error') return fail(tk.message);
            if (tk.kind !== 'arg') return fail(`expected syntax: --${opt.name} <${opt.type === 'int' ? 'number' : 'string'}>`);
            data = tk.data;
          }
          if (opt.type !== 'argv' && found.index !== undefined) needArg &= ~(1n << BigInt(found.index));
        } else if (optstr !== undefined) {
          return fail(`invalid '=' after option --${opt.name}`);
        }
      } else if (!dataOnly && word === '--') {
        dataOnly = true;
        continue;
      } else {
        // vshCmddefGetData: the lowest option still waiting for a positional value
        if (needArg === 0n) {
          if (cmd.name === 'help') continue;
          return fail(`unexpected data '${word}'`);
        }
        let i = 0;
        while (!(needArg & (1n << BigInt(i)))) i++;
        opt = cmd.opts[i]!;
        if (opt.type !== 'argv') needArg &= ~(1n << BigInt(i));
        seen |= 1n << BigInt(i);
        data = word;
      }
      opts.push(data === undefined ? { def: opt } : { def: opt, data });
    }
    if (cmd) {
      if (opts.some((o) => o.def.name === 'help')) {
        const help = lookup.find('help')!;
        opts = [{ def: help.opts[0]!, data: cmd.name }];
        cmd = help;
        required = 0n;
        seen = 0n;
      }
      const missing = cmd.opts.filter((o, i) => (required & ~seen & (1n << BigInt(i))) !== 0n);
      if (missing.length > 0) {
        return { ok: false, commands: [], errors: missing.map((o) => (o.type === 'data' || o.type === 'argv' ? `command '${cmd!.name}' requires <${o.name}> option` : `command '${cmd!.name}' requires --${o.name} option`)) };
      }
      commands.push({ def: cmd, opts });
    }
    if (tk.kind === 'end') break;
  }
  return { ok: true, commands };
}

/** vshCmddefOptParse: which options take a positional value, which are required. */
function optMasks(cmd: CmdDef): [bigint, bigint] {
  let needArg = 0n;
  let required = 0n;
  cmd.opts.forEach((o, i) => {
    if (o.type === 'bool' || o.type === 'alias') return;
    if (!o.requireName) needArg |= 1n << BigInt(i);
    if (o.required) required |= 1n << BigInt(i);
  });
  return [needArg, required];
}

/** vshCmddefGetOption: an option by name, aliases resolved. */
function getOption(cmd: CmdDef, name: string, seen: bigint, optstr: string | undefined):
  { opt: OptDef; index: number | undefined; optstr: string | undefined } | { error: string } {
  if (name === 'help') return { opt: HELP_OPT, index: undefined, optstr };
  for (let i = 0; i < cmd.opts.length; i++) {
    const o = cmd.opts[i]!;
    if (o.name !== name) continue;
    if (o.type === 'alias') {
      const eq = o.help.indexOf('=');
      if (eq >= 0) {
        if (optstr !== undefined) return { error: `invalid '=' after option --${o.name}` };
        optstr = o.help.slice(eq + 1);
        name = o.help.slice(0, eq);
      } else name = o.help;
      continue; // the option it stands for comes later in the table
    }
    if ((seen & (1n << BigInt(i))) !== 0n && o.type !== 'argv') return { error: `option --${name} already seen` };
    return { opt: o, index: i, optstr };
  }
  return { error: `command '${cmd.name}' doesn't support option --${name}` };
}

/** What completion needs of a half-typed line (vshCommandParse with `partial`). */
export interface PartialCommand {
  /** the last command of the line, undefined while its name is unknown */
  readonly cmd: CmdDef | undefined;
  readonly opts: readonly ParsedOpt[];
  /** the option whose value ends at the cursor (the end of the line), if any */
  readonly completing: OptDef | undefined;
}

/**
 * Parse `line` as far as it makes sense, the cursor at its end: the last command, the options
 * typed so far, and which option's value is being typed. Errors only stop the parse.
 */
export function parsePartial(line: string, lookup: CommandLookup): PartialCommand {
  const src = stringSource(line, true);
  const point = line.length;
  let result: PartialCommand = { cmd: undefined, opts: [], completing: undefined };
  for (;;) {
    let cmd: CmdDef | undefined;
    const opts: ParsedOpt[] = [];
    let completing: OptDef | undefined;
    let dataOnly = false;
    let needArg = 0n;
    let seen = 0n;
    let tk: Token = { kind: 'end' };
    const done = (): PartialCommand => ({ cmd, opts, completing });
    let stopped = false;
    for (;;) {
      tk = src.next();
      if (tk.kind !== 'arg') break;
      const word = tk.data;
      if (cmd === undefined) {
        if (word.startsWith('#')) {
          do tk = src.next(); while (tk.kind === 'arg');
          break;
        }
        cmd = lookup.find(word);
        if (!cmd) { stopped = true; break; }
        if (cmd.alias !== undefined) cmd = lookup.find(cmd.alias)!;
        [needArg] = optMasks(cmd);
        continue;
      }
      let opt: OptDef | undefined;
      let data: string | undefined;
      if (!dataOnly && word.startsWith('--') && /^[A-Za-z0-9]/.test(word.slice(2))) {
        const eq = word.indexOf('=', 2);
        const found = getOption(cmd, eq >= 0 ? word.slice(2, eq) : word.slice(2), seen, eq >= 0 ? word.slice(eq + 1) : undefined);
        if ('error' in found) { stopped = true; break; }
        opt = found.opt;
        if (found.index !== undefined) seen |= 1n << BigInt(found.index);
        if (opt.type !== 'bool') {
          if (found.optstr !== undefined) data = found.optstr;
          else {
            tk = src.next();
            if (tk.kind !== 'arg') {
              // `--opt ` at the end: its value is what is being typed
              if (src.pos() === point - 1) completing = opt;
              opts.push({ def: opt });
              stopped = true;
              break;
            }
            data = tk.data;
          }
          if (opt.type !== 'argv' && found.index !== undefined) needArg &= ~(1n << BigInt(found.index));
        }
      } else if (!dataOnly && word === '--') {
        dataOnly = true;
        continue;
      } else {
        if (needArg === 0n) { stopped = true; break; }
        let i = 0;
        while (!(needArg & (1n << BigInt(i)))) i++;
        opt = cmd.opts[i]!;
        if (opt.type !== 'argv') needArg &= ~(1n << BigInt(i));
        seen |= 1n << BigInt(i);
        data = word;
      }
      if (src.pos() === point && opt.type !== 'bool') completing = opt;
      opts.push(data === undefined ? { def: opt } : { def: opt, data });
    }
    result = done();
    if (stopped || tk.kind === 'end') return result;
  }
}