/**
 * koffi declarations of the part of libvirt.so.0 / libvirt-qemu.so.0 the binding uses, on the main
 * thread. Prototypes are libvirt 9.0's (include/libvirt/*.h). Every libvirt object is a plain
 * `void *` (a BigInt, or null): koffi's named opaque types are process-global and would clash with
 * other modules declaring the same names.
 *
 * Loaded on first use, so importing the package costs nothing on a host without libvirt.
 */
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';

type TypeSpec = string | TypeObject | ReturnType<typeof koffi.out>;

/** A libvirt object pointer (virConnectPtr, virDomainPtr, …) as koffi 3 hands it over. */
export type Ptr = bigint;
/** What a libvirt call returning an object gives: the pointer, or null on failure. */
type PtrOrNull = Ptr | null;
type Out<T> = [T];

/** `typedef struct _virError` (virterror.h). */
export interface RawError {
  code: number;
  domain: number;
  message: string | null;
  level: number;
  str1: string | null;
  str2: string | null;
  str3: string | null;
  int1: number;
  int2: number;
}

export interface RawDomainInfo { state: number; maxMem: number; memory: number; nrVirtCpu: number; cpuTime: number | bigint }
export interface RawPoolInfo { state: number; capacity: number | bigint; allocation: number | bigint; available: number | bigint }
export interface RawVolInfo { type: number; capacity: number | bigint; allocation: number | bigint }

export interface Libvirt {
  virGetVersion(lib: Out<number>, type: string | null, typeVer: Out<number> | null): number;
  virGetLastError(): PtrOrNull;
  virResetLastError(): void;
  virSetErrorFunc(userData: null, fn: Ptr | null): void;
  virEventRegisterDefaultImpl(): number;
  virEventAddTimeout(frequency: number, cb: Ptr, opaque: null, ff: null): number;
  virEventUpdateTimeout(timer: number, frequency: number): void;

  virConnectOpen(uri: string | null): PtrOrNull;
  virConnectOpenReadOnly(uri: string | null): PtrOrNull;
  virConnectOpenAuth(uri: string | null, auth: object | null, flags: number): PtrOrNull;
  virConnectClose(c: Ptr): number;
  virConnectGetURI(c: Ptr): PtrOrNull;
  virConnectGetHostname(c: Ptr): PtrOrNull;
  virConnectGetCapabilities(c: Ptr): PtrOrNull;
  virConnectGetType(c: Ptr): string | null;
  virConnectGetLibVersion(c: Ptr, v: Out<number>): number;
  virConnectGetVersion(c: Ptr, v: Out<number>): number;
  virConnectIsAlive(c: Ptr): number;
  virConnectIsSecure(c: Ptr): number;
  virConnectIsEncrypted(c: Ptr): number;
  virConnectSetKeepAlive(c: Ptr, interval: number, count: number): number;
  virConnectRegisterCloseCallback(c: Ptr, cb: Ptr, opaque: Ptr, ff: null): number;
  virConnectListAllDomains(c: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virConnectListAllStoragePools(c: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virConnectGetAllDomainStats(c: Ptr, stats: number, out: Out<PtrOrNull>, flags: number): number;
  virDomainListGetStats(doms: Array<Ptr | null>, stats: number, out: Out<PtrOrNull>, flags: number): number;
  virDomainStatsRecordListFree(list: Ptr): void;
  virConnectDomainEventRegisterAny(c: Ptr, dom: Ptr | null, id: number, cb: Ptr, opaque: Ptr, ff: null): number;
  virConnectDomainEventDeregisterAny(c: Ptr, id: number): number;

  virDomainLookupByName(c: Ptr, name: string): PtrOrNull;
  virDomainLookupByUUIDString(c: Ptr, uuid: string): PtrOrNull;
  virDomainLookupByID(c: Ptr, id: number): PtrOrNull;
  virDomainRef(d: Ptr): number;
  virDomainFree(d: Ptr): number;
  virDomainGetName(d: Ptr): string | null;
  virDomainGetUUIDString(d: Ptr, buf: Buffer): number;
  virDomainGetID(d: Ptr): number;
  virDomainGetInfo(d: Ptr, out: Partial<RawDomainInfo>): number;
  virDomainGetState(d: Ptr, state: Out<number>, reason: Out<number>, flags: number): number;
  virDomainGetXMLDesc(d: Ptr, flags: number): PtrOrNull;
  virDomainDefineXML(c: Ptr, xml: string): PtrOrNull;
  virDomainDefineXMLFlags(c: Ptr, xml: string, flags: number): PtrOrNull;
  virDomainCreateXML(c: Ptr, xml: string, flags: number): PtrOrNull;
  virDomainUndefineFlags(d: Ptr, flags: number): number;
  virDomainCreate(d: Ptr): number;
  virDomainCreateWithFlags(d: Ptr, flags: number): number;
  virDomainDestroy(d: Ptr): number;
  virDomainDestroyFlags(d: Ptr, flags: number): number;
  virDomainShutdown(d: Ptr): number;
  virDomainShutdownFlags(d: Ptr, flags: number): number;
  virDomainReboot(d: Ptr, flags: number): number;
  virDomainReset(d: Ptr, flags: number): number;
  virDomainSuspend(d: Ptr): number;
  virDomainResume(d: Ptr): number;
  virDomainIsActive(d: Ptr): number;
  virDomainIsPersistent(d: Ptr): number;
  virDomainHasManagedSaveImage(d: Ptr, flags: number): number;
  virDomainGetOSType(d: Ptr): PtrOrNull;
  virDomainGetSecurityLabel(d: Ptr, label: Buffer): number;
  virDomainGetMessages(d: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virNodeGetSecurityModel(c: Ptr, model: Buffer): number;
  virDomainAttachDeviceFlags(d: Ptr, xml: string, flags: number): number;
  virDomainDetachDeviceFlags(d: Ptr, xml: string, flags: number): number;
  virDomainUpdateDeviceFlags(d: Ptr, xml: string, flags: number): number;
  virDomainDetachDeviceAlias(d: Ptr, alias: string, flags: number): number;
  virDomainGetMetadata(d: Ptr, type: number, uri: string | null, flags: number): PtrOrNull;
  virDomainSetMetadata(d: Ptr, type: number, metadata: string | null, key: string | null, uri: string | null, flags: number): number;
  virDomainGetAutostart(d: Ptr, out: Out<number>): number;
  virDomainSetAutostart(d: Ptr, autostart: number): number;
  virDomainOpenConsole(d: Ptr, dev: string | null, st: Ptr, flags: number): number;
  virDomainQemuMonitorCommand(d: Ptr, cmd: string, result: Out<PtrOrNull>, flags: number): number;
  virConnectDomainQemuMonitorEventRegister(c: Ptr, dom: Ptr | null, event: string | null, cb: Ptr, opaque: Ptr, ff: null, flags: number): number;
  virConnectDomainQemuMonitorEventDeregister(c: Ptr, id: number): number;

  virStoragePoolLookupByName(c: Ptr, name: string): PtrOrNull;
  virStoragePoolLookupByUUIDString(c: Ptr, uuid: string): PtrOrNull;
  virStoragePoolDefineXML(c: Ptr, xml: string, flags: number): PtrOrNull;
  virStoragePoolCreateXML(c: Ptr, xml: string, flags: number): PtrOrNull;
  virStoragePoolFree(p: Ptr): number;
  virStoragePoolCreate(p: Ptr, flags: number): number;
  virStoragePoolBuild(p: Ptr, flags: number): number;
  virStoragePoolDestroy(p: Ptr): number;
  virStoragePoolUndefine(p: Ptr): number;
  virStoragePoolRefresh(p: Ptr, flags: number): number;
  virStoragePoolGetName(p: Ptr): string | null;
  virStoragePoolGetUUIDString(p: Ptr, buf: Buffer): number;
  virStoragePoolGetInfo(p: Ptr, out: Partial<RawPoolInfo>): number;
  virStoragePoolGetXMLDesc(p: Ptr, flags: number): PtrOrNull;
  virStoragePoolIsActive(p: Ptr): number;
  virStoragePoolIsPersistent(p: Ptr): number;
  virStoragePoolGetAutostart(p: Ptr, out: Out<number>): number;
  virStoragePoolSetAutostart(p: Ptr, autostart: number): number;
  virStoragePoolListAllVolumes(p: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virStorageVolLookupByName(p: Ptr, name: string): PtrOrNull;
  virStorageVolLookupByPath(c: Ptr, path: string): PtrOrNull;
  virStorageVolLookupByKey(c: Ptr, key: string): PtrOrNull;
  virStorageVolCreateXML(p: Ptr, xml: string, flags: number): PtrOrNull;
  virStorageVolDelete(v: Ptr, flags: number): number;
  virStorageVolFree(v: Ptr): number;
  virStorageVolGetName(v: Ptr): string | null;
  virStorageVolGetKey(v: Ptr): string | null;
  virStorageVolGetPath(v: Ptr): PtrOrNull;
  virStorageVolGetInfo(v: Ptr, out: Partial<RawVolInfo>): number;
  virStorageVolGetXMLDesc(v: Ptr, flags: number): PtrOrNull;

  virStreamNew(c: Ptr, flags: number): PtrOrNull;
  virStreamSend(s: Ptr, data: Buffer, n: number): number;
  virStreamRecv(s: Ptr, data: Buffer, n: number): number;
  virStreamFinish(s: Ptr): number;
  virStreamAbort(s: Ptr): number;
  virStreamFree(s: Ptr): number;
  virStreamEventAddCallback(s: Ptr, events: number, cb: Ptr, opaque: Ptr, ff: null): number;
  virStreamEventUpdateCallback(s: Ptr, events: number): number;
  virStreamEventRemoveCallback(s: Ptr): number;
}

interface Libc {
  free(p: Ptr): void;
  strdup(s: string): Ptr;
}

let cached: { lv: Libvirt; libc: Libc; types: Types } | undefined;

export interface Types {
  error: TypeObject;
  statsRecord: TypeObject;
  credential: TypeObject;
  auth: TypeObject;
  authCallback: TypeObject;
  closeCallback: TypeObject;
}

function declare(): { lv: Libvirt; libc: Libc; types: Types } {
  const lib = koffi.load('libvirt.so.0');
  const qemu = koffi.load('libvirt-qemu.so.0');
  const c = koffi.load('libc.so.6');
  // anonymous structs: named koffi types are process-global (see unixfd.ts)
  const error = koffi.struct({
    code: 'int', domain: 'int', message: 'const char *', level: 'int', conn: 'void *', dom: 'void *',
    str1: 'const char *', str2: 'const char *', str3: 'const char *', int1: 'int', int2: 'int', net: 'void *',
  });
  const domainInfo = koffi.struct({ state: 'uchar', maxMem: 'ulong', memory: 'ulong', nrVirtCpu: 'ushort', cpuTime: 'ulonglong' });
  const poolInfo = koffi.struct({ state: 'int', capacity: 'ulonglong', allocation: 'ulonglong', available: 'ulonglong' });
  const volInfo = koffi.struct({ type: 'int', capacity: 'ulonglong', allocation: 'ulonglong' });
  const statsRecord = koffi.struct({ dom: 'void *', params: 'void *', nparams: 'int' });
  const credential = koffi.struct({ type: 'int', prompt: 'const char *', challenge: 'const char *', defresult: 'const char *', result: 'void *', resultlen: 'uint' });
  // callback prototypes are named: koffi resolved an anonymous one to another anonymous type here
  const authCallback = koffi.proto('mpvirtLibvirtAuthCb', 'int', ['void *', 'uint', 'void *']);
  const auth = koffi.struct({ credtype: 'void *', ncredtype: 'uint', cb: 'void *', cbdata: 'void *' });
  const closeCallback = koffi.proto('mpvirtLibvirtCloseCb', 'void', ['void *', 'int', 'void *']);
  const protos: Record<keyof Libvirt, string | [LibraryHandle, string, TypeSpec, TypeSpec[]]> = {
    virGetVersion: 'int virGetVersion(_Out_ ulong *lib, const char *type, _Out_ ulong *typeVer)',
    virGetLastError: 'void *virGetLastError(void)',
    virResetLastError: 'void virResetLastError(void)',
    virSetErrorFunc: 'void virSetErrorFunc(void *userData, void *handler)',
    virEventRegisterDefaultImpl: 'int virEventRegisterDefaultImpl(void)',
    virEventAddTimeout: 'int virEventAddTimeout(int frequency, void *cb, void *opaque, void *ff)',
    virEventUpdateTimeout: 'void virEventUpdateTimeout(int timer, int frequency)',
    virConnectOpen: 'void *virConnectOpen(const char *name)',
    virConnectOpenReadOnly: 'void *virConnectOpenReadOnly(const char *name)',
    virConnectOpenAuth: [lib, 'virConnectOpenAuth', 'void *', ['const char *', koffi.pointer(auth), 'uint']],
    virConnectClose: 'int virConnectClose(void *c)',
    virConnectGetURI: 'void *virConnectGetURI(void *c)',
    virConnectGetHostname: 'void *virConnectGetHostname(void *c)',
    virConnectGetCapabilities: 'void *virConnectGetCapabilities(void *c)',
    virConnectGetType: 'const char *virConnectGetType(void *c)',
    virConnectGetLibVersion: 'int virConnectGetLibVersion(void *c, _Out_ ulong *v)',
    virConnectGetVersion: 'int virConnectGetVersion(void *c, _Out_ ulong *v)',
    virConnectIsAlive: 'int virConnectIsAlive(void *c)',
    virConnectIsSecure: 'int virConnectIsSecure(void *c)',
    virConnectIsEncrypted: 'int virConnectIsEncrypted(void *c)',
    virConnectSetKeepAlive: 'int virConnectSetKeepAlive(void *c, int interval, uint count)',
    virConnectRegisterCloseCallback: 'int virConnectRegisterCloseCallback(void *c, void *cb, void *opaque, void *ff)',
    virConnectListAllDomains: 'int virConnectListAllDomains(void *c, _Out_ void **out, uint flags)',
    virConnectListAllStoragePools: 'int virConnectListAllStoragePools(void *c, _Out_ void **out, uint flags)',
    virConnectGetAllDomainStats: 'int virConnectGetAllDomainStats(void *c, uint stats, _Out_ void **out, uint flags)',
    virDomainListGetStats: 'int virDomainListGetStats(void **doms, uint stats, _Out_ void **out, uint flags)',
    virDomainStatsRecordListFree: 'void virDomainStatsRecordListFree(void *list)',
    virConnectDomainEventRegisterAny: 'int virConnectDomainEventRegisterAny(void *c, void *dom, int id, void *cb, void *opaque, void *ff)',
    virConnectDomainEventDeregisterAny: 'int virConnectDomainEventDeregisterAny(void *c, int id)',
    virDomainLookupByName: 'void *virDomainLookupByName(void *c, const char *name)',
    virDomainLookupByUUIDString: 'void *virDomainLookupByUUIDString(void *c, const char *uuid)',
    virDomainLookupByID: 'void *virDomainLookupByID(void *c, int id)',
    virDomainRef: 'int virDomainRef(void *d)',
    virDomainFree: 'int virDomainFree(void *d)',
    virDomainGetName: 'const char *virDomainGetName(void *d)',
    virDomainGetUUIDString: 'int virDomainGetUUIDString(void *d, _Out_ uint8_t *buf)',
    virDomainGetID: 'uint virDomainGetID(void *d)',
    virDomainGetInfo: [lib, 'virDomainGetInfo', 'int', ['void *', koffi.out(koffi.pointer(domainInfo))]],
    virDomainGetState: 'int virDomainGetState(void *d, _Out_ int *state, _Out_ int *reason, uint flags)',
    virDomainGetXMLDesc: 'void *virDomainGetXMLDesc(void *d, uint flags)',
    virDomainDefineXML: 'void *virDomainDefineXML(void *c, const char *xml)',
    virDomainDefineXMLFlags: 'void *virDomainDefineXMLFlags(void *c, const char *xml, uint flags)',
    virDomainCreateXML: 'void *virDomainCreateXML(void *c, const char *xml, uint flags)',
    virDomainUndefineFlags: 'int virDomainUndefineFlags(void *d, uint flags)',
    virDomainCreate: 'int virDomainCreate(void *d)',
    virDomainCreateWithFlags: 'int virDomainCreateWithFlags(void *d, uint flags)',
    virDomainDestroy: 'int virDomainDestroy(void *d)',
    virDomainDestroyFlags: 'int virDomainDestroyFlags(void *d, uint flags)',
    virDomainShutdown: 'int virDomainShutdown(void *d)',
    virDomainShutdownFlags: 'int virDomainShutdownFlags(void *d, uint flags)',
    virDomainReboot: 'int virDomainReboot(void *d, uint flags)',
    virDomainReset: 'int virDomainReset(void *d, uint flags)',
    virDomainSuspend: 'int virDomainSuspend(void *d)',
    virDomainResume: 'int virDomainResume(void *d)',
    virDomainIsActive: 'int virDomainIsActive(void *d)',
    virDomainIsPersistent: 'int virDomainIsPersistent(void *d)',
    virDomainHasManagedSaveImage: 'int virDomainHasManagedSaveImage(void *d, uint flags)',
    virDomainGetOSType: 'void *virDomainGetOSType(void *d)',
    virDomainGetSecurityLabel: 'int virDomainGetSecurityLabel(void *d, _Out_ uint8_t *label)',
    virDomainGetMessages: 'int virDomainGetMessages(void *d, _Out_ void **msgs, uint flags)',
    virNodeGetSecurityModel: 'int virNodeGetSecurityModel(void *c, _Out_ uint8_t *model)',
    virDomainAttachDeviceFlags: 'int virDomainAttachDeviceFlags(void *d, const char *xml, uint flags)',
    virDomainDetachDeviceFlags: 'int virDomainDetachDeviceFlags(void *d, const char *xml, uint flags)',
    virDomainUpdateDeviceFlags: 'int virDomainUpdateDeviceFlags(void *d, const char *xml, uint flags)',
    virDomainDetachDeviceAlias: 'int virDomainDetachDeviceAlias(void *d, const char *alias, uint flags)',
    virDomainGetMetadata: 'void *virDomainGetMetadata(void *d, int type, const char *uri, uint flags)',
    virDomainSetMetadata: 'int virDomainSetMetadata(void *d, int type, const char *metadata, const char *key, const char *uri, uint flags)',
    virDomainGetAutostart: 'int virDomainGetAutostart(void *d, _Out_ int *autostart)',
    virDomainSetAutostart: 'int virDomainSetAutostart(void *d, int autostart)',
    virDomainOpenConsole: 'int virDomainOpenConsole(void *d, const char *dev, void *st, uint flags)',
    virDomainQemuMonitorCommand: [qemu, 'virDomainQemuMonitorCommand', 'int', ['void *', 'const char *', koffi.out(koffi.pointer('void *')), 'uint']],
    virConnectDomainQemuMonitorEventRegister: [qemu, 'virConnectDomainQemuMonitorEventRegister', 'int', ['void *', 'void *', 'const char *', 'void *', 'void *', 'void *', 'uint']],
    virConnectDomainQemuMonitorEventDeregister: [qemu, 'virConnectDomainQemuMonitorEventDeregister', 'int', ['void *', 'int']],
    virStoragePoolLookupByName: 'void *virStoragePoolLookupByName(void *c, const char *name)',
    virStoragePoolLookupByUUIDString: 'void *virStoragePoolLookupByUUIDString(void *c, const char *uuid)',
    virStoragePoolDefineXML: 'void *virStoragePoolDefineXML(void *c, const char *xml, uint flags)',
    virStoragePoolCreateXML: 'void *virStoragePoolCreateXML(void *c, const char *xml, uint flags)',
    virStoragePoolFree: 'int virStoragePoolFree(void *p)',
    virStoragePoolCreate: 'int virStoragePoolCreate(void *p, uint flags)',
    virStoragePoolBuild: 'int virStoragePoolBuild(void *p, uint flags)',
    virStoragePoolDestroy: 'int virStoragePoolDestroy(void *p)',
    virStoragePoolUndefine: 'int virStoragePoolUndefine(void *p)',
    virStoragePoolRefresh: 'int virStoragePoolRefresh(void *p, uint flags)',
    virStoragePoolGetName: 'const char *virStoragePoolGetName(void *p)',
    virStoragePoolGetUUIDString: 'int virStoragePoolGetUUIDString(void *p, _Out_ uint8_t *buf)',
    virStoragePoolGetInfo: [lib, 'virStoragePoolGetInfo', 'int', ['void *', koffi.out(koffi.pointer(poolInfo))]],
    virStoragePoolGetXMLDesc: 'void *virStoragePoolGetXMLDesc(void *p, uint flags)',
    virStoragePoolIsActive: 'int virStoragePoolIsActive(void *p)',
    virStoragePoolIsPersistent: 'int virStoragePoolIsPersistent(void *p)',
    virStoragePoolGetAutostart: 'int virStoragePoolGetAutostart(void *p, _Out_ int *autostart)',
    virStoragePoolSetAutostart: 'int virStoragePoolSetAutostart(void *p, int autostart)',
    virStoragePoolListAllVolumes: 'int virStoragePoolListAllVolumes(void *p, _Out_ void **out, uint flags)',
    virStorageVolLookupByName: 'void *virStorageVolLookupByName(void *p, const char *name)',
    virStorageVolLookupByPath: 'void *virStorageVolLookupByPath(void *c, const char *path)',
    virStorageVolLookupByKey: 'void *virStorageVolLookupByKey(void *c, const char *key)',
    virStorageVolCreateXML: 'void *virStorageVolCreateXML(void *p, const char *xml, uint flags)',
    virStorageVolDelete: 'int virStorageVolDelete(void *v, uint flags)',
    virStorageVolFree: 'int virStorageVolFree(void *v)',
    virStorageVolGetName: 'const char *virStorageVolGetName(void *v)',
    virStorageVolGetKey: 'const char *virStorageVolGetKey(void *v)',
    virStorageVolGetPath: 'void *virStorageVolGetPath(void *v)',
    virStorageVolGetInfo: [lib, 'virStorageVolGetInfo', 'int', ['void *', koffi.out(koffi.pointer(volInfo))]],
    virStorageVolGetXMLDesc: 'void *virStorageVolGetXMLDesc(void *v, uint flags)',
    virStreamNew: 'void *virStreamNew(void *c, uint flags)',
    virStreamSend: 'int virStreamSend(void *s, const uint8_t *data, size_t n)',
    virStreamRecv: 'int virStreamRecv(void *s, _Out_ uint8_t *data, size_t n)',
    virStreamFinish: 'int virStreamFinish(void *s)',
    virStreamAbort: 'int virStreamAbort(void *s)',
    virStreamFree: 'int virStreamFree(void *s)',
    virStreamEventAddCallback: 'int virStreamEventAddCallback(void *s, int events, void *cb, void *opaque, void *ff)',
    virStreamEventUpdateCallback: 'int virStreamEventUpdateCallback(void *s, int events)',
    virStreamEventRemoveCallback: 'int virStreamEventRemoveCallback(void *s)',
  };
  // Each function is declared on its first call: koffi parses a prototype in ~50 µs, and a short
  // command (`mpvirsh list`) uses a dozen of the table's functions.
  const lv: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(protos)) {
    Object.defineProperty(lv, name, {
      configurable: true,
      enumerable: true,
      get() {
        const fn: unknown = typeof p === 'string' ? lib.func(p) : p[0].func(p[1], p[2], p[3]);
        Object.defineProperty(lv, name, { value: fn, enumerable: true });
        return fn;
      },
    });
  }
  const libc: Libc = { free: c.func('void free(void *p)'), strdup: c.func('void *strdup(const char *s)') };
  return { lv: lv as unknown as Libvirt, libc, types: { error, statsRecord, credential, auth, authCallback, closeCallback } };
}

function loaded(): { lv: Libvirt; libc: Libc; types: Types } {
  if (!cached) {
    cached = declare();
    // libvirt's default handler prints every error on stderr. Errors are read per call on the calling
    // thread (virGetLastError is thread-local), so the handler only needs to do nothing — and it
    // must be native code: a JS callback would be relayed to this thread and block libvirt's event
    // thread whenever JS is busy. libc's free(NULL) (userData is NULL) is such a no-op with a
    // compatible calling shape; the extra virErrorPtr argument is ignored under the C ABI.
    cached.lv.virSetErrorFunc(null, koffi.load('libc.so.6').symbol('free') as Ptr);
  }
  return cached;
}

export function lv(): Libvirt {
  return loaded().lv;
}

export function libc(): Libc {
  return loaded().libc;
}

export function types(): Types {
  return loaded().types;
}

/** A `char *` libvirt allocated for the caller: decoded, then released with free(). */
export function takeString(p: PtrOrNull): string | null {
  if (p === null) return null;
  try {
    return koffi.decode(p, 'char', -1) as string;
  } finally {
    loaded().libc.free(p);
  }
}

/** The elements of a `virXxxPtr *` array libvirt allocated (ListAll*), the array itself freed. */
export function takePointerArray(p: PtrOrNull, n: number): Ptr[] {
  if (p === null || n <= 0) {
    if (p !== null) loaded().libc.free(p);
    return [];
  }
  try {
    return koffi.decode(p, koffi.array('void *', n)) as Ptr[];
  } finally {
    loaded().libc.free(p);
  }
}

/**
 * Declares one area's further libvirt functions (networks, node devices, secrets, …) in its own
 * module, beside the core table above, on first use: `const nv = declareFunctions<NetFns>({…})`,
 * then `nv().virNetworkLookupByName(…)`. Prototypes are koffi's C-like strings; the library is
 * `libvirt.so.0` unless `library` names another (`libvirt-qemu.so.0`). libvirt's error handler is
 * installed (loaded()) before any of them can run. As in the core table, each function is declared
 * by koffi on its first call.
 */
export function declareFunctions<T extends object>(protos: { [K in keyof T]: string }, library = 'libvirt.so.0'): () => T {
  let fns: T | undefined;
  return () => {
    if (fns) return fns;
    loaded();
    const lib = koffi.load(library);
    const out: Record<string, unknown> = {};
    for (const [name, proto] of Object.entries(protos) as Array<[string, string]>) {
      Object.defineProperty(out, name, {
        configurable: true,
        enumerable: true,
        get() {
          const fn: unknown = lib.func(proto);
          Object.defineProperty(out, name, { value: fn, enumerable: true });
          return fn;
        },
      });
    }
    fns = out as T;
    return fns;
  };
}
