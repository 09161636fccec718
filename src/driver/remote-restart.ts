/**
 * on-crash `restart` (interfaces.md §6, ../shared/notes/replug.md): a remote that died (or hung
 * and was killed) is replaced while the guest runs, and the guest finds its controller again by
 * itself through ACPI PCI hot-plug.
 *
 * 1. The stand-in answers the proxy in the dead remote's place (runtime.ts activated it), so the
 *    guest's driver is not wedged in reads of dead BARs and can let the device go.
 * 2. `device_del` of the proxy in the main QEMU; the guest ejects the slot (the remote's disks have
 *    `write-cache=off`: its removal sends no cache flush the dead remote would never answer) and
 *    QEMU reports DEVICE_DELETED (device-removed); the proxy closes its end, the stand-in sees EOF.
 *    Meanwhile a fresh remote starts from the live definition (hot-plugged disks included, with
 *    their node names), jailed and in its cgroup leaf like the first.
 * 3. `getfd` with the new link + `device_add x-pci-proxy-dev` with the same id, bus and slot
 *    (device-added); the new remote's supervision begins: MPVIRT_REMOTE `restarted`.
 *
 * A replacement that dies at start counts as a crash of its own; restarts back off (at once, then
 * restartBackoffMs doubling up to 5 s) and are limited per remote to restartLimit within
 * restartWindowMs, past which the policy falls back to destroy (the crash event says so). A guest
 * that does not release the device within unplugTimeoutMs (paused, still in its firmware, not
 * answering ACPI) does not hold the domain's job: the new remote waits, and is plugged by a job
 * of its own when DEVICE_DELETED comes.
 */
import type { OnCrashAction } from '../domainxml/model.js';
import { buildLaunchPlan } from '../emulator/launch-plan.js';
import type { QmpEvent } from '../emulator/qmp.js';
import { closeFd } from '../emulator/unixfd.js';
import { MpvirtError } from '../errors.js';
import { ChildHandle } from '../remote/handle.js';
import { launchRemote, type LaunchedRemote } from '../remote/launch.js';
import { RemoteStandIn } from '../remote/stand-in.js';
import { MPVIRT_REMOTE_EVENT, type RemoteEventData } from '../remote/supervisor.js';
import { superviseRemote } from './remote-supervision.js';
import { plugProxy } from './remote-hotplug.js';
import type { DriverCore } from './core.js';
import { cgroupLeaf, domainCgroup } from './domain-cgroup.js';
import { domainLogFile, logBudget, logLine, processOutputs } from './domain-log.js';
import type { DomainObject, DomainRuntime, RemoteRuntime } from './domain-object.js';
import { deviceDeleted } from './device-deleted.js';
import { Detail } from './events.js';
import { jailWrapper } from './jail.js';
import { ShutoffReason } from './state.js';
import { stopDomain, writeStatus } from './stop.js';

export interface CrashAction {
  action: OnCrashAction;
  /** why the configured policy is not the one applied */
  reason?: string;
}

/** What a death of this remote does now: its policy, or destroy once it was restarted too often. */
export function crashAction(core: DriverCore, r: RemoteRuntime, now = performance.now()): CrashAction {
  if (r.onCrash !== 'restart') return { action: r.onCrash };
  const { restartLimit: limit, restartWindowMs: windowMs } = core.tuning;
  const recent = recentRestarts(core, r, now);
  if (recent >= limit) {
    return { action: 'destroy', reason: `restarted ${recent} times within ${windowMs / 1000} s (limit ${limit}): on-crash restart falls back to destroy` };
  }
  return { action: 'restart' };
}

/** The restarts of this remote within the window (older ones are forgotten). */
function recentRestarts(core: DriverCore, r: RemoteRuntime, now = performance.now()): number {
  r.restartTimes = r.restartTimes.filter((t) => now - t < core.tuning.restartWindowMs);
  return r.restartTimes.length;
}

/** The wait before restart number `k` within the window (from 0): none, then doubling, at most 5 s. */
export function restartDelayMs(core: DriverCore, k: number): number {
  return k === 0 ? 0 : Math.min(5000, core.tuning.restartBackoffMs * 2 ** (k - 1));
}

/** Starts watching a (new) remote's supervisor: runtime.ts's transition handler. */
export type WatchRemote = (r: RemoteRuntime) => void;

function remoteEvent(core: DriverCore, obj: DomainObject, data: RemoteEventData & Partial<CrashAction>): void {
  core.events.monitorEvent(obj.ref(), MPVIRT_REMOTE_EVENT, data);
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  ms <= 0 || signal.aborted
    ? Promise.resolve()
    : new Promise((resolve) => {
        const t = setTimeout(done, ms);
        function done(): void {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done);
      });

/** The replacement's launch: its plan from the live definition, its proxy's device_add arguments. */
async function replacementPlan(core: DriverCore, obj: DomainObject, rt: DomainRuntime, r: RemoteRuntime) {
  const live = obj.liveDef ?? obj.def;
  const caps = await core.caps.get(live.emulator ?? core.defaultEmulator);
  const plan = buildLaunchPlan(live, caps, { runDir: rt.runDir });
  const remote = plan.remotes.find((p) => p.rid === r.rid);
  const argv = plan.main.argv;
  const proxyArg = argv.find((a, i) => argv[i - 1] === '-device' && a.startsWith('{') && (JSON.parse(a) as { driver?: string; id?: string }).id === r.alias);
  if (!remote || !proxyArg) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `remote process '${r.rid}' is not in the live definition`);
  return { live, remote, proxy: JSON.parse(proxyArg) as Record<string, unknown> };
}

/** Spawn the replacement (jailed, in its cgroup leaf); `spawned` learns each pid. */
async function spawnReplacement(core: DriverCore, obj: DomainObject, rt: DomainRuntime, r: RemoteRuntime, spawned: (pid: number) => void) {
  const { live, remote, proxy } = await replacementPlan(core, obj, rt, r);
  const cgroup = domainCgroup(core, live);
  const creds = r.credentials;
  const launched = await launchRemote(remote, {
    logFile: domainLogFile(core, obj.name),
    output: processOutputs(core, obj.name, rt.runDir, logBudget(core, 1 + rt.remotes.length), false),
    monitorTimeoutMs: core.tuning.monitorTimeoutMs,
    onSpawn: (rid, pid) => {
      spawned(pid);
      cgroup?.place(cgroupLeaf(rid), pid);
    },
    ...(creds ? { credentials: () => creds } : {}),
    ...(creds && core.namespaces ? { wrapper: (rid: string | undefined) => jailWrapper(core, live, rt.runDir, rid, { main: rt.main.credentials ?? creds, remotes: new Map([[r.rid, creds]]) }) } : {}),
  });
  return { launched, proxy };
}

/** Throw away a replacement that will not be plugged. */
async function discard(l: LaunchedRemote): Promise<void> {
  if (l.mainEnd >= 0) closeFd(l.mainEnd);
  l.mainEnd = -1;
  closeFd(l.linkCopy);
  l.qmp.close();
  await l.proc.terminate({ graceMs: 1000 }).catch(() => {});
}

/**
 * Replace the dead remote `r` (inside the domain's job; the crash was announced with action
 * 'restart'). Ends with the new remote plugged, with it waiting for the guest to release the old
 * device, or with the domain destroyed when the restarts ran out.
 */
export async function restartRemote(core: DriverCore, obj: DomainObject, r: RemoteRuntime, signal: AbortSignal, watch: WatchRemote): Promise<void> {
  const rt = obj.runtime;
  if (!rt || rt.stopping) return;
  const gone = (): boolean => signal.aborted || obj.runtime !== rt || rt.stopping;
  const oldPid = r.supervisor.pid;
  r.restartTimes.push(performance.now());
  r.supervisor.restarting('on-crash restart');
  logLine(core, obj.name, `remote ${r.rid} (pid ${oldPid}) died; on-crash restart ${r.restarts + 1}: unplugging ${r.alias} and starting a new remote`);
  // the unplug runs while the new remote starts: the guest's ACPI eject takes about 0.1 s
  const deleted = deviceDeleted(rt.main.qmp, r.alias, core.tuning.unplugTimeoutMs, signal);
  const released = rt.main.qmp.execute('device_del', { id: r.alias }).then(
    () => deleted.done,
    (e: unknown) => {
      deleted.cancel();
      throw e;
    },
  );
  // observed by the awaits below; an early failure must not be an unhandled rejection meanwhile
  released.catch(() => {});
  let launched: LaunchedRemote | undefined;
  let proxy: Record<string, unknown> = {};
  while (launched === undefined) {
    await sleep(restartDelayMs(core, recentRestarts(core, r) - 1), signal);
    if (gone()) return;
    let pid = 0;
    try {
      ({ launched, proxy } = await spawnReplacement(core, obj, rt, r, (p) => (pid = p)));
    } catch (e) {
      // the replacement died at start (or could not be made): a crash of its own
      const next = crashAction(core, r);
      logLine(core, obj.name, `remote ${r.rid}: the new remote failed to start: ${(e as Error).message}`);
      remoteEvent(core, obj, { rid: r.rid, alias: r.alias, state: 'crashed', pid, status: null, ...next });
      if (gone()) return;
      if (next.action !== 'restart') return giveUp(core, obj, r, next.reason ?? 'the new remote failed to start');
      r.restartTimes.push(performance.now());
      remoteEvent(core, obj, { rid: r.rid, alias: r.alias, state: 'restarting', pid, status: null });
    }
  }
  if (gone()) return discard(launched);
  let ok: boolean;
  try {
    ok = await released;
  } catch (e) {
    await discard(launched);
    return giveUp(core, obj, r, `device_del of ${r.alias} failed: ${(e as Error).message}`);
  }
  if (gone()) return discard(launched);
  if (ok) return plug(core, obj, rt, r, launched, proxy, watch);
  // force-continue: the guest keeps the device for now; plug the new remote once it lets go
  logLine(core, obj.name, `remote ${r.rid}: the guest did not release ${r.alias} within ${core.tuning.unplugTimeoutMs} ms; the new remote (pid ${launched.proc.pid}) is plugged once it does`);
  core.log.warn({ domain: obj.name, rid: r.rid, alias: r.alias }, 'guest did not release the device of a crashed remote; re-plug deferred');
  awaitRelease(core, obj, rt, r, launched, proxy, watch);
}

/** The deferred end of a restart: a job of its own when the guest finally releases the device. */
function awaitRelease(core: DriverCore, obj: DomainObject, rt: DomainRuntime, r: RemoteRuntime, launched: LaunchedRemote, proxy: Record<string, unknown>, watch: WatchRemote): void {
  const onEvent = (ev: QmpEvent): void => {
    if (ev.event !== 'DEVICE_DELETED' || (ev.data as { device?: string }).device !== r.alias) return;
    stopWaiting();
    void obj.jobs
      .run({ owner: 'mpvirtRemoteReplug' }, async () => {
        if (obj.runtime !== rt || rt.stopping) return discard(launched);
        await plug(core, obj, rt, r, launched, proxy, watch);
      })
      .catch((e: unknown) => core.log.error({ err: e, domain: obj.name, rid: r.rid }, 're-plugging a restarted remote failed'));
  };
  const onGone = (): void => {
    stopWaiting();
    void discard(launched);
  };
  const stopWaiting = (): void => {
    rt.main.qmp.off('event', onEvent);
    rt.main.qmp.off('close', onGone);
    r.pendingReplacement = undefined;
  };
  rt.main.qmp.on('event', onEvent);
  rt.main.qmp.on('close', onGone);
  // a stop of the domain meanwhile ends the wait and the waiting remote (stop.ts)
  r.pendingReplacement = onGone;
}

/** getfd + device_add of the proxy for the new remote, then its supervision. */
async function plug(core: DriverCore, obj: DomainObject, rt: DomainRuntime, r: RemoteRuntime, l: LaunchedRemote, proxy: Record<string, unknown>, watch: WatchRemote): Promise<void> {
  // the old device is gone: the stand-in's work is done, and the old process's resources go
  r.standIn?.close();
  r.supervisor.dispose();
  r.handle.dispose();
  r.qmp.close();
  core.events.emit('device-removed', { dom: obj.ref(), alias: r.alias });
  try {
    await plugProxy(rt, l, proxy);
  } catch (e) {
    return giveUp(core, obj, r, `device_add of ${r.alias} failed: ${(e as Error).message}`);
  }
  r.handle = new ChildHandle(l.proc);
  r.qmp = l.qmp;
  r.standIn = new RemoteStandIn(l.linkCopy);
  r.restarts++;
  r.supervisor = superviseRemote(core, { rid: r.rid, alias: r.alias, pid: l.proc.pid, proc: l.proc, qmp: l.qmp, initialState: 'restarting' });
  core.events.emit('device-added', { dom: obj.ref(), alias: r.alias });
  logLine(core, obj.name, `remote ${r.rid} restarted (pid ${l.proc.pid}), ${r.alias} plugged again; restarts: ${r.restarts}`);
  watch(r); // begin(): MPVIRT_REMOTE restarted (or crashed, if it died meanwhile)
  await writeStatus(core, obj);
}

/** Past the restart limit, or a restart that cannot work: the policy falls back to destroy. */
async function giveUp(core: DriverCore, obj: DomainObject, r: RemoteRuntime, why: string): Promise<void> {
  logLine(core, obj.name, `remote ${r.rid}: ${why}; destroying the domain`);
  core.log.error({ domain: obj.name, rid: r.rid, why }, 'on-crash restart gave up');
  await stopDomain(core, obj, { reason: ShutoffReason.CRASHED, detail: Detail.STOPPED_FAILED });
}
