/**
 * Domain statistics as libvirt's QEMU driver gathers them (qemu_driver.c qemuDomainGetStats*,
 * qemuDomainBlocksStatsGather, qemuDomainMemoryStatsInternal, qemuDomainHelperGetVcpus), with
 * one difference that is the point of mpvirt: a disk's statistics come from the process that
 * really serves it — the remote QEMU's monitor for a disk on an isolated controller.
 *
 * Every function here only reads (monitors and /proc); the callers decide about jobs.
 */
import type { DiskDef, DomainDef, InterfaceDef } from '../domainxml/model.js';
import type { QmpClient } from '../emulator/qmp.js';
import { MpvirtError } from '../errors.js';
import { tp, type TypedParam } from '../typed-params.js';
import type { DomainObject } from './domain-object.js';
import { monitorForDisk } from './media.js';
import { hostThreadIds, readAffinity, readSchedDelay, readSchedWait, readThreadStat } from './proc-stats.js';

/** virDomainStatsTypes */
export const StatsGroup = { STATE: 1, CPU_TOTAL: 2, BALLOON: 4, VCPU: 8, INTERFACE: 16, BLOCK: 32, PERF: 64, IOTHREAD: 128, MEMORY: 256, DIRTYRATE: 512, VM: 1024 } as const;
export const ALL_STATS_GROUPS = 2047;

export interface BlockCounters {
  rd_req: bigint; rd_bytes: bigint; wr_req: bigint; wr_bytes: bigint; flush_req: bigint;
  rd_total_times: bigint; wr_total_times: bigint; flush_total_times: bigint;
}

interface QmpBlockStats {
  device?: string; qdev?: string; 'node-name'?: string;
  stats?: Partial<Record<'rd_bytes' | 'wr_bytes' | 'rd_operations' | 'wr_operations' | 'flush_operations' | 'rd_total_time_ns' | 'wr_total_time_ns' | 'flush_total_time_ns' | 'wr_highest_offset', number>>;
}
interface QmpCpu { 'cpu-index': number; 'thread-id': number; 'qom-path'?: string }

const disksOf = (def: DomainDef): DiskDef[] => def.devices.filter((d): d is DiskDef => d.kind === 'disk');
const nodeIndexOf = (disk: DiskDef): number | undefined => {
  const v = Number(disk.source?.extra.attrs.find((a) => a.name === 'index')?.value);
  return Number.isInteger(v) ? v : undefined;
};

function counters(s: QmpBlockStats['stats'] = {}): BlockCounters {
  const n = (v: number | undefined): bigint => BigInt(v ?? 0);
  return {
    rd_req: n(s.rd_operations), rd_bytes: n(s.rd_bytes), wr_req: n(s.wr_operations), wr_bytes: n(s.wr_bytes), flush_req: n(s.flush_operations),
    rd_total_times: n(s.rd_total_time_ns), wr_total_times: n(s.wr_total_time_ns), flush_total_times: n(s.flush_total_time_ns),
  };
}

/** query-blockstats of each distinct monitor once, keyed by monitor. */
class BlockStatsCache {
  private readonly stats = new Map<QmpClient, Promise<QmpBlockStats[]>>();
  blockstats(qmp: QmpClient): Promise<QmpBlockStats[]> {
    let p = this.stats.get(qmp);
    if (!p) this.stats.set(qmp, (p = qmp.execute<QmpBlockStats[]>('query-blockstats')));
    return p;
  }
}

/** The frontend's entry: QEMU names a device with an id by it (`qdev`), others by QOM path. */
function frontendEntry(all: QmpBlockStats[], alias: string | undefined): QmpBlockStats | undefined {
  if (!alias) return undefined;
  return all.find((e) => e.qdev === alias || e.qdev === `/machine/peripheral/${alias}/virtio-backend` || e.device === `drive-${alias}`);
}

/**
 * virDomainBlockStats(Flags): one disk by target or source path, or (an empty path) the sum of
 * every disk, each from the QEMU that serves it.
 */
export async function blockCounters(obj: DomainObject, path: string): Promise<BlockCounters> {
  const def = runningDef(obj);
  const cache = new BlockStatsCache();
  if (path !== '') {
    const disk = disksOf(def).find((d) => d.target.dev === path || d.source?.path === path);
    if (!disk) throw new MpvirtError('VIR_ERR_INVALID_ARG', `invalid path: ${path}`);
    if (!disk.alias) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `missing disk device alias name for ${disk.target.dev}`);
    const entry = frontendEntry(await cache.blockstats(monitorForDisk(obj, def, disk)), disk.alias);
    if (!entry) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot find statistics for device '${disk.alias}'`);
    return counters(entry.stats);
  }
  const sum = counters();
  for (const disk of disksOf(def)) {
    let entry: QmpBlockStats | undefined;
    try {
      entry = frontendEntry(await cache.blockstats(monitorForDisk(obj, def, disk)), disk.alias);
    } catch {
      continue; // a disk whose remote is down adds nothing to the sum
    }
    const c = counters(entry?.stats);
    for (const k of Object.keys(sum) as Array<keyof BlockCounters>) sum[k] += c[k];
  }
  return sum;
}

export function runningDef(obj: DomainObject): DomainDef {
  if (!obj.active || !obj.runtime) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
  return obj.liveDef ?? obj.def;
}

// ------------------------------------------------------------------ memory

/** virDomainMemoryStatTags */
export const MemStat = { SWAP_IN: 0, SWAP_OUT: 1, MAJOR_FAULT: 2, MINOR_FAULT: 3, UNUSED: 4, AVAILABLE: 5, ACTUAL_BALLOON: 6, RSS: 7, USABLE: 8, LAST_UPDATE: 9, DISK_CACHES: 10, HUGETLB_PGALLOC: 11, HUGETLB_PGFAIL: 12 } as const;
export interface MemoryStat { tag: number; val: bigint }

/** The balloon's guest-stats keys in libvirt's order, with their divisor (bytes → KiB). */
const BALLOON_STATS: ReadonlyArray<readonly [string, number, bigint, 'stats' | 'top']> = [
  ['stat-swap-in', MemStat.SWAP_IN, 1024n, 'stats'], ['stat-swap-out', MemStat.SWAP_OUT, 1024n, 'stats'],
  ['stat-major-faults', MemStat.MAJOR_FAULT, 1n, 'stats'], ['stat-minor-faults', MemStat.MINOR_FAULT, 1n, 'stats'],
  ['stat-free-memory', MemStat.UNUSED, 1024n, 'stats'], ['stat-total-memory', MemStat.AVAILABLE, 1024n, 'stats'],
  ['stat-available-memory', MemStat.USABLE, 1024n, 'stats'], ['last-update', MemStat.LAST_UPDATE, 1n, 'top'],
  ['stat-disk-caches', MemStat.DISK_CACHES, 1024n, 'stats'], ['stat-htlb-pgalloc', MemStat.HUGETLB_PGALLOC, 1n, 'stats'],
  ['stat-htlb-pgfail', MemStat.HUGETLB_PGFAIL, 1n, 'stats'],
];

export function hasBalloon(def: DomainDef): boolean {
  return def.devices.some((d) => d.kind === 'memballoon' && d.model !== 'none');
}
const balloonAlias = (def: DomainDef): string => def.devices.find((d) => d.kind === 'memballoon')?.alias ?? 'balloon0';

/**
 * qemuDomainMemoryStatsInternal: the balloon's size (query-balloon), what the guest driver
 * reported (-1: not collected, left out), then the main QEMU's resident memory.
 */
export async function memoryStats(obj: DomainObject, max: number, opts: { actual?: boolean } = {}): Promise<MemoryStat[]> {
  const def = runningDef(obj);
  const qmp = obj.runtime!.main.qmp;
  const out: MemoryStat[] = [];
  if (hasBalloon(def)) {
    const b = opts.actual === false ? undefined : await qmp.execute<{ actual: number }>('query-balloon').catch(() => undefined);
    if (b) out.push({ tag: MemStat.ACTUAL_BALLOON, val: BigInt(b.actual) / 1024n });
    const g = await qmp.execute<{ stats?: Record<string, number>; 'last-update'?: number }>('qom-get', { path: `/machine/peripheral/${balloonAlias(def)}`, property: 'guest-stats' }).catch(() => undefined);
    if (g?.stats) {
      for (const [key, tag, div, where] of BALLOON_STATS) {
        const v = where === 'top' ? g['last-update'] : g.stats[key];
        // not collected: QEMU sends u64 -1, which JSON.parse rounds up to 2^64
        if (typeof v === 'number' && v >= 0 && v < 2 ** 63) out.push({ tag, val: BigInt(v) / div });
      }
    }
  }
  const st = readThreadStat(obj.runtime!.main.handle.pid);
  if (st) out.push({ tag: MemStat.RSS, val: st.rssKiB });
  return out.slice(0, max);
}

// ------------------------------------------------------------------ vCPUs

export interface VcpuInfo {
  number: number;
  /** VIR_VCPU_RUNNING */
  state: number;
  cpuTimeNs: bigint;
  cpu: number;
  affinity: number[];
  waitNs: bigint;
  delayNs: bigint;
}

/**
 * The main QEMU's vCPU threads (query-cpus-fast, mapped to host thread ids), kept per run: they
 * change only when a vCPU is plugged, which forgets them. A poller then costs no monitor call and
 * no scan of /proc/PID/task for them.
 */
const vcpuThreadCache = new WeakMap<object, Promise<Array<{ index: number; tid: number }>>>();

export function forgetVcpuThreads(rt: object): void {
  vcpuThreadCache.delete(rt);
}

function vcpuThreads(obj: DomainObject): Promise<Array<{ index: number; tid: number }>> {
  const rt = obj.runtime!;
  let p = vcpuThreadCache.get(rt);
  if (!p) {
    p = rt.main.qmp.execute<QmpCpu[]>('query-cpus-fast').then((cpus) => {
      const hostTid = hostThreadIds(rt.main.handle.pid);
      return [...cpus].sort((a, b) => a['cpu-index'] - b['cpu-index']).map((c) => ({ index: c['cpu-index'], tid: hostTid.get(c['thread-id']) ?? c['thread-id'] }));
    });
    p.catch(() => vcpuThreadCache.delete(rt));
    vcpuThreadCache.set(rt, p);
  }
  return p;
}

/** qemuDomainHelperGetVcpus: each online vCPU's thread, as the host sees it. */
export async function vcpuInfo(obj: DomainObject, opts: { affinity?: boolean } = {}): Promise<VcpuInfo[]> {
  runningDef(obj);
  const pid = obj.runtime!.main.handle.pid;
  const out: VcpuInfo[] = [];
  for (const { index, tid } of await vcpuThreads(obj)) {
    const st = readThreadStat(pid, tid);
    if (!st) throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', 'cannot get vCPU placement & pCPU time');
    out.push({ number: index, state: 1, cpuTimeNs: st.cpuNs, cpu: st.processor, affinity: opts.affinity === false ? [] : readAffinity(pid, tid) ?? [], waitNs: readSchedWait(pid, tid), delayNs: readSchedDelay(pid, tid) });
  }
  return out;
}

// ------------------------------------------------------------------ virConnectGetAllDomainStats groups

/** Every process of the domain: the main QEMU and its remotes (their CPU is the guest's too). */
function domainPids(obj: DomainObject): number[] {
  const rt = obj.runtime;
  return rt ? [rt.main.handle.pid, ...rt.remotes.filter((r) => r.supervisor.state === 'running').map((r) => r.handle.pid)] : [];
}

async function cpuGroup(obj: DomainObject, out: TypedParam[]): Promise<void> {
  if (!obj.active) return;
  let time = 0n, user = 0n, system = 0n;
  for (const pid of domainPids(obj)) {
    const st = readThreadStat(pid);
    if (!st) continue;
    time += st.cpuNs;
    user += st.userNs;
    system += st.systemNs;
  }
  out.push(tp.ullong('cpu.time', time), tp.ullong('cpu.user', user), tp.ullong('cpu.system', system));
  out.push(tp.uint('cpu.cache.monitor.count', 0)); // no resctrl monitors are ever set up
  // halt polling is KVM's: under TCG query-stats answers an empty list, which libvirt sums to 0
  if ((obj.liveDef ?? obj.def).type !== 'kvm') {
    out.push(tp.ullong('cpu.haltpoll.success.time', 0n), tp.ullong('cpu.haltpoll.fail.time', 0n));
    return;
  }
  const stats = await obj.runtime!.main.qmp
    .execute<Array<{ stats: Array<{ name: string; value: number }> }>>('query-stats', { target: 'vcpu', providers: [{ provider: 'kvm', names: ['halt_poll_success_ns', 'halt_poll_fail_ns'] }] })
    .catch(() => undefined);
  if (!stats) return;
  let ok = 0n, fail = 0n;
  for (const s of stats) {
    ok += BigInt(s.stats.find((x) => x.name === 'halt_poll_success_ns')?.value ?? 0);
    fail += BigInt(s.stats.find((x) => x.name === 'halt_poll_fail_ns')?.value ?? 0);
  }
  out.push(tp.ullong('cpu.haltpoll.success.time', ok), tp.ullong('cpu.haltpoll.fail.time', fail));
}

function memoryKiB(def: DomainDef): bigint {
  return BigInt(def.memory.kib);
}

async function balloonGroup(obj: DomainObject, out: TypedParam[]): Promise<void> {
  const def = obj.liveDef ?? obj.def;
  const current = hasBalloon(def) ? BigInt(def.currentMemory?.kib ?? def.memory.kib) : memoryKiB(def);
  out.push(tp.ullong('balloon.current', current), tp.ullong('balloon.maximum', memoryKiB(def)));
  if (!obj.active) return;
  const names: Record<number, string> = {
    [MemStat.SWAP_IN]: 'swap_in', [MemStat.SWAP_OUT]: 'swap_out', [MemStat.MAJOR_FAULT]: 'major_fault', [MemStat.MINOR_FAULT]: 'minor_fault',
    [MemStat.UNUSED]: 'unused', [MemStat.AVAILABLE]: 'available', [MemStat.RSS]: 'rss', [MemStat.LAST_UPDATE]: 'last-update',
    [MemStat.USABLE]: 'usable', [MemStat.DISK_CACHES]: 'disk_caches', [MemStat.HUGETLB_PGALLOC]: 'hugetlb_pgalloc', [MemStat.HUGETLB_PGFAIL]: 'hugetlb_pgfail',
  };
  // balloon.* has no "actual" (balloon.current is the event-tracked size): no query-balloon per poll
  for (const s of await memoryStats(obj, 13, { actual: false }).catch(() => [])) {
    const n = names[s.tag];
    if (n) out.push(tp.ullong(`balloon.${n}`, s.val));
  }
}

async function vcpuGroup(obj: DomainObject, out: TypedParam[]): Promise<void> {
  const def = obj.liveDef ?? obj.def;
  out.push(tp.uint('vcpu.current', def.vcpu.current ?? def.vcpu.count), tp.uint('vcpu.maximum', def.vcpu.count));
  if (!obj.active) return;
  const info = await vcpuInfo(obj, { affinity: false }).catch(() => undefined);
  for (const v of info ?? []) {
    out.push(tp.int(`vcpu.${v.number}.state`, v.state), tp.ullong(`vcpu.${v.number}.time`, v.cpuTimeNs), tp.ullong(`vcpu.${v.number}.wait`, v.waitNs), tp.ullong(`vcpu.${v.number}.delay`, v.delayNs));
  }
}

/** A NIC's host-side name (the live XML's `<target dev>`), when it has one. */
export function interfaceHostName(dev: InterfaceDef): string | undefined {
  return dev.target?.dev;
}

function interfaceGroup(obj: DomainObject, out: TypedParam[], readTap: (ifname: string) => InterfaceCounters | undefined): void {
  if (!obj.active) return;
  const nets = (obj.liveDef ?? obj.def).devices.filter((d): d is InterfaceDef => d.kind === 'interface');
  out.push(tp.uint('net.count', nets.length));
  nets.forEach((n, i) => {
    const ifname = interfaceHostName(n);
    if (!ifname) return; // user-mode networking has no host interface, as in libvirt
    out.push(tp.string(`net.${i}.name`, ifname));
    const c = readTap(ifname);
    if (!c) return;
    for (const [k, v] of Object.entries(c)) out.push(tp.ullong(`net.${i}.${k}`, v));
  });
}

export interface InterfaceCounters { 'rx.bytes': bigint; 'rx.pkts': bigint; 'rx.errs': bigint; 'rx.drop': bigint; 'tx.bytes': bigint; 'tx.pkts': bigint; 'tx.errs': bigint; 'tx.drop': bigint }

async function blockGroup(obj: DomainObject, out: TypedParam[], imageSizes: (disk: DiskDef) => Promise<{ allocation: bigint; capacity: bigint; physical: bigint } | undefined>): Promise<void> {
  const def = obj.liveDef ?? obj.def;
  const disks = disksOf(def);
  out.push(tp.uint('block.count', disks.length));
  const cache = new BlockStatsCache();
  for (const [i, disk] of disks.entries()) {
    out.push(tp.string(`block.${i}.name`, disk.target.dev));
    if (disk.source) out.push(tp.string(`block.${i}.path`, disk.source.path));
    const index = obj.active ? nodeIndexOf(disk) : undefined;
    if (index !== undefined) out.push(tp.uint(`block.${i}.backingIndex`, index));
    if (!obj.active || !obj.runtime) {
      const sz = disk.source ? await imageSizes(disk).catch(() => undefined) : undefined;
      if (sz?.allocation) out.push(tp.ullong(`block.${i}.allocation`, sz.allocation));
      if (sz?.capacity) out.push(tp.ullong(`block.${i}.capacity`, sz.capacity));
      if (sz?.physical) out.push(tp.ullong(`block.${i}.physical`, sz.physical));
      continue;
    }
    let qmp: QmpClient;
    try {
      qmp = monitorForDisk(obj, def, disk);
    } catch {
      continue; // its remote is down: nothing to report but its name
    }
    const entry = frontendEntry(await cache.blockstats(qmp).catch(() => []), disk.alias);
    if (entry) {
      const c = counters(entry.stats);
      out.push(
        tp.ullong(`block.${i}.rd.reqs`, c.rd_req), tp.ullong(`block.${i}.rd.bytes`, c.rd_bytes), tp.ullong(`block.${i}.rd.times`, c.rd_total_times),
        tp.ullong(`block.${i}.wr.reqs`, c.wr_req), tp.ullong(`block.${i}.wr.bytes`, c.wr_bytes), tp.ullong(`block.${i}.wr.times`, c.wr_total_times),
        tp.ullong(`block.${i}.fl.reqs`, c.flush_req), tp.ullong(`block.${i}.fl.times`, c.flush_total_times),
      );
    }
    if (index === undefined) continue;
    // QEMU's sizes of a file image are the file's own (virtual size from the image, allocated
    // size st_blocks): read here, not from query-named-block-nodes, which costs a large reply per poll
    const all = await cache.blockstats(qmp).catch(() => []);
    const highest = all.find((e) => e['node-name'] === `libvirt-${index}-format`)?.stats?.wr_highest_offset ?? entry?.stats?.wr_highest_offset ?? 0;
    out.push(tp.ullong(`block.${i}.allocation`, BigInt(highest)));
    const sz = await imageSizes(disk).catch(() => undefined);
    if (sz?.capacity) out.push(tp.ullong(`block.${i}.capacity`, sz.capacity));
    // no allocated size: the image's own size, as qemuDomainStorageUpdatePhysical stats it
    const physical = sz ? (sz.allocation > 0n ? sz.allocation : sz.physical) : 0n;
    if (physical) out.push(tp.ullong(`block.${i}.physical`, physical));
  }
}

interface DirtyRate { status: string; 'start-time': number; 'calc-time': number; mode?: string; 'dirty-rate'?: number }

/**
 * query-dirty-rate's answer per main QEMU while no calculation was ever started: mpvirtd starts
 * none itself, so only a monitor command passed through can change it (which forgets it). Until
 * then a poller costs no monitor call for this group.
 */
const idleDirtyRate = new WeakMap<QmpClient, Promise<DirtyRate>>();

export function forgetDirtyRate(qmp: QmpClient): void {
  idleDirtyRate.delete(qmp);
}

async function dirtyRateGroup(obj: DomainObject, out: TypedParam[]): Promise<void> {
  if (!obj.active || !obj.runtime) return;
  const qmp = obj.runtime.main.qmp;
  let p = idleDirtyRate.get(qmp);
  if (!p) {
    p = qmp.execute<DirtyRate>('query-dirty-rate');
    idleDirtyRate.set(qmp, p);
    p.then((r) => { if (r.status !== 'unstarted') idleDirtyRate.delete(qmp); }, () => idleDirtyRate.delete(qmp));
  }
  const r = await p;
  const status = ({ unstarted: 0, measuring: 1, measured: 2 } as Record<string, number>)[r.status] ?? 0;
  out.push(tp.int('dirtyrate.calc_status', status), tp.llong('dirtyrate.calc_start_time', r['start-time']), tp.int('dirtyrate.calc_period', r['calc-time']), tp.string('dirtyrate.calc_mode', r.mode ?? 'page-sampling'));
  if (status === 2 && r['dirty-rate'] !== undefined) out.push(tp.llong('dirtyrate.megabytes_per_second', r['dirty-rate']));
}

export interface StatsSources {
  imageSizes(disk: DiskDef): Promise<{ allocation: bigint; capacity: bigint; physical: bigint } | undefined>;
  tapCounters(ifname: string): InterfaceCounters | undefined;
}

/** One domain's record of virConnectGetAllDomainStats, groups in libvirt's order. */
export async function domainStatsRecord(obj: DomainObject, groups: number, src: StatsSources): Promise<TypedParam[]> {
  const out: TypedParam[] = [];
  if (groups & StatsGroup.STATE) out.push(tp.int('state.state', obj.state.state), tp.int('state.reason', obj.state.reason));
  if (groups & StatsGroup.CPU_TOTAL) await cpuGroup(obj, out);
  if (groups & StatsGroup.BALLOON) await balloonGroup(obj, out);
  if (groups & StatsGroup.VCPU) await vcpuGroup(obj, out);
  if (groups & StatsGroup.INTERFACE) interfaceGroup(obj, out, src.tapCounters);
  if (groups & StatsGroup.BLOCK) await blockGroup(obj, out, src.imageSizes);
  // PERF: no perf events are ever enabled; IOTHREAD: no <iothreads>; MEMORY: no resctrl; VM: KVM's
  if (groups & StatsGroup.DIRTYRATE) await dirtyRateGroup(obj, out).catch(() => {});
  return out;
}
