/**
 * What libvirt reads of a QEMU process and its vCPU threads from /proc (virprocess.c,
 * qemu_driver.c): CPU time split into user and system, the CPU a thread last ran on, resident
 * memory, the scheduler's wait and delay times, CPU affinity. Parsers are pure (tested on fixed
 * text); the readers only read those files and answer undefined for a process that is gone.
 *
 * mpvirtd's QEMUs run in pid namespaces of their own, so QEMU names its vCPU threads by their
 * ids inside (query-cpus-fast); `hostThreadIds` maps them to the host's through NSpid.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** sysconf(_SC_CLK_TCK) is 100 on every Linux architecture libvirt runs on */
const TICK_NS = 10_000_000n;
const PAGE_KIB = 4n;

export interface ThreadStat {
  /** utime + stime, user, system: nanoseconds */
  cpuNs: bigint;
  userNs: bigint;
  systemNs: bigint;
  /** field 39: the CPU it last ran on */
  processor: number;
  /** field 24, in KiB */
  rssKiB: bigint;
}

/** /proc/PID[/task/TID]/stat text → the fields virProcessGetStatInfo reads. */
export function parseThreadStat(text: string): ThreadStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).trim().split(' ');
  // f[0] is field 3 (state): field N is f[N - 3]
  const num = (n: number): bigint | undefined => (/^-?\d+$/.test(f[n - 3] ?? '') ? BigInt(f[n - 3]!) : undefined);
  const [utime, stime, rss, cpu] = [num(14), num(15), num(24), num(39)];
  if (utime === undefined || stime === undefined || rss === undefined || cpu === undefined) return undefined;
  return { cpuNs: (utime + stime) * TICK_NS, userNs: utime * TICK_NS, systemNs: stime * TICK_NS, processor: Number(cpu), rssKiB: rss * PAGE_KIB };
}

/** schedstat's second number: time spent waiting on a run queue (qemuGetSchedstatDelay). */
export function parseSchedstatDelay(text: string): bigint | undefined {
  const m = /^\d+ (\d+)/.exec(text);
  return m ? BigInt(m[1]!) : undefined;
}

/**
 * sched's `se.statistics.wait_sum` (or `se.wait_sum`), in ms with six decimals, as nanoseconds
 * (virProcessGetSchedInfo); 0 when the kernel does not keep it.
 */
export function parseSchedWaitSum(text: string): bigint {
  for (const line of text.split('\n')) {
    if (!line.startsWith('se.statistics.wait_sum') && !line.startsWith('se.wait_sum')) continue;
    const value = line.slice(line.indexOf(':') + 1).trim();
    const m = /^(\d+)(?:\.(\d{1,6}))?/.exec(value);
    if (!m) return 0n;
    return BigInt(m[1]!) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
  }
  return 0n;
}

/** `Cpus_allowed_list: 0-1,4` → [0, 1, 4] */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** status text → the thread's ids from the outermost namespace inwards (NSpid). */
export function parseNsPids(status: string): number[] {
  const m = /^NSpid:\s+(.*)$/m.exec(status);
  return m ? m[1]!.trim().split(/\s+/).map(Number) : [];
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const taskPath = (pid: number, tid?: number): string => (tid === undefined ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`);

export function readThreadStat(pid: number, tid?: number): ThreadStat | undefined {
  const t = read(`${taskPath(pid, tid)}/stat`);
  return t === undefined ? undefined : parseThreadStat(t);
}

/** 0 when the kernel keeps no schedstat (CONFIG_SCHED_INFO), as libvirt reports it. */
export function readSchedDelay(pid: number, tid?: number): bigint {
  const t = read(`${taskPath(pid, tid)}/schedstat`);
  return (t === undefined ? undefined : parseSchedstatDelay(t)) ?? 0n;
}

export function readSchedWait(pid: number, tid?: number): bigint {
  const t = read(`${taskPath(pid, tid)}/sched`);
  return t === undefined ? 0n : parseSchedWaitSum(t);
}

export function readAffinity(pid: number, tid?: number): number[] | undefined {
  const m = /^Cpus_allowed_list:\s+(.*)$/m.exec(read(`${taskPath(pid, tid)}/status`) ?? '');
  return m ? parseCpuList(m[1]!) : undefined;
}

/**
 * The host thread ids of `pid`'s threads, keyed by their id in the process's own (innermost)
 * pid namespace: what QEMU's query-cpus-fast calls `thread-id`.
 */
export function hostThreadIds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    const ns = parseNsPids(read(`/proc/${pid}/task/${t}/status`) ?? '');
    if (ns.length > 0) out.set(ns[ns.length - 1]!, ns[0]!);
  }
  return out;
}
