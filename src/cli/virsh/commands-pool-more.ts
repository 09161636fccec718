/**
 * The rest of tools/virsh-pool.c: pool-list (every filter, --details, --name, --uuid, --type),
 * pool-edit (virsh's edit loop), pool-event (--loop, --timeout, --list, --timestamp),
 * pool-capabilities and find-storage-pool-sources(-as).
 */
import { LibvirtError } from '../../libvirt/errors.js';
import type { StoragePool } from '../../libvirt/storage.js';
import '../../libvirt/storage-more.js';
import type { CmdDef, OptDef, ParsedCommand } from '../vsh/command-def.js';
import { exclusive, optBool, optString, optUInt, VshError } from '../vsh/options.js';
import { formatTable } from '../vsh/table.js';
import { attempt, type Ctl } from './ctl.js';
import { readXmlFile } from './commands-lifecycle.js';
import { poolStateName } from './commands-pool.js';
import { editLoop } from './edit-loop.js';
import { lookupPool, poolOpt, withPool } from './lookup-storage.js';
import { pretty } from './storage-format.js';

type Cmd = CmdDef<Ctl>;
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });

/** virStoragePoolType names, in libvirt's order, with their VIR_CONNECT_LIST_STORAGE_POOLS_* bit */
export const POOL_TYPES: ReadonlyArray<readonly [string, number]> = [
  ['dir', 1 << 6], ['fs', 1 << 7], ['netfs', 1 << 8], ['logical', 1 << 9], ['disk', 1 << 10], ['iscsi', 1 << 11], ['iscsi-direct', 1 << 19],
  ['scsi', 1 << 12], ['mpath', 1 << 13], ['rbd', 1 << 14], ['sheepdog', 1 << 15], ['gluster', 1 << 16], ['zfs', 1 << 17], ['vstorage', 1 << 18],
];

/** vshStringToArray: comma-separated, `,,` for a comma inside an item. */
export function splitCommaList(text: string): string[] {
  const items: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== ',') cur += text[i];
    else if (text[i + 1] === ',') { cur += ','; i++; } else { items.push(cur); cur = ''; }
  }
  items.push(cur);
  return items;
}

const caseless = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** virshStoragePoolListCollect: the pools `flags` select, sorted by name (ASCII case-insensitive). */
export function collectPools(ctl: Ctl, flags: number): StoragePool[] {
  const conn = ctl.connected!;
  let pools: StoragePool[];
  try {
    pools = conn.listAllStoragePools(flags);
  } catch (e) {
    if (!(e instanceof LibvirtError)) throw e;
    if (e.code !== 'VIR_ERR_INVALID_ARG') {
      ctl.lastError = e;
      throw new VshError('Failed to list pools');
    }
    // an older daemon: only active/inactive, the rest filtered here (as virsh's fallback does)
    const all = attempt(ctl, 'Failed to list pools', () => conn.listAllStoragePools(flags & 3));
    if (!all) throw new VshError('Failed to list pools');
    pools = [];
    for (const p of all) {
      const keep = (!(flags & 12) || (flags & 4 && p.isPersistent()) || (flags & 8 && !p.isPersistent())) &&
        (!(flags & 48) || (flags & 16 && p.autostart) || (flags & 32 && !p.autostart));
      if (keep) pools.push(p);
      else p.free();
    }
  }
  const named = pools.map((p) => ({ p, key: caseless(p.name) }));
  named.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return named.map((n) => n.p);
}

const listCmd: Cmd = {
  name: 'pool-list', help: 'list pools', desc: 'Returns list of pools.',
  opts: [
    bool('inactive', 'list inactive pools'), bool('all', 'list inactive & active pools'), bool('transient', 'list transient pools'),
    bool('persistent', 'list persistent pools'), bool('autostart', 'list pools with autostart enabled'), bool('no-autostart', 'list pools with autostart disabled'),
    { name: 'type', type: 'string', help: 'only list pool of specified type(s) (if supported)', completer: 'pool-type' },
    bool('details', 'display extended details for pools'), bool('uuid', 'list UUID of active pools only'), bool('name', 'list name of active pools only'),
  ],
  handler: (ctl, cmd) => {
    const details = optBool(cmd, 'details');
    exclusive(cmd, 'all', 'inactive');
    let flags = optBool(cmd, 'inactive') ? 1 : 2;
    if (optBool(cmd, 'all')) flags = 3;
    for (const [name, bit] of [['autostart', 16], ['no-autostart', 32], ['persistent', 4], ['transient', 8]] as const) if (optBool(cmd, name)) flags |= bit;
    const uuid = optBool(cmd, 'uuid');
    const name = optBool(cmd, 'name');
    const type = optString(cmd, 'type');
    exclusive(cmd, 'details', 'uuid');
    exclusive(cmd, 'details', 'name');
    if (type !== undefined) {
      for (const t of splitCommaList(type)) {
        const bit = POOL_TYPES.find(([n]) => n === t)?.[1];
        if (bit === undefined) throw new VshError(`Invalid pool type '${t}'`);
        flags |= bit;
      }
    }
    const pools = collectPools(ctl, flags);
    try {
      const rows = pools.map((p) => poolRow(ctl, p, details));
      if (!details) {
        if (uuid || name) {
          let out = '';
          for (const p of pools) {
            if (uuid) out += `${p.uuid.padEnd(36)}${name ? ' ' : '\n'}`;
            if (name) out += `${p.name.padEnd(20)}\n`;
          }
          ctl.print(out);
          return true;
        }
        ctl.print(formatTable(['Name', 'State', 'Autostart'], rows.map((r) => [r.name, r.state, r.autostart]), !ctl.opts.quiet));
        return true;
      }
      ctl.print(formatTable(['Name', 'State', 'Autostart', 'Persistent', 'Capacity', 'Allocation', 'Available'],
        rows.map((r) => [r.name, r.state, r.autostart, r.persistent, r.capacity, r.allocation, r.available]), !ctl.opts.quiet));
      return true;
    } finally {
      for (const p of pools) p.free();
    }
  },
};

interface PoolRow { name: string; state: string; autostart: string; persistent: string; capacity: string; allocation: string; available: string }

/** One pool's texts for pool-list (an info failure is said at once, as virsh says it). */
function poolRow(ctl: Ctl, p: StoragePool, details: boolean): PoolRow {
  const quiet = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof LibvirtError) return undefined;
      throw e;
    }
  };
  const autostart = quiet(() => p.autostart);
  const row: PoolRow = { name: p.name, state: '', autostart: autostart === undefined ? 'no autostart' : autostart ? 'yes' : 'no', persistent: '', capacity: '', allocation: '', available: '' };
  if (details) {
    const persistent = quiet(() => p.isPersistent());
    row.persistent = persistent === undefined ? 'unknown' : persistent ? 'yes' : 'no';
  }
  const info = quiet(() => p.info());
  if (!info) {
    ctl.error('Could not retrieve pool information');
    row.state = 'unknown';
    if (details) row.capacity = row.allocation = row.available = 'unknown';
  } else if (details) {
    row.state = poolStateName(info.state);
    const sized = info.state === 2 || info.state === 3;
    row.capacity = sized ? pretty(info.capacity) : '-';
    row.allocation = sized ? pretty(info.allocation) : '-';
    row.available = sized ? pretty(info.available) : '-';
  } else row.state = quiet(() => p.isActive()) ?? true ? 'active' : 'inactive'; // virsh: -1 counts as active
  return row;
}

const editCmd: Cmd = {
  name: 'pool-edit', help: 'edit XML configuration for a storage pool', desc: 'Edit the XML configuration for a storage pool.', opts: [poolOpt('pool name or uuid', 0)],
  handler: (ctl, cmd) => withPool(ctl, cmd, (pool) => {
    let inactive = true;
    try {
      pool.xml({ inactive });
    } catch (e) {
      if (!(e instanceof LibvirtError)) throw e;
      if (e.code !== 'VIR_ERR_INVALID_ARG') return (ctl.lastError = e, false);
      inactive = false; // some old daemons don't support the _INACTIVE flag
    }
    let edited: StoragePool | undefined;
    try {
      const outcome = editLoop(ctl, {
        getXml: () => pool.xml({ inactive }),
        notChanged: () => ctl.printExtra(`Pool ${pool.name} XML configuration not changed.\n`),
        define: (xml) => {
          edited?.free();
          edited = ctl.connected!.defineStoragePool(xml, 0);
        },
      });
      if (outcome === 'failed') return false;
      // a define that failed without a terminal to ask on still ends here, with no pool: "(null)"
      if (outcome === 'edited') ctl.printExtra(`Pool ${edited?.name ?? '(null)'} XML configuration edited.\n`);
      return true;
    } finally {
      edited?.free();
    }
  }),
};

const POOL_EVENTS = ['Defined', 'Undefined', 'Started', 'Stopped', 'Created', 'Deleted'];
const EVENT_KINDS = ['lifecycle', 'refresh'] as const;

/** virTimeStringNowRaw: `YYYY-MM-DD HH:MM:SS.mmm+0000` */
function timestamp(): string {
  return `${new Date().toISOString().replace('T', ' ').replace('Z', '')}+0000`;
}

/** vshCommandOptTimeoutToMs: seconds, not 0, convertible to int milliseconds. */
function timeoutMs(cmd: ParsedCommand): number {
  const t = optUInt(cmd, 'timeout');
  if (t === undefined) return 0;
  if (t === 0 || t > Math.floor(2147483647 / 1000)) throw new VshError(`Numeric value '${t}' for <timeout> option is malformed or out of range`);
  return t * 1000;
}

const eventCmd: Cmd = {
  name: 'pool-event', help: 'Storage Pool Events', desc: 'List event types, or wait for storage pool events to occur',
  opts: [
    { name: 'pool', type: 'string', help: 'filter by storage pool name or uuid', completer: 'storage-pool' },
    { name: 'event', type: 'string', help: 'which event type to wait for', completer: 'pool-event' },
    bool('loop', 'loop until timeout or interrupt, rather than one-shot'),
    { name: 'timeout', type: 'int', help: 'timeout seconds' },
    bool('list', 'list valid event types'),
    bool('timestamp', 'show timestamp for each printed event'),
  ],
  handler: async (ctl, cmd) => {
    if (optBool(cmd, 'list')) return (ctl.print(EVENT_KINDS.map((k) => `${k}\n`).join('')), true);
    const eventName = optString(cmd, 'event');
    if (eventName === undefined) throw new VshError('either --list or --event <type> is required');
    const kind = EVENT_KINDS.find((k) => k === eventName);
    if (!kind) throw new VshError(`unknown event type ${eventName}`);
    const loop = optBool(cmd, 'loop');
    const stamp = optBool(cmd, 'timestamp');
    const timeout = timeoutMs(cmd);
    let pool: StoragePool | undefined;
    const poolName = optString(cmd, 'pool');
    if (poolName !== undefined) {
      // virsh goes on without the filter when the pool is not found (the error said, kept)
      try {
        pool = lookupPool(ctl, poolName);
      } catch (e) {
        if (!(e instanceof VshError)) throw e;
        ctl.error(e.message);
      }
    }
    let count = 0;
    let finish: ((how: 'done' | 'timeout' | 'interrupt') => void) | undefined;
    const ended = new Promise<'done' | 'timeout' | 'interrupt'>((r) => (finish = r));
    const onEvent = (e: { pool: { name: string }; event?: number }): void => {
      if (!loop && count) return;
      const what = kind === 'lifecycle' ? `event 'lifecycle' for storage pool ${e.pool.name}: ${POOL_EVENTS[e.event ?? -1] ?? 'unknown'}` : `event '${kind}' for storage pool ${e.pool.name}`;
      ctl.print(stamp ? `${timestamp()}: ${what}\n` : `${what}\n`);
      count++;
      if (!loop) finish?.('done');
    };
    const onSigint = (): void => finish?.('interrupt');
    process.on('SIGINT', onSigint);
    const timer = timeout ? setTimeout(() => finish?.('timeout'), timeout) : undefined;
    // events come from libvirt's thread, which keeps nothing alive here: wait with something that does
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      const sub = attempt(ctl, undefined, () => ctl.connected!.onStoragePoolEvent(kind, onEvent, { pool: pool ?? null }));
      if (!sub) return false;
      try {
        const how = await ended;
        if (how === 'interrupt') ctl.print('event loop interrupted\n');
        else if (how === 'timeout') ctl.print('event loop timed out\n');
        ctl.print(`events received: ${count}\n`);
      } finally {
        sub.close();
      }
      return count > 0;
    } finally {
      if (timer) clearTimeout(timer);
      clearInterval(keepAlive);
      process.off('SIGINT', onSigint);
      pool?.free();
    }
  },
};

const capabilitiesCmd: Cmd = {
  name: 'pool-capabilities', help: 'storage pool capabilities', desc: 'Returns capabilities of storage pool support.', opts: [],
  handler: (ctl) => {
    const caps = attempt(ctl, 'failed to get storage pool capabilities', () => ctl.connected!.storagePoolCapabilities(0));
    if (caps === undefined) return false;
    ctl.print(`${caps}\n`);
    return true;
  },
};

/** Print what virConnectFindStoragePoolSources found, or virsh's failure. */
function findSources(ctl: Ctl, type: string, spec: string | null): boolean {
  const list = attempt(ctl, `Failed to find any ${type} pool sources`, () => ctl.connected!.findStoragePoolSources(type, spec, 0));
  if (list === undefined) return false;
  ctl.print(list);
  return true;
}

const findSourcesAsCmd: Cmd = {
  name: 'find-storage-pool-sources-as', help: 'find potential storage pool sources', desc: 'Returns XML <sources> document.',
  opts: [
    { name: 'type', type: 'data', required: true, help: 'type of storage pool sources to find' },
    { name: 'host', type: 'string', help: 'optional host to query' },
    { name: 'port', type: 'string', help: 'optional port to query' },
    { name: 'initiator', type: 'string', help: 'optional initiator IQN to use for query' },
  ],
  handler: (ctl, cmd) => {
    const type = optString(cmd, 'type')!;
    const host = optString(cmd, 'host');
    const initiator = optString(cmd, 'initiator');
    let spec: string | null = null;
    if (host !== undefined) {
      let port: string | undefined;
      try {
        port = optString(cmd, 'port');
      } catch (e) {
        if (!(e instanceof VshError)) throw e;
        ctl.error(e.message);
        throw new VshError('missing argument');
      }
      spec = `<source>\n  <host name='${host}'${port === undefined ? '' : ` port='${port}'`}/>\n`;
      if (initiator !== undefined) spec += `  <initiator>\n    <iqn name='${initiator}'/>\n  </initiator>\n`;
      spec += '</source>\n';
    }
    return findSources(ctl, type, spec);
  },
};

const findSourcesCmd: Cmd = {
  name: 'find-storage-pool-sources', help: 'discover potential storage pool sources', desc: 'Returns XML <sources> document.',
  opts: [
    { name: 'type', type: 'data', required: true, help: 'type of storage pool sources to discover' },
    { name: 'srcSpec', type: 'string', help: 'optional file of source xml to query for pools' },
  ],
  handler: (ctl, cmd) => {
    const type = optString(cmd, 'type')!;
    const file = optString(cmd, 'srcSpec');
    return findSources(ctl, type, file === undefined ? null : readXmlFile(file));
  },
};

export const poolMoreCommands: Cmd[] = [findSourcesAsCmd, findSourcesCmd, listCmd, editCmd, eventCmd, capabilitiesCmd];
