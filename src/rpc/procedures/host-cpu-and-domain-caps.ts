/**
 * Domain capabilities and the host CPU APIs: `virsh domcapabilities`, `cpu-models`,
 * `cpu-compare`, `cpu-baseline`, `hypervisor-cpu-compare`, `hypervisor-cpu-baseline`
 * (remote_protocol.x procedures 342, 312, 158, 162, 393, 394). The driver answers
 * (src/driver/domain-capabilities.ts); this layer only speaks XDR.
 */
import { REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { proc, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
/** REMOTE_CPU_BASELINE_MAX, REMOTE_CONNECT_CPU_MODELS_MAX */
const CPU_BASELINE_MAX = 256;
const CPU_MODELS_MAX = 8192;
const optStr = x.optional(x.string());

export const hostCpuAndDomainCapsProcedures: Procedure[] = [
  proc({
    program: R, proc: 342, name: 'CONNECT_GET_DOMAIN_CAPABILITIES', api: 'virConnectGetDomainCapabilities',
    args: x.struct({ emulatorbin: optStr, arch: optStr, machine: optStr, virttype: optStr, flags: x.uint }),
    ret: x.struct({ capabilities: x.string() }), readOnlySafe: true,
    handler: async (ctx, a) => ({ capabilities: await ctx.driver.getDomainCapabilities(a.emulatorbin, a.arch, a.machine, a.virttype, a.flags) }),
  }),
  proc({
    program: R, proc: 312, name: 'CONNECT_GET_CPU_MODEL_NAMES', api: 'virConnectGetCPUModelNames',
    args: x.struct({ arch: x.string(), needResults: x.int, flags: x.uint }),
    ret: x.struct({ models: x.array(x.string(), CPU_MODELS_MAX), ret: x.int }), readOnlySafe: true,
    handler: (ctx, a) => {
      const models = ctx.driver.getCpuModelNames(a.arch, a.flags);
      return { models: a.needResults ? models : [], ret: models.length };
    },
  }),
  proc({
    program: R, proc: 158, name: 'CONNECT_COMPARE_CPU', api: 'virConnectCompareCPU',
    args: x.struct({ xml: x.string(), flags: x.uint }), ret: x.struct({ result: x.int }), readOnlySafe: true,
    handler: (ctx, a) => ({ result: ctx.driver.compareCpu(a.xml, a.flags) }),
  }),
  proc({
    program: R, proc: 162, name: 'CONNECT_BASELINE_CPU', api: 'virConnectBaselineCPU',
    args: x.struct({ xmlCPUs: x.array(x.string(), CPU_BASELINE_MAX), flags: x.uint }), ret: x.struct({ cpu: x.string() }), readOnlySafe: true,
    handler: (ctx, a) => ({ cpu: ctx.driver.baselineCpu(a.xmlCPUs, a.flags) }),
  }),
  proc({
    program: R, proc: 393, name: 'CONNECT_COMPARE_HYPERVISOR_CPU', api: 'virConnectCompareHypervisorCPU',
    args: x.struct({ emulator: optStr, arch: optStr, machine: optStr, virttype: optStr, xmlCPU: x.string(), flags: x.uint }),
    ret: x.struct({ result: x.int }), readOnlySafe: true,
    handler: async (ctx, a) => ({ result: await ctx.driver.compareHypervisorCpu(a.emulator, a.arch, a.machine, a.virttype, a.xmlCPU, a.flags) }),
  }),
  proc({
    program: R, proc: 394, name: 'CONNECT_BASELINE_HYPERVISOR_CPU', api: 'virConnectBaselineHypervisorCPU',
    args: x.struct({ emulator: optStr, arch: optStr, machine: optStr, virttype: optStr, xmlCPUs: x.array(x.string(), CPU_BASELINE_MAX), flags: x.uint }),
    ret: x.struct({ cpu: x.string() }), readOnlySafe: true,
    handler: async (ctx, a) => ({ cpu: await ctx.driver.baselineHypervisorCpu(a.emulator, a.arch, a.machine, a.virttype, a.xmlCPUs, a.flags) }),
  }),
];
