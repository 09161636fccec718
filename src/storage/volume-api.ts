/**
 * Storage volumes of active pools (libvirt's storageVol* in storage_driver.c): lookups by name,
 * key and path, create (and create-from) in the pool's queue with the name reserved while the
 * file is built, delete, wipe, resize, info and XML. What a volume is comes from the file itself
 * (dir-backend.ts's readVolume), read again before it is reported.
 */
import { realpath } from 'node:fs/promises';
import { MpvirtError } from '../errors.js';
import { createVolume, deleteVolume, readVolume, resizeVolume, wipeVolume } from './dir-backend.js';
import type { PoolObject } from './pool-object.js';
import { sanitizePath } from './pool-xml.js';
import { checkFlags, notActive, type StorageDriver } from './storage-driver.js';
import { formatVolXml, parseVolXml, type StorageVolDef } from './vol-xml.js';

export interface VolumeHandle { pool: PoolObject; vol: StorageVolDef }

/** virStorageVolType numbers */
const VOL_TYPE: Readonly<Record<StorageVolDef['type'], number>> = { file: 0, block: 1, dir: 2, network: 3, netdir: 4, ploop: 5 };

const noVol = (msg: string): MpvirtError => new MpvirtError('VIR_ERR_NO_STORAGE_VOL', msg, { domain: 'STORAGE' });

export function activePool(p: PoolObject): PoolObject {
  if (!p.active) throw notActive(p);
  return p;
}

export function volumesOf(p: PoolObject): StorageVolDef[] {
  return [...activePool(p).volumes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function lookupVolByName(p: PoolObject, name: string): VolumeHandle {
  const vol = activePool(p).volumes.get(name);
  if (!vol) throw noVol(`no storage vol with matching name '${name}'`);
  return { pool: p, vol };
}

export function lookupVolByKey(d: StorageDriver, key: string): VolumeHandle {
  for (const pool of d.pools.values()) {
    if (!pool.active) continue;
    for (const vol of pool.volumes.values()) if (vol.key === key) return { pool, vol };
  }
  throw noVol(`no storage vol with matching key ${key}`);
}

/** By path: the path as given, or as it resolves (libvirt cleans it first). */
export async function lookupVolByPath(d: StorageDriver, path: string): Promise<VolumeHandle> {
  const clean = sanitizePath(path);
  const real = await realpath(clean).catch(() => clean);
  for (const pool of d.pools.values()) {
    if (!pool.active) continue;
    for (const vol of pool.volumes.values()) if (vol.path === clean || vol.path === real) return { pool, vol };
  }
  throw noVol(clean === path ? `no storage vol with matching path '${path}'` : `no storage vol with matching path '${path}' (${clean})`);
}

/** The pool's current view of one volume, re-read from its file (libvirt's refreshVol). */
async function reread(h: VolumeHandle): Promise<StorageVolDef> {
  const fresh = await readVolume(h.pool.def, h.vol.name);
  if (!fresh) {
    h.pool.volumes.delete(h.vol.name);
    throw noVol(`no storage vol with matching name '${h.vol.name}'`);
  }
  h.pool.volumes.set(fresh.name, fresh);
  return fresh;
}

export function notBuilding(h: VolumeHandle): void {
  if (h.pool.building.has(h.vol.name)) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `volume '${h.vol.name}' is still being allocated.`, { domain: 'STORAGE' });
}

/** virStorageVolCreateFlags */
export const VolCreate = { PREALLOC_METADATA: 1, REFLINK: 2, VALIDATE: 4 } as const;

/**
 * `vol-create` / `vol-create-as` / `vol-create-from`: the name is taken at once (a second create
 * of it is refused while the first builds), the file built outside the pool's lock as libvirt
 * does, then the volume read back from it.
 */
export async function createVol(p: PoolObject, xml: string, flags: number, from?: VolumeHandle): Promise<VolumeHandle> {
  checkFlags(flags, VolCreate.PREALLOC_METADATA | VolCreate.REFLINK | VolCreate.VALIDATE, from ? 'virStorageVolCreateXMLFrom' : 'virStorageVolCreateXML');
  activePool(p);
  const def = parseVolXml(xml, { capacityOptional: from !== undefined });
  if (p.volumes.has(def.name) || p.building.has(def.name)) {
    throw from
      ? new MpvirtError('VIR_ERR_INTERNAL_ERROR', `storage volume name '${def.name}' already in use.`, { domain: 'STORAGE' })
      : new MpvirtError('VIR_ERR_STORAGE_VOL_EXIST', `'${def.name}'`, { domain: 'STORAGE' });
  }
  if (from) {
    activePool(from.pool);
    notBuilding(from);
    if (def.capacity < from.vol.capacity) def.capacity = from.vol.capacity;
    if (!def.hasAllocation) def.allocation = def.capacity;
  }
  p.building.add(def.name);
  if (from) from.pool.copying.add(from.vol.name); // the source stays while it is copied
  try {
    await createVolume(p.def, def, { ...(from && { from: from.vol }), preallocMetadata: (flags & VolCreate.PREALLOC_METADATA) !== 0 });
  } finally {
    p.building.delete(def.name);
    if (from) from.pool.copying.delete(from.vol.name);
  }
  return p.job(async () => {
    const vol = await readVolume(p.def, def.name);
    if (!vol) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `volume '${def.name}' vanished right after it was created`, { domain: 'STORAGE' });
    p.volumes.set(vol.name, vol);
    return { pool: p, vol };
  });
}

export function deleteVol(h: VolumeHandle, flags: number): Promise<void> {
  checkFlags(flags, 0, 'virStorageVolDelete');
  return h.pool.job(async () => {
    activePool(h.pool);
    notBuilding(h);
    if (h.pool.copying.has(h.vol.name)) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `volume '${h.vol.name}' is still in use.`, { domain: 'STORAGE' });
    await deleteVolume(h.pool.def, h.vol);
    h.pool.volumes.delete(h.vol.name);
  });
}

export function wipeVol(h: VolumeHandle, algorithm: number, flags: number): Promise<void> {
  checkFlags(flags, 0, 'virStorageVolWipePattern');
  if (algorithm > 9) throw new MpvirtError('VIR_ERR_INVALID_ARG', `wiping algorithm ${algorithm} not supported`, { domain: 'STORAGE' });
  return h.pool.job(async () => {
    activePool(h.pool);
    notBuilding(h);
    await wipeVolume(h.pool.def, h.vol, algorithm);
    await reread(h);
  });
}

/** virStorageVolResizeFlags */
export const VolResize = { ALLOCATE: 1, DELTA: 2, SHRINK: 4 } as const;

export function resizeVol(h: VolumeHandle, capacity: bigint, flags: number): Promise<void> {
  checkFlags(flags, VolResize.ALLOCATE | VolResize.DELTA | VolResize.SHRINK, 'virStorageVolResize');
  return h.pool.job(async () => {
    activePool(h.pool);
    notBuilding(h);
    const vol = await reread(h);
    let abs = capacity;
    if (flags & VolResize.DELTA) abs = flags & VolResize.SHRINK ? vol.capacity - (capacity < vol.capacity ? capacity : vol.capacity) : vol.capacity + capacity;
    if (abs < vol.allocation) throw new MpvirtError('VIR_ERR_INVALID_ARG', "can't shrink capacity below existing allocation", { domain: 'STORAGE' });
    if (abs < vol.capacity && !(flags & VolResize.SHRINK)) throw new MpvirtError('VIR_ERR_INVALID_ARG', "Can't shrink capacity below current capacity unless shrink flag explicitly specified", { domain: 'STORAGE' });
    const delta = flags & VolResize.ALLOCATE ? abs - vol.allocation : 0n;
    if (delta > h.pool.sizes.available) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', 'Not enough space left in storage pool', { domain: 'STORAGE' });
    await resizeVolume(h.pool.def, vol, abs, (flags & VolResize.ALLOCATE) !== 0);
    await reread(h);
  });
}

/** virStorageVolGetInfo(Flags): with GET_PHYSICAL the allocation field is the file's size. */
export async function volInfo(h: VolumeHandle, flags: number): Promise<{ type: number; capacity: bigint; allocation: bigint }> {
  checkFlags(flags, 1, 'virStorageVolGetInfoFlags');
  const vol = await h.pool.job(() => reread(h));
  return { type: VOL_TYPE[vol.type], capacity: vol.capacity, allocation: flags & 1 ? (vol.physical ?? vol.allocation) : vol.allocation };
}

export async function volXml(h: VolumeHandle, flags: number): Promise<string> {
  checkFlags(flags, 0, 'virStorageVolGetXMLDesc');
  return formatVolXml(await h.pool.job(() => reread(h)));
}
