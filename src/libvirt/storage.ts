/** virStoragePoolPtr and virStorageVolPtr. */
import { StoragePoolState, StorageVolType } from './enums-misc.js';
import { check, checkBool, checkPtr, lastError } from './errors.js';
import { lv, takePointerArray, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';

export type StoragePoolStateName = Lowercase<keyof typeof StoragePoolState>;
export type StorageVolTypeName = Lowercase<keyof typeof StorageVolType>;
const poolStates = Object.keys(StoragePoolState).map((k) => k.toLowerCase() as StoragePoolStateName);
const volTypes = Object.keys(StorageVolType).map((k) => k.toLowerCase() as StorageVolTypeName);

/** A 64-bit size: a number while exact (below 8 PiB), else a bigint. */
export type Size = number | bigint;

/** virStoragePoolInfo; sizes in bytes */
export interface StoragePoolInfo {
  state: number;
  stateName: StoragePoolStateName;
  capacity: Size;
  allocation: Size;
  available: Size;
}

/** virStorageVolInfo; sizes in bytes */
export interface StorageVolumeInfo {
  type: number;
  typeName: StorageVolTypeName;
  capacity: Size;
  allocation: Size;
}

function text(p: Ptr | null, call: string): string {
  const s = takeString(p);
  if (s === null) throw lastError(call);
  return s;
}

export class StoragePool extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => lv().virStoragePoolFree(p), 'StoragePool');
  }

  get name(): string {
    return checkPtr(lv().virStoragePoolGetName(this.ptr), 'virStoragePoolGetName');
  }

  get uuid(): string {
    const buf = Buffer.alloc(37);
    check(lv().virStoragePoolGetUUIDString(this.ptr, buf), 'virStoragePoolGetUUIDString');
    return buf.toString('latin1', 0, 36);
  }

  info(): StoragePoolInfo {
    const o: { state?: number; capacity?: Size; allocation?: Size; available?: Size } = {};
    check(lv().virStoragePoolGetInfo(this.ptr, o), 'virStoragePoolGetInfo');
    const state = o.state ?? 0;
    return { state, stateName: poolStates[state] ?? 'inactive', capacity: o.capacity ?? 0, allocation: o.allocation ?? 0, available: o.available ?? 0 };
  }

  /** `inactive`: the persistent definition rather than the live one (VIR_STORAGE_XML_INACTIVE). */
  xml(opts: { inactive?: boolean } = {}): string {
    return text(lv().virStoragePoolGetXMLDesc(this.ptr, opts.inactive ? 1 : 0), 'virStoragePoolGetXMLDesc');
  }

  isActive(): boolean {
    return checkBool(lv().virStoragePoolIsActive(this.ptr), 'virStoragePoolIsActive');
  }

  isPersistent(): boolean {
    return checkBool(lv().virStoragePoolIsPersistent(this.ptr), 'virStoragePoolIsPersistent');
  }

  /** Starts the pool (virStoragePoolCreate); flags are virStoragePoolCreateFlags (build first, …). */
  start(flags = 0): void {
    check(lv().virStoragePoolCreate(this.ptr, flags), 'virStoragePoolCreate');
  }

  build(flags = 0): void {
    check(lv().virStoragePoolBuild(this.ptr, flags), 'virStoragePoolBuild');
  }

  destroy(): void {
    check(lv().virStoragePoolDestroy(this.ptr), 'virStoragePoolDestroy');
  }

  undefine(): void {
    check(lv().virStoragePoolUndefine(this.ptr), 'virStoragePoolUndefine');
  }

  refresh(): void {
    check(lv().virStoragePoolRefresh(this.ptr, 0), 'virStoragePoolRefresh');
  }

  get autostart(): boolean {
    const out: [number] = [0];
    check(lv().virStoragePoolGetAutostart(this.ptr, out), 'virStoragePoolGetAutostart');
    return out[0] !== 0;
  }

  set autostart(on: boolean) {
    check(lv().virStoragePoolSetAutostart(this.ptr, on ? 1 : 0), 'virStoragePoolSetAutostart');
  }

  /** Every volume of the (active) pool; each one is the caller's to free. */
  listVolumes(): StorageVolume[] {
    const out: [Ptr | null] = [null];
    const n = check(lv().virStoragePoolListAllVolumes(this.ptr, out, 0), 'virStoragePoolListAllVolumes');
    return takePointerArray(out[0], n).map((p) => new StorageVolume(p));
  }

  lookupVolume(name: string): StorageVolume {
    return new StorageVolume(checkPtr(lv().virStorageVolLookupByName(this.ptr, name), 'virStorageVolLookupByName'));
  }

  /** virStorageVolCreateXML; flags are virStorageVolCreateFlags (1: preallocate metadata, …). */
  createVolume(xml: string, flags = 0): StorageVolume {
    return new StorageVolume(checkPtr(lv().virStorageVolCreateXML(this.ptr, xml, flags), 'virStorageVolCreateXML'));
  }
}

export class StorageVolume extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => lv().virStorageVolFree(p), 'StorageVolume');
  }

  get name(): string {
    return checkPtr(lv().virStorageVolGetName(this.ptr), 'virStorageVolGetName');
  }

  get key(): string {
    return checkPtr(lv().virStorageVolGetKey(this.ptr), 'virStorageVolGetKey');
  }

  get path(): string {
    return text(lv().virStorageVolGetPath(this.ptr), 'virStorageVolGetPath');
  }

  info(): StorageVolumeInfo {
    const o: { type?: number; capacity?: Size; allocation?: Size } = {};
    check(lv().virStorageVolGetInfo(this.ptr, o), 'virStorageVolGetInfo');
    const type = o.type ?? 0;
    return { type, typeName: volTypes[type] ?? 'file', capacity: o.capacity ?? 0, allocation: o.allocation ?? 0 };
  }

  xml(): string {
    return text(lv().virStorageVolGetXMLDesc(this.ptr, 0), 'virStorageVolGetXMLDesc');
  }

  /** Deletes the volume (virStorageVolDelete); this wrapper still needs free(). */
  delete(flags = 0): void {
    check(lv().virStorageVolDelete(this.ptr, flags), 'virStorageVolDelete');
  }
}
