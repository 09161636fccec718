/**
 * What happens while a domain runs: the main QEMU's monitor events, its death,
 * and the remote processes' supervision with the on-crash policy. Everything
 * that changes the domain's state runs as a job, like libvirt's process event
 * handler.
 */
import { withChannelConnection } from '../domainxml/index.js';
import type { QmpEvent } from '../emulator/qmp.js';
import { remoteEventData, type RemoteTransition, MPVIRT_REMOTE_EVENT } from '../remote/supervisor.js';
import type { DriverCore } from './core.js';
import type { DomainObject, DomainRuntime, RemoteRuntime } from './domain-object.js';
import { logLine } from './domain-log.js';
import { onBalloonChange } from './api-tuning.js';
import { crashAction, restartRemote } from './remote-restart.js';
import { Detail, LifecycleEvent } from './events.js';
import { stopDomain, writeStatus } from './stop.js';
import { DomainState, RunningReason, ShutoffReason } from './state.js';

/** Wire up the watchers of a freshly launched or re-adopted domain. */
export function attachRuntime(core: DriverCore, obj: DomainObject): void {
  const rt = obj.runtime!;
  rt.main.qmp.on('event', (ev) => onMainEvent(core, obj, ev));
  const gone = (): void => void onMainGone(core, obj);
  rt.main.qmp.on('close', gone);
  void rt.main.handle.exited.then(gone);
  for (const r of rt.remotes) watchRemote(core, obj, r);
}

/** Supervise a remote (at start, after a reconnect, and each replacement of a restart). */
export function watchRemote(core: DriverCore, obj: DomainObject, r: RemoteRuntime): void {
  const sup = r.supervisor;
  sup.on('transition', (t) => {
    if (r.supervisor === sup) onRemoteTransition(core, obj, r, t);
  });
  sup.begin();
}

function onMainEvent(core: DriverCore, obj: DomainObject, ev: QmpEvent): void {
  const rt = obj.runtime;
  if (!rt) return;
  core.events.monitorEvent(obj.ref(), ev.event, ev.data);
  switch (ev.event) {
    case 'SHUTDOWN': {
      const guest = (ev.data as { guest?: boolean }).guest === true;
      if (guest && rt.fakeReboot) {
        // `virsh reboot`: the guest shut down on our ACPI request; start it again
        rt.fakeReboot = false;
        void obj.jobs
          .run({ owner: 'qemuProcessFakeReboot' }, async () => {
            if (obj.runtime !== rt || rt.stopping) return;
            await rt.main.qmp.execute('system_reset');
            await rt.main.qmp.execute('cont');
            if (obj.state.state !== DomainState.RUNNING) obj.setState(DomainState.RUNNING, RunningReason.BOOTED);
            // no reboot event here: QEMU's RESET events give one each, as in libvirt
          })
          .catch((e: unknown) => core.log.warn({ err: e, domain: obj.name }, 'fake reboot failed'));
        return;
      }
      // one SHUTDOWN per run: stopping QEMU after a guest poweroff makes it send another
      if (rt.shutdownEventSent) return;
      rt.shutdownEventSent = true;
      core.events.lifecycle(obj.ref(), LifecycleEvent.SHUTDOWN, guest ? Detail.SHUTDOWN_GUEST : Detail.SHUTDOWN_HOST);
      if (!rt.stopping) {
        // the guest powered off (-no-shutdown keeps QEMU alive): stop the domain
        void obj.jobs
          .run({ owner: 'qemuProcessHandleShutdown' }, () =>
            stopDomain(core, obj, { reason: ShutoffReason.SHUTDOWN, detail: Detail.STOPPED_SHUTDOWN }),
          )
          .catch((e: unknown) => core.log.error({ err: e, domain: obj.name }, 'stopping after guest shutdown failed'));
      }
      return;
    }
    case 'RESET':
      core.events.emit('reboot', { dom: obj.ref() });
      return;
    case 'BALLOON_CHANGE':
      onBalloonChange(core, obj, (ev.data as { actual?: number }).actual ?? Number.NaN);
      return;
    case 'VSERPORT_CHANGE': {
      // a guest agent opened or closed its port: the live XML's channel state follows
      const { id, open } = ev.data as { id?: string; open?: boolean };
      if (typeof id === 'string' && obj.liveDef) {
        obj.liveDef = withChannelConnection(obj.liveDef, id, open === true);
        void writeStatus(core, obj).catch(() => {});
      }
      return;
    }
    default:
      return;
  }
}

/** The main QEMU exited or its monitor closed without us stopping it: the domain crashed. */
async function onMainGone(core: DriverCore, obj: DomainObject): Promise<void> {
  const rt = obj.runtime;
  if (!rt || rt.stopping) return;
  core.log.warn({ domain: obj.name, pid: rt.main.handle.pid }, 'main QEMU is gone');
  await obj.jobs
    .run({ owner: 'qemuProcessHandleMonitorEOF', interrupting: true }, async () => {
      if (obj.runtime !== rt || rt.stopping) return;
      await stopDomain(core, obj, { reason: ShutoffReason.CRASHED, detail: Detail.STOPPED_FAILED });
    })
    .catch((e: unknown) => core.log.error({ err: e, domain: obj.name }, 'cleaning up after the main QEMU failed'));
}

function onRemoteTransition(core: DriverCore, obj: DomainObject, r: RemoteRuntime, t: RemoteTransition): void {
  const rt = obj.runtime;
  const active = rt !== undefined && !rt.stopping;
  // what the policy does about a death is decided first, so that its event can say it
  const decision = t.to === 'crashed' && active ? crashAction(core, r) : undefined;
  const data = remoteEventData(t);
  if (data) core.events.monitorEvent(obj.ref(), MPVIRT_REMOTE_EVENT, decision ? { ...data, ...decision } : data);
  core.log.info({ domain: obj.name, rid: t.rid, from: t.from, to: t.to, pid: t.pid, reason: t.reason }, 'remote process transition');
  // the daemon's copy of the link keeps the proxy from seeing the death: from now on it answers
  // in the remote's place (or, if the daemon stopped the remote, it lets go)
  if (t.to === 'crashed') r.standIn?.activate();
  if (t.to === 'exited') r.standIn?.close();
  if (!active) return;
  if (t.to === 'hung') {
    // a hung remote freezes the main QEMU at its next device access: end it now; under destroy
    // the domain goes at once, otherwise the death that follows applies the policy
    r.supervisor.kill();
    if (r.onCrash === 'destroy') return destroyForRemote(core, obj, rt);
  }
  if (!decision) {
    void writeStatus(core, obj).catch(() => {});
    return;
  }
  switch (decision.action) {
    case 'preserve':
      // the guest keeps running without the device, answered by the stand-in (all accesses
      // complete, reads give 0): no wedged driver, no error flood
      void writeStatus(core, obj).catch(() => {});
      return;
    case 'restart':
      void obj.jobs
        .run({ owner: 'mpvirtRemoteRestart', interrupting: true }, (job) => restartRemote(core, obj, r, job.signal, (next) => watchRemote(core, obj, next)))
        .catch((e: unknown) => core.log.error({ err: e, domain: obj.name, rid: r.rid }, 'restarting a remote failed'));
      return;
    case 'destroy':
      if (decision.reason) logLine(core, obj.name, `remote ${r.rid}: ${decision.reason}`);
      return destroyForRemote(core, obj, rt);
  }
}

/** The destroy policy: the domain goes, as after a crash. */
function destroyForRemote(core: DriverCore, obj: DomainObject, rt: DomainRuntime): void {
  void obj.jobs
    .run({ owner: 'mpvirtRemoteCrashPolicy', interrupting: true }, async () => {
      if (obj.runtime !== rt || rt.stopping) return;
      await stopDomain(core, obj, { reason: ShutoffReason.CRASHED, detail: Detail.STOPPED_FAILED });
    })
    .catch((e: unknown) => core.log.error({ err: e, domain: obj.name }, 'applying the on-crash policy failed'));
}
