/**
 * The driver's statistics APIs (virConnectGetAllDomainStats, virDomainBlockStats(Flags),
 * virDomainMemoryStats, virDomainInterfaceStats, virDomainGetVcpus and the pin queries). They
 * only read — monitors and /proc — so, like libvirt's with VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT,
 * they never wait behind a domain's job: a poller (virt-manager asks every second) is never
 * stuck behind a long start or hot-plug.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { DiskDef, InterfaceDef } from '../domainxml/model.js';
import { MpvirtError } from '../errors.js';
import type { TypedParam } from '../typed-params.js';
import { readBlockInfo } from './block-info.js';
import { monitorForDisk } from './media.js';
import type { DomainObject } from './domain-object.js';
import {
  blockCounters, domainStatsRecord, interfaceHostName, memoryStats, runningDef, vcpuInfo,
  type BlockCounters, type InterfaceCounters, type MemoryStat, type StatsSources, type VcpuInfo,
} from './domain-stats.js';

/** A host interface's counters (sysfs), as the guest sees them: a tap's rx is the guest's tx. */
export function tapCounters(ifname: string): InterfaceCounters | undefined {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(ifname)) return undefined;
  const r = (name: string): bigint | undefined => {
    try {
      return BigInt(readFileSync(`/sys/class/net/${ifname}/statistics/${name}`, 'utf8').trim());
    } catch {
      return undefined;
    }
  };
  const v = ['rx_bytes', 'rx_packets', 'rx_errors', 'rx_dropped', 'tx_bytes', 'tx_packets', 'tx_errors', 'tx_dropped'].map(r);
  if (v.some((x) => x === undefined)) return undefined;
  const [rb, rp, re, rd, tb, tpk, te, td] = v as bigint[];
  // virNetDevTapInterfaceStats with `swapped`: what the host receives the guest sent
  return { 'rx.bytes': tb!, 'rx.pkts': tpk!, 'rx.errs': te!, 'rx.drop': td!, 'tx.bytes': rb!, 'tx.pkts': rp!, 'tx.errs': re!, 'tx.drop': rd! };
}

const sources: StatsSources = {
  imageSizes: async (disk: DiskDef) => {
    const def = { devices: [disk] } as unknown as Parameters<typeof readBlockInfo>[0];
    return readBlockInfo(def, disk.target.dev);
  },
  tapCounters,
};

/** virConnectGetAllDomainStats' record for each domain, in the order given. */
export async function allDomainStats(objs: DomainObject[], groups: number): Promise<Array<{ obj: DomainObject; params: TypedParam[] }>> {
  return Promise.all(objs.map(async (obj) => ({ obj, params: await domainStatsRecord(obj, groups, sources) })));
}

export function blockStats(obj: DomainObject, path: string): Promise<BlockCounters> {
  return blockCounters(obj, path);
}

export function domainMemoryStats(obj: DomainObject, max: number): Promise<MemoryStat[]> {
  return memoryStats(obj, max);
}

/** virDomainInterfaceStats: by host interface name or MAC address (qemuDomainInterfaceStats). */
export function interfaceStats(obj: DomainObject, device: string): InterfaceCounters {
  const def = runningDef(obj);
  const nets = def.devices.filter((d): d is InterfaceDef => d.kind === 'interface');
  const net = nets.find((n) => interfaceHostName(n) === device) ?? nets.find((n) => n.mac?.toLowerCase() === device.toLowerCase());
  if (!net) throw new MpvirtError('VIR_ERR_INVALID_ARG', `'${device}' is not a known interface`);
  const ifname = interfaceHostName(net);
  if (!ifname) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'Interface name not provided');
  const c = tapCounters(ifname);
  if (!c) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', '/proc/net/dev: Interface not found');
  return c;
}

export function getVcpus(obj: DomainObject): Promise<VcpuInfo[]> {
  return vcpuInfo(obj);
}

/** The host's CPUs, 0 … n-1: what an unpinned thread may run on (virHostCPUGetCount). */
export function hostCpuCount(): number {
  return availableParallelism();
}

/** virDomainGetBlockIoTune's values, in libvirt's order (qemuDomainGetBlockIoTune). */
export const BLOCK_IOTUNE_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['total_bytes_sec', 'bps'], ['read_bytes_sec', 'bps_rd'], ['write_bytes_sec', 'bps_wr'],
  ['total_iops_sec', 'iops'], ['read_iops_sec', 'iops_rd'], ['write_iops_sec', 'iops_wr'],
  ['total_bytes_sec_max', 'bps_max'], ['read_bytes_sec_max', 'bps_rd_max'], ['write_bytes_sec_max', 'bps_wr_max'],
  ['total_iops_sec_max', 'iops_max'], ['read_iops_sec_max', 'iops_rd_max'], ['write_iops_sec_max', 'iops_wr_max'],
  ['size_iops_sec', 'iops_size'],
  ['total_bytes_sec_max_length', 'bps_max_length'], ['read_bytes_sec_max_length', 'bps_rd_max_length'], ['write_bytes_sec_max_length', 'bps_wr_max_length'],
  ['total_iops_sec_max_length', 'iops_max_length'], ['read_iops_sec_max_length', 'iops_rd_max_length'], ['write_iops_sec_max_length', 'iops_wr_max_length'],
];

export interface BlockIoTune { values: Map<string, bigint>; group: string }

/**
 * A disk's I/O throttling: of the running guest from the QEMU that serves the disk (query-block),
 * of the definition from its `<iotune>` (none: all 0, as QEMU then throttles nothing).
 */
export async function blockIoTune(obj: DomainObject, def: DomainObject['def'], path: string, live: boolean): Promise<BlockIoTune> {
  const disk = def.devices.find((d): d is DiskDef => d.kind === 'disk' && (d.target.dev === path || d.source?.path === path));
  const values = new Map<string, bigint>(BLOCK_IOTUNE_FIELDS.map(([name]) => [name, 0n]));
  if (!live) {
    if (!disk) throw new MpvirtError('VIR_ERR_INVALID_ARG', `disk '${path}' was not found in the domain config`);
    const iotune = disk.extra.children.find((c) => c.name === 'iotune');
    for (const c of iotune?.children ?? []) if (c.kind === 'element' && values.has(c.name)) values.set(c.name, BigInt(c.children.map((t) => (t.kind === 'text' ? t.value : '')).join('').trim() || 0));
    const group = iotune?.children.find((c) => c.kind === 'element' && c.name === 'group_name');
    return { values, group: group?.kind === 'element' ? group.children.map((t) => (t.kind === 'text' ? t.value : '')).join('') : '' };
  }
  if (!disk) throw new MpvirtError('VIR_ERR_INVALID_ARG', `disk '${path}' not found in domain`);
  const qmp = monitorForDisk(obj, def, disk);
  const blocks = await qmp.execute<Array<{ qdev?: string; inserted?: Record<string, unknown> }>>('query-block');
  const entry = blocks.find((b) => b.qdev === disk.alias || b.qdev === `/machine/peripheral/${disk.alias}/virtio-backend`);
  if (!entry?.inserted) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot find throttling info for device '${disk.alias ?? path}'`);
  for (const [name, key] of BLOCK_IOTUNE_FIELDS) {
    const v = entry.inserted[key];
    if (typeof v === 'number') values.set(name, BigInt(v));
  }
  return { values, group: typeof entry.inserted.group === 'string' ? entry.inserted.group : '' };
}
