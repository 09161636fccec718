/**
 * Host statistics as libvirt's virhostmem.c / virhostcpu.c read them on Linux: `virsh nodememstats`
 * (/proc/meminfo, or a NUMA node's meminfo), `nodecpustats` (/proc/stat, nanoseconds), `freecell`
 * (free memory per NUMA node and in all). Parsing is pure (tested on fixed text); the readers only
 * read those files.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { checkFlags, MpvirtError } from '../errors.js';

export interface StatParam { field: string; value: bigint }

const MEMINFO_FIELDS: ReadonlyArray<readonly [string, string]> = [['MemTotal:', 'total'], ['MemFree:', 'free'], ['Buffers:', 'buffers'], ['Cached:', 'cached']];
const NODE_DIR = '/sys/devices/system/node';
/** sysconf(_SC_CLK_TCK) is 100 on every Linux architecture libvirt runs on */
const TICK_TO_NSEC = 10_000_000n;

/** The NUMA nodes, ascending (libvirt claims one cell when the host has no NUMA sysfs). */
export function numaNodes(): number[] {
  try {
    return readdirSync(NODE_DIR).map((n) => /^node(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** meminfo text (the host's or a node's `Node N …` lines) → libvirt's params, in file order. */
export function parseMeminfo(text: string, count: number): StatParam[] {
  const out: StatParam[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.startsWith('Node ') ? raw.split(' ').slice(2).join(' ').trimStart() : raw;
    const m = /^(\S+)\s+(\d+) kB/.exec(line);
    const f = m ? MEMINFO_FIELDS.find(([hdr]) => hdr === m[1]) : undefined;
    if (!m || !f) continue;
    out.push({ field: f[1], value: BigInt(m[2]!) });
    if (out.length >= count) break;
  }
  if (out.length === 0) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'no available memory line found');
  return out;
}

/** virNodeGetMemoryStats; `nparams` 0 asks how many there are. */
export function nodeMemoryStats(cellNum: number, nparams: number, flags: number): { params: StatParam[]; nparams: number } {
  checkFlags(flags, 0, 'virHostMemGetStats');
  const nodes = numaNodes();
  const cell = nodes.length === 0 && cellNum === 0 ? -1 : cellNum;
  const count = cell === -1 ? 4 : 2;
  let path = '/proc/meminfo';
  if (cell !== -1) {
    // checked before the count is answered, as libvirt does
    const max = nodes.at(-1) ?? 0;
    if (cell < 0 || cell > max) throw new MpvirtError('VIR_ERR_INVALID_ARG_BARE', `cellNum in virHostMemGetStats must be less than or equal to ${max}`);
    path = `${NODE_DIR}/node${cell}/meminfo`;
  }
  if (nparams === 0) return { params: [], nparams: count };
  if (nparams !== count) throw new MpvirtError('VIR_ERR_INVALID_ARG_BARE', `nparams in virHostMemGetStatsLinux must be ${count}`);
  const params = parseMeminfo(readText(path), count);
  return { params, nparams: params.length };
}

/** /proc/stat's `cpu` (or `cpuN`) line → kernel, user, idle, iowait in nanoseconds. */
export function parseProcStat(text: string, cpuNum: number): StatParam[] {
  const header = cpuNum === -1 ? 'cpu ' : `cpu${cpuNum} `;
  for (const line of text.split('\n')) {
    if (!line.startsWith(header)) continue;
    const v = line.trim().split(/\s+/).slice(1).map((x) => BigInt(x));
    if (v.length < 4) continue;
    const [usr, ni, sys, idle, iowait = 0n, irq = 0n, softirq = 0n] = v as [bigint, bigint, bigint, bigint, bigint?, bigint?, bigint?];
    return [
      { field: 'kernel', value: (sys + irq + softirq) * TICK_TO_NSEC },
      { field: 'user', value: (usr + ni) * TICK_TO_NSEC },
      { field: 'idle', value: idle * TICK_TO_NSEC },
      { field: 'iowait', value: iowait * TICK_TO_NSEC },
    ];
  }
  throw new MpvirtError('VIR_ERR_INVALID_ARG_BARE', 'Invalid cpuNum in virHostCPUGetStatsLinux');
}

/** virNodeGetCPUStats */
export function nodeCpuStats(cpuNum: number, nparams: number, flags: number): { params: StatParam[]; nparams: number } {
  checkFlags(flags, 0, 'virHostCPUGetStats');
  if (nparams === 0) return { params: [], nparams: 4 };
  if (nparams !== 4) throw new MpvirtError('VIR_ERR_INVALID_ARG_BARE', 'nparams in virHostCPUGetStatsLinux must be equal to 4');
  return { params: parseProcStat(readText('/proc/stat'), cpuNum), nparams: 4 };
}

const nodeFree = (n: number): bigint => (parseMeminfo(readText(`${NODE_DIR}/node${n}/meminfo`), 2).find((p) => p.field === 'free')?.value ?? 0n) * 1024n;
const hostFree = (): bigint => (parseMeminfo(readText('/proc/meminfo'), 4).find((p) => p.field === 'free')?.value ?? 0n) * 1024n;

/** virNodeGetCellsFreeMemory: free bytes of cells startCell… (one cell without NUMA). */
export function cellsFreeMemory(startCell: number, maxCells: number): bigint[] {
  const nodes = numaNodes();
  const max = nodes.length === 0 ? 0 : nodes.at(-1)!;
  if (startCell < 0 || startCell > max) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `start cell ${startCell} out of range (0-${max})`);
  const last = Math.min(startCell + maxCells - 1, max);
  const out: bigint[] = [];
  for (let n = startCell; n <= last; n++) out.push(nodes.length === 0 ? hostFree() : nodes.includes(n) ? nodeFree(n) : 0n);
  return out;
}

/** virNodeGetFreeMemory: free bytes in all cells. */
export function freeMemory(): bigint {
  const nodes = numaNodes();
  return nodes.length === 0 ? hostFree() : nodes.reduce((sum, n) => sum + nodeFree(n), 0n);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * virNodeGetInfo's memory and clock as libvirt reads them: the sum of the NUMA nodes' MemTotal
 * when the host has NUMA sysfs (virHostMemGetInfo), else /proc/meminfo's; the last `cpu MHz` of
 * /proc/cpuinfo, truncated (virHostCPUParseFrequency).
 */
export function nodeMemoryKiB(): bigint {
  const nodes = numaNodes();
  if (nodes.length === 0) return parseMeminfo(readText('/proc/meminfo'), 1)[0]!.value;
  let sum = 0n;
  for (const n of nodes) sum += parseMeminfo(readText(`${NODE_DIR}/node${n}/meminfo`), 1).find((p) => p.field === 'total')?.value ?? 0n;
  return sum;
}

export function parseCpuMhz(cpuinfo: string): number {
  let mhz = 0;
  for (const m of cpuinfo.matchAll(/^cpu MHz\s*:\s*(\d+)/gm)) mhz = Number(m[1]);
  return mhz;
}

export function cpuMhz(): number {
  try {
    return parseCpuMhz(readText('/proc/cpuinfo'));
  } catch {
    return 0;
  }
}
