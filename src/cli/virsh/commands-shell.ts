/**
 * The shell's own commands (tools/vsh.c, virsh.c): help, quit, exit, echo, connect, and the
 * host commands that need only the connection: uri, hostname, version.
 */
import { homedir } from 'node:os';
import { strerror } from '../../emulator/unixfd.js';
import { libvirtVersion } from '../../libvirt/connection.js';
import type { CmdDef, CmdGroup } from '../vsh/command-def.js';
import { allHelp, commandHelp, groupHelp } from '../vsh/help.js';
import { optArgv, optBool, optString, optStringQuiet, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';

type Cmd = CmdDef<Ctl>;

/** The table the help command reads; set by the command table module. */
let groups: readonly CmdGroup<Ctl>[] = [];
export function setHelpGroups(g: readonly CmdGroup<Ctl>[]): void {
  groups = g;
}

const findCommand = (name: string): Cmd | undefined => {
  for (const g of groups) for (const c of g.commands) if (c.name === name) return c;
  return undefined;
};

/** virBufferEscapeShell */
export function escapeShell(s: string): string {
  if (s === '') return "''";
  if (!/[\r\t\n !"#$&'()*;<>?[\\\]^`{|}~]/.test(s)) return s;
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/** virBufferEscapeString: XML's five entities; other control characters dropped. */
export function escapeXml(s: string): string {
  return s.replace(/[\x01-\x08\x0b\x0c\x0e-\x19]/g, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** vshStringToArray: split on ',', with ',,' a literal comma. */
export function splitCommas(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ',' && s[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (s[i] === ',') {
      out.push(cur);
      cur = '';
    } else cur += s[i];
  }
  out.push(cur);
  return out;
}

const version = (v: number): string => `${Math.floor(v / 1e6)}.${Math.floor((v % 1e6) / 1000)}.${v % 1000}`;

export const shellCommands: Cmd[] = [
  {
    name: 'cd', help: 'change the current directory', desc: 'Change the current directory.', noConnect: true,
    opts: [{ name: 'dir', type: 'string', help: 'directory to switch to (default: home or else root)' }],
    handler: (ctl, cmd) => {
      if (!ctl.interactive) throw new VshError('cd: command valid only in interactive mode');
      const dir = optStringQuiet(cmd, 'dir') || homedir() || '/';
      try {
        process.chdir(dir);
      } catch (e) {
        throw new VshError(`cd: ${strerror(Math.abs((e as NodeJS.ErrnoException).errno ?? 0))}: ${dir}`);
      }
      return true;
    },
  },
  {
    name: 'pwd', help: 'print the current directory', desc: 'Print the current directory.', noConnect: true, opts: [],
    handler: (ctl) => (ctl.print(`${process.cwd()}\n`), true),
  },
  {
    name: 'connect', help: '(re)connect to hypervisor', desc: 'Connect to local hypervisor. This is built-in command after shell start up.',
    noConnect: true,
    opts: [{ name: 'name', type: 'string', emptyOk: true, help: 'hypervisor connection URI' }, { name: 'readonly', type: 'bool', help: 'read-only connection' }],
    handler: (ctl, cmd) => {
      const name = optString(cmd, 'name');
      let readonly = optBool(cmd, 'readonly');
      if (!readonly && name === undefined) readonly = ctl.opts.readonly;
      const was = ctl.connected !== undefined;
      ctl.replaceConnection(undefined);
      const c = attempt(ctl, undefined, () => ctl.open(name ?? ctl.opts.uri, readonly));
      if (!c) {
        ctl.error(ctl.disconnected ? 'Failed to reconnect to the hypervisor' : 'failed to connect to the hypervisor');
        return false;
      }
      if (name !== undefined) ctl.opts.uri = name;
      ctl.opts.readonly = readonly;
      ctl.replaceConnection(c);
      void was; // `connect` is forced: no "Reconnected" message
      return true;
    },
  },
  {
    name: 'echo', help: 'echo arguments. Used for internal testing.', desc: 'Echo back arguments, possibly with quoting. Used for internal testing.', noConnect: true,
    opts: [
      { name: 'shell', type: 'bool', help: 'escape for shell use' },
      { name: 'xml', type: 'bool', help: 'escape for XML use' },
      { name: 'split', type: 'bool', help: "split each argument on ','; ',,' is an escape sequence" },
      { name: 'err', type: 'bool', help: 'output to stderr' },
      { name: 'str', type: 'alias', help: 'string' },
      { name: 'hi', type: 'alias', help: 'string=hello' },
      { name: 'string', type: 'argv', help: 'arguments to echo' },
    ],
    handler: (ctl, cmd) => {
      const [shell, xml, split] = ['shell', 'xml', 'split'].map((n) => optBool(cmd, n));
      for (const [a, b, x, y] of [['shell', 'xml', shell, xml], ['shell', 'split', shell, split], ['xml', 'split', xml, split]] as const) {
        if (x && y) throw new VshError(`Options --${a} and --${b} are mutually exclusive`);
      }
      const args = optArgv(cmd, 'string');
      if (args.length === 0) return true;
      const text = args.map((a) => (xml ? escapeXml(a) : shell ? escapeShell(a) : split ? splitCommas(a).map((p) => `${p}\n`).join('') : a)).join(' ').replace(/ +$/, '');
      if (optBool(cmd, 'err')) ctl.error(text);
      else ctl.print(text);
      return true;
    },
  },
  { name: 'exit', help: 'quit this interactive terminal', desc: '', opts: [], noConnect: true, handler: (ctl) => ((ctl.interactive = false), true) },
  {
    name: 'help', help: 'print help', desc: 'Prints global help, command specific help, or help for a\n    group of related commands', noConnect: true,
    opts: [{ name: 'command', type: 'string', help: 'Prints global help, command specific help, or help for a group of related commands' }],
    handler: (ctl, cmd) => {
      const name = optStringQuiet(cmd, 'command');
      if (name === undefined || name === '') {
        ctl.print(allHelp(groups));
        return true;
      }
      let def = findCommand(name);
      if (def?.alias !== undefined) def = findCommand(def.alias);
      if (def) {
        ctl.print(commandHelp(def));
        return true;
      }
      const grp = groups.find((g) => g.name === name || g.keyword === name);
      if (grp) {
        ctl.print(groupHelp(grp));
        return true;
      }
      throw new VshError(`command or command group '${name}' doesn't exist`);
    },
  },
  { name: 'quit', help: 'quit this interactive terminal', desc: '', opts: [], noConnect: true, handler: (ctl) => ((ctl.interactive = false), true) },
];

export const hostCommands: Cmd[] = [
  {
    name: 'hostname', help: 'print the hypervisor hostname', desc: '', opts: [],
    handler: (ctl) => {
      const h = attempt(ctl, 'failed to get hostname', () => ctl.connected!.hostname);
      if (h === undefined) return false;
      ctl.print(`${h}\n`);
      return true;
    },
  },
  {
    name: 'uri', help: 'print the hypervisor canonical URI', desc: '', opts: [],
    handler: (ctl) => {
      const u = attempt(ctl, 'failed to get URI', () => ctl.connected!.uri);
      if (u === undefined) return false;
      ctl.print(`${u}\n`);
      return true;
    },
  },
  {
    name: 'version', help: 'show version', desc: 'Display the system version information.',
    opts: [{ name: 'daemon', type: 'bool', help: 'report daemon version too' }],
    handler: (ctl, cmd) => {
      const c = ctl.connected!;
      const type = attempt(ctl, 'failed to get hypervisor type', () => c.type);
      if (type === undefined) return false;
      // mpvirsh is not compiled against a libvirt: the library it runs with is both
      const lib = libvirtVersion();
      ctl.print(`Compiled against library: libvirt ${version(lib)}\nUsing library: libvirt ${version(lib)}\nUsing API: ${type} ${version(lib)}\n`);
      const hv = attempt(ctl, 'failed to get the hypervisor version', () => c.version);
      if (hv === undefined) return false;
      ctl.print(hv === 0 ? `Cannot extract running ${type} hypervisor version\n` : `Running hypervisor: ${type} ${version(hv)}\n`);
      if (optBool(cmd, 'daemon')) {
        const d = attempt(ctl, 'failed to get the daemon version', () => c.libVersion);
        if (d !== undefined) ctl.print(`Running against daemon: ${version(d)}\n`);
      }
      return true;
    },
  },
];
