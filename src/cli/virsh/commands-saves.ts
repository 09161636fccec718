/**
 * Commands that write a domain's state out, as tools/virsh-domain.c writes them: save, restore,
 * managedsave, managedsave-remove, dump, screenshot. virsh runs save/managedsave/dump on a worker
 * thread and polls the job for --verbose progress every 500 ms; mpvirsh's call is synchronous,
 * so --verbose shows only the final `[100 %]` (what virsh shows for a job shorter than a poll).
 */
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import '../../libvirt/domain-config.js';
import { LibvirtError } from '../../libvirt/errors.js';
import { commonOpt, type CmdDef, type OptDef, type ParsedCommand } from '../vsh/command-def.js';
import { optBool, optString, optStringQuiet, optUInt, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { LIST, readXmlFile, withDomain } from './commands-lifecycle.js';
import { optDomain } from './lookup.js';

type Cmd = CmdDef<Ctl>;
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });

const SAVE = { BYPASS_CACHE: 1, RUNNING: 2, PAUSED: 4, RESET_NVRAM: 8 } as const;
const DUMP = { CRASH: 1, LIVE: 2, BYPASS_CACHE: 4, RESET: 8, MEMORY_ONLY: 16 } as const;
const DUMP_FORMATS = ['elf', 'kdump-zlib', 'kdump-lzo', 'kdump-snappy', 'win-dmp'];

const saveFlags = (cmd: ParsedCommand): number =>
  (optBool(cmd, 'bypass-cache') ? SAVE.BYPASS_CACHE : 0) | (optBool(cmd, 'running') ? SAVE.RUNNING : 0) | (optBool(cmd, 'paused') ? SAVE.PAUSED : 0);

/** virshPrintJobProgress(label, 0, 1): the finished job's line, on stderr. */
const done = (label: string): void => void writeSync(2, `\r${label}: [100 %]`);

/** g_date_time_format(now, "%Y-%m-%d-%H:%M:%S"), local time */
function stamp(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const MIME_EXT: Readonly<Record<string, string>> = { 'image/x-portable-pixmap': '.ppm', 'image/png': '.png' };

/** cmdScreenshot's file: created (and removed again on failure), or an existing one truncated. */
function openScreenshotFile(file: string): { fd: number; created: boolean } | undefined {
  try {
    return { fd: openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666), created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  try {
    return { fd: openSync(file, constants.O_WRONLY | constants.O_TRUNC, 0o666), created: false };
  } catch {
    return undefined;
  }
}

const screenshotCmd: Cmd = {
  name: 'screenshot', help: 'take a screenshot of a current domain console and store it into a file', desc: 'screenshot of a current domain console',
  opts: [commonOpt.domain(undefined, LIST.ACTIVE), { name: 'file', type: 'string', help: 'where to store the screenshot' },
    { name: 'screen', type: 'int', help: 'ID of a screen to take screenshot of' }],
  handler: async (ctl, cmd) => {
    const given = optString(cmd, 'file');
    const screen = optUInt(cmd, 'screen') ?? 0;
    const { dom, name } = optDomain(ctl, cmd);
    try {
      const shot = attempt(ctl, `could not take a screenshot of ${name}`, () => dom.screenshot(screen));
      if (!shot) return false;
      const { mime, stream } = shot;
      let file = given;
      let opened: { fd: number; created: boolean } | undefined;
      try {
        file ??= `${dom.name}-${stamp()}${MIME_EXT[mime] ?? ''}`;
        opened = openScreenshotFile(file);
        if (!opened) throw new VshError(`cannot create file ${file}`);
        try {
          for await (const chunk of stream) writeSync(opened.fd, chunk);
        } catch (e) {
          if (!(e instanceof LibvirtError)) throw e;
          ctl.lastError = e;
          throw new VshError(`could not receive data from domain '${name}'`);
        }
        const fd = opened.fd;
        opened.fd = -1;
        closeSync(fd);
        if (attempt(ctl, `cannot close stream on domain '${name}'`, () => (stream.finish(), true)) === undefined) throw new VshError('');
        ctl.printExtra(`Screenshot saved to ${file}, with type of ${mime}`);
        opened = undefined;
        return true;
      } catch (e) {
        if (opened) {
          if (opened.fd >= 0) closeSync(opened.fd);
          if (opened.created) unlinkSync(file!);
        }
        if (e instanceof VshError && e.message === '') return false; // already said
        throw e;
      } finally {
        stream.free();
      }
    } finally {
      dom.free();
    }
  },
};

export const saveCommands: Cmd[] = [
  {
    name: 'save', help: 'save a domain state to a file', desc: 'Save the RAM state of a running domain.',
    opts: [commonOpt.domain(undefined, LIST.ACTIVE), { name: 'file', type: 'data', required: true, help: 'where to save the data' },
      bool('bypass-cache', 'avoid file system cache when saving'), { name: 'xml', type: 'string', help: 'filename containing updated XML for the target' },
      bool('running', 'set domain to be running on restore'), bool('paused', 'set domain to be paused on restore'), bool('verbose', 'display the progress of save')],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom, name) => {
      const to = optString(cmd, 'file')!;
      const flags = saveFlags(cmd);
      const xmlFile = optString(cmd, 'xml');
      const xml = xmlFile === undefined ? null : readXmlFile(xmlFile);
      if (attempt(ctl, `Failed to save domain '${name}' to ${to}`, () => (dom.save(to, xml, flags), true)) === undefined) return false;
      if (optBool(cmd, 'verbose')) done('Save');
      ctl.printExtra(`\nDomain '${name}' saved to ${to}\n`);
      return true;
    }),
  },
  {
    name: 'restore', help: 'restore a domain from a saved state in a file', desc: 'Restore a domain.',
    opts: [{ name: 'file', type: 'data', required: true, help: 'the state to restore' }, bool('bypass-cache', 'avoid file system cache when restoring'),
      { name: 'xml', type: 'string', help: 'filename containing updated XML for the target' }, bool('running', 'restore domain into running state'),
      bool('paused', 'restore domain into paused state'), bool('reset-nvram', 're-initialize NVRAM from its pristine template')],
    handler: (ctl, cmd) => {
      const from = optString(cmd, 'file')!;
      const flags = saveFlags(cmd) | (optBool(cmd, 'reset-nvram') ? SAVE.RESET_NVRAM : 0);
      const xmlFile = optString(cmd, 'xml');
      const xml = xmlFile === undefined ? null : readXmlFile(xmlFile);
      if (attempt(ctl, `Failed to restore domain from ${from}`, () => (ctl.connected!.restoreDomain(from, xml, flags), true)) === undefined) return false;
      ctl.printExtra(`Domain restored from ${from}\n`);
      return true;
    },
  },
  {
    name: 'managedsave', help: 'managed save of a domain state',
    desc: "Save and destroy a running domain, so it can be restarted from\n    the same state at a later time.  When the virsh 'start'\n    command is next run for the domain, it will automatically\n    be started from this saved state.",
    opts: [commonOpt.domain(undefined, LIST.ACTIVE), bool('bypass-cache', 'avoid file system cache when saving'), bool('running', 'set domain to be running on next start'),
      bool('paused', 'set domain to be paused on next start'), bool('verbose', 'display the progress of save')],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom, name) => {
      if (attempt(ctl, `Failed to save domain '${name}' state`, () => (dom.managedSave(saveFlags(cmd)), true)) === undefined) return false;
      if (optBool(cmd, 'verbose')) done('Managedsave');
      ctl.printExtra(`\nDomain '${name}' state saved by libvirt\n`);
      return true;
    }),
  },
  {
    name: 'managedsave-remove', help: 'Remove managed save of a domain', desc: 'Remove an existing managed save state file from a domain',
    opts: [commonOpt.domain(undefined, 1 << 10)],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom, name) => {
      const has = attempt(ctl, 'Failed to check for domain managed save image', () => dom.hasManagedSaveImage());
      if (has === undefined) return false;
      if (!has) {
        ctl.printExtra(`Domain '${name}' has no manage save image; removal skipped`);
        return true;
      }
      if (attempt(ctl, `Failed to remove managed save image for domain '${name}'`, () => (dom.managedSaveRemove(), true)) === undefined) return false;
      ctl.printExtra(`Removed managedsave image for domain '${name}'`);
      return true;
    }),
  },
  {
    name: 'dump', help: 'dump the core of a domain to a file for analysis', desc: 'Core dump a domain.',
    opts: [commonOpt.domain(undefined, LIST.ACTIVE), { name: 'file', type: 'data', required: true, help: 'where to dump the core' },
      commonOpt.live('perform a live core dump if supported'), bool('crash', 'crash the domain after core dump'), bool('bypass-cache', 'avoid file system cache when dumping'),
      bool('reset', 'reset the domain after core dump'), bool('verbose', 'display the progress of dump'), bool('memory-only', "dump domain's memory only"),
      { name: 'format', type: 'string', help: 'specify the format of memory-only dump' }],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom, name) => {
      const to = optString(cmd, 'file')!;
      const flags = (optBool(cmd, 'live') ? DUMP.LIVE : 0) | (optBool(cmd, 'crash') ? DUMP.CRASH : 0) | (optBool(cmd, 'bypass-cache') ? DUMP.BYPASS_CACHE : 0) |
        (optBool(cmd, 'reset') ? DUMP.RESET : 0) | (optBool(cmd, 'memory-only') ? DUMP.MEMORY_ONLY : 0);
      let format = 0;
      if (optBool(cmd, 'format')) {
        if (!(flags & DUMP.MEMORY_ONLY)) throw new VshError('--format only works with --memory-only');
        const f = optStringQuiet(cmd, 'format');
        if (f && (format = DUMP_FORMATS.indexOf(f)) < 0) {
          throw new VshError(`format '${f}' is not supported, expecting 'kdump-zlib', 'kdump-lzo', 'kdump-snappy', 'win-dmp' or 'elf'`);
        }
      }
      // elf is the raw format: the older virDomainCoreDump
      if (attempt(ctl, `Failed to core dump domain '${name}' to ${to}`, () => (dom.coreDump(to, flags, format === 0 ? undefined : format), true)) === undefined) return false;
      if (optBool(cmd, 'verbose')) done('Dump');
      ctl.printExtra(`\nDomain '${name}' dumped to ${to}\n`);
      return true;
    }),
  },
  screenshotCmd,
];
