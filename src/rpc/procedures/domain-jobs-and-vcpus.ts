/**
 * Everyday queries virsh and virt-manager make of a domain: `vcpucount` (GET_VCPUS_FLAGS, from
 * the live or persistent definition), `domjobinfo` (GET_JOB_INFO / GET_JOB_STATS: mpvirtd runs no
 * long jobs a client could watch, so there is none), `domblkerror` (GET_DISK_ERRORS: I/O errors
 * pause a guest only with werror=stop, which mpvirtd does not set, so none), `iothreadinfo`
 * (mpvirtd's domains have no `<iothreads>`), `domlaunchsecinfo` (no launch security: no
 * parameters). libvirt's checks and wording (qemuDomainGetVcpusFlags, qemuDomainGetJobStats,
 * qemuDomainGetDiskErrors, qemuDomainGetIOThreadInfo with virDomainObjGetDefs).
 */
import { MpvirtError } from '../../errors.js';
import type { DomainObject } from '../../driver/domain-object.js';
import { oneDefinition } from '../../driver/affect.js';
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { checkFlags, proc, resolveDomain, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
const notRunning = (): MpvirtError => new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
const running = (obj: DomainObject): DomainObject => {
  if (!obj.active) throw notRunning();
  return obj;
};

/** virDomainModificationImpact + VCPU flags */
const AFFECT_LIVE = 1;
const AFFECT_CONFIG = 2;
const VCPU_MAXIMUM = 4;
const VCPU_GUEST = 8;
const VCPU_HOTPLUGGABLE = 16;

const jobInfo = x.struct({
  type: x.int, timeElapsed: x.uhyper, timeRemaining: x.uhyper, dataTotal: x.uhyper, dataProcessed: x.uhyper, dataRemaining: x.uhyper,
  memTotal: x.uhyper, memProcessed: x.uhyper, memRemaining: x.uhyper, fileTotal: x.uhyper, fileProcessed: x.uhyper, fileRemaining: x.uhyper,
});
/** An empty typed-parameter list: nothing to report, so no value is ever encoded. */
const noParams: x.Codec<never[]> = x.array({ encode: () => { throw new Error('no typed parameters'); }, decode: () => { throw new Error('no typed parameters'); } } as x.Codec<never>, 64);

export const domainJobVcpuProcedures: Procedure[] = [
  proc({
    program: R, proc: 351, name: 'DOMAIN_GET_IOTHREAD_INFO', api: 'virDomainGetIOThreadInfo',
    args: x.struct({ dom: nonnullDomain, flags: x.uint }),
    ret: x.struct({ info: x.array(x.struct({ iothread_id: x.uint, cpumap: x.opaque(2048) }), 16384), ret: x.uint }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, AFFECT_LIVE | AFFECT_CONFIG, 'qemuDomainGetIOThreadInfo');
      oneDefinition(resolveDomain(ctx, dom), flags);
      return { info: [], ret: 0 };
    },
  }),
  proc({
    program: R, proc: 396, name: 'DOMAIN_GET_LAUNCH_SECURITY_INFO', api: 'virDomainGetLaunchSecurityInfo',
    args: x.struct({ dom: nonnullDomain, flags: x.uint }), ret: x.struct({ params: noParams }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, 0, 'qemuDomainGetLaunchSecurityInfo');
      resolveDomain(ctx, dom);
      return { params: [] };
    },
  }),
  proc({
    program: R, proc: 200, name: 'DOMAIN_GET_VCPUS_FLAGS', api: 'virDomainGetVcpusFlags',
    args: x.struct({ dom: nonnullDomain, flags: x.uint }), ret: x.struct({ num: x.int }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, AFFECT_LIVE | AFFECT_CONFIG | VCPU_MAXIMUM | VCPU_GUEST | VCPU_HOTPLUGGABLE, 'qemuDomainGetVcpusFlags');
      const obj = resolveDomain(ctx, dom);
      if ((flags & AFFECT_LIVE) && (flags & AFFECT_CONFIG)) throw new MpvirtError('VIR_ERR_INVALID_ARG', "Flags 'live' and 'config' are mutually exclusive");
      const live = (flags & AFFECT_LIVE) !== 0 || ((flags & AFFECT_CONFIG) === 0 && obj.active);
      // the agent's count is asked for before the definitions are picked (qemuDomainGetVcpusFlags)
      if (flags & VCPU_GUEST) {
        if (!live) throw new MpvirtError('VIR_ERR_INVALID_ARG', 'vCPU count provided by the guest agent can only be requested for live domains');
        if (!obj.active) throw notRunning();
        throw new MpvirtError('VIR_ERR_ARGUMENT_UNSUPPORTED', 'QEMU guest agent is not configured');
      }
      const { def } = oneDefinition(obj, flags);
      return { num: flags & VCPU_MAXIMUM ? def.vcpu.count : def.vcpu.current ?? def.vcpu.count };
    },
  }),
  proc({
    program: R, proc: 163, name: 'DOMAIN_GET_JOB_INFO', api: 'virDomainGetJobInfo',
    args: x.struct({ dom: nonnullDomain }), ret: jobInfo, readOnlySafe: true,
    handler: (ctx, { dom }) => {
      running(resolveDomain(ctx, dom));
      return { type: 0, timeElapsed: 0n, timeRemaining: 0n, dataTotal: 0n, dataProcessed: 0n, dataRemaining: 0n, memTotal: 0n, memProcessed: 0n, memRemaining: 0n, fileTotal: 0n, fileProcessed: 0n, fileRemaining: 0n };
    },
  }),
  proc({
    program: R, proc: 298, name: 'DOMAIN_GET_JOB_STATS', api: 'virDomainGetJobStats',
    args: x.struct({ dom: nonnullDomain, flags: x.uint }), ret: x.struct({ type: x.int, params: noParams }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, 1 | 2, 'qemuDomainGetJobStats'); // COMPLETED, KEEP_COMPLETED
      const obj = resolveDomain(ctx, dom);
      // a completed job is none too; a current one needs a running domain
      if (!(flags & 1)) running(obj);
      return { type: 0, params: [] };
    },
  }),
  proc({
    program: R, proc: 263, name: 'DOMAIN_GET_DISK_ERRORS', api: 'virDomainGetDiskErrors',
    args: x.struct({ dom: nonnullDomain, maxerrors: x.uint, flags: x.uint }),
    ret: x.struct({ errors: x.array(x.struct({ disk: x.string(), error: x.int }), 256), nerrors: x.int }), readOnlySafe: true,
    handler: (ctx, { dom, maxerrors, flags }) => {
      if (maxerrors > 256) throw new MpvirtError('VIR_ERR_RPC', 'maxerrors too large');
      checkFlags(flags, 0, 'qemuDomainGetDiskErrors');
      running(resolveDomain(ctx, dom));
      return { errors: [], nerrors: 0 };
    },
  }),
];
