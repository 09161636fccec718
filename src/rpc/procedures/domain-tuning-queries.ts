/**
 * The tuning a domain runs with, as `virsh numatune`, `domiftune`, `blkdeviotune`, `perf` and
 * `domifaddr` ask for it. mpvirtd sets no NUMA policy, bandwidth limits or perf events, so most
 * answers are libvirt's for a domain without them; disk throttling is read from the QEMU that
 * serves the disk. Checks and wording of libvirt's qemuDomainGetNumaParameters,
 * qemuDomainGetInterfaceParameters, qemuDomainGetBlockIoTune, qemuDomainGetPerfEvents and
 * qemuDomainInterfaceAddresses.
 */
import { readFileSync } from 'node:fs';
import { MpvirtError } from '../../errors.js';
import type { DomainObject } from '../../driver/domain-object.js';
import { oneDefinition } from '../../driver/affect.js';
import { blockIoTune, BLOCK_IOTUNE_FIELDS } from '../../driver/api-stats.js';
import { interfaceHostName } from '../../driver/domain-stats.js';
import type { InterfaceDef } from '../../domainxml/model.js';
import { answerParams, tp, TYPED_PARAM_STRING_OKAY, type TypedParam } from '../../typed-params.js';
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import { typedParams } from '../typed-params-codec.js';
import * as x from '../xdr.js';
import { checkFlags, proc, resolveDomain, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
const AFFECT_LIVE = 1;
const AFFECT_CONFIG = 2;
const NUMA_PARAMETERS_MAX = 16;
const INTERFACE_PARAMETERS_MAX = 16;
const BLOCK_IO_TUNE_PARAMETERS_MAX = 32;
const PERF_EVENTS_MAX = 64;
const INTERFACE_MAX = 2048;
const IP_ADDR_MAX = 2048;

/** VIR_PERF_EVENT_* names in libvirt's order */
const PERF_EVENTS = [
  'cmt', 'mbmt', 'mbml', 'cpu_cycles', 'instructions', 'cache_references', 'cache_misses', 'branch_instructions', 'branch_misses',
  'bus_cycles', 'stalled_cycles_frontend', 'stalled_cycles_backend', 'ref_cpu_cycles', 'cpu_clock', 'task_clock', 'page_faults',
  'context_switches', 'cpu_migrations', 'page_faults_min', 'page_faults_maj', 'alignment_faults', 'emulation_faults',
];

const notRunning = (): MpvirtError => new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');

/** virDomainNetFind: by MAC address, else by host interface name. */
function findNet(def: DomainObject['def'], device: string): InterfaceDef {
  const nets = def.devices.filter((d): d is InterfaceDef => d.kind === 'interface');
  const isMac = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(device);
  const net = isMac ? nets.find((n) => n.mac?.toLowerCase() === device.toLowerCase()) : nets.find((n) => interfaceHostName(n) === device);
  if (!net) throw new MpvirtError('VIR_ERR_INVALID_ARG', `'${device}' is not a known interface`);
  return net;
}

/** /proc/net/arp: the IPv4 addresses the host has seen for each MAC (virArpTableGet). */
function arpTable(): Array<{ ip: string; mac: string }> {
  try {
    return readFileSync('/proc/net/arp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 4).map((f) => ({ ip: f[0]!, mac: f[3]!.toLowerCase() }));
  } catch {
    return [];
  }
}

const ipAddr = x.struct({ type: x.int, addr: x.string(), prefix: x.uint });
const domainInterface = x.struct({ name: x.string(), hwaddr: x.optional(x.string()), addrs: x.array(ipAddr, IP_ADDR_MAX) });

export const domainTuningQueryProcedures: Procedure[] = [
  proc({
    program: R, proc: 255, name: 'DOMAIN_GET_NUMA_PARAMETERS', api: 'virDomainGetNumaParameters',
    args: x.struct({ dom: nonnullDomain, nparams: x.int, flags: x.uint }), ret: x.struct({ params: typedParams(NUMA_PARAMETERS_MAX), nparams: x.int }), readOnlySafe: true,
    handler: (ctx, { dom, nparams, flags }) => {
      checkFlags(flags, AFFECT_LIVE | AFFECT_CONFIG | TYPED_PARAM_STRING_OKAY, 'qemuDomainGetNumaParameters');
      oneDefinition(resolveDomain(ctx, dom), flags);
      // no <numatune>: libvirt's default mode, strict (0), on no particular nodes
      const params: TypedParam[] = [tp.int('numa_mode', 0), tp.string('numa_nodeset', '')];
      return answerParams(params, nparams, flags | TYPED_PARAM_STRING_OKAY, NUMA_PARAMETERS_MAX);
    },
  }),
  proc({
    program: R, proc: 257, name: 'DOMAIN_GET_INTERFACE_PARAMETERS', api: 'virDomainGetInterfaceParameters',
    args: x.struct({ dom: nonnullDomain, device: x.string(), nparams: x.int, flags: x.uint }), ret: x.struct({ params: typedParams(INTERFACE_PARAMETERS_MAX), nparams: x.int }), readOnlySafe: true,
    handler: (ctx, { dom, device, nparams, flags }) => {
      checkFlags(flags, AFFECT_LIVE | AFFECT_CONFIG | TYPED_PARAM_STRING_OKAY, 'qemuDomainGetInterfaceParameters');
      const { def } = oneDefinition(resolveDomain(ctx, dom), flags);
      if (nparams === 0) return { params: [], nparams: 7 };
      findNet(def, device);
      // mpvirtd sets no <bandwidth>: nothing is limited
      const params = ['inbound.average', 'inbound.peak', 'inbound.burst', 'inbound.floor', 'outbound.average', 'outbound.peak', 'outbound.burst'].map((f) => tp.uint(f, 0));
      return answerParams(params, nparams, flags, INTERFACE_PARAMETERS_MAX);
    },
  }),
  proc({
    program: R, proc: 253, name: 'DOMAIN_GET_BLOCK_IO_TUNE', api: 'virDomainGetBlockIoTune',
    args: x.struct({ dom: nonnullDomain, disk: x.optional(x.string()), nparams: x.int, flags: x.uint }), ret: x.struct({ params: typedParams(BLOCK_IO_TUNE_PARAMETERS_MAX), nparams: x.int }), readOnlySafe: true,
    handler: async (ctx, { dom, disk, nparams, flags }) => {
      if (nparams > BLOCK_IO_TUNE_PARAMETERS_MAX) throw new MpvirtError('VIR_ERR_RPC', 'nparams too large');
      checkFlags(flags, AFFECT_LIVE | AFFECT_CONFIG | TYPED_PARAM_STRING_OKAY, 'qemuDomainGetBlockIoTune');
      const obj = resolveDomain(ctx, dom);
      const { def, live } = oneDefinition(obj, flags);
      const count = BLOCK_IOTUNE_FIELDS.length + 1;
      if (nparams === 0) return { params: [], nparams: count };
      const t = await blockIoTune(obj, def, disk ?? '', live);
      const params: TypedParam[] = [];
      for (const [name] of BLOCK_IOTUNE_FIELDS) {
        params.push(tp.ullong(name, t.values.get(name) ?? 0n));
        if (name === 'size_iops_sec') params.push(tp.string('group_name', t.group));
      }
      return { params: params.slice(0, nparams), nparams: Math.min(nparams, params.length) };
    },
  }),
  proc({
    program: R, proc: 365, name: 'DOMAIN_GET_PERF_EVENTS', api: 'virDomainGetPerfEvents',
    args: x.struct({ dom: nonnullDomain, flags: x.uint }), ret: x.struct({ params: typedParams(PERF_EVENTS_MAX) }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, AFFECT_LIVE | AFFECT_CONFIG | TYPED_PARAM_STRING_OKAY, 'qemuDomainGetPerfEvents');
      oneDefinition(resolveDomain(ctx, dom), flags);
      return { params: PERF_EVENTS.map((e) => tp.bool(e, false)) };
    },
  }),
  proc({
    program: R, proc: 353, name: 'DOMAIN_INTERFACE_ADDRESSES', api: 'virDomainInterfaceAddresses',
    args: x.struct({ dom: nonnullDomain, source: x.uint, flags: x.uint }), ret: x.struct({ ifaces: x.array(domainInterface, INTERFACE_MAX) }), readOnlySafe: true,
    handler: (ctx, { dom, source, flags }) => {
      checkFlags(flags, 0, 'qemuDomainInterfaceAddresses');
      const obj = resolveDomain(ctx, dom);
      if (!obj.active) throw notRunning();
      const nets = (obj.liveDef ?? obj.def).devices.filter((d): d is InterfaceDef => d.kind === 'interface');
      switch (source) {
        case 0: // LEASE: only libvirt virtual networks have a DHCP server whose leases libvirt reads
          return { ifaces: [] };
        case 1:
          throw new MpvirtError('VIR_ERR_ARGUMENT_UNSUPPORTED', 'QEMU guest agent is not configured');
        case 2: {
          const arp = arpTable();
          const ifaces = nets.flatMap((n) => {
            const addrs = arp.filter((a) => a.mac === n.mac?.toLowerCase()).map((a) => ({ type: 0, addr: a.ip, prefix: 0 }));
            return addrs.length > 0 ? [{ name: interfaceHostName(n) ?? '', hwaddr: n.mac ?? null, addrs }] : [];
          });
          return { ifaces };
        }
        default:
          throw new MpvirtError('VIR_ERR_ARGUMENT_UNSUPPORTED', `Unknown IP address data source ${source}`);
      }
    },
  }),
];
