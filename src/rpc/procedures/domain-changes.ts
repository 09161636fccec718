/**
 * Everyday changes virsh and virt-manager make: `setmem`, `setmaxmem`, `setvcpus`,
 * `dommemstat --period`, `vcpupin`, `emulatorpin`, `send-key`, `domrename`, and `screenshot` (a stream of the PNG). The
 * checks and their order are the driver's (api-tuning.ts, screenshot.ts); here only the
 * dispatcher's own limits.
 */
import { MpvirtError } from '../../errors.js';
import { cpumapToList } from '../../driver/cpu-pinning.js';
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { proc, resolveDomain, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
const SEND_KEY_MAX = 16;
const CPUMAP_MAX = 2048;
const AFFECT_LIVE = 1;
const MEM_MAXIMUM = 4;
/** unsigned long on the wire as unsigned hyper: KiB, as libvirt's API takes it */
const kib = (v: bigint): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MpvirtError('VIR_ERR_OVERFLOW', `memory size ${v} KiB is too large`);
  return Number(v);
};

export const domainChangeProcedures: Procedure[] = [
  proc({
    program: R, proc: 204, name: 'DOMAIN_SET_MEMORY_FLAGS', api: 'virDomainSetMemoryFlags',
    args: x.struct({ dom: nonnullDomain, memory: x.uhyper, flags: x.uint }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.setMemory(resolveDomain(ctx, a.dom), kib(a.memory), a.flags),
  }),
  proc({
    program: R, proc: 31, name: 'DOMAIN_SET_MEMORY', api: 'virDomainSetMemory',
    args: x.struct({ dom: nonnullDomain, memory: x.uhyper }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.setMemory(resolveDomain(ctx, a.dom), kib(a.memory), AFFECT_LIVE),
  }),
  proc({
    program: R, proc: 30, name: 'DOMAIN_SET_MAX_MEMORY', api: 'virDomainSetMaxMemory',
    args: x.struct({ dom: nonnullDomain, memory: x.uhyper }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.setMemory(resolveDomain(ctx, a.dom), kib(a.memory), MEM_MAXIMUM),
  }),
  proc({
    program: R, proc: 199, name: 'DOMAIN_SET_VCPUS_FLAGS', api: 'virDomainSetVcpusFlags',
    args: x.struct({ dom: nonnullDomain, nvcpus: x.uint, flags: x.uint }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.setVcpus(resolveDomain(ctx, a.dom), a.nvcpus, a.flags),
  }),
  proc({
    program: R, proc: 32, name: 'DOMAIN_SET_VCPUS', api: 'virDomainSetVcpus',
    args: x.struct({ dom: nonnullDomain, nvcpus: x.uint }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.setVcpus(resolveDomain(ctx, a.dom), a.nvcpus, AFFECT_LIVE),
  }),
  proc({
    program: R, proc: 308, name: 'DOMAIN_SET_MEMORY_STATS_PERIOD', api: 'virDomainSetMemoryStatsPeriod',
    args: x.struct({ dom: nonnullDomain, period: x.int, flags: x.uint }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.setMemoryStatsPeriod(resolveDomain(ctx, a.dom), a.period, a.flags),
  }),
  proc({
    program: R, proc: 226, name: 'DOMAIN_SEND_KEY', api: 'virDomainSendKey',
    args: x.struct({ dom: nonnullDomain, codeset: x.uint, holdtime: x.uint, keycodes: x.array(x.uint, SEND_KEY_MAX), flags: x.uint }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.sendKey(resolveDomain(ctx, a.dom), a.codeset, a.holdtime, a.keycodes, a.flags),
  }),
  proc({
    program: R, proc: 358, name: 'DOMAIN_RENAME', api: 'virDomainRename',
    args: x.struct({ dom: nonnullDomain, new_name: x.optional(x.string()), flags: x.uint }), ret: x.struct({ retcode: x.int }), readOnlySafe: false,
    handler: async (ctx, a) => {
      await ctx.driver.rename(resolveDomain(ctx, a.dom), a.new_name, a.flags);
      return { retcode: 0 };
    },
  }),
  proc({
    program: R, proc: 225, name: 'DOMAIN_PIN_VCPU_FLAGS', api: 'virDomainPinVcpuFlags',
    args: x.struct({ dom: nonnullDomain, vcpu: x.uint, cpumap: x.opaque(CPUMAP_MAX), flags: x.uint }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.pinVcpu(resolveDomain(ctx, a.dom), a.vcpu, cpumapToList(a.cpumap), a.flags),
  }),
  proc({
    program: R, proc: 26, name: 'DOMAIN_PIN_VCPU', api: 'virDomainPinVcpu',
    args: x.struct({ dom: nonnullDomain, vcpu: x.uint, cpumap: x.opaque(CPUMAP_MAX) }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.pinVcpu(resolveDomain(ctx, a.dom), a.vcpu, cpumapToList(a.cpumap), AFFECT_LIVE),
  }),
  proc({
    program: R, proc: 279, name: 'DOMAIN_PIN_EMULATOR', api: 'virDomainPinEmulator',
    args: x.struct({ dom: nonnullDomain, cpumap: x.opaque(CPUMAP_MAX), flags: x.uint }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => ctx.driver.pinEmulator(resolveDomain(ctx, a.dom), cpumapToList(a.cpumap), a.flags),
  }),
  proc({
    program: R, proc: 211, name: 'DOMAIN_SCREENSHOT', api: 'virDomainScreenshot',
    args: x.struct({ dom: nonnullDomain, screen: x.uint, flags: x.uint }), ret: x.struct({ mime: x.optional(x.string()) }), readOnlySafe: false,
    handler: async (ctx, a) => {
      const shot = await ctx.driver.screenshot(resolveDomain(ctx, a.dom), a.screen, a.flags);
      ctx.openStream({
        onStart: (out) => void (async () => {
          try {
            // in pieces of libvirt's stream packet size, so a slow reader only slows its own stream
            for (let off = 0; off < shot.data.length && !out.closed; off += 256 * 1024) await out.send(shot.data.subarray(off, off + 256 * 1024));
            out.end();
          } catch (e) {
            out.fail(e);
          }
        })(),
      });
      return { mime: shot.mime };
    },
  }),
];
