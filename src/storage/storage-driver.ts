/**
 * The storage driver: libvirt's storage_driver.c for `dir` pools. Pools by name and uuid, their
 * persistent definitions beside the domains' (`<configDir>/NAME.xml`, autostart links), a state
 * file per active pool (`<stateDir>/NAME.xml`) so that a daemon restart finds them active again,
 * lifecycle and refresh events. Every change to a pool runs in that pool's queue. Volumes:
 * volume-api.ts, on the same objects.
 */
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DefinitionStore, failed, unlinkIfThere, writeFileAtomic } from '../definition-store.js';
import { checkFlags, MpvirtError } from '../errors.js';
import { buildPool, deletePoolDir, refreshPool } from './dir-backend.js';
import { POOL_STATE, PoolObject } from './pool-object.js';
import { formatPoolXml, parsePoolXml, sanitizePath, type StoragePoolDef } from './pool-xml.js';

/** virStoragePoolEventLifecycleType */
export const PoolEvent = { DEFINED: 0, UNDEFINED: 1, STARTED: 2, STOPPED: 3, CREATED: 4, DELETED: 5 } as const;

export interface PoolRef { name: string; uuid: string }
export interface StorageEvents {
  'pool-lifecycle': [{ pool: PoolRef; event: number; detail: number }];
  'pool-refresh': [{ pool: PoolRef }];
}

export interface StorageLogger { warn(obj: object, msg: string): void; info(obj: object, msg: string): void }

export interface StorageDriverOptions {
  /** persistent pool definitions (`/etc/mpvirt/storage`) */
  configDir: string;
  /** state of active pools (`/run/mpvirt/storage`) */
  stateDir: string;
  log: StorageLogger;
}

/** virConnectListAllStoragePoolsFlags */
export const ListPools = { INACTIVE: 1, ACTIVE: 2, PERSISTENT: 4, TRANSIENT: 8, AUTOSTART: 16, NO_AUTOSTART: 32, DIR: 64 } as const;
const ALL_POOL_TYPES = 0xfffc0; // DIR (1 << 6) … ISCSI_DIRECT (1 << 19): every pool type bit in 9.0
/** virStoragePoolBuildFlags / virStoragePoolCreateFlags */
export const BuildFlags = { NEW: 0, REPAIR: 1, RESIZE: 2, NO_OVERWRITE: 4, OVERWRITE: 8 } as const;
export const CreateFlags = { BUILD: 1, BUILD_OVERWRITE: 2, BUILD_NO_OVERWRITE: 4 } as const;

export const notActive = (p: PoolObject): MpvirtError => new MpvirtError('VIR_ERR_OPERATION_INVALID', `storage pool '${p.name}' is not active`, { domain: 'STORAGE' });
const stillActive = (p: PoolObject): MpvirtError => new MpvirtError('VIR_ERR_OPERATION_INVALID', `storage pool '${p.name}' is still active`, { domain: 'STORAGE' });
const busy = (p: PoolObject): MpvirtError => new MpvirtError('VIR_ERR_OPERATION_INVALID', `pool '${p.name}' has asynchronous jobs running.`, { domain: 'STORAGE' });

export { checkFlags };

export class StorageDriver {
  readonly events = new EventEmitter<StorageEvents>().setMaxListeners(0);
  readonly pools = new Map<string, PoolObject>();
  private readonly store: DefinitionStore;

  constructor(private readonly opts: StorageDriverOptions) {
    this.store = new DefinitionStore(opts.configDir, 'pool');
  }

  /** Load persistent pools, take back the active ones, start the autostart ones whose directory exists. */
  async init(): Promise<void> {
    for (const d of await this.store.loadAll((p) => this.opts.log.warn({ path: p.path, err: p.error }, 'storage pool definition skipped'))) {
      try {
        const def = parsePoolXml(d.xml);
        if (def.name !== d.name) throw new MpvirtError('VIR_ERR_XML_ERROR', `pool name '${def.name}' does not match file name '${d.name}.xml'`);
        this.checkDuplicate(def, false);
        const obj = new PoolObject(def, true);
        obj.autostart = d.autostart;
        this.pools.set(def.name, obj);
      } catch (e) {
        this.opts.log.warn({ name: d.name, err: e }, 'storage pool definition skipped');
      }
    }
    const states = await new DefinitionStore(this.opts.stateDir, 'pool').loadAll(() => undefined);
    for (const s of states) {
      try {
        const def = parsePoolXml(s.xml.replace(/^\s*<poolstate>|<\/poolstate>\s*$/g, ''));
        let obj = this.pools.get(def.name);
        if (obj && obj.uuid !== def.uuid) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `state of pool '${def.name}' has another uuid`);
        if (!obj) this.pools.set(def.name, (obj = new PoolObject(def, false)));
        else if (JSON.stringify(obj.def) !== JSON.stringify(def)) [obj.newDef, obj.def] = [obj.def, def];
        await this.activate(obj);
      } catch (e) {
        this.opts.log.warn({ name: s.name, err: e }, 'active storage pool not taken back');
        await unlinkIfThere(join(this.opts.stateDir, `${s.name}.xml`), 'cannot remove state file').catch(() => undefined);
      }
    }
    for (const obj of this.pools.values()) {
      if (!obj.autostart || obj.active) continue;
      await this.activate(obj).then(
        () => this.emitLifecycle(obj, PoolEvent.STARTED),
        (e: unknown) => this.opts.log.warn({ pool: obj.name, err: e }, `Failed to autostart storage pool '${obj.name}'`),
      );
    }
  }

  private ref(p: PoolObject): PoolRef {
    return { name: p.name, uuid: p.uuid };
  }

  private emitLifecycle(p: PoolObject, event: number): void {
    this.events.emit('pool-lifecycle', { pool: this.ref(p), event, detail: 0 });
  }

  // ------------------------------------------------------------------ lookups

  lookupByName(name: string): PoolObject {
    const p = this.pools.get(name);
    if (!p) throw new MpvirtError('VIR_ERR_NO_STORAGE_POOL', `no storage pool with matching name '${name}'`, { domain: 'STORAGE' });
    return p;
  }

  lookupByUuid(uuid: string, name?: string): PoolObject {
    for (const p of this.pools.values()) if (p.uuid === uuid) return p;
    throw new MpvirtError('VIR_ERR_NO_STORAGE_POOL', name === undefined ? `no storage pool with matching uuid '${uuid}'` : `no storage pool with matching uuid '${uuid}' (${name})`, { domain: 'STORAGE' });
  }

  lookupByTargetPath(path: string): PoolObject {
    const clean = sanitizePath(path);
    for (const p of this.pools.values()) if (p.active && p.def.targetPath === clean) return p;
    throw new MpvirtError('VIR_ERR_NO_STORAGE_POOL', clean === path ? `no storage pool with matching target path '${path}'` : `no storage pool with matching target path '${path}' (${clean})`, { domain: 'STORAGE' });
  }

  /**
   * A domain's `<disk type='volume'>` at start: the volume's path and whether it is a file or a
   * block device (libvirt's virDomainDiskTranslateSourcePool for a dir pool, with its errors).
   */
  resolveDiskVolume(pool: string, volume: string): { path: string; type: 'file' | 'block' } {
    const p = this.lookupByName(pool);
    if (!p.active) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `storage pool '${pool}' containing volume '${volume}' is not active`);
    const vol = p.volumes.get(volume);
    if (!vol) throw new MpvirtError('VIR_ERR_NO_STORAGE_VOL', `no storage vol with matching name '${volume}'`, { domain: 'STORAGE' });
    if ((vol.type !== 'file' && vol.type !== 'block') || !vol.path) {
      throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `unsupported volume type '${vol.type}' for volume '${volume}' of pool '${pool}'`);
    }
    return { path: vol.path, type: vol.type };
  }

  /** virConnectListAllStoragePools: sorted by name, filtered by flags. */
  listAll(flags: number): PoolObject[] {
    checkFlags(flags, 0x3f | ALL_POOL_TYPES, 'virConnectListAllStoragePools');
    // a pair of opposite flags filters only when exactly one of the two is given
    const pick = (on: number, off: number, value: boolean): boolean => {
      const f = flags & (on | off);
      return f === 0 || f === (on | off) || ((f & on) !== 0) === value;
    };
    return [...this.pools.values()]
      .filter((p) => pick(ListPools.ACTIVE, ListPools.INACTIVE, p.active) && pick(ListPools.PERSISTENT, ListPools.TRANSIENT, p.persistent) && pick(ListPools.AUTOSTART, ListPools.NO_AUTOSTART, p.autostart))
      .filter(() => (flags & ALL_POOL_TYPES) === 0 || (flags & ListPools.DIR) !== 0)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // ------------------------------------------------------------------ definitions

  /** virStoragePoolObjIsDuplicate + virStoragePoolObjSourceFindDuplicate (same target path). */
  private checkDuplicate(def: StoragePoolDef, checkActive: boolean): PoolObject | undefined {
    const byUuid = [...this.pools.values()].find((p) => p.uuid === def.uuid);
    if (byUuid) {
      if (byUuid.name !== def.name) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `pool '${byUuid.name}' is already defined with uuid ${byUuid.uuid}`, { domain: 'STORAGE' });
      if (checkActive && byUuid.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `pool is already active as '${byUuid.name}'`, { domain: 'STORAGE' });
      if (checkActive && byUuid.starting) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `pool '${byUuid.name}' is starting up`, { domain: 'STORAGE' });
    } else {
      const byName = this.pools.get(def.name);
      if (byName) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `pool '${def.name}' already exists with uuid ${byName.uuid}`, { domain: 'STORAGE' });
    }
    const clash = [...this.pools.values()].find((p) => p.name !== def.name && p.def.targetPath === def.targetPath);
    if (clash) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `Storage source conflict with pool: '${clash.name}'`, { domain: 'STORAGE' });
    return byUuid;
  }

  /** `pool-define`: a new persistent pool, or the next definition of an existing one. */
  async define(xml: string, flags: number): Promise<PoolObject> {
    checkFlags(flags, 1, 'virStoragePoolDefineXML'); // VALIDATE: the parser checks what the schema would
    const def = parsePoolXml(xml);
    const existing = this.checkDuplicate(def, false);
    await this.store.save(def.name, formatPoolXml(def));
    let obj = existing;
    if (!obj) this.pools.set(def.name, (obj = new PoolObject(def, true)));
    else if (obj.active) obj.newDef = def;
    else obj.def = def;
    obj.persistent = true;
    this.emitLifecycle(obj, PoolEvent.DEFINED);
    return obj;
  }

  /** `pool-create`: a transient pool, started (and built first when asked). */
  async createTransient(xml: string, flags: number): Promise<PoolObject> {
    checkFlags(flags, 7, 'virStoragePoolCreateXML');
    if ((flags & CreateFlags.BUILD_OVERWRITE) && (flags & CreateFlags.BUILD_NO_OVERWRITE)) throw overwriteExclusive();
    const def = parsePoolXml(xml);
    // an inactive persistent pool of that name and uuid runs with this definition until destroyed
    const existing = this.checkDuplicate(def, true);
    const obj = existing ?? new PoolObject(def, false);
    if (existing) [obj.newDef, obj.def] = [existing.def, def];
    else this.pools.set(def.name, obj);
    try {
      await obj.job(async () => {
        if (flags & 7) await buildPool(def);
        await this.activate(obj);
      });
    } catch (e) {
      if (existing) [obj.def, obj.newDef] = [existing.newDef!, undefined];
      else this.pools.delete(def.name);
      throw e;
    }
    this.emitLifecycle(obj, PoolEvent.STARTED);
    return obj;
  }

  undefine(p: PoolObject): Promise<void> {
    return p.job(async () => {
      if (p.active) throw stillActive(p);
      if (p.busy) throw busy(p);
      if (!p.persistent) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'pool has no config file', { domain: 'STORAGE' });
      await this.store.remove(p.name);
      this.pools.delete(p.name);
      this.emitLifecycle(p, PoolEvent.UNDEFINED);
    });
  }

  // ------------------------------------------------------------------ lifecycle

  /** Refresh and mark active, with its state file. */
  private async activate(p: PoolObject): Promise<void> {
    p.starting = true;
    try {
      await this.refreshInto(p);
      p.active = true;
      await mkdir(this.opts.stateDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => { throw failed(`cannot create directory ${this.opts.stateDir}`, e); });
      await writeFileAtomic(join(this.opts.stateDir, `${p.name}.xml`), `<poolstate>\n${formatPoolXml(p.def, p.sizes)}</poolstate>\n`);
    } catch (e) {
      p.active = false;
      p.clear();
      throw e;
    } finally {
      p.starting = false;
    }
  }

  private async refreshInto(p: PoolObject): Promise<void> {
    const r = await refreshPool(p.def);
    p.sizes = r.sizes;
    // libvirt's refresh writes the directory's mode and owner into the pool's definition
    p.def = { ...p.def, perms: { ...r.perms, ...(p.def.perms.label !== undefined && { label: p.def.perms.label }) } };
    p.volumes.clear();
    for (const v of r.volumes) p.volumes.set(v.name, v);
  }

  /** `pool-start` (with `--build` and its overwrite flags). */
  start(p: PoolObject, flags: number): Promise<void> {
    checkFlags(flags, 7, 'virStoragePoolCreate');
    if ((flags & CreateFlags.BUILD_OVERWRITE) && (flags & CreateFlags.BUILD_NO_OVERWRITE)) throw overwriteExclusive();
    return p.job(async () => {
      if (p.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `storage pool '${p.name}' is already active`, { domain: 'STORAGE' });
      if (flags & 7) await buildPool(p.def);
      await this.activate(p);
      this.emitLifecycle(p, PoolEvent.STARTED);
    });
  }

  /** `pool-build`: the directory, for an inactive pool. */
  build(p: PoolObject, flags: number): Promise<void> {
    checkFlags(flags, BuildFlags.NO_OVERWRITE | BuildFlags.OVERWRITE, 'virStoragePoolBuild');
    if ((flags & BuildFlags.NO_OVERWRITE) && (flags & BuildFlags.OVERWRITE)) throw overwriteExclusive();
    return p.job(async () => {
      if (p.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `storage pool '${p.name}' is already active`, { domain: 'STORAGE' });
      await buildPool(p.def);
      this.emitLifecycle(p, PoolEvent.CREATED);
    });
  }

  /** `pool-destroy`: inactive again (a transient pool is gone); files stay. */
  destroy(p: PoolObject): Promise<void> {
    return p.job(async () => {
      if (!p.active) throw notActive(p);
      if (p.busy) throw busy(p);
      await unlinkIfThere(join(this.opts.stateDir, `${p.name}.xml`), 'cannot remove state file');
      p.active = false;
      p.clear();
      this.emitLifecycle(p, PoolEvent.STOPPED);
      if (p.newDef) [p.def, p.newDef] = [p.newDef, undefined];
      if (!p.persistent) this.pools.delete(p.name);
    });
  }

  /** `pool-delete`: the pool's (empty) directory; the pool stays defined. */
  delete(p: PoolObject, flags: number): Promise<void> {
    checkFlags(flags, 1, 'virStoragePoolDelete'); // ZEROED: there is nothing to zero in a directory
    return p.job(async () => {
      if (p.active) throw stillActive(p);
      if (p.busy) throw busy(p);
      await deletePoolDir(p.def);
      this.emitLifecycle(p, PoolEvent.DELETED);
    });
  }

  /** `pool-refresh`: what is in the directory now; a pool whose directory went away stops. */
  refresh(p: PoolObject, flags: number): Promise<void> {
    checkFlags(flags, 0, 'virStoragePoolRefresh');
    return p.job(async () => {
      if (!p.active) throw notActive(p);
      if (p.busy) throw busy(p);
      try {
        await this.refreshInto(p);
      } catch (e) {
        await unlinkIfThere(join(this.opts.stateDir, `${p.name}.xml`), 'cannot remove state file').catch(() => undefined);
        p.active = false;
        p.clear();
        this.emitLifecycle(p, PoolEvent.STOPPED);
        if (!p.persistent) this.pools.delete(p.name);
        throw e;
      }
      this.events.emit('pool-refresh', { pool: this.ref(p) });
    });
  }

  /** virStoragePoolGetInfo */
  info(p: PoolObject): { state: number; capacity: bigint; allocation: bigint; available: bigint } {
    return { state: p.active ? POOL_STATE.RUNNING : POOL_STATE.INACTIVE, ...p.sizes };
  }

  /** `pool-dumpxml [--inactive]` */
  xml(p: PoolObject, flags: number): string {
    checkFlags(flags, 1, 'virStoragePoolGetXMLDesc');
    return (flags & 1) !== 0 && p.newDef ? formatPoolXml(p.newDef) : formatPoolXml(p.def, p.sizes);
  }

  async setAutostart(p: PoolObject, on: boolean): Promise<void> {
    if (!p.persistent) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'pool has no config file', { domain: 'STORAGE' });
    await p.job(() => this.store.setAutostart(p.name, on));
    p.autostart = on;
  }
}

const overwriteExclusive = (): MpvirtError => new MpvirtError('VIR_ERR_INVALID_ARG', 'Overwrite and no overwrite flags are mutually exclusive', { domain: 'STORAGE' });
