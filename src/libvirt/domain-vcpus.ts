/**
 * A domain's CPUs, threads and jobs as libvirt reports them (virsh's vcpuinfo, vcpucount,
 * vcpupin, emulatorpin, iothreadinfo, cpu-stats, numatune, schedinfo, domjobinfo,
 * domlaunchsecinfo): vCPU state and affinity, pinning, IOThreads, per-CPU statistics, NUMA and
 * scheduler parameters, job statistics. Added to {@link Domain} by module augmentation. CPU maps
 * are Buffers of `maplen` bytes per map, bit N of the map being host CPU N (VIR_CPU_USED).
 */
import koffi from 'koffi';
import { Domain } from './domain.js';
import { exactPtr } from './domain-monitor.js';
import { check, checkPtr } from './errors.js';
import { declareFunctions, libc, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';
import { addressOf, encodeParams, paramsBuffer, takeAllocatedParams, takeFilledParams, TYPED_PARAM_SIZE, typedParamsAt, u64, type TypedParam } from './typed-param-list.js';

type Size = number | bigint;

/** virVcpuInfo: `state` is virVcpuState (0 offline, 1 running, 2 blocked), `cpu` the host CPU */
export interface VcpuInfo { number: number; state: number; cpuTime: Size; cpu: number }
export interface IOThreadInfo { id: number; cpumap: Buffer }
/** virDomainJobInfo (sizes in bytes, times in ms) */
export interface JobInfo {
  type: number; timeElapsed: Size; timeRemaining: Size; dataTotal: Size; dataProcessed: Size; dataRemaining: Size;
  memTotal: Size; memProcessed: Size; memRemaining: Size; fileTotal: Size; fileProcessed: Size; fileRemaining: Size;
}

declare module './domain.js' {
  interface Domain {
    /** virDomainGetVcpus: at most `maxinfo` vCPUs with their affinity maps of `maplen` bytes each */
    vcpus(maxinfo: number, maplen: number): { info: VcpuInfo[]; cpumaps: Buffer[] };
    /** virDomainGetVcpusFlags (VIR_DOMAIN_AFFECT_*, VIR_DOMAIN_VCPU_MAXIMUM, VIR_DOMAIN_VCPU_GUEST) */
    vcpusFlags(flags: number): number;
    /** virDomainGetMaxVcpus */
    maxVcpus(): number;
    /** virDomainGetVcpuPinInfo: one map per vCPU, `ncpumaps` at most */
    vcpuPinInfo(ncpumaps: number, maplen: number, flags: number): Buffer[];
    /** virDomainGetEmulatorPinInfo */
    emulatorPinInfo(maplen: number, flags: number): Buffer;
    /** virDomainPinVcpu, or virDomainPinVcpuFlags when `flags` is given */
    pinVcpu(vcpu: number, cpumap: Buffer, flags?: number): void;
    /** virDomainPinEmulator */
    pinEmulator(cpumap: Buffer, flags: number): void;
    /** virDomainGetIOThreadInfo */
    ioThreadInfo(flags: number): IOThreadInfo[];
    /** virDomainGetCPUStats with no buffer: the host's CPU count (`ncpus` 0) or the number of statistics per CPU */
    cpuStatsCount(startCpu: number, ncpus: number): number;
    /**
     * virDomainGetCPUStats: `nparams` statistics for each of `ncpus` CPUs from `startCpu` (null for
     * a CPU not in the domain's map), or with `startCpu` -1 the totals (`filled` of them).
     */
    cpuStats(nparams: number, startCpu: number, ncpus: number): { filled: number; cpus: Array<TypedParam[] | null> };
    /** virDomainGetNumaParameters */
    numaParameters(flags: number): TypedParam[];
    /** virDomainGetSchedulerType: the scheduler's name and how many parameters it has */
    schedulerType(): { type: string; nparams: number };
    /** virDomainGetSchedulerParameters, or virDomainGetSchedulerParametersFlags when `flags` is given */
    schedulerParameters(nparams: number, flags?: number): TypedParam[];
    /** virDomainGetJobInfo */
    jobInfo(): JobInfo;
    /** virDomainGetJobStats: the job type (virDomainJobType) and its statistics */
    jobStats(flags: number): { type: number; params: TypedParam[] };
    /** virDomainSetNumaParameters */
    setNumaParameters(params: readonly TypedParam[], flags: number): void;
    /** virDomainSetSchedulerParameters, or virDomainSetSchedulerParametersFlags when `flags` is given */
    setSchedulerParameters(params: readonly TypedParam[], flags?: number): void;
    /** virDomainGetLaunchSecurityInfo */
    launchSecurityInfo(flags?: number): TypedParam[];
  }
}

interface Fns {
  virDomainGetVcpus(d: Ptr, info: Buffer, maxinfo: number, cpumaps: Buffer, maplen: number): number;
  virDomainGetVcpusFlags(d: Ptr, flags: number): number;
  virDomainGetMaxVcpus(d: Ptr): number;
  virDomainGetVcpuPinInfo(d: Ptr, ncpumaps: number, cpumaps: Buffer, maplen: number, flags: number): number;
  virDomainGetEmulatorPinInfo(d: Ptr, cpumap: Buffer, maplen: number, flags: number): number;
  virDomainPinVcpu(d: Ptr, vcpu: number, cpumap: Buffer, maplen: number): number;
  virDomainPinVcpuFlags(d: Ptr, vcpu: number, cpumap: Buffer, maplen: number, flags: number): number;
  virDomainPinEmulator(d: Ptr, cpumap: Buffer, maplen: number, flags: number): number;
  virDomainGetIOThreadInfo(d: Ptr, info: Buffer, flags: number): number;
  virDomainIOThreadInfoFree(info: Ptr): void;
  virDomainGetCPUStats(d: Ptr, params: Buffer | null, nparams: number, start: number, ncpus: number, flags: number): number;
  virDomainGetNumaParameters(d: Ptr, params: Buffer | null, n: Buffer, flags: number): number;
  virDomainGetSchedulerType(d: Ptr, n: Buffer): Ptr | null;
  virDomainGetSchedulerParameters(d: Ptr, params: Buffer, n: Buffer): number;
  virDomainGetSchedulerParametersFlags(d: Ptr, params: Buffer, n: Buffer, flags: number): number;
  virDomainSetNumaParameters(d: Ptr, params: Buffer, n: number, flags: number): number;
  virDomainSetSchedulerParameters(d: Ptr, params: Buffer, n: number): number;
  virDomainSetSchedulerParametersFlags(d: Ptr, params: Buffer, n: number, flags: number): number;
  virDomainGetJobInfo(d: Ptr, info: Buffer): number;
  virDomainGetJobStats(d: Ptr, type: Buffer, params: Buffer, n: Buffer, flags: number): number;
  virDomainGetLaunchSecurityInfo(d: Ptr, params: Buffer, n: Buffer, flags: number): number;
}
const fns = declareFunctions<Fns>({
  virDomainGetVcpus: 'int virDomainGetVcpus(void *d, void *info, int maxinfo, void *cpumaps, int maplen)',
  virDomainGetVcpusFlags: 'int virDomainGetVcpusFlags(void *d, uint flags)',
  virDomainGetMaxVcpus: 'int virDomainGetMaxVcpus(void *d)',
  virDomainGetVcpuPinInfo: 'int virDomainGetVcpuPinInfo(void *d, int ncpumaps, void *cpumaps, int maplen, uint flags)',
  virDomainGetEmulatorPinInfo: 'int virDomainGetEmulatorPinInfo(void *d, void *cpumap, int maplen, uint flags)',
  virDomainPinVcpu: 'int virDomainPinVcpu(void *d, uint vcpu, void *cpumap, int maplen)',
  virDomainPinVcpuFlags: 'int virDomainPinVcpuFlags(void *d, uint vcpu, void *cpumap, int maplen, uint flags)',
  virDomainPinEmulator: 'int virDomainPinEmulator(void *d, void *cpumap, int maplen, uint flags)',
  virDomainGetIOThreadInfo: 'int virDomainGetIOThreadInfo(void *d, void *info, uint flags)',
  virDomainIOThreadInfoFree: 'void virDomainIOThreadInfoFree(void *info)',
  virDomainGetCPUStats: 'int virDomainGetCPUStats(void *d, void *params, uint nparams, int start, uint ncpus, uint flags)',
  virDomainGetNumaParameters: 'int virDomainGetNumaParameters(void *d, void *params, void *nparams, uint flags)',
  virDomainGetSchedulerType: 'void *virDomainGetSchedulerType(void *d, void *nparams)',
  virDomainGetSchedulerParameters: 'int virDomainGetSchedulerParameters(void *d, void *params, void *nparams)',
  virDomainGetSchedulerParametersFlags: 'int virDomainGetSchedulerParametersFlags(void *d, void *params, void *nparams, uint flags)',
  virDomainSetNumaParameters: 'int virDomainSetNumaParameters(void *d, void *params, int nparams, uint flags)',
  virDomainSetSchedulerParameters: 'int virDomainSetSchedulerParameters(void *d, void *params, int nparams)',
  virDomainSetSchedulerParametersFlags: 'int virDomainSetSchedulerParametersFlags(void *d, void *params, int nparams, uint flags)',
  virDomainGetJobInfo: 'int virDomainGetJobInfo(void *d, void *info)',
  virDomainGetJobStats: 'int virDomainGetJobStats(void *d, void *type, void *params, void *nparams, uint flags)',
  virDomainGetLaunchSecurityInfo: 'int virDomainGetLaunchSecurityInfo(void *d, void *params, void *nparams, uint flags)',
});

const ptrOf = (d: Domain): Ptr => LibvirtObject.pointerOf(d);
const slices = (b: Buffer, n: number, len: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(b.subarray(i * len, (i + 1) * len)));

Domain.prototype.vcpus = function (this: Domain, maxinfo: number, maplen: number) {
  const info = Buffer.alloc(Math.max(maxinfo, 1) * 24); // { uint number; int state; ull cpuTime; int cpu; }
  const maps = Buffer.alloc(Math.max(maxinfo * maplen, 1));
  const n = check(fns().virDomainGetVcpus(ptrOf(this), info, maxinfo, maps, maplen), 'virDomainGetVcpus');
  return {
    info: Array.from({ length: n }, (_, i) => ({ number: info.readUInt32LE(i * 24), state: info.readInt32LE(i * 24 + 4), cpuTime: u64(info, i * 24 + 8), cpu: info.readInt32LE(i * 24 + 16) })),
    cpumaps: slices(maps, n, maplen),
  };
};

Domain.prototype.vcpusFlags = function (this: Domain, flags: number): number {
  return check(fns().virDomainGetVcpusFlags(ptrOf(this), flags), 'virDomainGetVcpusFlags');
};

Domain.prototype.maxVcpus = function (this: Domain): number {
  return check(fns().virDomainGetMaxVcpus(ptrOf(this)), 'virDomainGetMaxVcpus');
};

Domain.prototype.vcpuPinInfo = function (this: Domain, ncpumaps: number, maplen: number, flags: number): Buffer[] {
  const maps = Buffer.alloc(Math.max(ncpumaps * maplen, 1));
  const n = check(fns().virDomainGetVcpuPinInfo(ptrOf(this), ncpumaps, maps, maplen, flags), 'virDomainGetVcpuPinInfo');
  return slices(maps, n, maplen);
};

Domain.prototype.emulatorPinInfo = function (this: Domain, maplen: number, flags: number): Buffer {
  const map = Buffer.alloc(maplen);
  check(fns().virDomainGetEmulatorPinInfo(ptrOf(this), map, maplen, flags), 'virDomainGetEmulatorPinInfo');
  return map;
};

Domain.prototype.pinVcpu = function (this: Domain, vcpu: number, cpumap: Buffer, flags?: number): void {
  if (flags === undefined) check(fns().virDomainPinVcpu(ptrOf(this), vcpu, cpumap, cpumap.length), 'virDomainPinVcpu');
  else check(fns().virDomainPinVcpuFlags(ptrOf(this), vcpu, cpumap, cpumap.length, flags), 'virDomainPinVcpuFlags');
};

Domain.prototype.pinEmulator = function (this: Domain, cpumap: Buffer, flags: number): void {
  check(fns().virDomainPinEmulator(ptrOf(this), cpumap, cpumap.length, flags), 'virDomainPinEmulator');
};

Domain.prototype.ioThreadInfo = function (this: Domain, flags: number): IOThreadInfo[] {
  const out = Buffer.alloc(8);
  const n = check(fns().virDomainGetIOThreadInfo(ptrOf(this), out, flags), 'virDomainGetIOThreadInfo');
  const arr = exactPtr(out.readBigUInt64LE(0));
  if (arr === null) return [];
  try {
    const infos = n > 0 ? (koffi.decode(arr, koffi.array('void *', n)) as Ptr[]) : [];
    return infos.map((p) => {
      try {
        // { uint iothread_id; uchar *cpumap; int cpumaplen; }
        const len = koffi.decode(p, 16, 'int') as number;
        const map = koffi.decode(p, 8, 'void *') as Ptr | null;
        const bytes = map === null || len <= 0 ? [] : (koffi.decode(map, koffi.array('uint8', len)) as number[]);
        return { id: koffi.decode(p, 0, 'uint') as number, cpumap: Buffer.from(bytes) };
      } finally {
        fns().virDomainIOThreadInfoFree(p);
      }
    });
  } finally {
    libc().free(arr);
  }
};

Domain.prototype.cpuStatsCount = function (this: Domain, startCpu: number, ncpus: number): number {
  return check(fns().virDomainGetCPUStats(ptrOf(this), null, 0, startCpu, ncpus, 0), 'virDomainGetCPUStats');
};

Domain.prototype.cpuStats = function (this: Domain, nparams: number, startCpu: number, ncpus: number) {
  const buf = paramsBuffer(nparams * ncpus);
  const filled = check(fns().virDomainGetCPUStats(ptrOf(this), buf, nparams, startCpu, ncpus, 0), 'virDomainGetCPUStats');
  const base = addressOf(buf);
  const cpus: Array<TypedParam[] | null> = [];
  try {
    for (let i = 0; i < ncpus; i++) {
      const at = i * nparams * TYPED_PARAM_SIZE;
      // an all-zero first slot is a CPU outside the domain's map (virsh: `params[i * nparams].type == 0`)
      if (buf.readInt32LE(at + 80) === 0) cpus.push(null);
      else cpus.push(typedParamsAt(base + BigInt(at), startCpu === -1 ? filled : nparams));
    }
  } finally {
    takeFilledParams(buf, 0); // releases the strings libvirt put in any slot
  }
  return { filled, cpus };
};

Domain.prototype.numaParameters = function (this: Domain, flags: number): TypedParam[] {
  const n = Buffer.alloc(4);
  check(fns().virDomainGetNumaParameters(ptrOf(this), null, n, flags), 'virDomainGetNumaParameters');
  if (n.readInt32LE(0) === 0) return [];
  const buf = paramsBuffer(n.readInt32LE(0));
  check(fns().virDomainGetNumaParameters(ptrOf(this), buf, n, flags), 'virDomainGetNumaParameters');
  return takeFilledParams(buf, n.readInt32LE(0));
};

Domain.prototype.schedulerType = function (this: Domain): { type: string; nparams: number } {
  const n = Buffer.alloc(4);
  const type = takeString(checkPtr(fns().virDomainGetSchedulerType(ptrOf(this), n), 'virDomainGetSchedulerType')) ?? '';
  return { type, nparams: n.readInt32LE(0) };
};

Domain.prototype.schedulerParameters = function (this: Domain, nparams: number, flags?: number): TypedParam[] {
  const n = Buffer.alloc(4);
  n.writeInt32LE(nparams, 0);
  const buf = paramsBuffer(nparams);
  if (flags === undefined) check(fns().virDomainGetSchedulerParameters(ptrOf(this), buf, n), 'virDomainGetSchedulerParameters');
  else check(fns().virDomainGetSchedulerParametersFlags(ptrOf(this), buf, n, flags), 'virDomainGetSchedulerParametersFlags');
  return takeFilledParams(buf, n.readInt32LE(0));
};

Domain.prototype.jobInfo = function (this: Domain): JobInfo {
  const b = Buffer.alloc(96); // { int type; ull timeElapsed … fileRemaining; }
  check(fns().virDomainGetJobInfo(ptrOf(this), b), 'virDomainGetJobInfo');
  const at = (i: number): Size => u64(b, 8 + i * 8);
  return {
    type: b.readInt32LE(0), timeElapsed: at(0), timeRemaining: at(1), dataTotal: at(2), dataProcessed: at(3), dataRemaining: at(4),
    memTotal: at(5), memProcessed: at(6), memRemaining: at(7), fileTotal: at(8), fileProcessed: at(9), fileRemaining: at(10),
  };
};

Domain.prototype.jobStats = function (this: Domain, flags: number): { type: number; params: TypedParam[] } {
  const type = Buffer.alloc(4);
  const out = Buffer.alloc(8);
  const n = Buffer.alloc(4);
  check(fns().virDomainGetJobStats(ptrOf(this), type, out, n, flags), 'virDomainGetJobStats');
  return { type: type.readInt32LE(0), params: takeAllocatedParams(exactPtr(out.readBigUInt64LE(0)), n.readInt32LE(0)) };
};

Domain.prototype.launchSecurityInfo = function (this: Domain, flags = 0): TypedParam[] {
  const out = Buffer.alloc(8);
  const n = Buffer.alloc(4);
  check(fns().virDomainGetLaunchSecurityInfo(ptrOf(this), out, n, flags), 'virDomainGetLaunchSecurityInfo');
  return takeAllocatedParams(exactPtr(out.readBigUInt64LE(0)), n.readInt32LE(0));
};

Domain.prototype.setNumaParameters = function (this: Domain, params: readonly TypedParam[], flags: number): void {
  const { buf, release } = encodeParams(params);
  try {
    check(fns().virDomainSetNumaParameters(ptrOf(this), buf, params.length, flags), 'virDomainSetNumaParameters');
  } finally {
    release();
  }
};

Domain.prototype.setSchedulerParameters = function (this: Domain, params: readonly TypedParam[], flags?: number): void {
  const { buf, release } = encodeParams(params);
  try {
    if (flags === undefined) check(fns().virDomainSetSchedulerParameters(ptrOf(this), buf, params.length), 'virDomainSetSchedulerParameters');
    else check(fns().virDomainSetSchedulerParametersFlags(ptrOf(this), buf, params.length, flags), 'virDomainSetSchedulerParametersFlags');
  } finally {
    release();
  }
};
