/**
 * Procedures that change domains: define/undefine, create/start, destroy,
 * shutdown/reboot/reset, suspend/resume, autostart. None is allowed on a
 * read-only connection (the server core enforces `readOnlySafe: false`).
 */
import type { DomainObject } from '../../driver/domain-object.js';
import { LifecycleEvent, type LifecycleEventData } from '../../driver/events.js';
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { wire } from './domain-query.js';
import { checkFlags, proc, resolveDomain, type CallContext, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;

const domArg = x.struct({ dom: nonnullDomain });
const domFlagsArg = x.struct({ dom: nonnullDomain, flags: x.uint });
const domRet = x.struct({ dom: nonnullDomain });

/** virDomainCreateFlags */
export const StartFlag = { PAUSED: 1 << 0, AUTODESTROY: 1 << 1, BYPASS_CACHE: 1 << 2, FORCE_BOOT: 1 << 3, VALIDATE: 1 << 4 } as const;
const VIR_DOMAIN_DEFINE_VALIDATE = 1 << 0;
const VIR_DOMAIN_DESTROY_GRACEFUL = 1 << 0;
/** MANAGED_SAVE, SNAPSHOTS_METADATA, NVRAM, KEEP_NVRAM, CHECKPOINTS_METADATA, TPM, KEEP_TPM: nothing of that exists here */
const UNDEFINE_FLAGS = 0x7f;
/** VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN / VIR_DOMAIN_REBOOT_ACPI_POWER_BTN: the only method mpvirt has */
const ACPI_POWER_BTN = 1 << 0;

/**
 * VIR_DOMAIN_START_AUTODESTROY: the domain dies with the connection that
 * started it. Only that run: ids only grow, so a later start (by anyone) has
 * another id and is left alone, as libvirt drops the mark when a domain stops.
 */
function autodestroy(ctx: CallContext, obj: DomainObject): void {
  const runId = obj.id;
  const unregister = ctx.conn.onClose(async () => {
    if (!obj.active || obj.id !== runId) return;
    await ctx.driver.destroy(obj).catch((e: unknown) => ctx.log.warn({ domain: obj.name, err: e }, 'autodestroy failed'));
  });
  const stopped = (e: LifecycleEventData): void => {
    if (e.dom.uuid === obj.uuid && e.event === LifecycleEvent.STOPPED) {
      unregister();
      ctx.driver.events.off('lifecycle', stopped);
    }
  };
  ctx.driver.events.on('lifecycle', stopped);
  ctx.conn.onClose(() => void ctx.driver.events.off('lifecycle', stopped));
}

async function start(ctx: CallContext, obj: DomainObject, flags: number): Promise<void> {
  await ctx.driver.start(obj, { paused: (flags & StartFlag.PAUSED) !== 0 });
  if (flags & StartFlag.AUTODESTROY) autodestroy(ctx, obj);
}

export const domainLifecycleProcedures: Procedure[] = [
  proc({
    program: R, proc: 11, name: 'DOMAIN_DEFINE_XML', api: 'virDomainDefineXML',
    args: x.struct({ xml: x.string() }), ret: domRet, readOnlySafe: false,
    handler: async (ctx, { xml }) => ({ dom: wire(await ctx.driver.defineXML(xml)) }),
  }),
  proc({
    program: R, proc: 350, name: 'DOMAIN_DEFINE_XML_FLAGS', api: 'virDomainDefineXMLFlags',
    args: x.struct({ xml: x.string(), flags: x.uint }), ret: domRet, readOnlySafe: false,
    handler: async (ctx, { xml, flags }) => {
      checkFlags(flags, VIR_DOMAIN_DEFINE_VALIDATE, 'qemuDomainDefineXMLFlags');
      return { dom: wire(await ctx.driver.defineXML(xml, { validate: (flags & VIR_DOMAIN_DEFINE_VALIDATE) !== 0 })) };
    },
  }),
  proc({
    program: R, proc: 10, name: 'DOMAIN_CREATE_XML', api: 'virDomainCreateXML',
    args: x.struct({ xmlDesc: x.string(), flags: x.uint }), ret: domRet, readOnlySafe: false,
    handler: async (ctx, { xmlDesc, flags }) => {
      checkFlags(flags, StartFlag.PAUSED | StartFlag.AUTODESTROY | StartFlag.VALIDATE, 'qemuDomainCreateXML');
      const obj = await ctx.driver.createXML(xmlDesc, {
        paused: (flags & StartFlag.PAUSED) !== 0,
        validate: (flags & StartFlag.VALIDATE) !== 0,
      });
      if (flags & StartFlag.AUTODESTROY) autodestroy(ctx, obj);
      return { dom: wire(obj) };
    },
  }),
  proc({
    program: R, proc: 9, name: 'DOMAIN_CREATE', api: 'virDomainCreate',
    args: domArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom }) => start(ctx, resolveDomain(ctx, dom), 0),
  }),
  proc({
    program: R, proc: 196, name: 'DOMAIN_CREATE_WITH_FLAGS', api: 'virDomainCreateWithFlags',
    args: domFlagsArg, ret: domRet, readOnlySafe: false,
    handler: async (ctx, { dom, flags }) => {
      // BYPASS_CACHE and FORCE_BOOT concern managed-save images, which never exist here
      checkFlags(flags, StartFlag.PAUSED | StartFlag.AUTODESTROY | StartFlag.BYPASS_CACHE | StartFlag.FORCE_BOOT, 'qemuDomainCreateWithFlags');
      const obj = resolveDomain(ctx, dom);
      await start(ctx, obj, flags);
      return { dom: wire(obj) }; // with the new id
    },
  }),
  proc({
    program: R, proc: 12, name: 'DOMAIN_DESTROY', api: 'virDomainDestroy',
    args: domArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom }) => ctx.driver.destroy(resolveDomain(ctx, dom)),
  }),
  proc({
    program: R, proc: 234, name: 'DOMAIN_DESTROY_FLAGS', api: 'virDomainDestroyFlags',
    args: domFlagsArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, VIR_DOMAIN_DESTROY_GRACEFUL, 'qemuDomainDestroyFlags');
      return ctx.driver.destroy(resolveDomain(ctx, dom), { graceful: (flags & VIR_DOMAIN_DESTROY_GRACEFUL) !== 0 });
    },
  }),
  proc({
    program: R, proc: 35, name: 'DOMAIN_UNDEFINE', api: 'virDomainUndefine',
    args: domArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom }) => ctx.driver.undefine(resolveDomain(ctx, dom)),
  }),
  proc({
    program: R, proc: 231, name: 'DOMAIN_UNDEFINE_FLAGS', api: 'virDomainUndefineFlags',
    args: domFlagsArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, UNDEFINE_FLAGS, 'qemuDomainUndefineFlags');
      return ctx.driver.undefine(resolveDomain(ctx, dom));
    },
  }),
  proc({
    program: R, proc: 33, name: 'DOMAIN_SHUTDOWN', api: 'virDomainShutdown',
    args: domArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom }) => ctx.driver.shutdown(resolveDomain(ctx, dom)),
  }),
  proc({
    program: R, proc: 258, name: 'DOMAIN_SHUTDOWN_FLAGS', api: 'virDomainShutdownFlags',
    args: domFlagsArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, ACPI_POWER_BTN, 'qemuDomainShutdownFlags');
      return ctx.driver.shutdown(resolveDomain(ctx, dom));
    },
  }),
  proc({
    program: R, proc: 27, name: 'DOMAIN_REBOOT', api: 'virDomainReboot',
    args: domFlagsArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, ACPI_POWER_BTN, 'qemuDomainReboot');
      return ctx.driver.reboot(resolveDomain(ctx, dom));
    },
  }),
  proc({
    program: R, proc: 245, name: 'DOMAIN_RESET', api: 'virDomainReset',
    args: domFlagsArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, 0, 'qemuDomainReset');
      return ctx.driver.reset(resolveDomain(ctx, dom));
    },
  }),
  proc({
    program: R, proc: 34, name: 'DOMAIN_SUSPEND', api: 'virDomainSuspend',
    args: domArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom }) => ctx.driver.suspend(resolveDomain(ctx, dom)),
  }),
  proc({
    program: R, proc: 28, name: 'DOMAIN_RESUME', api: 'virDomainResume',
    args: domArg, ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom }) => ctx.driver.resume(resolveDomain(ctx, dom)),
  }),
  proc({
    program: R, proc: 29, name: 'DOMAIN_SET_AUTOSTART', api: 'virDomainSetAutostart',
    args: x.struct({ dom: nonnullDomain, autostart: x.int }), ret: x.none, readOnlySafe: false,
    handler: (ctx, { dom, autostart }) => ctx.driver.setAutostart(resolveDomain(ctx, dom), autostart !== 0),
  }),
];
