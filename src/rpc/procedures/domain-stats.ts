/**
 * Statistics tools poll: `virsh domstats` and virt-manager's graphs (CONNECT_GET_ALL_DOMAIN_STATS),
 * `domblkstat`, `domifstat`, `dommemstat`, `vcpuinfo`, `vcpupin` and `emulatorpin` without a
 * new pinning. Checks, limits and wording of libvirt's dispatcher (remote_daemon_dispatch.c) and
 * QEMU driver (qemuConnectGetAllDomainStats, qemuDomainBlockStatsFlags, qemuDomainGetVcpus,
 * qemuDomainGetVcpuPinInfo, qemuDomainGetEmulatorPinInfo).
 */
import { MpvirtError } from '../../errors.js';
import type { DomainObject } from '../../driver/domain-object.js';
import { oneDefinition } from '../../driver/affect.js';
import { emulatorCpus, listToCpumap, vcpuCpus } from '../../driver/cpu-pinning.js';
import { answerParams, tp, TYPED_PARAM_STRING_OKAY, type TypedParam } from '../../typed-params.js';
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import { typedParams } from '../typed-params-codec.js';
import * as x from '../xdr.js';
import { matchesListFilter, wire } from './domain-query.js';
import { checkFlags, proc, resolveDomain, type CallContext, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
const DOMAIN_LIST_MAX = 16384;
const ALL_DOMAIN_STATS_MAX = 262144;
const BLOCK_STATS_PARAMETERS_MAX = 16;
const MEMORY_STATS_MAX = 1024;
const VCPUINFO_MAX = 16384;
const CPUMAPS_MAX = 8388608;

/** VIR_CONNECT_LIST_DOMAINS_FILTERS_* (ACTIVE … OTHER) and the stats flags */
const LIST_FILTERS = 0xff;
const STATS_NOWAIT = 1 << 29;
const STATS_BACKING = 1 << 30;
const STATS_ENFORCE = 2 ** 31;
const AFFECT_LIVE = 1;
const AFFECT_CONFIG = 2;

const notRunning = (): MpvirtError => new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
const active = (obj: DomainObject): DomainObject => {
  if (!obj.active) throw notRunning();
  return obj;
};



const blockStatsParams = (c: Awaited<ReturnType<CallContext['driver']['blockStats']>>): TypedParam[] => [
  tp.llong('wr_bytes', c.wr_bytes), tp.llong('wr_operations', c.wr_req), tp.llong('rd_bytes', c.rd_bytes), tp.llong('rd_operations', c.rd_req),
  tp.llong('flush_operations', c.flush_req), tp.llong('wr_total_times', c.wr_total_times), tp.llong('rd_total_times', c.rd_total_times), tp.llong('flush_total_times', c.flush_total_times),
];

const statsRecord = x.struct({ dom: nonnullDomain, params: typedParams(ALL_DOMAIN_STATS_MAX) });

export const domainStatsProcedures: Procedure[] = [
  proc({
    program: R, proc: 344, name: 'CONNECT_GET_ALL_DOMAIN_STATS', api: 'virConnectGetAllDomainStats',
    args: x.struct({ doms: x.array(nonnullDomain, DOMAIN_LIST_MAX), stats: x.uint, flags: x.uint }),
    ret: x.struct({ retStats: x.array(statsRecord, DOMAIN_LIST_MAX) }), readOnlySafe: true,
    handler: async (ctx, { doms, stats, flags }) => {
      checkFlags(flags, LIST_FILTERS | STATS_NOWAIT | STATS_BACKING | STATS_ENFORCE, 'qemuConnectGetAllDomainStats');
      const filters = flags & LIST_FILTERS;
      let objs: DomainObject[];
      if (doms.length > 0) {
        // virDomainObjListConvert with skip_missing: a domain that went away is left out
        objs = doms.flatMap((d) => {
          try {
            return [resolveDomain(ctx, d)];
          } catch {
            return [];
          }
        }).filter((o) => matchesListFilter(o, filters));
      } else {
        objs = ctx.driver.listDomains().filter((o) => matchesListFilter(o, filters)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      }
      const records = await ctx.driver.allDomainStats(objs, stats === 0 ? 2047 : stats);
      return { retStats: records.map((r) => ({ dom: wire(r.obj), params: r.params })) };
    },
  }),
  proc({
    program: R, proc: 243, name: 'DOMAIN_BLOCK_STATS_FLAGS', api: 'virDomainBlockStatsFlags',
    args: x.struct({ dom: nonnullDomain, path: x.string(), nparams: x.int, flags: x.uint }),
    ret: x.struct({ params: typedParams(BLOCK_STATS_PARAMETERS_MAX), nparams: x.int }), readOnlySafe: true,
    handler: async (ctx, { dom, path, nparams, flags }) => {
      if (nparams > BLOCK_STATS_PARAMETERS_MAX) throw new MpvirtError('VIR_ERR_RPC', 'nparams too large');
      checkFlags(flags, TYPED_PARAM_STRING_OKAY, 'qemuDomainBlockStatsFlags');
      const obj = active(resolveDomain(ctx, dom));
      const params = blockStatsParams(await ctx.driver.blockStats(obj, path));
      return answerParams(params, nparams, flags, BLOCK_STATS_PARAMETERS_MAX);
    },
  }),
  proc({
    program: R, proc: 64, name: 'DOMAIN_BLOCK_STATS', api: 'virDomainBlockStats',
    args: x.struct({ dom: nonnullDomain, path: x.string() }),
    ret: x.struct({ rd_req: x.hyper, rd_bytes: x.hyper, wr_req: x.hyper, wr_bytes: x.hyper, errs: x.hyper }), readOnlySafe: true,
    handler: async (ctx, { dom, path }) => {
      const c = await ctx.driver.blockStats(active(resolveDomain(ctx, dom)), path);
      return { rd_req: c.rd_req, rd_bytes: c.rd_bytes, wr_req: c.wr_req, wr_bytes: c.wr_bytes, errs: -1n };
    },
  }),
  proc({
    program: R, proc: 65, name: 'DOMAIN_INTERFACE_STATS', api: 'virDomainInterfaceStats',
    args: x.struct({ dom: nonnullDomain, device: x.string() }),
    ret: x.struct({ rx_bytes: x.hyper, rx_packets: x.hyper, rx_errs: x.hyper, rx_drop: x.hyper, tx_bytes: x.hyper, tx_packets: x.hyper, tx_errs: x.hyper, tx_drop: x.hyper }),
    readOnlySafe: true,
    handler: (ctx, { dom, device }) => {
      const c = ctx.driver.interfaceStats(active(resolveDomain(ctx, dom)), device);
      return { rx_bytes: c['rx.bytes'], rx_packets: c['rx.pkts'], rx_errs: c['rx.errs'], rx_drop: c['rx.drop'], tx_bytes: c['tx.bytes'], tx_packets: c['tx.pkts'], tx_errs: c['tx.errs'], tx_drop: c['tx.drop'] };
    },
  }),
  proc({
    program: R, proc: 159, name: 'DOMAIN_MEMORY_STATS', api: 'virDomainMemoryStats',
    args: x.struct({ dom: nonnullDomain, maxStats: x.uint, flags: x.uint }),
    ret: x.struct({ stats: x.array(x.struct({ tag: x.int, val: x.uhyper }), MEMORY_STATS_MAX) }), readOnlySafe: true,
    handler: async (ctx, { dom, maxStats, flags }) => {
      if (maxStats > MEMORY_STATS_MAX) throw new MpvirtError('VIR_ERR_RPC', 'maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX');
      checkFlags(flags, 0, 'qemuDomainMemoryStats');
      return { stats: await ctx.driver.memoryStats(active(resolveDomain(ctx, dom)), maxStats) };
    },
  }),
  proc({
    program: R, proc: 20, name: 'DOMAIN_GET_VCPUS', api: 'virDomainGetVcpus',
    args: x.struct({ dom: nonnullDomain, maxinfo: x.int, maplen: x.int }),
    ret: x.struct({ info: x.array(x.struct({ number: x.uint, state: x.int, cpu_time: x.uhyper, cpu: x.int }), VCPUINFO_MAX), cpumaps: x.opaque(CPUMAPS_MAX) }),
    readOnlySafe: true,
    handler: async (ctx, { dom, maxinfo, maplen }) => {
      if (maxinfo > VCPUINFO_MAX) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'maxinfo > REMOTE_VCPUINFO_MAX');
      if (maxinfo * maplen > CPUMAPS_MAX) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'maxinfo * maplen > REMOTE_CPUMAPS_MAX');
      const obj = resolveDomain(ctx, dom);
      if (!obj.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot retrieve vcpu information for inactive domain');
      const vcpus = (await ctx.driver.getVcpus(obj)).slice(0, Math.max(0, maxinfo));
      const maps = Buffer.alloc(Math.max(0, maxinfo * maplen));
      vcpus.forEach((v, i) => listToCpumap(v.affinity, maplen).copy(maps, i * maplen));
      return { info: vcpus.map((v) => ({ number: v.number, state: v.state, cpu_time: v.cpuTimeNs, cpu: v.cpu })), cpumaps: maps };
    },
  }),
  proc({
    program: R, proc: 230, name: 'DOMAIN_GET_VCPU_PIN_INFO', api: 'virDomainGetVcpuPinInfo',
    args: x.struct({ dom: nonnullDomain, ncpumaps: x.int, maplen: x.int, flags: x.uint }),
    ret: x.struct({ cpumaps: x.opaque(CPUMAPS_MAX), num: x.int }), readOnlySafe: true,
    handler: (ctx, { dom, ncpumaps, maplen, flags }) => {
      if (ncpumaps > VCPUINFO_MAX) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'ncpumaps > REMOTE_VCPUINFO_MAX');
      if (ncpumaps * maplen > CPUMAPS_MAX) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'maxinfo * maplen > REMOTE_CPUMAPS_MAX');
      checkFlags(flags, AFFECT_LIVE | AFFECT_CONFIG, 'qemuDomainGetVcpuPinInfo');
      const def = oneDefinition(resolveDomain(ctx, dom), flags).def;
      const n = Math.min(Math.max(0, ncpumaps), def.vcpu.count);
      const maps = Buffer.alloc(Math.max(0, ncpumaps * maplen));
      for (let i = 0; i < n; i++) listToCpumap(vcpuCpus(def, i), maplen).copy(maps, i * maplen);
      return { cpumaps: maps, num: def.vcpu.count };
    },
  }),
  proc({
    program: R, proc: 280, name: 'DOMAIN_GET_EMULATOR_PIN_INFO', api: 'virDomainGetEmulatorPinInfo',
    args: x.struct({ dom: nonnullDomain, maplen: x.int, flags: x.uint }),
    ret: x.struct({ cpumaps: x.opaque(CPUMAPS_MAX), ret: x.int }), readOnlySafe: true,
    handler: (ctx, { dom, maplen, flags }) => {
      if (maplen > CPUMAPS_MAX) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'maplen > REMOTE_CPUMAPS_MAX');
      checkFlags(flags, AFFECT_LIVE | AFFECT_CONFIG, 'qemuDomainGetEmulatorPinInfo');
      const def = oneDefinition(resolveDomain(ctx, dom), flags).def;
      return { cpumaps: listToCpumap(emulatorCpus(def), maplen), ret: 1 };
    },
  }),
];
