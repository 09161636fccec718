/**
 * The driver's state-changing APIs: start, create, destroy, shutdown, reboot, reset, suspend,
 * resume — each a job of its domain, with libvirt's states, reasons and events.
 */
import { MpvirtError } from '../errors.js';
import type { DriverCore } from './core.js';
import { prepareDefinition } from './definition.js';
import { DomainObject } from './domain-object.js';
import { runJob } from './domain-job.js';
import { Detail, LifecycleEvent } from './events.js';
import { startDomain } from './start.js';
import { DomainState, PausedReason, RunningReason, ShutoffReason } from './state.js';
import { notRunning, stopDomain, writeStatus } from './stop.js';

export function start(core: DriverCore, obj: DomainObject, opts: { paused?: boolean } = {}): Promise<void> {
  return runJob(core, obj, 'remoteDispatchDomainCreateWithFlags', (signal) => startDomain(core, obj, { ...opts, signal }));
}

/** `virsh create`: define a transient domain and start it. */
export async function createXML(core: DriverCore, xml: string, opts: { paused?: boolean; validate?: boolean } = {}): Promise<DomainObject> {
  const def = await prepareDefinition(core, xml, opts.validate ?? false);
  const existing = core.domains.checkClash(def);
  if (existing?.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `domain '${def.name}' is already active`);
  const obj = existing ?? new DomainObject(def, false);
  if (existing) existing.def = def;
  else core.domains.add(obj);
  await start(core, obj, opts);
  return obj;
}

export function destroy(core: DriverCore, obj: DomainObject, opts: { graceful?: boolean } = {}): Promise<void> {
  const interrupted = obj.jobs.holder?.includes('Create') === true;
  return runJob(core, obj, 'remoteDispatchDomainDestroyFlags', async () => {
    if (!obj.active) {
      if (interrupted) return; // the start we interrupted already cleaned up
      throw notRunning();
    }
    await stopDomain(core, obj, {
      reason: ShutoffReason.DESTROYED,
      detail: Detail.STOPPED_DESTROYED,
      // --graceful: SIGTERM only, given plenty of time
      graceMs: opts.graceful ? 60_000 : core.tuning.stopGraceMs,
    });
  }, true);
}

/** ACPI power button; the domain stops when the guest powers off. */
export function shutdown(core: DriverCore, obj: DomainObject): Promise<void> {
  return runJob(core, obj, 'remoteDispatchDomainShutdownFlags', async () => {
    if (!obj.active || !obj.runtime) throw notRunning();
    await obj.runtime.main.qmp.execute('system_powerdown');
  });
}

/** ACPI power button, then a reset instead of a stop (libvirt's fake reboot). */
export function reboot(core: DriverCore, obj: DomainObject): Promise<void> {
  return runJob(core, obj, 'remoteDispatchDomainReboot', async () => {
    if (!obj.active || !obj.runtime) throw notRunning();
    obj.runtime.fakeReboot = true;
    await obj.runtime.main.qmp.execute('system_powerdown');
  });
}

export function reset(core: DriverCore, obj: DomainObject): Promise<void> {
  return runJob(core, obj, 'remoteDispatchDomainReset', async () => {
    if (!obj.active || !obj.runtime) throw notRunning();
    await obj.runtime.main.qmp.execute('system_reset');
  });
}

export function suspend(core: DriverCore, obj: DomainObject): Promise<void> {
  return runJob(core, obj, 'remoteDispatchDomainSuspend', async () => {
    if (!obj.active || !obj.runtime) throw notRunning();
    if (obj.state.state === DomainState.PAUSED) return;
    await obj.runtime.main.qmp.execute('stop');
    obj.setState(DomainState.PAUSED, PausedReason.USER);
    core.events.lifecycle(obj.ref(), LifecycleEvent.SUSPENDED, Detail.SUSPENDED_PAUSED);
    await writeStatus(core, obj);
  });
}

export function resume(core: DriverCore, obj: DomainObject): Promise<void> {
  return runJob(core, obj, 'remoteDispatchDomainResume', async () => {
    if (!obj.active || !obj.runtime) throw notRunning();
    if (obj.state.state !== DomainState.PAUSED) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is already running');
    await obj.runtime.main.qmp.execute('cont');
    obj.setState(DomainState.RUNNING, RunningReason.UNPAUSED);
    core.events.lifecycle(obj.ref(), LifecycleEvent.RESUMED, Detail.RESUMED_UNPAUSED);
    await writeStatus(core, obj);
  });
}
