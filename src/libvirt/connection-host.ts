/**
 * The host and hypervisor as a connection reports them (virsh's Host and Hypervisor commands):
 * node info, CPU and memory statistics, NUMA free memory and pages, the CPU map, domain
 * capabilities, CPU comparison and baselines, CPU models, the vCPU maximum, sysinfo; and domain
 * statistics records whose parameters keep their types (virsh's domstats prints by type). Added
 * to {@link Connection} by module augmentation.
 */
import koffi from 'koffi';
import { Connection } from './connection.js';
import { cString, Domain } from './domain.js';
import { exactPtr } from './domain-monitor.js';
import { check, checkPtr, lastError } from './errors.js';
import { declareFunctions, libc, lv, takeString, types, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';
import { typedParamsAt, u64, type TypedParam } from './typed-param-list.js';

type Size = number | bigint;

/** virNodeInfo */
export interface NodeInfo { model: string; memory: Size; cpus: number; mhz: number; nodes: number; sockets: number; cores: number; threads: number }
/** virNodeCPUStats / virNodeMemoryStats: one named counter */
export interface NodeStat { field: string; value: Size }
/** A virDomainStatsRecord whose parameters keep their types; the domain is the caller's to free. */
export interface TypedStatsRecord { domain: Domain; params: TypedParam[] }
/** The hypervisor a CPU request is for (virConnectCompareHypervisorCPU's first arguments); null: the default */
export interface HypervisorTarget { emulator: string | null; arch: string | null; machine: string | null; virttype: string | null }

declare module './connection.js' {
  interface Connection {
    /** virNodeGetInfo */
    nodeInfo(): NodeInfo;
    /** virNodeGetCPUStats: `cpu` -1 for all CPUs */
    nodeCpuStats(cpu: number, flags?: number): NodeStat[];
    /** virNodeGetCPUStats with no buffer: how many statistics there are */
    nodeCpuStatsCount(cpu: number, flags?: number): number;
    /** virNodeGetMemoryStats with no buffer: how many statistics there are */
    nodeMemoryStatsCount(cell: number, flags?: number): number;
    /** virNodeGetMemoryStats: `cell` -1 for all cells */
    nodeMemoryStats(cell: number, flags?: number): NodeStat[];
    /** virNodeGetCellsFreeMemory: free bytes of `max` cells from `start` */
    cellsFreeMemory(start: number, max: number): Size[];
    /** virNodeGetFreeMemory: free bytes on the host (0 is libvirt's failure value) */
    freeMemory(): Size;
    /** virNodeGetFreePages: counts per cell, then per page size (KiB), of `cellCount` cells from `startCell` */
    freePages(pageSizes: readonly number[], startCell: number, cellCount: number, flags?: number): Size[][];
    /** virNodeGetCPUMap: the host's CPU count, and with `withMap` the online map and count */
    nodeCpuMap(withMap: boolean, flags?: number): { cpus: number; online: number; map: Buffer | null };
    /** virConnectGetDomainCapabilities */
    domainCapabilities(target: HypervisorTarget, flags?: number): string;
    /** virConnectCompareCPU: virCPUCompareResult (0 incompatible, 1 identical, 2 superset) */
    compareCpu(xml: string, flags?: number): number;
    /** virConnectBaselineCPU */
    baselineCpu(xmls: readonly string[], flags?: number): string;
    /** virConnectCompareHypervisorCPU */
    compareHypervisorCpu(target: HypervisorTarget, xml: string, flags?: number): number;
    /** virConnectBaselineHypervisorCPU */
    baselineHypervisorCpu(target: HypervisorTarget, xmls: readonly string[], flags?: number): string;
    /** virConnectGetCPUModelNames */
    cpuModelNames(arch: string, flags?: number): string[];
    /** virConnectGetMaxVcpus: `type` null for the driver's default */
    maxVcpus(type: string | null): number;
    /** virConnectGetSysinfo */
    sysinfo(flags?: number): string;
    /** virConnectGetAllDomainStats, each parameter with its type */
    allDomainStatsTyped(stats: number, flags: number): TypedStatsRecord[];
    /** virDomainListGetStats for these domains, each parameter with its type */
    domainListStatsTyped(domains: readonly Domain[], stats: number, flags: number): TypedStatsRecord[];
  }
}

interface Fns {
  virNodeGetInfo(c: Ptr, info: Buffer): number;
  virNodeGetCPUStats(c: Ptr, cpu: number, params: Buffer | null, n: Buffer, flags: number): number;
  virNodeGetMemoryStats(c: Ptr, cell: number, params: Buffer | null, n: Buffer, flags: number): number;
  virNodeGetCellsFreeMemory(c: Ptr, mems: Buffer, start: number, max: number): number;
  virNodeGetFreeMemory(c: Ptr): number | bigint;
  virNodeGetFreePages(c: Ptr, npages: number, pages: Buffer, start: number, count: number, counts: Buffer, flags: number): number;
  virNodeGetCPUMap(c: Ptr, map: Buffer | null, online: Buffer | null, flags: number): number;
  virConnectGetDomainCapabilities(c: Ptr, emu: string | null, arch: string | null, machine: string | null, virttype: string | null, flags: number): Ptr | null;
  virConnectCompareCPU(c: Ptr, xml: string, flags: number): number;
  virConnectBaselineCPU(c: Ptr, xmls: string[], n: number, flags: number): Ptr | null;
  virConnectCompareHypervisorCPU(c: Ptr, emu: string | null, arch: string | null, machine: string | null, virttype: string | null, xml: string, flags: number): number;
  virConnectBaselineHypervisorCPU(c: Ptr, emu: string | null, arch: string | null, machine: string | null, virttype: string | null, xmls: string[], n: number, flags: number): Ptr | null;
  virConnectGetCPUModelNames(c: Ptr, arch: string, models: Buffer, flags: number): number;
  virConnectGetMaxVcpus(c: Ptr, type: string | null): number;
  virConnectGetSysinfo(c: Ptr, flags: number): Ptr | null;
}
const fns = declareFunctions<Fns>({
  virNodeGetInfo: 'int virNodeGetInfo(void *c, void *info)',
  virNodeGetCPUStats: 'int virNodeGetCPUStats(void *c, int cpu, void *params, void *nparams, uint flags)',
  virNodeGetMemoryStats: 'int virNodeGetMemoryStats(void *c, int cell, void *params, void *nparams, uint flags)',
  virNodeGetCellsFreeMemory: 'int virNodeGetCellsFreeMemory(void *c, void *mems, int start, int max)',
  virNodeGetFreeMemory: 'unsigned long long virNodeGetFreeMemory(void *c)',
  virNodeGetFreePages: 'int virNodeGetFreePages(void *c, uint npages, void *pages, int start, uint count, void *counts, uint flags)',
  virNodeGetCPUMap: 'int virNodeGetCPUMap(void *c, void *map, void *online, uint flags)',
  virConnectGetDomainCapabilities: 'void *virConnectGetDomainCapabilities(void *c, const char *emu, const char *arch, const char *machine, const char *virttype, uint flags)',
  virConnectCompareCPU: 'int virConnectCompareCPU(void *c, const char *xml, uint flags)',
  virConnectBaselineCPU: 'void *virConnectBaselineCPU(void *c, const char **xmls, uint n, uint flags)',
  virConnectCompareHypervisorCPU: 'int virConnectCompareHypervisorCPU(void *c, const char *emu, const char *arch, const char *machine, const char *virttype, const char *xml, uint flags)',
  virConnectBaselineHypervisorCPU: 'void *virConnectBaselineHypervisorCPU(void *c, const char *emu, const char *arch, const char *machine, const char *virttype, const char **xmls, uint n, uint flags)',
  virConnectGetCPUModelNames: 'int virConnectGetCPUModelNames(void *c, const char *arch, void *models, uint flags)',
  virConnectGetMaxVcpus: 'int virConnectGetMaxVcpus(void *c, const char *type)',
  virConnectGetSysinfo: 'void *virConnectGetSysinfo(void *c, uint flags)',
});

const ptrOf = (c: Connection): Ptr => LibvirtObject.pointerOf(c);
const NODE_STAT_SIZE = 88; // { char field[80]; ull value; }

/** The two-call virNode*Stats pattern: count, then fill. */
function nodeStats(call: (params: Buffer | null, n: Buffer) => number, name: string): NodeStat[] {
  const n = Buffer.alloc(4);
  check(call(null, n), name);
  const count = n.readInt32LE(0);
  if (count === 0) return [];
  const b = Buffer.alloc(count * NODE_STAT_SIZE);
  check(call(b, n), name);
  return Array.from({ length: n.readInt32LE(0) }, (_, i) => ({ field: cString(b, i * NODE_STAT_SIZE, 80), value: u64(b, i * NODE_STAT_SIZE + 80) }));
}

Connection.prototype.nodeInfo = function (this: Connection): NodeInfo {
  const b = Buffer.alloc(64); // { char model[32]; ulong memory; uint cpus, mhz, nodes, sockets, cores, threads; }
  check(fns().virNodeGetInfo(ptrOf(this), b), 'virNodeGetInfo');
  const u = (off: number): number => b.readUInt32LE(off);
  return { model: cString(b, 0, 32), memory: u64(b, 32), cpus: u(40), mhz: u(44), nodes: u(48), sockets: u(52), cores: u(56), threads: u(60) };
};

Connection.prototype.nodeCpuStats = function (this: Connection, cpu: number, flags = 0): NodeStat[] {
  return nodeStats((p, n) => fns().virNodeGetCPUStats(ptrOf(this), cpu, p, n, flags), 'virNodeGetCPUStats');
};

Connection.prototype.nodeCpuStatsCount = function (this: Connection, cpu: number, flags = 0): number {
  const n = Buffer.alloc(4);
  check(fns().virNodeGetCPUStats(ptrOf(this), cpu, null, n, flags), 'virNodeGetCPUStats');
  return n.readInt32LE(0);
};

Connection.prototype.nodeMemoryStatsCount = function (this: Connection, cell: number, flags = 0): number {
  const n = Buffer.alloc(4);
  check(fns().virNodeGetMemoryStats(ptrOf(this), cell, null, n, flags), 'virNodeGetMemoryStats');
  return n.readInt32LE(0);
};

Connection.prototype.nodeMemoryStats = function (this: Connection, cell: number, flags = 0): NodeStat[] {
  return nodeStats((p, n) => fns().virNodeGetMemoryStats(ptrOf(this), cell, p, n, flags), 'virNodeGetMemoryStats');
};

Connection.prototype.cellsFreeMemory = function (this: Connection, start: number, max: number): Size[] {
  const b = Buffer.alloc(Math.max(max, 1) * 8);
  const n = check(fns().virNodeGetCellsFreeMemory(ptrOf(this), b, start, max), 'virNodeGetCellsFreeMemory');
  return Array.from({ length: n }, (_, i) => u64(b, i * 8));
};

Connection.prototype.freeMemory = function (this: Connection): Size {
  const v = fns().virNodeGetFreeMemory(ptrOf(this));
  if (v === 0 || v === 0n) throw lastError('virNodeGetFreeMemory');
  return v;
};

Connection.prototype.freePages = function (this: Connection, pageSizes: readonly number[], startCell: number, cellCount: number, flags = 0): Size[][] {
  const pages = Buffer.alloc(Math.max(pageSizes.length, 1) * 4);
  pageSizes.forEach((s, i) => pages.writeUInt32LE(s, i * 4));
  const counts = Buffer.alloc(Math.max(pageSizes.length * cellCount, 1) * 8);
  check(fns().virNodeGetFreePages(ptrOf(this), pageSizes.length, pages, startCell, cellCount, counts, flags), 'virNodeGetFreePages');
  return Array.from({ length: cellCount }, (_, c) => pageSizes.map((_s, j) => u64(counts, (c * pageSizes.length + j) * 8)));
};

Connection.prototype.nodeCpuMap = function (this: Connection, withMap: boolean, flags = 0) {
  const mapOut = withMap ? Buffer.alloc(8) : null;
  const online = withMap ? Buffer.alloc(4) : null;
  const cpus = check(fns().virNodeGetCPUMap(ptrOf(this), mapOut, online, flags), 'virNodeGetCPUMap');
  let map: Buffer | null = null;
  const p = mapOut ? exactPtr(mapOut.readBigUInt64LE(0)) : null;
  if (p !== null) {
    try {
      map = Buffer.from(koffi.decode(p, koffi.array('uint8', Math.ceil(cpus / 8))) as number[]);
    } finally {
      libc().free(p);
    }
  }
  return { cpus, online: online ? online.readUInt32LE(0) : 0, map };
};

Connection.prototype.domainCapabilities = function (this: Connection, t: HypervisorTarget, flags = 0): string {
  return takeString(checkPtr(fns().virConnectGetDomainCapabilities(ptrOf(this), t.emulator, t.arch, t.machine, t.virttype, flags), 'virConnectGetDomainCapabilities')) ?? '';
};

Connection.prototype.compareCpu = function (this: Connection, xml: string, flags = 0): number {
  return check(fns().virConnectCompareCPU(ptrOf(this), xml, flags), 'virConnectCompareCPU');
};

Connection.prototype.baselineCpu = function (this: Connection, xmls: readonly string[], flags = 0): string {
  return takeString(checkPtr(fns().virConnectBaselineCPU(ptrOf(this), [...xmls], xmls.length, flags), 'virConnectBaselineCPU')) ?? '';
};

Connection.prototype.compareHypervisorCpu = function (this: Connection, t: HypervisorTarget, xml: string, flags = 0): number {
  return check(fns().virConnectCompareHypervisorCPU(ptrOf(this), t.emulator, t.arch, t.machine, t.virttype, xml, flags), 'virConnectCompareHypervisorCPU');
};

Connection.prototype.baselineHypervisorCpu = function (this: Connection, t: HypervisorTarget, xmls: readonly string[], flags = 0): string {
  const r = fns().virConnectBaselineHypervisorCPU(ptrOf(this), t.emulator, t.arch, t.machine, t.virttype, [...xmls], xmls.length, flags);
  return takeString(checkPtr(r, 'virConnectBaselineHypervisorCPU')) ?? '';
};

Connection.prototype.cpuModelNames = function (this: Connection, arch: string, flags = 0): string[] {
  const out = Buffer.alloc(8);
  const n = check(fns().virConnectGetCPUModelNames(ptrOf(this), arch, out, flags), 'virConnectGetCPUModelNames');
  const arr = exactPtr(out.readBigUInt64LE(0));
  if (arr === null) return [];
  try {
    return n > 0 ? (koffi.decode(arr, koffi.array('void *', n)) as Ptr[]).map((p) => takeString(p) ?? '') : [];
  } finally {
    libc().free(arr);
  }
};

Connection.prototype.maxVcpus = function (this: Connection, type: string | null): number {
  return check(fns().virConnectGetMaxVcpus(ptrOf(this), type), 'virConnectGetMaxVcpus');
};

Connection.prototype.sysinfo = function (this: Connection, flags = 0): string {
  return takeString(checkPtr(fns().virConnectGetSysinfo(ptrOf(this), flags), 'virConnectGetSysinfo')) ?? '';
};

/** A record list from libvirt, each record's domain given its own reference, the list freed. */
function takeTypedRecords(conn: Connection, list: Ptr | null, n: number): TypedStatsRecord[] {
  if (list === null) return [];
  try {
    const recs = n > 0 ? (koffi.decode(list, koffi.array('void *', n)) as Ptr[]) : [];
    return recs.map((r) => {
      const rec = koffi.decode(r, types().statsRecord) as { dom: Ptr; params: Ptr | null; nparams: number };
      check(lv().virDomainRef(rec.dom), 'virDomainRef');
      return { domain: new Domain(rec.dom, conn), params: typedParamsAt(rec.params, rec.nparams) };
    });
  } finally {
    lv().virDomainStatsRecordListFree(list);
  }
}

Connection.prototype.allDomainStatsTyped = function (this: Connection, stats: number, flags: number): TypedStatsRecord[] {
  const out: [Ptr | null] = [null];
  const n = check(lv().virConnectGetAllDomainStats(ptrOf(this), stats, out, flags), 'virConnectGetAllDomainStats');
  return takeTypedRecords(this, out[0], n);
};

Connection.prototype.domainListStatsTyped = function (this: Connection, domains: readonly Domain[], stats: number, flags: number): TypedStatsRecord[] {
  const out: [Ptr | null] = [null];
  const n = check(lv().virDomainListGetStats([...domains.map((d) => LibvirtObject.pointerOf(d)), null], stats, out, flags), 'virDomainListGetStats');
  return takeTypedRecords(this, out[0], n);
};
