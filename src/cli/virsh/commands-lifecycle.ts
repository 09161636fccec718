/**
 * Domain lifecycle commands, as tools/virsh-domain.c writes them: start, destroy, suspend,
 * resume, reset, reboot, shutdown, define, dumpxml, domid, domname, domuuid.
 */
import { readFileSync } from 'node:fs';
import type { Domain } from '../../libvirt/domain.js';
import { strerror } from '../../emulator/unixfd.js';
import { commonOpt, type CmdDef, type OptDef, type ParsedCommand } from '../vsh/command-def.js';
import { optBool, optString, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { BY_ID, BY_NAME, BY_UUID, optDomain } from './lookup.js';
import { runConsole } from './commands-console.js';

type Cmd = CmdDef<Ctl>;

/** Run `fn` on the command's domain and free it afterwards. */
export function withDomain(ctl: Ctl, cmd: ParsedCommand, fn: (dom: Domain, name: string) => boolean, by?: number): boolean {
  const { dom, name } = optDomain(ctl, cmd, by);
  try {
    return fn(dom, name);
  } finally {
    dom.free();
  }
}

/** A command that makes one call and says so: `Domain 'X' destroyed`. */
function simple(name: string, help: string, desc: string, listFlags: number, call: (d: Domain, cmd: ParsedCommand) => void, failed: string, done: string, opts: OptDef[] = []): Cmd {
  return {
    name, help, desc, opts: [commonOpt.domain(undefined, listFlags), ...opts],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom, n) => {
      if (attempt(ctl, failed.replace('%s', n), () => (call(dom, cmd), true)) === undefined) return false;
      ctl.printExtra(done.replace('%s', n));
      return true;
    }),
  };
}

/** VIR_CONNECT_LIST_DOMAINS_*: which domains a command's `<domain>` completes to */
export const LIST = { ACTIVE: 1, INACTIVE: 2, PERSISTENT: 4, RUNNING: 16, PAUSED: 32, SHUTOFF: 64 } as const;

const MODES_SHUTDOWN: Record<string, number> = { acpi: 1, agent: 2, initctl: 4, signal: 8, paravirt: 16 };

/** --mode a,b,…: virsh's shutdown/reboot mode flags (the two enums share their values). */
function modeFlags(cmd: ParsedCommand): number {
  const mode = optString(cmd, 'mode');
  let flags = 0;
  for (const m of mode === undefined ? [] : mode.split(',')) {
    const f = MODES_SHUTDOWN[m];
    if (f === undefined) throw new VshError(`Unknown mode ${m} value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'`);
    flags |= f;
  }
  return flags;
}

const modeOpt: OptDef = { name: 'mode', type: 'string', help: 'shutdown mode: acpi|agent|initctl|signal|paravirt', completer: 'shutdown-mode' };

/** virFileReadAll's failure, as libvirt words it. */
export function readXmlFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const errno = Math.abs((e as NodeJS.ErrnoException).errno ?? 0);
    const op = (e as NodeJS.ErrnoException).code === 'EISDIR' ? 'Failed to read file' : 'Failed to open file';
    throw new VshError(`${op} '${path}': ${strerror(errno)}`);
  }
}

export const lifecycleCommands: Cmd[] = [
  {
    name: 'autostart', help: 'autostart a domain', desc: 'Configure a domain to be automatically started at boot.',
    opts: [commonOpt.domain(undefined, LIST.PERSISTENT), { name: 'disable', type: 'bool', help: 'disable autostarting' }],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom, n) => {
      const on = !optBool(cmd, 'disable');
      if (attempt(ctl, on ? `Failed to mark domain '${n}' as autostarted` : `Failed to unmark domain '${n}' as autostarted`, () => { dom.autostart = on; return true; }) === undefined) return false;
      ctl.printExtra(on ? `Domain '${n}' marked as autostarted\n` : `Domain '${n}' unmarked as autostarted\n`);
      return true;
    }),
  },
  {
    name: 'create', help: 'create a domain from an XML file', desc: 'Create a domain.',
    opts: [
      commonOpt.file('file containing an XML domain description'),
      { name: 'console', type: 'bool', help: 'attach to console after creation' },
      { name: 'paused', type: 'bool', help: 'leave the guest paused after creation' },
      { name: 'autodestroy', type: 'bool', help: 'automatically destroy the guest when virsh disconnects' },
      { name: 'pass-fds', type: 'string', help: 'pass file descriptors N,M,... to the guest' },
      { name: 'validate', type: 'bool', help: 'validate the XML against the schema' },
      { name: 'reset-nvram', type: 'bool', help: 're-initialize NVRAM from its pristine template' },
    ],
    handler: async (ctl, cmd) => {
      const from = optString(cmd, 'file')!;
      const xml = readXmlFile(from);
      if (optString(cmd, 'pass-fds') !== undefined) throw new VshError('mpvirsh cannot pass file descriptors to a domain (--pass-fds)');
      const flags = (optBool(cmd, 'paused') ? 1 : 0) | (optBool(cmd, 'autodestroy') ? 2 : 0) | (optBool(cmd, 'validate') ? 16 : 0) | (optBool(cmd, 'reset-nvram') ? 32 : 0);
      const dom = attempt(ctl, `Failed to create domain from ${from}`, () => ctl.connected!.createDomain(xml, flags));
      if (!dom) return false;
      try {
        ctl.printExtra(`Domain '${dom.name}' created from ${from}\n`);
        // virsh's create succeeds whatever its console did (the console's refusal is still printed)
        if (optBool(cmd, 'console')) {
          try {
            await runConsole(ctl, dom, null, {});
          } catch (e) {
            if (!(e instanceof VshError)) throw e;
            ctl.error(e.message);
          }
        }
      } finally {
        dom.free();
      }
      return true;
    },
  },
  {
    name: 'start', help: 'start a (previously defined) inactive domain',
    desc: 'Start a domain, either from the last managedsave\n    state, or via a fresh boot if no managedsave state\n    is present.',
    opts: [
      commonOpt.domain('name of the inactive domain', LIST.SHUTOFF),
      { name: 'console', type: 'bool', help: 'attach to console after creation' },
      { name: 'paused', type: 'bool', help: 'leave the guest paused after creation' },
      { name: 'autodestroy', type: 'bool', help: 'automatically destroy the guest when virsh disconnects' },
      { name: 'bypass-cache', type: 'bool', help: 'avoid file system cache when loading' },
      { name: 'force-boot', type: 'bool', help: 'force fresh boot by discarding any managed save' },
      { name: 'pass-fds', type: 'string', help: 'pass file descriptors N,M,... to the guest' },
      { name: 'reset-nvram', type: 'bool', help: 're-initialize NVRAM from its pristine template' },
    ],
    handler: async (ctl, cmd) => {
      const { dom } = optDomain(ctl, cmd, BY_NAME | BY_UUID);
      try {
        if (dom.id !== -1) throw new VshError('Domain is already active');
        if (optString(cmd, 'pass-fds') !== undefined) throw new VshError('mpvirsh cannot pass file descriptors to a domain (--pass-fds)');
        const flags = (optBool(cmd, 'paused') ? 1 : 0) | (optBool(cmd, 'autodestroy') ? 2 : 0) | (optBool(cmd, 'bypass-cache') ? 4 : 0) |
          (optBool(cmd, 'force-boot') ? 8 : 0) | (optBool(cmd, 'reset-nvram') ? 32 : 0);
        if (attempt(ctl, `Failed to start domain '${dom.name}'`, () => (dom.create(flags), true)) === undefined) return false;
        ctl.printExtra(`Domain '${dom.name}' started\n`);
        return optBool(cmd, 'console') ? await runConsole(ctl, dom, null, {}) : true;
      } finally {
        dom.free();
      }
    },
  },
  simple('destroy', 'destroy (stop) a domain', 'Forcefully stop a given domain, but leave its resources intact.', LIST.ACTIVE,
    (d, cmd) => d.destroy((optBool(cmd, 'graceful') ? 1 : 0) | (optBool(cmd, 'remove-logs') ? 2 : 0)),
    "Failed to destroy domain '%s'", "Domain '%s' destroyed\n",
    [{ name: 'graceful', type: 'bool', help: 'terminate gracefully' }, { name: 'remove-logs', type: 'bool', help: 'remove domain logs' }]),
  simple('suspend', 'suspend a domain', 'Suspend a running domain.', LIST.RUNNING, (d) => d.suspend(), "Failed to suspend domain '%s'", "Domain '%s' suspended\n"),
  simple('resume', 'resume a domain', 'Resume a previously suspended domain.', LIST.PAUSED, (d) => d.resume(), "Failed to resume domain '%s'", "Domain '%s' resumed\n"),
  simple('reset', 'reset a domain', 'Reset the target domain as if by power button', LIST.ACTIVE, (d) => d.reset(), "Failed to reset domain '%s'", "Domain '%s' was reset\n"),
  {
    name: 'reboot', help: 'reboot a domain', desc: 'Run a reboot command in the target domain.', opts: [commonOpt.domain(undefined, LIST.ACTIVE), modeOpt],
    handler: (ctl, cmd) => {
      const flags = modeFlags(cmd);
      return withDomain(ctl, cmd, (dom, n) => {
        if (attempt(ctl, `Failed to reboot domain '${n}'`, () => (dom.reboot(flags), true)) === undefined) return false;
        ctl.printExtra(`Domain '${n}' is being rebooted\n`);
        return true;
      });
    },
  },
  {
    name: 'shutdown', help: 'gracefully shutdown a domain', desc: 'Run shutdown in the target domain.', opts: [commonOpt.domain(undefined, LIST.ACTIVE), modeOpt],
    handler: (ctl, cmd) => {
      const flags = modeFlags(cmd);
      return withDomain(ctl, cmd, (dom, n) => {
        if (attempt(ctl, `Failed to shutdown domain '${n}'`, () => (dom.shutdown(flags), true)) === undefined) return false;
        ctl.printExtra(`Domain '${n}' is being shutdown\n`);
        return true;
      });
    },
  },
  {
    name: 'define', help: "define (but don't start) a domain from an XML file", desc: 'Define a domain.',
    opts: [commonOpt.file('file containing an XML domain description'), { name: 'validate', type: 'bool', help: 'validate the XML against the schema' }],
    handler: (ctl, cmd) => {
      const from = optString(cmd, 'file')!;
      const xml = readXmlFile(from);
      const dom = attempt(ctl, `Failed to define domain from ${from}`, () => ctl.connected!.defineDomain(xml, optBool(cmd, 'validate') ? 1 : 0));
      if (!dom) return false;
      try {
        ctl.printExtra(`Domain '${dom.name}' defined from ${from}\n`);
      } finally {
        dom.free();
      }
      return true;
    },
  },
  {
    name: 'dumpxml', help: 'domain information in XML', desc: 'Output the domain information as an XML dump to stdout.',
    opts: [
      commonOpt.domain(),
      { name: 'inactive', type: 'bool', help: 'show inactive defined XML' },
      { name: 'security-info', type: 'bool', help: 'include security sensitive information in XML dump' },
      { name: 'update-cpu', type: 'bool', help: 'update guest CPU according to host CPU' },
      { name: 'migratable', type: 'bool', help: 'provide XML suitable for migrations' },
    ],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
      const flags = (optBool(cmd, 'security-info') ? 1 : 0) | (optBool(cmd, 'inactive') ? 2 : 0) | (optBool(cmd, 'update-cpu') ? 4 : 0) | (optBool(cmd, 'migratable') ? 8 : 0);
      const xml = attempt(ctl, undefined, () => dom.xml(flags));
      if (xml === undefined) return false;
      ctl.print(xml);
      return true;
    }),
  },
  {
    name: 'domid', help: 'convert a domain name or UUID to domain id', desc: '', opts: [commonOpt.domain('domain name or uuid', LIST.ACTIVE)],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => (ctl.print(`${dom.id === -1 ? '-' : dom.id}\n`), true), BY_NAME | BY_UUID),
  },
  {
    name: 'domname', help: 'convert a domain id or UUID to domain name', desc: '', opts: [commonOpt.domain('domain id or uuid', 0, 'domain-uuid')],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => (ctl.print(`${dom.name}\n`), true), BY_ID | BY_UUID),
  },
  {
    name: 'domuuid', help: 'convert a domain name or id to domain UUID', desc: '', opts: [commonOpt.domain('domain id or name')],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => (ctl.print(`${dom.uuid}\n`), true), BY_ID | BY_NAME),
  },
];
