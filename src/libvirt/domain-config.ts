/**
 * The calls that change a domain's configuration or state beyond its lifecycle — memory, vCPUs,
 * rename, keys, screenshots, power management, lifecycle actions, saves and dumps, the
 * flagless device calls, native config conversion — added to Domain and Connection by module
 * augmentation, so the core classes stay small (docs/binding.md). Pinning is domain-vcpus.ts',
 * volume wipes storage-more.ts'.
 *
 * Where libvirt has a flagless older API beside a *Flags one, both are offered: virsh picks the
 * older one when no flag is given, and a daemon that lacks the newer one still serves it.
 */
import { Connection } from './connection.js';
import { Domain } from './domain.js';
import { StreamFlags } from './enums-misc.js';
import { check, checkPtr, lastError } from './errors.js';
import { declareFunctions, lv, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';
import { Stream } from './stream.js';

type PtrOrNull = Ptr | null;

interface ConfigFns {
  virDomainSetMemory(d: Ptr, kib: number): number;
  virDomainSetMemoryFlags(d: Ptr, kib: number, flags: number): number;
  virDomainSetMaxMemory(d: Ptr, kib: number): number;
  virDomainSetVcpus(d: Ptr, n: number): number;
  virDomainSetVcpusFlags(d: Ptr, n: number, flags: number): number;
  virDomainSetVcpu(d: Ptr, list: string, state: number, flags: number): number;
  virDomainRename(d: Ptr, name: string, flags: number): number;
  virDomainSendKey(d: Ptr, codeset: number, holdtime: number, codes: Uint32Array, n: number, flags: number): number;
  virDomainScreenshot(d: Ptr, st: Ptr, screen: number, flags: number): PtrOrNull;
  virDomainInjectNMI(d: Ptr, flags: number): number;
  virDomainPMSuspendForDuration(d: Ptr, target: number, duration: number | bigint, flags: number): number;
  virDomainPMWakeup(d: Ptr, flags: number): number;
  virDomainSetLifecycleAction(d: Ptr, type: number, action: number, flags: number): number;
  virDomainManagedSave(d: Ptr, flags: number): number;
  virDomainManagedSaveRemove(d: Ptr, flags: number): number;
  virDomainSave(d: Ptr, to: string): number;
  virDomainSaveFlags(d: Ptr, to: string, xml: string | null, flags: number): number;
  virDomainRestore(c: Ptr, from: string): number;
  virDomainRestoreFlags(c: Ptr, from: string, xml: string | null, flags: number): number;
  virDomainCoreDump(d: Ptr, to: string, flags: number): number;
  virDomainCoreDumpWithFormat(d: Ptr, to: string, format: number, flags: number): number;
  virDomainAttachDevice(d: Ptr, xml: string): number;
  virDomainDetachDevice(d: Ptr, xml: string): number;
  virDomainUndefine(d: Ptr): number;
  virDomainSnapshotNum(d: Ptr, flags: number): number;
  virConnectDomainXMLFromNative(c: Ptr, format: string, config: string, flags: number): PtrOrNull;
  virConnectDomainXMLToNative(c: Ptr, format: string, xml: string, flags: number): PtrOrNull;
  virNodeGetCPUMap(c: Ptr, map: null, online: null, flags: number): number;
  virNodeGetInfo(c: Ptr, info: Buffer): number;
}

const fns = declareFunctions<ConfigFns>({
  virDomainSetMemory: 'int virDomainSetMemory(void *d, unsigned long kib)',
  virDomainSetMemoryFlags: 'int virDomainSetMemoryFlags(void *d, unsigned long kib, uint flags)',
  virDomainSetMaxMemory: 'int virDomainSetMaxMemory(void *d, unsigned long kib)',
  virDomainSetVcpus: 'int virDomainSetVcpus(void *d, uint n)',
  virDomainSetVcpusFlags: 'int virDomainSetVcpusFlags(void *d, uint n, uint flags)',
  virDomainSetVcpu: 'int virDomainSetVcpu(void *d, const char *list, int state, uint flags)',
  virDomainRename: 'int virDomainRename(void *d, const char *name, uint flags)',
  virDomainSendKey: 'int virDomainSendKey(void *d, uint codeset, uint holdtime, uint32_t *codes, int n, uint flags)',
  virDomainScreenshot: 'void *virDomainScreenshot(void *d, void *st, uint screen, uint flags)',
  virDomainInjectNMI: 'int virDomainInjectNMI(void *d, uint flags)',
  virDomainPMSuspendForDuration: 'int virDomainPMSuspendForDuration(void *d, uint target, unsigned long long duration, uint flags)',
  virDomainPMWakeup: 'int virDomainPMWakeup(void *d, uint flags)',
  virDomainSetLifecycleAction: 'int virDomainSetLifecycleAction(void *d, uint type, uint action, uint flags)',
  virDomainManagedSave: 'int virDomainManagedSave(void *d, uint flags)',
  virDomainManagedSaveRemove: 'int virDomainManagedSaveRemove(void *d, uint flags)',
  virDomainSave: 'int virDomainSave(void *d, const char *to)',
  virDomainSaveFlags: 'int virDomainSaveFlags(void *d, const char *to, const char *xml, uint flags)',
  virDomainRestore: 'int virDomainRestore(void *c, const char *from)',
  virDomainRestoreFlags: 'int virDomainRestoreFlags(void *c, const char *from, const char *xml, uint flags)',
  virDomainCoreDump: 'int virDomainCoreDump(void *d, const char *to, uint flags)',
  virDomainCoreDumpWithFormat: 'int virDomainCoreDumpWithFormat(void *d, const char *to, uint format, uint flags)',
  virDomainAttachDevice: 'int virDomainAttachDevice(void *d, const char *xml)',
  virDomainDetachDevice: 'int virDomainDetachDevice(void *d, const char *xml)',
  virDomainUndefine: 'int virDomainUndefine(void *d)',
  virDomainSnapshotNum: 'int virDomainSnapshotNum(void *d, uint flags)',
  virConnectDomainXMLFromNative: 'void *virConnectDomainXMLFromNative(void *c, const char *format, const char *config, uint flags)',
  virConnectDomainXMLToNative: 'void *virConnectDomainXMLToNative(void *c, const char *format, const char *xml, uint flags)',
  virNodeGetCPUMap: 'int virNodeGetCPUMap(void *c, void *map, void *online, uint flags)',
  virNodeGetInfo: 'int virNodeGetInfo(void *c, _Out_ uint8_t *info)',
});

declare module './domain.js' {
  interface Domain {
    /** virDomainSetMemoryFlags (KiB; flags: virDomainMemoryModFlags), or virDomainSetMemory without flags. */
    setMemory(kib: number, flags?: number): void;
    /** virDomainSetMaxMemory (KiB) */
    setMaxMemory(kib: number): void;
    /** virDomainSetVcpusFlags, or virDomainSetVcpus without flags. */
    setVcpus(count: number, flags?: number): void;
    /** virDomainSetVcpu: enable (state 1) or disable the vCPUs of a list such as `1,3-4`. */
    setVcpu(list: string, enable: boolean, flags?: number): void;
    /** virDomainRename */
    rename(newName: string): void;
    /** virDomainSendKey: `codeset` is virKeycodeSet, `holdtime` in ms. */
    sendKey(codeset: number, holdtime: number, keycodes: readonly number[]): void;
    /** virDomainScreenshot on a new non-blocking stream: the image's MIME type and the stream to read it from. */
    screenshot(screen?: number): { mime: string; stream: Stream };
    /** virDomainInjectNMI */
    injectNMI(): void;
    /** virDomainPMSuspendForDuration: target 0 mem, 1 disk, 2 hybrid; duration in seconds. */
    pmSuspend(target: number, duration: number | bigint): void;
    /** virDomainPMWakeup */
    pmWakeup(): void;
    /** virDomainSetLifecycleAction: type 0 poweroff, 1 reboot, 2 crash; action virDomainLifecycleAction. */
    setLifecycleAction(type: number, action: number, flags?: number): void;
    /** virDomainManagedSave (flags: virDomainSaveRestoreFlags) */
    managedSave(flags?: number): void;
    /** virDomainManagedSaveRemove */
    managedSaveRemove(): void;
    /** virDomainSaveFlags, or virDomainSave without XML and flags. */
    save(to: string, xml?: string | null, flags?: number): void;
    /** virDomainCoreDumpWithFormat when a format is given, else virDomainCoreDump (flags: virDomainCoreDumpFlags). */
    coreDump(to: string, flags?: number, format?: number): void;
    /** virDomainAttachDevice, the flagless call (the domain's current state). */
    attachDeviceCurrent(xml: string): void;
    /** virDomainDetachDevice, the flagless call. */
    detachDeviceCurrent(xml: string): void;
    /** virDomainUndefine, the flagless call. */
    undefineCurrent(): void;
    /** virDomainSnapshotNum */
    snapshotCount(flags?: number): number;
  }
}

declare module './connection.js' {
  interface Connection {
    /** virDomainRestoreFlags, or virDomainRestore without XML and flags. */
    restoreDomain(from: string, xml?: string | null, flags?: number): void;
    /** virConnectDomainXMLFromNative */
    domainXMLFromNative(format: string, config: string): string;
    /** virConnectDomainXMLToNative */
    domainXMLToNative(format: string, xml: string): string;
    /** The host's CPU count as virsh takes it: virNodeGetCPUMap, else virNodeGetInfo's nodes×sockets×cores×threads. */
    nodeCpuCount(): number;
  }
}

const P = (o: LibvirtObject): Ptr => LibvirtObject.pointerOf(o);
const text = (p: PtrOrNull, call: string): string => {
  const s = takeString(p);
  if (s === null) throw lastError(call);
  return s;
};

Domain.prototype.setMemory = function (this: Domain, kib: number, flags?: number): void {
  if (flags === undefined) check(fns().virDomainSetMemory(P(this), kib), 'virDomainSetMemory');
  else check(fns().virDomainSetMemoryFlags(P(this), kib, flags), 'virDomainSetMemoryFlags');
};
Domain.prototype.setMaxMemory = function (this: Domain, kib: number): void {
  check(fns().virDomainSetMaxMemory(P(this), kib), 'virDomainSetMaxMemory');
};
Domain.prototype.setVcpus = function (this: Domain, count: number, flags?: number): void {
  if (flags === undefined) check(fns().virDomainSetVcpus(P(this), count), 'virDomainSetVcpus');
  else check(fns().virDomainSetVcpusFlags(P(this), count, flags), 'virDomainSetVcpusFlags');
};
Domain.prototype.setVcpu = function (this: Domain, list: string, enable: boolean, flags = 0): void {
  check(fns().virDomainSetVcpu(P(this), list, enable ? 1 : 0, flags), 'virDomainSetVcpu');
};
Domain.prototype.rename = function (this: Domain, newName: string): void {
  check(fns().virDomainRename(P(this), newName, 0), 'virDomainRename');
};
Domain.prototype.sendKey = function (this: Domain, codeset: number, holdtime: number, keycodes: readonly number[]): void {
  const codes = Uint32Array.from(keycodes);
  check(fns().virDomainSendKey(P(this), codeset, holdtime, codes, codes.length, 0), 'virDomainSendKey');
};
Domain.prototype.screenshot = function (this: Domain, screen = 0): { mime: string; stream: Stream } {
  const stream = new Stream(checkPtr(lv().virStreamNew(P(this.connection), StreamFlags.NONBLOCK), 'virStreamNew'));
  try {
    return { mime: text(fns().virDomainScreenshot(P(this), P(stream), screen, 0), 'virDomainScreenshot'), stream };
  } catch (e) {
    stream.free();
    throw e;
  }
};
Domain.prototype.injectNMI = function (this: Domain): void {
  check(fns().virDomainInjectNMI(P(this), 0), 'virDomainInjectNMI');
};
Domain.prototype.pmSuspend = function (this: Domain, target: number, duration: number | bigint): void {
  check(fns().virDomainPMSuspendForDuration(P(this), target, duration, 0), 'virDomainPMSuspendForDuration');
};
Domain.prototype.pmWakeup = function (this: Domain): void {
  check(fns().virDomainPMWakeup(P(this), 0), 'virDomainPMWakeup');
};
Domain.prototype.setLifecycleAction = function (this: Domain, type: number, action: number, flags = 0): void {
  check(fns().virDomainSetLifecycleAction(P(this), type, action, flags), 'virDomainSetLifecycleAction');
};
Domain.prototype.managedSave = function (this: Domain, flags = 0): void {
  check(fns().virDomainManagedSave(P(this), flags), 'virDomainManagedSave');
};
Domain.prototype.managedSaveRemove = function (this: Domain): void {
  check(fns().virDomainManagedSaveRemove(P(this), 0), 'virDomainManagedSaveRemove');
};
Domain.prototype.save = function (this: Domain, to: string, xml: string | null = null, flags = 0): void {
  if (xml === null && flags === 0) check(fns().virDomainSave(P(this), to), 'virDomainSave');
  else check(fns().virDomainSaveFlags(P(this), to, xml, flags), 'virDomainSaveFlags');
};
Domain.prototype.coreDump = function (this: Domain, to: string, flags = 0, format?: number): void {
  if (format === undefined) check(fns().virDomainCoreDump(P(this), to, flags), 'virDomainCoreDump');
  else check(fns().virDomainCoreDumpWithFormat(P(this), to, format, flags), 'virDomainCoreDumpWithFormat');
};
Domain.prototype.attachDeviceCurrent = function (this: Domain, xml: string): void {
  check(fns().virDomainAttachDevice(P(this), xml), 'virDomainAttachDevice');
};
Domain.prototype.detachDeviceCurrent = function (this: Domain, xml: string): void {
  check(fns().virDomainDetachDevice(P(this), xml), 'virDomainDetachDevice');
};
Domain.prototype.undefineCurrent = function (this: Domain): void {
  check(fns().virDomainUndefine(P(this)), 'virDomainUndefine');
};
Domain.prototype.snapshotCount = function (this: Domain, flags = 0): number {
  return check(fns().virDomainSnapshotNum(P(this), flags), 'virDomainSnapshotNum');
};

Connection.prototype.restoreDomain = function (this: Connection, from: string, xml: string | null = null, flags = 0): void {
  if (xml === null && flags === 0) check(fns().virDomainRestore(P(this), from), 'virDomainRestore');
  else check(fns().virDomainRestoreFlags(P(this), from, xml, flags), 'virDomainRestoreFlags');
};
Connection.prototype.domainXMLFromNative = function (this: Connection, format: string, config: string): string {
  return text(fns().virConnectDomainXMLFromNative(P(this), format, config, 0), 'virConnectDomainXMLFromNative');
};
Connection.prototype.domainXMLToNative = function (this: Connection, format: string, xml: string): string {
  return text(fns().virConnectDomainXMLToNative(P(this), format, xml, 0), 'virConnectDomainXMLToNative');
};
Connection.prototype.nodeCpuCount = function (this: Connection): number {
  const n = fns().virNodeGetCPUMap(P(this), null, null, 0);
  if (n >= 0) return n;
  lastError('virNodeGetCPUMap'); // virsh resets that error and falls back to the node's info
  // struct _virNodeInfo: char model[32]; unsigned long memory; unsigned int cpus, mhz, nodes, sockets, cores, threads
  const info = Buffer.alloc(64);
  check(fns().virNodeGetInfo(P(this), info), 'virNodeGetInfo');
  return info.readUInt32LE(48) * info.readUInt32LE(52) * info.readUInt32LE(56) * info.readUInt32LE(60);
};
