/**
 * Domain monitoring commands, as tools/virsh-domain-monitor.c writes them: list, dominfo,
 * domstate.
 */
import type { Domain } from '../../libvirt/domain.js';
import { LibvirtError } from '../../libvirt/errors.js';
import { commonOpt, type CmdDef, type OptDef } from '../vsh/command-def.js';
import { exclusive, optBool } from '../vsh/options.js';
import { formatTable } from '../vsh/table.js';
import { Fields, printJson, wantsJson, withJson, type Json } from './json-output.js';
import { attempt, type Ctl } from './ctl.js';
import { withDomain } from './commands-lifecycle.js';
import { deviceListCommands } from './commands-devices-list.js';

type Cmd = CmdDef<Ctl>;

const STATES = ['no state', 'running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'];
export const stateName = (s: number): string => STATES[s] ?? 'no state';

const REASONS: readonly (readonly string[])[] = [
  ['unknown'],
  ['unknown', 'booted', 'migrated', 'restored', 'from snapshot', 'unpaused', 'migration canceled', 'save canceled', 'event wakeup', 'crashed', 'post-copy', 'post-copy failed'],
  ['unknown'],
  ['unknown', 'user', 'migrating', 'saving', 'dumping', 'I/O error', 'watchdog', 'from snapshot', 'shutting down', 'creating snapshot', 'crashed', 'starting up', 'post-copy', 'post-copy failed'],
  ['unknown', 'user'],
  ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from snapshot', 'daemon'],
  ['unknown', 'panicked'],
  ['unknown'],
];
export const reasonName = (state: number, reason: number): string => REASONS[state]?.[reason] ?? 'unknown';

/** virConnectListAllDomains flags, by list's option names. */
const LIST_FILTERS: Readonly<Record<string, number>> = {
  persistent: 4, transient: 8, 'with-managed-save': 1 << 10, 'without-managed-save': 1 << 11, autostart: 1 << 12, 'no-autostart': 1 << 13,
  'with-snapshot': 1 << 14, 'without-snapshot': 1 << 15, 'with-checkpoint': 1 << 16, 'without-checkpoint': 1 << 17,
  'state-running': 16, 'state-paused': 32, 'state-shutoff': 64, 'state-other': 128,
};

const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });

/** virshDomainSorter: running domains by id, then the others by name, case-insensitively. */
function sortDomains(list: Array<{ dom: Domain; id: number; name: string }>): void {
  const lower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  list.sort((a, b) => {
    if (a.id === -1 && b.id === -1) return lower(a.name) < lower(b.name) ? -1 : lower(a.name) > lower(b.name) ? 1 : 0;
    if (a.id !== -1 && b.id !== -1) return a.id - b.id;
    return a.id !== -1 ? -1 : 1;
  });
}

function domainState(dom: Domain): { state: number; reason: number } | undefined {
  try {
    return dom.state();
  } catch (e) {
    if (e instanceof LibvirtError) return undefined;
    throw e;
  }
}

const listCmd: Cmd = {
  name: 'list', help: 'list domains', desc: 'Returns list of domains.',
  opts: [
    bool('inactive', 'list inactive domains'), bool('all', 'list inactive & active domains'), bool('transient', 'list transient domains'),
    bool('persistent', 'list persistent domains'), bool('with-snapshot', 'list domains with existing snapshot'),
    bool('without-snapshot', 'list domains without a snapshot'), bool('with-checkpoint', 'list domains with existing checkpoint'),
    bool('without-checkpoint', 'list domains without a checkpoint'), bool('state-running', 'list domains in running state'),
    bool('state-paused', 'list domains in paused state'), bool('state-shutoff', 'list domains in shutoff state'),
    bool('state-other', 'list domains in other states'), bool('autostart', 'list domains with autostart enabled'),
    bool('no-autostart', 'list domains with autostart disabled'), bool('with-managed-save', 'list domains with managed save state'),
    bool('without-managed-save', 'list domains without managed save'), bool('uuid', "list uuid's only"), bool('name', 'list domain names only'),
    bool('id', 'list domain IDs only'), bool('table', 'list table (default)'), bool('managed-save', 'mark inactive domains with managed save state'),
    bool('title', 'show domain title'),
  ],
  handler: (ctl, cmd) => {
    let flags = optBool(cmd, 'inactive') || optBool(cmd, 'state-shutoff') ? 2 : 1;
    if (optBool(cmd, 'all')) flags = 3;
    for (const [name, bit] of Object.entries(LIST_FILTERS)) if (optBool(cmd, name)) flags |= bit;
    exclusive(cmd, 'table', 'name');
    exclusive(cmd, 'table', 'uuid');
    exclusive(cmd, 'table', 'id');
    const [optUUID, optName, optID, optTitle, managed] = ['uuid', 'name', 'id', 'title', 'managed-save'].map((n) => optBool(cmd, n));
    const json = wantsJson(cmd);
    const table = json || optBool(cmd, 'table') || (!optUUID && !optName && !optID);
    const doms = attempt(ctl, 'Failed to list domains', () => ctl.connected!.listAllDomains(flags));
    if (!doms) return false;
    const list = doms.map((dom) => ({ dom, id: dom.id, name: dom.name }));
    try {
      sortDomains(list);
      const rows: string[][] = [];
      const docs: Json[] = [];
      let text = '';
      for (const { dom, id, name } of list) {
        const idText = id === -1 ? '-' : String(id);
        if (table) {
          const st = domainState(dom);
          if (!st) continue; // removed in the meantime
          const saved = managed && st.state === 5 && dom.hasManagedSaveImage();
          const row = [idText, name, saved ? 'saved' : stateName(st.state)];
          if (optTitle) row.push(domainTitle(dom));
          rows.push(row);
          if (json) docs.push({ id: id === -1 ? null : id, name, uuid: dom.uuid, state: row[2]!, ...(optTitle ? { title: row[3]! } : {}) });
        } else {
          let sep = '';
          if (optUUID) { text += dom.uuid; sep = ' '; }
          if (optID) {
            if (id === -1 && !optUUID && !optName) continue; // ids only: live domains only
            text += sep + idText;
            sep = ' ';
          }
          if (optName) text += sep + name;
          text += '\n';
        }
      }
      if (json) printJson(ctl, docs);
      else if (table) ctl.print(formatTable(optTitle ? ['Id', 'Name', 'State', 'Title'] : ['Id', 'Name', 'State'], rows, !ctl.opts.quiet));
      else ctl.print(text);
      return true;
    } finally {
      for (const { dom } of list) dom.free();
    }
  },
};

/** virshGetDomainDescription(title): the title, '' when none; only its first line. */
function domainTitle(dom: Domain): string {
  try {
    return dom.metadata('title').split('\n')[0] ?? '';
  } catch (e) {
    if (e instanceof LibvirtError && e.code === 'VIR_ERR_NO_DOMAIN_METADATA') return '';
    throw e;
  }
}

const pad15 = (label: string, value: string): string => `${label.padEnd(15)} ${value}\n`;

const dominfoCmd: Cmd = {
  name: 'dominfo', help: 'domain information', desc: 'Returns basic information about the domain.', opts: [commonOpt.domain()],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    let ok = true;
    const out = new Fields(ctl, cmd);
    const id = dom.id;
    out.field('Id:', 'id', id === -1 ? '-' : String(id), id === -1 ? null : id);
    out.field('Name:', 'name', dom.name);
    out.field('UUID:', 'uuid', dom.uuid);
    const os = attempt(ctl, undefined, () => dom.osType());
    if (os !== undefined) out.field('OS Type:', 'osType', os);
    const info = attempt(ctl, undefined, () => dom.info());
    if (info) {
      out.field('State:', 'state', stateName(info.state));
      out.field('CPU(s):', 'cpus', String(info.vcpus), info.vcpus);
      // JSON: CPU time in seconds as a number, always present (0 where virsh omits the line)
      if (info.cpuTime !== 0n || out.json) out.field('CPU time:', 'cpuTime', `${(Number(info.cpuTime) / 1e9).toFixed(1)}s`, Number(info.cpuTime) / 1e9);
      out.field('Max memory:', 'maxMemoryKiB', info.maxMemory === 0xffffffff ? 'no limit' : `${info.maxMemory} KiB`, info.maxMemory === 0xffffffff ? null : info.maxMemory);
      out.field('Used memory:', 'usedMemoryKiB', `${info.memory} KiB`, info.memory);
    } else ok = false;
    const persistent = attempt(ctl, undefined, () => dom.isPersistent());
    out.field('Persistent:', 'persistent', persistent === undefined ? 'unknown' : persistent ? 'yes' : 'no', persistent ?? null);
    const autostart = attempt(ctl, undefined, () => dom.autostart);
    if (autostart !== undefined) out.field('Autostart:', 'autostart', autostart ? 'enable' : 'disable', autostart);
    const saved = attempt(ctl, undefined, () => dom.hasManagedSaveImage());
    out.field('Managed save:', 'managedSave', saved === undefined ? 'unknown' : saved ? 'yes' : 'no', saved ?? null);
    let model: { model: string; doi: string } | undefined;
    try {
      model = ctl.connected!.securityModel();
    } catch (e) {
      if (!(e instanceof LibvirtError)) throw e;
      if (e.code !== 'VIR_ERR_NO_SUPPORT') {
        ctl.lastError = e;
        return false;
      }
    }
    if (model && model.model !== '') {
      out.field('Security model:', 'securityModel', model.model);
      out.field('Security DOI:', 'securityDoi', model.doi);
      const label = attempt(ctl, undefined, () => dom.securityLabel());
      if (!label) return false;
      if (label.label !== '') {
        out.field('Security label:', 'securityLabel', `${label.label} (${label.enforcing ? 'enforcing' : 'permissive'})`, label.label);
        out.set('securityEnforcing', label.enforcing);
      }
    }
    const messages = (() => {
      try {
        return dom.messages();
      } catch (e) {
        if (e instanceof LibvirtError) return [];
        throw e;
      }
    })();
    messages.forEach((m, i) => out.text(pad15(i === 0 ? 'Messages:' : '', m)));
    out.set('messages', messages);
    return out.done(ok);
  }),
};

const domstateCmd: Cmd = {
  name: 'domstate', help: 'domain state', desc: 'Returns state about a domain.',
  opts: [commonOpt.domain(), bool('reason', 'also print reason for the state')],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const st = attempt(ctl, undefined, () => dom.state());
    if (!st) return false;
    if (wantsJson(cmd)) {
      printJson(ctl, { state: stateName(st.state), reason: reasonName(st.state, st.reason) });
      return true;
    }
    ctl.print(optBool(cmd, 'reason') ? `${stateName(st.state)} (${reasonName(st.state, st.reason)})\n` : `${stateName(st.state)}\n`);
    return true;
  }),
};

export const monitorCommands: Cmd[] = [dominfoCmd, domstateCmd, listCmd, ...deviceListCommands].map((c) => withJson(c));
