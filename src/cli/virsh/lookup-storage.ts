/**
 * virsh's pool and volume arguments (tools/virsh-pool.c virshCommandOptPoolBy, virsh-volume.c
 * virshCommandOptVolBy): a `<pool>` tried as a UUID (36 characters), then as a name; a `<vol>` as a
 * name in `--pool` (when given, and active), then as a key, then as a path. Unlike a domain's, a
 * failed lookup keeps libvirt's error of the last try: virsh prints `failed to get pool 'X'` and
 * then that error.
 */
import { LibvirtError } from '../../libvirt/errors.js';
import type { StoragePool, StorageVolume } from '../../libvirt/storage.js';
import '../../libvirt/storage-more.js';
import type { OptDef, ParsedCommand } from '../vsh/command-def.js';
import { optString, VshError } from '../vsh/options.js';
import type { Ctl } from './ctl.js';
import { BY_NAME, BY_UUID } from './lookup.js';

/** VIR_CONNECT_LIST_STORAGE_POOLS_*: which pools an option completes to */
export const POOLS = { INACTIVE: 1, ACTIVE: 2, PERSISTENT: 4 } as const;

/** VIRSH_COMMON_OPT_POOL */
export const poolOpt = (help: string, completerFlags: number): OptDef => ({ name: 'pool', type: 'data', required: true, help, completer: 'storage-pool', completerFlags });
/** VIRSH_COMMON_OPT_POOL_OPTIONAL (virsh-volume.c) */
export const poolOptional: OptDef = { name: 'pool', type: 'string', help: 'pool name or uuid', completer: 'storage-pool', completerFlags: POOLS.ACTIVE };
/** VIRSH_COMMON_OPT_VOL_NAME / _KEY */
export const volOpt = (help: string, completer = 'storage-vol'): OptDef => ({ name: 'vol', type: 'data', required: true, help, completer });

/** A lookup that may miss: the miss's libvirt error is kept for the report. */
function attemptLookup<T>(ctl: Ctl, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof LibvirtError)) throw e;
    ctl.lastError = e;
    return undefined;
  }
}

/** The pool named `n`, by UUID then name as `by` allows; a miss throws virsh's message. */
export function lookupPool(ctl: Ctl, n: string, by = BY_UUID | BY_NAME): StoragePool {
  const conn = ctl.connected!;
  let pool: StoragePool | undefined;
  if (by & BY_UUID && Buffer.byteLength(n) === 36) pool = attemptLookup(ctl, () => conn.lookupStoragePoolByUUID(n));
  if (!pool && by & BY_NAME) pool = attemptLookup(ctl, () => conn.lookupStoragePoolByName(n));
  if (!pool) throw new VshError(`failed to get pool '${n}'`);
  return pool;
}

/** virshCommandOptPoolBy: the command's `optname` option as a pool. */
export function optPool(ctl: Ctl, cmd: ParsedCommand, optname = 'pool', by = BY_UUID | BY_NAME): { pool: StoragePool; name: string } {
  const name = optString(cmd, optname)!;
  return { pool: lookupPool(ctl, name, by), name };
}

/** Run `fn` with the command's pool, freed afterwards. */
export function withPool<T>(ctl: Ctl, cmd: ParsedCommand, fn: (pool: StoragePool, name: string) => T, by?: number): T {
  const { pool, name } = optPool(ctl, cmd, 'pool', by);
  try {
    return fn(pool, name);
  } finally {
    pool.free();
  }
}

/**
 * virshCommandOptVolBy: the command's `optname` as a volume, in `pooloptname`'s pool when that is
 * given (null: the command has none; `by`: BY_NAME for a name in the pool, BY_UUID for a key or a path).
 */
export function optVol(ctl: Ctl, cmd: ParsedCommand, optname = 'vol', pooloptname: string | null = 'pool', by = BY_UUID | BY_NAME): { vol: StorageVolume; name: string } {
  const n = optString(cmd, optname)!;
  const p = pooloptname === null ? undefined : optString(cmd, pooloptname);
  const conn = ctl.connected!;
  let pool: StoragePool | undefined;
  try {
    if (p !== undefined) {
      pool = lookupPool(ctl, p, by);
      let active: boolean;
      try {
        active = pool.isActive();
      } catch (e) {
        if (!(e instanceof LibvirtError)) throw e;
        ctl.lastError = e;
        active = false;
      }
      if (!active) throw new VshError(`pool '${p}' is not active`);
    }
    const inPool = pool;
    let vol: StorageVolume | undefined;
    if (inPool && by & BY_NAME) vol = attemptLookup(ctl, () => inPool.lookupVolume(n));
    if (!vol && by & BY_UUID) vol = attemptLookup(ctl, () => conn.lookupStorageVolumeByKey(n));
    if (!vol && by & BY_UUID) vol = attemptLookup(ctl, () => conn.lookupStorageVolumeByPath(n));
    if (!vol) throw new VshError(inPool || pooloptname === null ? `failed to get vol '${n}'` : `failed to get vol '${n}', specifying --${pooloptname} might help`);
    ctl.lastError = undefined; // vshResetLibvirtError
    if (inPool) {
      // the volume must be the given pool's (a key or path may name another pool's)
      let volPool: StoragePool | undefined;
      try {
        volPool = vol.pool();
      } catch (e) {
        if (!(e instanceof LibvirtError)) throw e;
      }
      if (volPool) {
        const other = volPool.name !== inPool.name;
        volPool.free();
        if (other) {
          vol.free();
          throw new VshError(`Requested volume '${n}' is not in pool '${inPool.name}'`);
        }
      }
    }
    return { vol, name: n };
  } finally {
    pool?.free();
  }
}

/** Run `fn` with the command's volume, freed afterwards. */
export function withVol<T>(ctl: Ctl, cmd: ParsedCommand, fn: (vol: StorageVolume, name: string) => T, pooloptname: string | null = 'pool', by?: number): T {
  const { vol, name } = optVol(ctl, cmd, 'vol', pooloptname, by);
  try {
    return fn(vol, name);
  } finally {
    vol.free();
  }
}
