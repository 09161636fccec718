/**
 * mpvirsh's program (tools/virsh.c main, virshParseArgv, vsh.c vshCommandRun): global options
 * as virsh's getopt_long string "+:c:d:e:hk:K:l:qrtvV" reads them, then one command string, one
 * command with its words, or the interactive shell; exit status 0 when the (last) command
 * succeeded, 1 otherwise.
 */
import { createInterface } from 'node:readline';
import { LibvirtError } from '../../libvirt/errors.js';
import type { CmdGroup, ParsedCommand } from '../vsh/command-def.js';
import { VshError } from '../vsh/options.js';
import { parseArgv, parseString, type ParseResult } from '../vsh/parse.js';
import { COMMAND_GROUPS, commandLookup } from './command-table.js';
import { Ctl, type CtlOptions } from './ctl.js';

export const MPVIRSH_VERSION = '0.1.0';

interface LongOpt { name: string; short: string; arg: 'none' | 'required' | 'optional' }
const LONG: readonly LongOpt[] = [
  { name: 'connect', short: 'c', arg: 'required' }, { name: 'debug', short: 'd', arg: 'required' }, { name: 'escape', short: 'e', arg: 'required' },
  { name: 'help', short: 'h', arg: 'none' }, { name: 'keepalive-interval', short: 'k', arg: 'required' }, { name: 'keepalive-count', short: 'K', arg: 'required' },
  { name: 'log', short: 'l', arg: 'required' }, { name: 'quiet', short: 'q', arg: 'none' }, { name: 'readonly', short: 'r', arg: 'none' },
  { name: 'timing', short: 't', arg: 'none' }, { name: 'version', short: 'v', arg: 'optional' },
];
const SHORT_WITH_ARG = new Set(['c', 'd', 'e', 'k', 'K', 'l']);
const SHORT_FLAGS = new Set(['h', 'q', 'r', 't', 'v', 'V']);

/** Thrown to end the program with virsh's status after printing. */
class Exit extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

function usage(groups: readonly CmdGroup[]): string {
  let out = `\nmpvirsh [options]... [<command_string>]\nmpvirsh [options]... <command> [args...]\n\n  options:
    -c | --connect=URI      hypervisor connection URI
    -d | --debug=NUM        debug level [0-4]
    -e | --escape <char>    set escape sequence for console
    -h | --help             this help
    -k | --keepalive-interval=NUM
                            keepalive interval in seconds, 0 for disable
    -K | --keepalive-count=NUM
                            number of possible missed keepalive messages
    -l | --log=FILE         output logging to file
    -q | --quiet            quiet mode
    -r | --readonly         connect readonly
    -t | --timing           print timing information
    -v                      short version
    -V                      long version
         --version[=TYPE]   version, TYPE is short or long (default short)
  commands (non interactive mode):\n\n`;
  for (const g of groups) {
    out += ` ${g.name} (help keyword '${g.keyword}')\n`;
    for (const c of g.commands) if (c.alias === undefined && !c.hidden) out += `    ${c.name.padEnd(30)} ${c.help}\n`;
    out += '\n';
  }
  return `${out}\n  (specify help <group> for details about the commands in the group)\n\n  (specify help <command> for details about the command)\n\n`;
}

/** virsh's escape characters for -e: `^` and one of @A-Z[\]^_ (virshAllowedEscapeChar), or one plain character. */
const escapeOk = (e: string): boolean => (e.length === 2 && e[0] === '^' && /[@A-Za-z[\\\]^_]/.test(e[1]!)) || (e.length === 1 && e !== '^');

/** The default URI: -c, else LIBVIRT_DEFAULT_URI / VIRSH_DEFAULT_CONNECT_URI, else mpvirt's own daemon. */
export function defaultUri(env: NodeJS.ProcessEnv, uid: number): string {
  return env.VIRSH_DEFAULT_CONNECT_URI || env.LIBVIRT_DEFAULT_URI || (uid === 0 ? 'mpqemu:///system' : 'mpqemu:///session');
}

interface Parsed { opts: CtlOptions; rest: string[]; connectNow: boolean }

function parseGlobal(argv: readonly string[], ctl: { error(m: string): void; print(t: string): void }, env: NodeJS.ProcessEnv): Parsed {
  const opts: CtlOptions = { uri: null, readonly: false, quiet: false, timing: false, keepaliveInterval: -1, keepaliveCount: -1, escape: '^]' };
  let i = 0;
  const fail = (m: string): never => {
    ctl.error(m);
    throw new Exit(1);
  };
  const apply = (short: string, value: string | undefined, long: boolean): void => {
    const name = (s: string, l: string): string => (long ? `--${l}` : `-${s}`);
    switch (short) {
      case 'c': opts.uri = value!; break;
      case 'd': if (!/^\s*[-+]?\d+$/.test(value!)) fail(`option ${name('d', 'debug')} takes a numeric argument`); break;
      case 'e': if (!escapeOk(value!)) fail(`Invalid string '${value}' for escape sequence`); opts.escape = value!; break;
      case 'h': ctl.print(usage(COMMAND_GROUPS)); throw new Exit(0);
      case 'k': case 'K': {
        const l = short === 'k' ? 'keepalive-interval' : 'keepalive-count';
        const v = /^\s*[-+]?(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.test(value!) ? Number.parseInt(value!.trim(), value!.trim().replace(/^[-+]/, '').startsWith('0x') ? 16 : /^[-+]?0\d/.test(value!.trim()) ? 8 : 10) : NaN;
        if (Number.isNaN(v)) fail(`Invalid value for option ${name(short, l)}`);
        if (v < 0) fail(`option ${name(short, l)} requires a positive integer argument`);
        if (short === 'k') opts.keepaliveInterval = v; else opts.keepaliveCount = v;
        break;
      }
      case 'l': break; // the log file: libvirt's client debug log is LIBVIRT_LOG_OUTPUTS
      case 'q': opts.quiet = true; break;
      case 'r': opts.readonly = true; break;
      case 't': opts.timing = true; break;
      case 'v':
      case 'V':
        ctl.print(short === 'v' && value !== 'long' ? `${MPVIRSH_VERSION}\n` : `mpvirsh, the virsh-compatible shell of mpvirt ${MPVIRSH_VERSION}\n`);
        throw new Exit(0);
    }
  };
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === '--') { i++; break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const nm = a.slice(2, eq >= 0 ? eq : undefined);
      // getopt_long: an exact name, or an unambiguous prefix
      const hits = LONG.filter((o) => o.name === nm).length ? LONG.filter((o) => o.name === nm) : LONG.filter((o) => o.name.startsWith(nm));
      if (hits.length !== 1) fail(hits.length > 1 ? `unsupported option '${a}'. See --help.` : `unsupported option '${a}'. See --help.`);
      const o = hits[0]!;
      let value = eq >= 0 ? a.slice(eq + 1) : undefined;
      if (o.arg === 'none' && value !== undefined) fail(`unsupported option '${a}'. See --help.`);
      if (o.arg === 'required' && value === undefined) {
        if (i + 1 >= argv.length) fail(`option '-${o.short}'/'--${o.name}' requires an argument`);
        value = argv[++i];
      }
      i++;
      apply(o.short, value, true);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const s = a[j]!;
        if (SHORT_WITH_ARG.has(s)) {
          let value = a.slice(j + 1);
          if (value === '') {
            if (i + 1 >= argv.length) {
              const o = LONG.find((l) => l.short === s);
              fail(o ? `option '-${s}'/'--${o.name}' requires an argument` : `option '-${s}' requires an argument`);
            }
            value = argv[++i]!;
          }
          apply(s, value, false);
          break;
        }
        if (!SHORT_FLAGS.has(s)) fail(`unsupported option '-${s}'. See --help.`);
        apply(s, undefined, false);
      }
      i++;
      continue;
    }
    break; // '+': the first word that is no option starts the command
  }
  const connectNow = opts.uri !== null;
  opts.uri ??= defaultUri(env, process.getuid?.() ?? 0);
  return { opts, rest: argv.slice(i), connectNow };
}

/** vshCommandRun */
async function runCommands(ctl: Ctl, commands: readonly ParsedCommand[]): Promise<boolean> {
  let ok = true;
  for (const cmd of commands) {
    const t0 = performance.now();
    ctl.lastError = undefined;
    if (cmd.def.noConnect || ctl.connection()) {
      try {
        ok = (await cmd.def.handler!(ctl, cmd)) !== false;
      } catch (e) {
        if (e instanceof VshError) {
          ctl.error(e.message); // and then any libvirt error left, as after virsh's vshError + return false
          ok = false;
        } else if (e instanceof LibvirtError) {
          ctl.lastError = e;
          ok = false;
        } else throw e;
      }
    } else ok = false;
    const t1 = performance.now();
    if (!ok && ctl.lastError && ['VIR_ERR_RPC', 'VIR_ERR_NO_CONNECT', 'VIR_ERR_INVALID_CONN'].includes(ctl.lastError.code)) ctl.disconnected++;
    // vshReportError: the libvirt error the command left
    if (!ok && ctl.lastError) ctl.error(ctl.lastError.message);
    ctl.lastError = undefined;
    if (cmd.def.name === 'quit' || cmd.def.name === 'exit') return ok; // the rest of the line is not run
    if (ctl.opts.timing) ctl.print(`\n(Time: ${(t1 - t0).toFixed(3)} ms)\n\n`);
    else ctl.printExtra('\n');
  }
  return ok;
}

const reportParse = (ctl: Ctl, r: ParseResult): r is Extract<ParseResult, { ok: true }> => {
  if (!r.ok) for (const m of r.errors) ctl.error(m);
  return r.ok;
};

/** The whole program: returns the exit status. */
export async function mpvirsh(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const early = new Ctl({ uri: null, readonly: false, quiet: false, timing: false, keepaliveInterval: -1, keepaliveCount: -1, escape: '^]' });
  let parsed: Parsed;
  try {
    parsed = parseGlobal(argv, early, env);
  } catch (e) {
    if (e instanceof Exit) return e.status;
    throw e;
  }
  const ctl = new Ctl(parsed.opts);
  ctl.interactive = parsed.rest.length === 0;
  const commands = parsed.rest.length === 0 ? undefined
    : parsed.rest.length === 1 ? parseString(parsed.rest[0]!, commandLookup) : parseArgv(parsed.rest, commandLookup);
  if (commands && !reportParse(ctl, commands)) return 1;
  try {
    // virshInit: a named connection (-c) must work before any command runs
    if (parsed.connectNow && !ctl.connection()) {
      if (ctl.lastError) ctl.error(ctl.lastError.message);
      return 1;
    }
    if (commands) return (await runCommands(ctl, commands.commands)) ? 0 : 1;
    return await shell(ctl);
  } finally {
    ctl.close();
  }
}

/** The interactive shell: one command string per line, prompt and echo as readline gives them. */
async function shell(ctl: Ctl): Promise<number> {
  if (!ctl.opts.quiet) ctl.print("Welcome to mpvirsh, the virtualization interactive terminal.\n\nType:  'help' for help with commands\n       'quit' to quit\n\n");
  const prompt = ctl.opts.readonly ? 'mpvirsh > ' : 'mpvirsh # ';
  const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
  const lines = rl[Symbol.asyncIterator]();
  let ok = true;
  for (;;) {
    ctl.print(prompt);
    const next = await lines.next();
    if (next.done) break;
    if (!process.stdin.isTTY) ctl.print(`${next.value}\n`); // readline echoes a line it did not read from a terminal
    if (next.value === '') continue;
    const r = parseString(next.value, commandLookup);
    if (reportParse(ctl, r)) ok = await runCommands(ctl, r.commands);
    if (!ctl.interactive) break;
  }
  // virsh prints it whenever its loop ends (cmdstr is NULL after EOF and after quit alike)
  ctl.print('\n');
  rl.close();
  void ok; // virsh's shell exits 0 whatever its commands did
  return 0;
}
