/**
 * virsh's completers for the storage commands (tools/virsh-completer-pool.c,
 * virsh-completer-volume.c), registered with the `complete` command: pool names (filtered by the
 * option's VIR_CONNECT_LIST_STORAGE_POOLS_* flags), volume names of the line's `--pool`, volume
 * keys of every active pool, pool event names, pool types (a comma list) and wipe algorithms.
 */
import { LibvirtError } from '../../libvirt/errors.js';
import { WIPE_ALGORITHMS } from '../../libvirt/storage-more.js';
import { VshError } from '../vsh/options.js';
import type { PartialCommand } from '../vsh/parse.js';
import type { Ctl } from './ctl.js';
import { registerCompleter } from './complete.js';
import { collectPools, POOL_TYPES } from './commands-pool-more.js';
import { lookupPool } from './lookup-storage.js';

/** The connection, if it is there and alive (every storage completer checks virConnectIsAlive). */
function alive(ctl: Ctl): boolean {
  try {
    return ctl.connected?.isAlive() === true;
  } catch {
    return false;
  }
}

/** A libvirt failure means no completions, as a NULL list in virsh. */
function orNothing(fn: () => string[]): string[] | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LibvirtError) return undefined;
    throw e;
  }
}

/** The value of `name` on the line so far (vshCommandOptStringReq with skipChecks: empty is none). */
const lineOpt = (partial: PartialCommand, name: string): string | undefined => {
  const v = partial.opts.find((o) => o.def.name === name)?.data;
  return v === '' ? undefined : v;
};

// virshStoragePoolNameCompleter
registerCompleter('storage-pool', (ctl, flags) => {
  if (!alive(ctl)) return undefined;
  return orNothing(() => {
    const pools = ctl.connected!.listAllStoragePools(flags);
    try {
      return pools.map((p) => p.name);
    } finally {
      for (const p of pools) p.free();
    }
  });
});

// virshStorageVolNameCompleter: the volumes of the pool given on the line (an unknown pool is said on stderr)
registerCompleter('storage-vol', (ctl, _flags, partial) => {
  if (!alive(ctl)) return undefined;
  const name = lineOpt(partial, 'pool');
  if (name === undefined) return undefined;
  let pool;
  try {
    pool = lookupPool(ctl, name);
  } catch (e) {
    if (!(e instanceof VshError)) throw e;
    ctl.error(e.message);
    return undefined;
  }
  try {
    return orNothing(() => {
      const vols = pool.listVolumes();
      try {
        return vols.map((v) => v.name);
      } finally {
        for (const v of vols) v.free();
      }
    });
  } finally {
    pool.free();
  }
});

// virshStorageVolKeyCompleter: every volume key of the active pools, pools by name
registerCompleter('storage-vol-key', (ctl) => {
  if (!alive(ctl)) return undefined;
  let pools;
  try {
    pools = collectPools(ctl, 2);
  } catch (e) {
    if (!(e instanceof VshError)) throw e;
    ctl.error(e.message);
    return undefined;
  }
  try {
    return orNothing(() => pools.flatMap((p) => {
      const vols = p.listVolumes();
      try {
        return vols.map((v) => v.key);
      } finally {
        for (const v of vols) v.free();
      }
    }));
  } finally {
    for (const p of pools) p.free();
  }
});

// virshPoolEventNameCompleter
registerCompleter('pool-event', () => ['lifecycle', 'refresh']);

// virshStorageVolWipeAlgorithmCompleter
registerCompleter('vol-wipe-algorithm', () => [...WIPE_ALGORITHMS]);

// virshPoolTypeCompleter: virshCommaStringListComplete over the types, after those already typed
registerCompleter('pool-type', (_ctl, _flags, partial) => {
  let input = partial.opts.find((o) => o.def.name === 'type')?.data;
  if (input === ' ') input = undefined;
  const comma = input?.lastIndexOf(',') ?? -1;
  const done = input !== undefined && comma >= 0 ? input.slice(0, comma) : undefined;
  const given = done === undefined ? [] : done.split(',');
  return POOL_TYPES.map(([t]) => t).filter((t) => !given.includes(t)).map((t) => (done === undefined ? t : `${done},${t}`));
});
