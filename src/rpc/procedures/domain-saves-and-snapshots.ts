/**
 * What tools ask about saved state and snapshots (virt-manager polls them, `virsh undefine
 * --managed-save` and `domcontrol` use them): mpvirtd keeps neither, so the listings answer "none",
 * a managed-save image never exists (domain-query.ts says so; removing it succeeds, as libvirt's
 * does without one), and
 * saving or restoring a guest is refused with the reason: a guest with a remote process has an
 * x-pci-proxy-dev, which QEMU cannot migrate, and saving is a migration to a file.
 */
import { MpvirtError } from '../../errors.js';
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { checkFlags, proc, resolveDomain, type CallContext, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
const domFlags = x.struct({ dom: nonnullDomain, flags: x.uint });
const listAll = x.struct({ dom: nonnullDomain, need_results: x.int, flags: x.uint });
const named = x.struct({ name: x.string(), dom: nonnullDomain });

const noSave = (): MpvirtError =>
  new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', 'saving or restoring guest state is not supported by mpvirtd: a device in a remote process (x-pci-proxy-dev) cannot be migrated, and a save is a migration to a file');

/** The domain must exist (its handle resolves); the answer is the same for all. */
const exists = (ctx: CallContext, dom: x.Infer<typeof nonnullDomain>): void => void resolveDomain(ctx, dom);
/** A save is refused as libvirt checks: an inactive domain first as not running. */
const refuseSave = (ctx: CallContext, dom: x.Infer<typeof nonnullDomain>): never => {
  if (!resolveDomain(ctx, dom).active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
  throw noSave();
};

export const domainSaveSnapshotProcedures: Procedure[] = [
  proc({ program: R, proc: 184, name: 'DOMAIN_MANAGED_SAVE_REMOVE', api: 'virDomainManagedSaveRemove', args: domFlags, ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => exists(ctx, a.dom) }),
  proc({ program: R, proc: 182, name: 'DOMAIN_MANAGED_SAVE', api: 'virDomainManagedSave', args: domFlags, ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => refuseSave(ctx, a.dom) }),
  proc({ program: R, proc: 55, name: 'DOMAIN_SAVE', api: 'virDomainSave', args: x.struct({ dom: nonnullDomain, to: x.string() }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => refuseSave(ctx, a.dom) }),
  proc({ program: R, proc: 232, name: 'DOMAIN_SAVE_FLAGS', api: 'virDomainSaveFlags', args: x.struct({ dom: nonnullDomain, to: x.string(), dxml: x.optional(x.string()), flags: x.uint }), ret: x.none, readOnlySafe: false,
    handler: (ctx, a) => refuseSave(ctx, a.dom) }),
  proc({ program: R, proc: 54, name: 'DOMAIN_RESTORE', api: 'virDomainRestore', args: x.struct({ from: x.string() }), ret: x.none, readOnlySafe: false,
    handler: () => { throw noSave(); } }),
  proc({ program: R, proc: 233, name: 'DOMAIN_RESTORE_FLAGS', api: 'virDomainRestoreFlags', args: x.struct({ from: x.string(), dxml: x.optional(x.string()), flags: x.uint }), ret: x.none, readOnlySafe: false,
    handler: () => { throw noSave(); } }),
  proc({ program: R, proc: 190, name: 'DOMAIN_HAS_CURRENT_SNAPSHOT', api: 'virDomainHasCurrentSnapshot', args: domFlags, ret: x.struct({ result: x.int }), readOnlySafe: true,
    handler: (ctx, a) => (exists(ctx, a.dom), { result: 0 }) }),
  proc({ program: R, proc: 187, name: 'DOMAIN_SNAPSHOT_NUM', api: 'virDomainSnapshotNum', args: domFlags, ret: x.struct({ num: x.int }), readOnlySafe: true,
    handler: (ctx, a) => (exists(ctx, a.dom), { num: 0 }) }),
  proc({ program: R, proc: 188, name: 'DOMAIN_SNAPSHOT_LIST_NAMES', api: 'virDomainSnapshotListNames', args: x.struct({ dom: nonnullDomain, maxnames: x.int, flags: x.uint }), ret: x.struct({ names: x.array(x.string(), 16384) }), readOnlySafe: true,
    handler: (ctx, a) => (exists(ctx, a.dom), { names: [] }) }),
  proc({ program: R, proc: 274, name: 'DOMAIN_LIST_ALL_SNAPSHOTS', api: 'virDomainListAllSnapshots', args: listAll, ret: x.struct({ snapshots: x.array(named, 16384), ret: x.int }), readOnlySafe: true,
    handler: (ctx, a) => (exists(ctx, a.dom), { snapshots: [], ret: 0 }) }),
  proc({ program: R, proc: 413, name: 'DOMAIN_LIST_ALL_CHECKPOINTS', api: 'virDomainListAllCheckpoints', args: listAll, ret: x.struct({ checkpoints: x.array(named, 16384), ret: x.int }), readOnlySafe: true,
    handler: (ctx, a) => (exists(ctx, a.dom), { checkpoints: [], ret: 0 }) }),
  // virDomainGetControlInfo: OK, or JOB while a job holds the domain (libvirt's qemuDomainGetControlInfo)
  proc({ program: R, proc: 229, name: 'DOMAIN_GET_CONTROL_INFO', api: 'virDomainGetControlInfo', args: domFlags,
    ret: x.struct({ state: x.uint, details: x.uint, stateTime: x.uhyper }), readOnlySafe: true,
    handler: (ctx, a) => {
      checkFlags(a.flags, 0, 'qemuDomainGetControlInfo');
      const obj = resolveDomain(ctx, a.dom);
      if (!obj.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
      return { state: obj.jobs.holder === undefined ? 0 : 1, details: 0, stateTime: 0n };
    } }),
];
