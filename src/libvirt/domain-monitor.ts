/**
 * What a domain reports about itself while it runs (virsh's Domain Monitoring commands): block,
 * interface and memory statistics, block sizes, disk errors, the control interface, interface
 * addresses, the guest's hostname and time. Added to {@link Domain} by module augmentation; every
 * struct libvirt fills in is a Buffer laid out as on LP64, every string or array libvirt
 * allocates is copied out and freed here.
 */
import koffi from 'koffi';
import { Domain } from './domain.js';
import { check, checkPtr } from './errors.js';
import { declareFunctions, libc, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';
import { cStringAt, paramsBuffer, s64, takeFilledParams, u64, type TypedParam } from './typed-param-list.js';

type Size = number | bigint;

export interface BlockInfo { capacity: Size; allocation: Size; physical: Size }
/** virDomainBlockStatsStruct: -1 for a counter the driver does not have */
export interface LegacyBlockStats { rdReq: Size; rdBytes: Size; wrReq: Size; wrBytes: Size; errs: Size }
/** virDomainInterfaceStatsStruct: -1 for a counter the driver does not have */
export interface InterfaceStats {
  rxBytes: Size; rxPackets: Size; rxErrs: Size; rxDrop: Size; txBytes: Size; txPackets: Size; txErrs: Size; txDrop: Size;
}
/** virDomainMemoryStatStruct: `tag` is a virDomainMemoryStatTags */
export interface MemoryStat { tag: number; value: Size }
/** virDomainControlInfo */
export interface ControlInfo { state: number; details: number; stateTime: Size }
export interface DiskError { disk: string; error: number }
export interface InterfaceAddress { type: number; addr: string; prefix: number }
export interface DomainInterface { name: string; hwaddr: string | null; addrs: InterfaceAddress[] }

declare module './domain.js' {
  interface Domain {
    /** virDomainBlockStatsFlags ('' for the whole domain): every counter with its type, in libvirt's order. */
    blockStatsFlags(disk: string, flags?: number): TypedParam[];
    /** virDomainBlockStats, the pre-0.9.5 API. */
    blockStats(disk: string): LegacyBlockStats;
    /** virDomainGetBlockInfo */
    blockInfo(disk: string, flags?: number): BlockInfo;
    /** virDomainMemoryStats, at most VIR_DOMAIN_MEMORY_STAT_NR (14) entries. */
    memoryStats(flags?: number): MemoryStat[];
    /** virDomainSetMemoryStatsPeriod */
    setMemoryStatsPeriod(period: number, flags?: number): void;
    /** virDomainInterfaceStats by target name or MAC */
    interfaceStats(device: string): InterfaceStats;
    /** virDomainGetControlInfo */
    controlInfo(flags?: number): ControlInfo;
    /** virDomainGetDiskErrors: the disks with an I/O error (virDomainDiskErrorCode) */
    diskErrors(flags?: number): DiskError[];
    /** virDomainInterfaceAddresses: `source` is virDomainInterfaceAddressesSource (0 lease, 1 agent, 2 arp) */
    interfaceAddresses(source: number, flags?: number): DomainInterface[];
    /** virDomainGetHostname: `flags` VIR_DOMAIN_GET_HOSTNAME_LEASE (1) / _AGENT (2) */
    hostname(flags?: number): string;
    /** virDomainGetTime: the guest's clock */
    time(flags?: number): { seconds: Size; nseconds: number };
    /** virDomainSetTime: `flags` VIR_DOMAIN_TIME_SYNC (1) resyncs from the guest's RTC */
    setTime(seconds: number | bigint, nseconds: number, flags?: number): void;
  }
}

interface Fns {
  virDomainBlockStatsFlags(d: Ptr, disk: string, params: Buffer | null, n: Buffer, flags: number): number;
  virDomainBlockStats(d: Ptr, disk: string, stats: Buffer, size: number): number;
  virDomainGetBlockInfo(d: Ptr, disk: string, info: Buffer, flags: number): number;
  virDomainMemoryStats(d: Ptr, stats: Buffer, n: number, flags: number): number;
  virDomainSetMemoryStatsPeriod(d: Ptr, period: number, flags: number): number;
  virDomainInterfaceStats(d: Ptr, device: string, stats: Buffer, size: number): number;
  virDomainGetControlInfo(d: Ptr, info: Buffer, flags: number): number;
  virDomainGetDiskErrors(d: Ptr, errors: Buffer | null, max: number, flags: number): number;
  virDomainInterfaceAddresses(d: Ptr, ifaces: Buffer, source: number, flags: number): number;
  virDomainInterfaceFree(iface: Ptr): void;
  virDomainGetHostname(d: Ptr, flags: number): Ptr | null;
  virDomainGetTime(d: Ptr, seconds: Buffer, nseconds: Buffer, flags: number): number;
  virDomainSetTime(d: Ptr, seconds: number | bigint, nseconds: number, flags: number): number;
}
const fns = declareFunctions<Fns>({
  virDomainBlockStatsFlags: 'int virDomainBlockStatsFlags(void *d, const char *disk, void *params, void *nparams, uint flags)',
  virDomainBlockStats: 'int virDomainBlockStats(void *d, const char *disk, void *stats, size_t size)',
  virDomainGetBlockInfo: 'int virDomainGetBlockInfo(void *d, const char *disk, void *info, uint flags)',
  virDomainMemoryStats: 'int virDomainMemoryStats(void *d, void *stats, uint nr, uint flags)',
  virDomainSetMemoryStatsPeriod: 'int virDomainSetMemoryStatsPeriod(void *d, int period, uint flags)',
  virDomainInterfaceStats: 'int virDomainInterfaceStats(void *d, const char *device, void *stats, size_t size)',
  virDomainGetControlInfo: 'int virDomainGetControlInfo(void *d, void *info, uint flags)',
  virDomainGetDiskErrors: 'int virDomainGetDiskErrors(void *d, void *errors, uint maxerrors, uint flags)',
  virDomainInterfaceAddresses: 'int virDomainInterfaceAddresses(void *d, void *ifaces, uint source, uint flags)',
  virDomainInterfaceFree: 'void virDomainInterfaceFree(void *iface)',
  virDomainGetHostname: 'void *virDomainGetHostname(void *d, uint flags)',
  virDomainGetTime: 'int virDomainGetTime(void *d, void *seconds, void *nseconds, uint flags)',
  virDomainSetTime: 'int virDomainSetTime(void *d, long long seconds, uint nseconds, uint flags)',
});

const ptrOf = (d: Domain): Ptr => LibvirtObject.pointerOf(d);

Domain.prototype.blockStatsFlags = function (this: Domain, disk: string, flags = 0): TypedParam[] {
  const n = Buffer.alloc(4);
  check(fns().virDomainBlockStatsFlags(ptrOf(this), disk, null, n, flags), 'virDomainBlockStatsFlags');
  const buf = paramsBuffer(n.readInt32LE(0));
  check(fns().virDomainBlockStatsFlags(ptrOf(this), disk, buf, n, flags), 'virDomainBlockStatsFlags');
  return takeFilledParams(buf, n.readInt32LE(0));
};

Domain.prototype.blockStats = function (this: Domain, disk: string): LegacyBlockStats {
  const b = Buffer.alloc(40);
  check(fns().virDomainBlockStats(ptrOf(this), disk, b, b.length), 'virDomainBlockStats');
  return { rdReq: s64(b, 0), rdBytes: s64(b, 8), wrReq: s64(b, 16), wrBytes: s64(b, 24), errs: s64(b, 32) };
};

Domain.prototype.blockInfo = function (this: Domain, disk: string, flags = 0): BlockInfo {
  const b = Buffer.alloc(24);
  check(fns().virDomainGetBlockInfo(ptrOf(this), disk, b, flags), 'virDomainGetBlockInfo');
  return { capacity: u64(b, 0), allocation: u64(b, 8), physical: u64(b, 16) };
};

const MEMORY_STAT_NR = 14;
Domain.prototype.memoryStats = function (this: Domain, flags = 0): MemoryStat[] {
  const b = Buffer.alloc(MEMORY_STAT_NR * 16); // { int tag; unsigned long long val; }
  const n = check(fns().virDomainMemoryStats(ptrOf(this), b, MEMORY_STAT_NR, flags), 'virDomainMemoryStats');
  return Array.from({ length: n }, (_, i) => ({ tag: b.readInt32LE(i * 16), value: u64(b, i * 16 + 8) }));
};

Domain.prototype.setMemoryStatsPeriod = function (this: Domain, period: number, flags = 0): void {
  check(fns().virDomainSetMemoryStatsPeriod(ptrOf(this), period, flags), 'virDomainSetMemoryStatsPeriod');
};

Domain.prototype.interfaceStats = function (this: Domain, device: string): InterfaceStats {
  const b = Buffer.alloc(64);
  check(fns().virDomainInterfaceStats(ptrOf(this), device, b, b.length), 'virDomainInterfaceStats');
  const at = (i: number): Size => s64(b, i * 8);
  return { rxBytes: at(0), rxPackets: at(1), rxErrs: at(2), rxDrop: at(3), txBytes: at(4), txPackets: at(5), txErrs: at(6), txDrop: at(7) };
};

Domain.prototype.controlInfo = function (this: Domain, flags = 0): ControlInfo {
  const b = Buffer.alloc(16); // { uint state; uint details; ull stateTime; }
  check(fns().virDomainGetControlInfo(ptrOf(this), b, flags), 'virDomainGetControlInfo');
  return { state: b.readUInt32LE(0), details: b.readUInt32LE(4), stateTime: u64(b, 8) };
};

Domain.prototype.diskErrors = function (this: Domain, flags = 0): DiskError[] {
  const count = check(fns().virDomainGetDiskErrors(ptrOf(this), null, 0, flags), 'virDomainGetDiskErrors');
  if (count === 0) return [];
  const b = Buffer.alloc(count * 16); // { char *disk; int error; }
  const n = check(fns().virDomainGetDiskErrors(ptrOf(this), b, count, flags), 'virDomainGetDiskErrors');
  const out: DiskError[] = [];
  for (let i = 0; i < count; i++) {
    const disk = takeString(exactPtr(b.readBigUInt64LE(i * 16)));
    if (i < n) out.push({ disk: disk ?? '', error: b.readInt32LE(i * 16 + 8) });
  }
  return out;
};

/** A pointer read out of a Buffer, in the binding's pointer type (null for NULL). */
export const exactPtr = (v: bigint): Ptr | null => (v === 0n ? null : (v as Ptr));

Domain.prototype.interfaceAddresses = function (this: Domain, source: number, flags = 0): DomainInterface[] {
  const out = Buffer.alloc(8);
  const n = check(fns().virDomainInterfaceAddresses(ptrOf(this), out, source, flags), 'virDomainInterfaceAddresses');
  const arr = exactPtr(out.readBigUInt64LE(0));
  if (arr === null) return [];
  try {
    const ifaces = n > 0 ? (koffi.decode(arr, koffi.array('void *', n)) as Ptr[]) : [];
    return ifaces.map((p) => {
      try {
        // { char *name; char *hwaddr; uint naddrs; virDomainIPAddressPtr addrs; }
        const naddrs = koffi.decode(p, 16, 'uint') as number;
        const addrs = koffi.decode(p, 24, 'void *') as Ptr | null;
        const list: InterfaceAddress[] = [];
        for (let j = 0; j < naddrs && addrs !== null; j++) {
          // { int type; char *addr; uint prefix; }
          list.push({ type: koffi.decode(addrs, j * 24, 'int') as number, addr: cStringAt(addrs, j * 24 + 8) ?? '', prefix: koffi.decode(addrs, j * 24 + 16, 'uint') as number });
        }
        return { name: cStringAt(p, 0) ?? '', hwaddr: cStringAt(p, 8), addrs: list };
      } finally {
        fns().virDomainInterfaceFree(p);
      }
    });
  } finally {
    libc().free(arr);
  }
};

Domain.prototype.hostname = function (this: Domain, flags = 0): string {
  return takeString(checkPtr(fns().virDomainGetHostname(ptrOf(this), flags), 'virDomainGetHostname')) ?? '';
};

Domain.prototype.time = function (this: Domain, flags = 0): { seconds: Size; nseconds: number } {
  const s = Buffer.alloc(8);
  const ns = Buffer.alloc(4);
  check(fns().virDomainGetTime(ptrOf(this), s, ns, flags), 'virDomainGetTime');
  return { seconds: s64(s, 0), nseconds: ns.readUInt32LE(0) };
};


Domain.prototype.setTime = function (this: Domain, seconds: number | bigint, nseconds: number, flags = 0): void {
  check(fns().virDomainSetTime(ptrOf(this), seconds, nseconds, flags), 'virDomainSetTime');
};
