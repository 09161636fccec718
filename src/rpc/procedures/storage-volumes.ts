/**
 * Storage volumes over the wire (remote_protocol.x 91–100, 125, 165, 259–260, 282, 378) and the
 * storage pool events (368–370, 373). A volume handle is resolved by its pool's name and its own,
 * as libvirt's storage driver does.
 */
import { MpvirtError } from '../../errors.js';
import type { PoolRef, StorageEvents } from '../../storage/storage-driver.js';
import { createVol, deleteVol, lookupVolByKey, lookupVolByName, lookupVolByPath, resizeVol, volInfo, volumesOf, volXml, wipeVol, type VolumeHandle } from '../../storage/volume-api.js';
import { openDownload, openUpload } from '../../storage/volume-transfer.js';
import { bytesToUuid, REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { nonnullPool, nonnullVol, resolvePool, storageOf, toWirePool } from './storage-pools.js';
import { checkFlags, proc, type CallContext, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
const LIST_MAX = 16384;
type WireVol = x.Infer<typeof nonnullVol>;

const toWireVol = (h: VolumeHandle): WireVol => ({ pool: h.pool.name, name: h.vol.name, key: h.vol.key ?? '' });
const volRet = x.struct({ vol: nonnullVol });
const infoRet = x.struct({ type: x.int, capacity: x.uhyper, allocation: x.uhyper });
const transferArgs = x.struct({ vol: nonnullVol, offset: x.uhyper, length: x.uhyper, flags: x.uint });

function resolveVol(ctx: CallContext, api: string, v: WireVol): VolumeHandle {
  return lookupVolByName(storageOf(ctx, api).lookupByName(v.pool), v.name);
}

function onVol<A extends { vol: WireVol }, T>(num: number, name: string, api: string, args: x.Codec<A>, ret: x.Codec<T>, readOnlySafe: boolean, fn: (h: VolumeHandle, a: A) => T | Promise<T>): Procedure {
  return proc({ program: R, proc: num, name, api, args, ret, readOnlySafe, handler: (ctx, a) => fn(resolveVol(ctx, api, a.vol), a) });
}

/** virStoragePoolEventID */
const POOL_EVENT_LIFECYCLE = 0;
const POOL_EVENT_REFRESH = 1;
const lifecycleMsg = x.struct({ callbackID: x.int, pool: nonnullPool, event: x.int, detail: x.int });
const refreshMsg = x.struct({ callbackID: x.int, pool: nonnullPool });

interface PoolCallbacks { callbacks: Map<number, { eventID: number; uuid: string | null }>; attached: boolean }
const KEY = Symbol('rpc.storage-pool-events');
let nextCallbackId = 1;
const MAX_CALLBACKS = 1024;

function attachPoolEvents(ctx: CallContext, st: PoolCallbacks): void {
  if (st.attached) return;
  st.attached = true;
  const storage = storageOf(ctx, 'virConnectStoragePoolEventRegisterAny');
  const each = (eventID: number, pool: PoolRef, send: (id: number) => void): void => {
    try {
      for (const [id, cb] of st.callbacks) if (cb.eventID === eventID && (cb.uuid === null || cb.uuid === pool.uuid)) send(id);
    } catch (e) {
      ctx.log.error({ conn: ctx.conn.id, err: e }, 'cannot deliver a storage pool event');
    }
  };
  const onLifecycle = (e: StorageEvents['pool-lifecycle'][0]): void =>
    each(POOL_EVENT_LIFECYCLE, e.pool, (callbackID) => ctx.conn.sendMessage(R, 370, lifecycleMsg, { callbackID, pool: toWirePool(e.pool), event: e.event, detail: e.detail }));
  const onRefresh = (e: StorageEvents['pool-refresh'][0]): void =>
    each(POOL_EVENT_REFRESH, e.pool, (callbackID) => ctx.conn.sendMessage(R, 373, refreshMsg, { callbackID, pool: toWirePool(e.pool) }));
  storage.events.on('pool-lifecycle', onLifecycle);
  storage.events.on('pool-refresh', onRefresh);
  ctx.conn.onClose(() => {
    storage.events.off('pool-lifecycle', onLifecycle);
    storage.events.off('pool-refresh', onRefresh);
    st.callbacks.clear();
  });
}

export const storageVolumeProcedures: Procedure[] = [
  proc({ program: R, proc: 91, name: 'STORAGE_POOL_NUM_OF_VOLUMES', api: 'virStoragePoolNumOfVolumes', args: x.struct({ pool: nonnullPool }), ret: x.struct({ num: x.int }), readOnlySafe: true,
    handler: (ctx, a) => ({ num: volumesOf(resolvePool(ctx, 'virStoragePoolNumOfVolumes', a.pool)).length }) }),
  proc({ program: R, proc: 92, name: 'STORAGE_POOL_LIST_VOLUMES', api: 'virStoragePoolListVolumes', args: x.struct({ pool: nonnullPool, maxnames: x.int }), ret: x.struct({ names: x.array(x.string(), LIST_MAX) }), readOnlySafe: true,
    handler: (ctx, a) => {
      if (a.maxnames < 0 || a.maxnames > LIST_MAX) throw new MpvirtError('VIR_ERR_RPC', 'maxnames > REMOTE_STORAGE_VOL_LIST_MAX');
      return { names: volumesOf(resolvePool(ctx, 'virStoragePoolListVolumes', a.pool)).slice(0, a.maxnames).map((v) => v.name) };
    } }),
  proc({ program: R, proc: 93, name: 'STORAGE_VOL_CREATE_XML', api: 'virStorageVolCreateXML', args: x.struct({ pool: nonnullPool, xml: x.string(), flags: x.uint }), ret: volRet, readOnlySafe: false,
    handler: async (ctx, a) => ({ vol: toWireVol(await createVol(resolvePool(ctx, 'virStorageVolCreateXML', a.pool), a.xml, a.flags)) }) }),
  onVol(94, 'STORAGE_VOL_DELETE', 'virStorageVolDelete', x.struct({ vol: nonnullVol, flags: x.uint }), x.none, false, (h, a) => deleteVol(h, a.flags)),
  proc({ program: R, proc: 95, name: 'STORAGE_VOL_LOOKUP_BY_NAME', api: 'virStorageVolLookupByName', args: x.struct({ pool: nonnullPool, name: x.string() }), ret: volRet, readOnlySafe: true,
    handler: (ctx, a) => ({ vol: toWireVol(lookupVolByName(resolvePool(ctx, 'virStorageVolLookupByName', a.pool), a.name)) }) }),
  proc({ program: R, proc: 96, name: 'STORAGE_VOL_LOOKUP_BY_KEY', api: 'virStorageVolLookupByKey', args: x.struct({ key: x.string() }), ret: volRet, readOnlySafe: true,
    handler: (ctx, a) => ({ vol: toWireVol(lookupVolByKey(storageOf(ctx, 'virStorageVolLookupByKey'), a.key)) }) }),
  proc({ program: R, proc: 97, name: 'STORAGE_VOL_LOOKUP_BY_PATH', api: 'virStorageVolLookupByPath', args: x.struct({ path: x.string() }), ret: volRet, readOnlySafe: true,
    handler: async (ctx, a) => ({ vol: toWireVol(await lookupVolByPath(storageOf(ctx, 'virStorageVolLookupByPath'), a.path)) }) }),
  onVol(98, 'STORAGE_VOL_GET_INFO', 'virStorageVolGetInfo', x.struct({ vol: nonnullVol }), infoRet, true, (h) => volInfo(h, 0)),
  onVol(99, 'STORAGE_VOL_GET_XML_DESC', 'virStorageVolGetXMLDesc', x.struct({ vol: nonnullVol, flags: x.uint }), x.struct({ xml: x.string() }), true, async (h, a) => ({ xml: await volXml(h, a.flags) })),
  onVol(100, 'STORAGE_VOL_GET_PATH', 'virStorageVolGetPath', x.struct({ vol: nonnullVol }), x.struct({ name: x.string() }), true, (h) => ({ name: h.vol.path ?? '' })),
  proc({ program: R, proc: 125, name: 'STORAGE_VOL_CREATE_XML_FROM', api: 'virStorageVolCreateXMLFrom', args: x.struct({ pool: nonnullPool, xml: x.string(), clonevol: nonnullVol, flags: x.uint }), ret: volRet, readOnlySafe: false,
    handler: async (ctx, a) => {
      const api = 'virStorageVolCreateXMLFrom';
      return { vol: toWireVol(await createVol(resolvePool(ctx, api, a.pool), a.xml, a.flags, resolveVol(ctx, api, a.clonevol))) };
    } }),
  onVol(165, 'STORAGE_VOL_WIPE', 'virStorageVolWipe', x.struct({ vol: nonnullVol, flags: x.uint }), x.none, false, (h, a) => wipeVol(h, 0, a.flags)),
  onVol(259, 'STORAGE_VOL_WIPE_PATTERN', 'virStorageVolWipePattern', x.struct({ vol: nonnullVol, algorithm: x.uint, flags: x.uint }), x.none, false, (h, a) => wipeVol(h, a.algorithm, a.flags)),
  onVol(260, 'STORAGE_VOL_RESIZE', 'virStorageVolResize', x.struct({ vol: nonnullVol, capacity: x.uhyper, flags: x.uint }), x.none, false, (h, a) => resizeVol(h, a.capacity, a.flags)),
  proc({ program: R, proc: 282, name: 'STORAGE_POOL_LIST_ALL_VOLUMES', api: 'virStoragePoolListAllVolumes', args: x.struct({ pool: nonnullPool, need_results: x.int, flags: x.uint }),
    ret: x.struct({ vols: x.array(nonnullVol, LIST_MAX), ret: x.uint }), readOnlySafe: true,
    handler: (ctx, a) => {
      checkFlags(a.flags, 0, 'virStoragePoolListAllVolumes');
      const pool = resolvePool(ctx, 'virStoragePoolListAllVolumes', a.pool);
      const vols = volumesOf(pool);
      return { vols: a.need_results ? vols.map((vol) => toWireVol({ pool, vol })) : [], ret: vols.length };
    } }),
  // the data goes through the call's stream; the reply only says the transfer may begin
  proc({ program: R, proc: 208, name: 'STORAGE_VOL_UPLOAD', api: 'virStorageVolUpload', args: transferArgs, ret: x.none, readOnlySafe: false,
    handler: async (ctx, a) => {
      const up = await openUpload(resolveVol(ctx, 'virStorageVolUpload', a.vol), a.offset, a.length, a.flags);
      ctx.openStream({ onData: (chunk) => up.write(chunk), onFinish: () => up.finish(), onAbort: () => void up.abort() });
    } }),
  proc({ program: R, proc: 209, name: 'STORAGE_VOL_DOWNLOAD', api: 'virStorageVolDownload', args: transferArgs, ret: x.none, readOnlySafe: false,
    handler: async (ctx, a) => {
      const down = await openDownload(resolveVol(ctx, 'virStorageVolDownload', a.vol), a.offset, a.length, a.flags);
      ctx.openStream({
        onStart: (out) => void (async () => {
          try {
            for (let chunk = await down.read(); chunk && !out.closed; chunk = await down.read()) await out.send(chunk);
            out.end();
          } catch (e) {
            out.fail(e);
          } finally {
            await down.close();
          }
        })(),
        onAbort: () => void down.close(),
      });
    } }),
  onVol(378, 'STORAGE_VOL_GET_INFO_FLAGS', 'virStorageVolGetInfoFlags', x.struct({ vol: nonnullVol, flags: x.uint }), infoRet, true, (h, a) => volInfo(h, a.flags)),
  proc({ program: R, proc: 368, name: 'CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY', api: 'virConnectStoragePoolEventRegisterAny',
    args: x.struct({ eventID: x.int, pool: x.optional(nonnullPool) }), ret: x.struct({ callbackID: x.int }), readOnlySafe: true,
    handler: (ctx, a) => {
      if (a.eventID < 0 || a.eventID > POOL_EVENT_REFRESH) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `unsupported event ID ${a.eventID}`);
      const st = ctx.conn.slot(KEY, (): PoolCallbacks => ({ callbacks: new Map(), attached: false }));
      if (st.callbacks.size >= MAX_CALLBACKS) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `too many event callbacks on this connection (${MAX_CALLBACKS})`);
      attachPoolEvents(ctx, st);
      const callbackID = nextCallbackId++;
      st.callbacks.set(callbackID, { eventID: a.eventID, uuid: a.pool ? bytesToUuid(a.pool.uuid) : null });
      return { callbackID };
    } }),
  proc({ program: R, proc: 369, name: 'CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY', api: 'virConnectStoragePoolEventDeregisterAny',
    args: x.struct({ callbackID: x.int }), ret: x.none, readOnlySafe: true,
    handler: (ctx, a) => {
      const st = ctx.conn.slot(KEY, (): PoolCallbacks => ({ callbacks: new Map(), attached: false }));
      if (!st.callbacks.delete(a.callbackID)) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `storage pool event callback ${a.callbackID} not registered`);
    } }),
];
