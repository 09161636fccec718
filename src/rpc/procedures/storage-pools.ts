/**
 * Storage pools over the wire (remote_protocol.x 71–92, 154–155, 281, 391): `virsh pool-*`,
 * virt-install's pool creation, virt-manager's pool list. Handles are resolved by uuid, as for
 * domains; the semantics are the storage driver's.
 */
import { MpvirtError } from '../../errors.js';
import type { PoolObject } from '../../storage/pool-object.js';
import type { StorageDriver } from '../../storage/storage-driver.js';
import { lookupVolByName } from '../../storage/volume-api.js';
import { bytesToUuid, REMOTE_PROGRAM, uuidToBytes } from '../protocol.js';
import * as x from '../xdr.js';
import { proc, type CallContext, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
const LIST_MAX = 16384;

export const nonnullPool = x.struct({ name: x.string(), uuid: x.fixedOpaque(16) });
export const nonnullVol = x.struct({ pool: x.string(), name: x.string(), key: x.string() });
export type WirePool = x.Infer<typeof nonnullPool>;

export const toWirePool = (p: { name: string; uuid: string }): WirePool => ({ name: p.name, uuid: uuidToBytes(p.uuid) });

/** The storage driver, or NO_SUPPORT as libvirt without one answers. */
export function storageOf(ctx: CallContext, api: string): StorageDriver {
  if (!ctx.storage) throw new MpvirtError('VIR_ERR_NO_SUPPORT', api);
  return ctx.storage;
}

export function resolvePool(ctx: CallContext, api: string, p: WirePool): PoolObject {
  return storageOf(ctx, api).lookupByUuid(bytesToUuid(p.uuid), p.name);
}

const poolArg = x.struct({ pool: nonnullPool });
const poolFlags = x.struct({ pool: nonnullPool, flags: x.uint });
const poolRet = x.struct({ pool: nonnullPool });
const names = x.struct({ names: x.array(x.string(), LIST_MAX) });

/** A procedure on one pool: the handle resolved, the result of `fn` as the reply. */
function onPool<A extends { pool: WirePool }, T>(num: number, name: string, api: string, args: x.Codec<A>, ret: x.Codec<T>, readOnlySafe: boolean, fn: (s: StorageDriver, p: PoolObject, a: A) => T | Promise<T>): Procedure {
  return proc({ program: R, proc: num, name, api, args, ret, readOnlySafe, handler: (ctx, a) => fn(storageOf(ctx, api), resolvePool(ctx, api, a.pool), a) });
}

function namesOf(ctx: CallContext, api: string, active: boolean, max: number): { names: string[] } {
  if (max < 0 || max > LIST_MAX) throw new MpvirtError('VIR_ERR_RPC', `maxnames > REMOTE_STORAGE_POOL_LIST_MAX`);
  return { names: storageOf(ctx, api).listAll(active ? 2 : 1).slice(0, max).map((p) => p.name) };
}

export const storagePoolProcedures: Procedure[] = [
  proc({ program: R, proc: 71, name: 'CONNECT_NUM_OF_STORAGE_POOLS', api: 'virConnectNumOfStoragePools', args: x.none, ret: x.struct({ num: x.int }), readOnlySafe: true,
    handler: (ctx) => ({ num: storageOf(ctx, 'virConnectNumOfStoragePools').listAll(2).length }) }),
  proc({ program: R, proc: 72, name: 'CONNECT_LIST_STORAGE_POOLS', api: 'virConnectListStoragePools', args: x.struct({ maxnames: x.int }), ret: names, readOnlySafe: true,
    handler: (ctx, a) => namesOf(ctx, 'virConnectListStoragePools', true, a.maxnames) }),
  proc({ program: R, proc: 73, name: 'CONNECT_NUM_OF_DEFINED_STORAGE_POOLS', api: 'virConnectNumOfDefinedStoragePools', args: x.none, ret: x.struct({ num: x.int }), readOnlySafe: true,
    handler: (ctx) => ({ num: storageOf(ctx, 'virConnectNumOfDefinedStoragePools').listAll(1).length }) }),
  proc({ program: R, proc: 74, name: 'CONNECT_LIST_DEFINED_STORAGE_POOLS', api: 'virConnectListDefinedStoragePools', args: x.struct({ maxnames: x.int }), ret: names, readOnlySafe: true,
    handler: (ctx, a) => namesOf(ctx, 'virConnectListDefinedStoragePools', false, a.maxnames) }),
  proc({ program: R, proc: 76, name: 'STORAGE_POOL_CREATE_XML', api: 'virStoragePoolCreateXML', args: x.struct({ xml: x.string(), flags: x.uint }), ret: poolRet, readOnlySafe: false,
    handler: async (ctx, a) => ({ pool: toWirePool(await storageOf(ctx, 'virStoragePoolCreateXML').createTransient(a.xml, a.flags)) }) }),
  proc({ program: R, proc: 77, name: 'STORAGE_POOL_DEFINE_XML', api: 'virStoragePoolDefineXML', args: x.struct({ xml: x.string(), flags: x.uint }), ret: poolRet, readOnlySafe: false,
    handler: async (ctx, a) => ({ pool: toWirePool(await storageOf(ctx, 'virStoragePoolDefineXML').define(a.xml, a.flags)) }) }),
  onPool(78, 'STORAGE_POOL_CREATE', 'virStoragePoolCreate', poolFlags, x.none, false, (s, p, a) => s.start(p, a.flags)),
  onPool(79, 'STORAGE_POOL_BUILD', 'virStoragePoolBuild', poolFlags, x.none, false, (s, p, a) => s.build(p, a.flags)),
  onPool(80, 'STORAGE_POOL_DESTROY', 'virStoragePoolDestroy', poolArg, x.none, false, (s, p) => s.destroy(p)),
  onPool(81, 'STORAGE_POOL_DELETE', 'virStoragePoolDelete', poolFlags, x.none, false, (s, p, a) => s.delete(p, a.flags)),
  onPool(82, 'STORAGE_POOL_UNDEFINE', 'virStoragePoolUndefine', poolArg, x.none, false, (s, p) => s.undefine(p)),
  onPool(83, 'STORAGE_POOL_REFRESH', 'virStoragePoolRefresh', poolFlags, x.none, false, (s, p, a) => s.refresh(p, a.flags)),
  proc({ program: R, proc: 84, name: 'STORAGE_POOL_LOOKUP_BY_NAME', api: 'virStoragePoolLookupByName', args: x.struct({ name: x.string() }), ret: poolRet, readOnlySafe: true,
    handler: (ctx, a) => ({ pool: toWirePool(storageOf(ctx, 'virStoragePoolLookupByName').lookupByName(a.name)) }) }),
  proc({ program: R, proc: 85, name: 'STORAGE_POOL_LOOKUP_BY_UUID', api: 'virStoragePoolLookupByUUID', args: x.struct({ uuid: x.fixedOpaque(16) }), ret: poolRet, readOnlySafe: true,
    handler: (ctx, a) => ({ pool: toWirePool(storageOf(ctx, 'virStoragePoolLookupByUUID').lookupByUuid(bytesToUuid(a.uuid))) }) }),
  proc({ program: R, proc: 86, name: 'STORAGE_POOL_LOOKUP_BY_VOLUME', api: 'virStoragePoolLookupByVolume', args: x.struct({ vol: nonnullVol }), ret: poolRet, readOnlySafe: true,
    handler: (ctx, a) => ({ pool: toWirePool(lookupVolByName(storageOf(ctx, 'virStoragePoolLookupByVolume').lookupByName(a.vol.pool), a.vol.name).pool) }) }),
  onPool(87, 'STORAGE_POOL_GET_INFO', 'virStoragePoolGetInfo', poolArg, x.struct({ state: x.uchar, capacity: x.uhyper, allocation: x.uhyper, available: x.uhyper }), true, (s, p) => s.info(p)),
  onPool(88, 'STORAGE_POOL_GET_XML_DESC', 'virStoragePoolGetXMLDesc', poolFlags, x.struct({ xml: x.string() }), true, (s, p, a) => ({ xml: s.xml(p, a.flags) })),
  onPool(89, 'STORAGE_POOL_GET_AUTOSTART', 'virStoragePoolGetAutostart', poolArg, x.struct({ autostart: x.int }), true, (_s, p) => ({ autostart: p.autostart ? 1 : 0 })),
  onPool(90, 'STORAGE_POOL_SET_AUTOSTART', 'virStoragePoolSetAutostart', x.struct({ pool: nonnullPool, autostart: x.int }), x.none, false, (s, p, a) => s.setAutostart(p, a.autostart !== 0)),
  onPool(154, 'STORAGE_POOL_IS_ACTIVE', 'virStoragePoolIsActive', poolArg, x.struct({ active: x.int }), true, (_s, p) => ({ active: p.active ? 1 : 0 })),
  onPool(155, 'STORAGE_POOL_IS_PERSISTENT', 'virStoragePoolIsPersistent', poolArg, x.struct({ persistent: x.int }), true, (_s, p) => ({ persistent: p.persistent ? 1 : 0 })),
  proc({ program: R, proc: 281, name: 'CONNECT_LIST_ALL_STORAGE_POOLS', api: 'virConnectListAllStoragePools', args: x.struct({ need_results: x.int, flags: x.uint }),
    ret: x.struct({ pools: x.array(nonnullPool, LIST_MAX), ret: x.uint }), readOnlySafe: true,
    handler: (ctx, a) => {
      const pools = storageOf(ctx, 'virConnectListAllStoragePools').listAll(a.flags);
      return { pools: a.need_results ? pools.map(toWirePool) : [], ret: pools.length };
    } }),
  proc({ program: R, proc: 391, name: 'STORAGE_POOL_LOOKUP_BY_TARGET_PATH', api: 'virStoragePoolLookupByTargetPath', args: x.struct({ path: x.string() }), ret: poolRet, readOnlySafe: true,
    handler: (ctx, a) => ({ pool: toWirePool(storageOf(ctx, 'virStoragePoolLookupByTargetPath').lookupByTargetPath(a.path)) }) }),
];
