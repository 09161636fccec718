/**
 * The rest of the storage API virsh's pool and volume commands need, added to StoragePool,
 * StorageVolume, Stream and Connection (module augmentation, imported for its side effect from
 * index.ts): pool delete, a volume's pool, create-from (clone), wipe, resize, info with flags,
 * upload and download over streams (sparse too), storage pool capabilities and storage pool events.
 *
 * Streams here are blocking (virStreamNew flags 0), as virsh's: a transfer is a CLI's whole job, and
 * the remote driver does a blocking stream's I/O on the calling thread, so the event loop is not
 * involved.
 */
import koffi from 'koffi';
import { Subscription } from './connection-events.js';
import { Connection } from './connection.js';
import { check, checkPtr, lastError } from './errors.js';
import { eventLoop } from './event-loop.js';
import { declareFunctions, lv, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';
import { StoragePool, StorageVolume, type Size, type StorageVolumeInfo, type StorageVolTypeName } from './storage.js';
import { Stream } from './stream.js';

interface StorageFns {
  virStoragePoolDelete(p: Ptr, flags: number): number;
  virStoragePoolLookupByVolume(v: Ptr): Ptr | null;
  virStorageVolCreateXMLFrom(p: Ptr, xml: string, clone: Ptr, flags: number): Ptr | null;
  virStorageVolWipe(v: Ptr, flags: number): number;
  virStorageVolWipePattern(v: Ptr, algorithm: number, flags: number): number;
  virStorageVolResize(v: Ptr, capacity: bigint, flags: number): number;
  virStorageVolGetInfoFlags(v: Ptr, out: Buffer, flags: number): number;
  virStorageVolUpload(v: Ptr, st: Ptr, offset: bigint, length: bigint, flags: number): number;
  virStorageVolDownload(v: Ptr, st: Ptr, offset: bigint, length: bigint, flags: number): number;
  virConnectGetStoragePoolCapabilities(c: Ptr, flags: number): Ptr | null;
  virConnectFindStoragePoolSources(c: Ptr, type: string, srcSpec: string | null, flags: number): Ptr | null;
  virConnectStoragePoolEventRegisterAny(c: Ptr, pool: Ptr | null, id: number, cb: Ptr, opaque: Ptr, ff: null): number;
  virConnectStoragePoolEventDeregisterAny(c: Ptr, id: number): number;
  virStreamRecvFlags(st: Ptr, data: Buffer, n: number, flags: number): number;
  virStreamRecvHole(st: Ptr, length: Buffer, flags: number): number;
  virStreamSendHole(st: Ptr, length: bigint, flags: number): number;
  virStoragePoolGetName(p: Ptr): string | null;
  virStoragePoolGetUUIDString(p: Ptr, buf: Buffer): number;
}

const fns = declareFunctions<StorageFns>({
  virStoragePoolDelete: 'int virStoragePoolDelete(void *p, uint flags)',
  virStoragePoolLookupByVolume: 'void *virStoragePoolLookupByVolume(void *v)',
  virStorageVolCreateXMLFrom: 'void *virStorageVolCreateXMLFrom(void *p, const char *xml, void *clone, uint flags)',
  virStorageVolWipe: 'int virStorageVolWipe(void *v, uint flags)',
  virStorageVolWipePattern: 'int virStorageVolWipePattern(void *v, uint algorithm, uint flags)',
  virStorageVolResize: 'int virStorageVolResize(void *v, unsigned long long capacity, uint flags)',
  // virStorageVolInfo is { int type; unsigned long long capacity, allocation }: 24 bytes, read by hand
  virStorageVolGetInfoFlags: 'int virStorageVolGetInfoFlags(void *v, _Out_ uint8_t *info, uint flags)',
  virStorageVolUpload: 'int virStorageVolUpload(void *v, void *st, unsigned long long offset, unsigned long long length, uint flags)',
  virStorageVolDownload: 'int virStorageVolDownload(void *v, void *st, unsigned long long offset, unsigned long long length, uint flags)',
  virConnectGetStoragePoolCapabilities: 'void *virConnectGetStoragePoolCapabilities(void *c, uint flags)',
  virConnectFindStoragePoolSources: 'void *virConnectFindStoragePoolSources(void *c, const char *type, const char *srcSpec, uint flags)',
  virConnectStoragePoolEventRegisterAny: 'int virConnectStoragePoolEventRegisterAny(void *c, void *pool, int id, void *cb, void *opaque, void *ff)',
  virConnectStoragePoolEventDeregisterAny: 'int virConnectStoragePoolEventDeregisterAny(void *c, int id)',
  virStreamRecvFlags: 'int virStreamRecvFlags(void *st, _Out_ uint8_t *data, size_t n, uint flags)',
  virStreamRecvHole: 'int virStreamRecvHole(void *st, _Out_ uint8_t *length, uint flags)',
  virStreamSendHole: 'int virStreamSendHole(void *st, long long length, uint flags)',
  virStoragePoolGetName: 'const char *virStoragePoolGetName(void *p)',
  virStoragePoolGetUUIDString: 'int virStoragePoolGetUUIDString(void *p, _Out_ uint8_t *buf)',
});

const VOL_TYPES: readonly StorageVolTypeName[] = ['file', 'block', 'dir', 'network', 'netdir', 'ploop'];
const size = (v: bigint): Size => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

/** virStorageVolWipeAlgorithm, by virsh's names (vol-wipe --algorithm) */
export const WIPE_ALGORITHMS = ['zero', 'nnsa', 'dod', 'bsi', 'gutmann', 'schneier', 'pfitzner7', 'pfitzner33', 'random', 'trim'] as const;

/** A storage pool event: the pool as name and UUID (look it up for an object). */
export interface StoragePoolEvent {
  pool: { name: string; uuid: string };
  /** lifecycle only: virStoragePoolEventLifecycleType and its detail */
  event?: number;
  detail?: number;
}
export type StoragePoolEventKind = 'lifecycle' | 'refresh';

declare module './storage.js' {
  interface StoragePool {
    /** virStoragePoolDelete: removes the pool's storage (the directory of a dir pool). */
    delete(flags?: number): void;
    /** virStorageVolCreateXMLFrom: a new volume of this pool with `from`'s contents. */
    createVolumeFrom(xml: string, from: StorageVolume, flags?: number): StorageVolume;
  }
  interface StorageVolume {
    /** virStoragePoolLookupByVolume: the pool holding this volume (the caller's to free). */
    pool(): StoragePool;
    /** virStorageVolGetInfoFlags (1: physical size in `allocation`) */
    infoFlags(flags: number): StorageVolumeInfo;
    wipe(flags?: number): void;
    /** virStorageVolWipePattern; `algorithm` is an index of WIPE_ALGORITHMS */
    wipePattern(algorithm: number, flags?: number): void;
    /** virStorageVolResize; flags 1 allocate, 2 delta, 4 shrink */
    resize(capacity: bigint | number, flags?: number): void;
    /** virStorageVolUpload: `stream` then takes the data (length 0: to the end) */
    upload(stream: Stream, offset: bigint | number, length: bigint | number, flags?: number): void;
    /** virStorageVolDownload: `stream` then gives the data */
    download(stream: Stream, offset: bigint | number, length: bigint | number, flags?: number): void;
  }
}

declare module './stream.js' {
  interface Stream {
    /** virStreamRecvFlags with STOP_AT_HOLE (sparse streams): bytes, or `{ hole }` (its length) at a hole. */
    recvSparse(max?: number): Buffer | { hole: bigint };
    /** virStreamSendHole */
    sendHole(length: bigint | number): void;
    /** virStreamSend until all of `data` is taken (blocking stream). */
    sendAllOf(data: Buffer): void;
  }
}

declare module './connection.js' {
  interface Connection {
    /** virStreamNew: a stream for this connection; flags 0 (blocking) unless given. */
    newStream(flags?: number): Stream;
    /** virConnectGetStoragePoolCapabilities */
    storagePoolCapabilities(flags?: number): string;
    /** virConnectFindStoragePoolSources: a `<sources>` document of what a pool of `type` could use */
    findStoragePoolSources(type: string, srcSpec: string | null, flags?: number): string;
    /** virConnectStoragePoolEventRegisterAny: `pool` null means every pool. */
    onStoragePoolEvent(kind: StoragePoolEventKind, listener: (e: StoragePoolEvent) => void, opts?: { pool?: StoragePool | null }): Subscription;
  }
}

const ptrOf = (o: LibvirtObject): Ptr => LibvirtObject.pointerOf(o);

StoragePool.prototype.delete = function (this: StoragePool, flags = 0): void {
  check(fns().virStoragePoolDelete(ptrOf(this), flags), 'virStoragePoolDelete');
};

StoragePool.prototype.createVolumeFrom = function (this: StoragePool, xml: string, from: StorageVolume, flags = 0): StorageVolume {
  return new StorageVolume(checkPtr(fns().virStorageVolCreateXMLFrom(ptrOf(this), xml, ptrOf(from), flags), 'virStorageVolCreateXMLFrom'));
};

StorageVolume.prototype.pool = function (this: StorageVolume): StoragePool {
  return new StoragePool(checkPtr(fns().virStoragePoolLookupByVolume(ptrOf(this)), 'virStoragePoolLookupByVolume'));
};

StorageVolume.prototype.infoFlags = function (this: StorageVolume, flags: number): StorageVolumeInfo {
  const buf = Buffer.alloc(24);
  check(fns().virStorageVolGetInfoFlags(ptrOf(this), buf, flags), 'virStorageVolGetInfoFlags');
  const type = buf.readInt32LE(0);
  return { type, typeName: VOL_TYPES[type] ?? 'file', capacity: size(buf.readBigUInt64LE(8)), allocation: size(buf.readBigUInt64LE(16)) };
};

StorageVolume.prototype.wipe = function (this: StorageVolume, flags = 0): void {
  check(fns().virStorageVolWipe(ptrOf(this), flags), 'virStorageVolWipe');
};

StorageVolume.prototype.wipePattern = function (this: StorageVolume, algorithm: number, flags = 0): void {
  check(fns().virStorageVolWipePattern(ptrOf(this), algorithm, flags), 'virStorageVolWipePattern');
};

StorageVolume.prototype.resize = function (this: StorageVolume, capacity: bigint | number, flags = 0): void {
  check(fns().virStorageVolResize(ptrOf(this), BigInt(capacity), flags), 'virStorageVolResize');
};

StorageVolume.prototype.upload = function (this: StorageVolume, stream: Stream, offset: bigint | number, length: bigint | number, flags = 0): void {
  check(fns().virStorageVolUpload(ptrOf(this), ptrOf(stream), BigInt(offset), BigInt(length), flags), 'virStorageVolUpload');
};

StorageVolume.prototype.download = function (this: StorageVolume, stream: Stream, offset: bigint | number, length: bigint | number, flags = 0): void {
  check(fns().virStorageVolDownload(ptrOf(this), ptrOf(stream), BigInt(offset), BigInt(length), flags), 'virStorageVolDownload');
};

const HOLE = -3;

Stream.prototype.recvSparse = function (this: Stream, max = 65536): Buffer | { hole: bigint } {
  const buf = Buffer.alloc(max);
  const n = fns().virStreamRecvFlags(ptrOf(this), buf, max, 1 /* VIR_STREAM_RECV_STOP_AT_HOLE */);
  if (n === HOLE) {
    const len = Buffer.alloc(8);
    check(fns().virStreamRecvHole(ptrOf(this), len, 0), 'virStreamRecvHole');
    return { hole: len.readBigInt64LE(0) };
  }
  if (n < 0) throw lastError('virStreamRecvFlags');
  return buf.subarray(0, n);
};

Stream.prototype.sendHole = function (this: Stream, length: bigint | number): void {
  check(fns().virStreamSendHole(ptrOf(this), BigInt(length), 0), 'virStreamSendHole');
};

Stream.prototype.sendAllOf = function (this: Stream, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += check(lv().virStreamSend(ptrOf(this), data.subarray(off), data.length - off), 'virStreamSend');
};

Connection.prototype.newStream = function (this: Connection, flags = 0): Stream {
  return new Stream(checkPtr(lv().virStreamNew(ptrOf(this), flags), 'virStreamNew'));
};

Connection.prototype.findStoragePoolSources = function (this: Connection, type: string, srcSpec: string | null, flags = 0): string {
  const s = takeString(fns().virConnectFindStoragePoolSources(ptrOf(this), type, srcSpec, flags));
  if (s === null) throw lastError('virConnectFindStoragePoolSources');
  return s;
};

Connection.prototype.storagePoolCapabilities = function (this: Connection, flags = 0): string {
  const s = takeString(fns().virConnectGetStoragePoolCapabilities(ptrOf(this), flags));
  if (s === null) throw lastError('virConnectGetStoragePoolCapabilities');
  return s;
};

// Pool event callbacks are main-thread koffi callbacks, as the connection's close callback is:
// libvirt calls them on its event-loop thread, from which koffi relays them here (that thread waits
// meanwhile). They only read the pool's name and UUID (plain accessors, no locks) and hand the
// event on; a listener that calls libvirt does so after the callback returned (setImmediate).
const listeners = new Map<number, (e: StoragePoolEvent) => void>();
let nextId = 1;
let trampolines: { lifecycle: Ptr; refresh: Ptr } | undefined;

function poolOf(p: Ptr): { name: string; uuid: string } {
  const buf = Buffer.alloc(37);
  const name = fns().virStoragePoolGetName(p) ?? '';
  return { name, uuid: fns().virStoragePoolGetUUIDString(p, buf) === 0 ? buf.toString('latin1', 0, 36) : '' };
}

function deliver(opaque: Ptr | null, e: StoragePoolEvent): void {
  const l = listeners.get(Number(opaque ?? 0));
  if (l) setImmediate(() => l(e));
}

function callbacks(): { lifecycle: Ptr; refresh: Ptr } {
  if (trampolines) return trampolines;
  const lifeProto = koffi.proto('mpvirtStoragePoolLifecycleCb', 'void', ['void *', 'void *', 'int', 'int', 'void *']);
  const genericProto = koffi.proto('mpvirtStoragePoolGenericCb', 'void', ['void *', 'void *', 'void *']);
  // as plain addresses: koffi type-checks a registered callback against 'void *' parameters
  trampolines = {
    lifecycle: koffi.address(koffi.register((_c: unknown, p: Ptr, event: number, detail: number, opaque: Ptr | null) => deliver(opaque, { pool: poolOf(p), event, detail }), koffi.pointer(lifeProto))) as Ptr,
    refresh: koffi.address(koffi.register((_c: unknown, p: Ptr, opaque: Ptr | null) => deliver(opaque, { pool: poolOf(p) }), koffi.pointer(genericProto))) as Ptr,
  };
  return trampolines;
}

Connection.prototype.onStoragePoolEvent = function (this: Connection, kind: StoragePoolEventKind, listener: (e: StoragePoolEvent) => void, opts: { pool?: StoragePool | null } = {}): Subscription {
  const conn = ptrOf(this);
  const cbs = callbacks();
  // libvirt dispatches events only while its loop thread runs (a connection may have been opened
  // without it): start it, and hold it referenced while subscribed
  const loop = eventLoop();
  const hold = loop.add(() => undefined);
  const sub = nextId++;
  listeners.set(sub, listener);
  const pool = opts.pool ? ptrOf(opts.pool) : null;
  const id = fns().virConnectStoragePoolEventRegisterAny(conn, pool, kind === 'lifecycle' ? 0 : 1, kind === 'lifecycle' ? cbs.lifecycle : cbs.refresh, BigInt(sub), null);
  if (id < 0) {
    listeners.delete(sub);
    loop.remove(hold);
    throw lastError('virConnectStoragePoolEventRegisterAny');
  }
  return new Subscription(() => {
    listeners.delete(sub);
    loop.remove(hold);
    check(fns().virConnectStoragePoolEventDeregisterAny(conn, id), 'virConnectStoragePoolEventDeregisterAny');
  });
};

