/**
 * After a daemon restart: reattach every domain whose status file says it
 * runs, without touching the guest. A domain whose main QEMU is gone is
 * cleaned up as crashed; one caught `paused (starting up)` is killed
 * (libvirt's rule). VMs never run twice and never become invisible.
 */
import { parseDomainXml, withResolvedVolumes } from '../domainxml/index.js';
import { QmpClient } from '../emulator/qmp.js';
import { AdoptedHandle, sameProcess } from '../remote/handle.js';
import { superviseRemote } from './remote-supervision.js';
import type { DriverCore } from './core.js';
import { displayPortsOf } from './display-ports.js';
import { DomainObject, type DomainRuntime, type RemoteRuntime } from './domain-object.js';
import { Detail, LifecycleEvent } from './events.js';
import { checkLogKeeper, logLine } from './domain-log.js';
import { stopDomain, writeStatus } from './stop.js';
import type { StatusRecord } from './persistence.js';
import { attachRuntime } from './runtime.js';
import { DomainState, PausedReason, ShutoffReason, type DomainStateNumber } from './state.js';
import { removeDomainCgroup } from './domain-cgroup.js';
import { removeTaps } from './net-tap.js';
import { unplugNetworks } from './networks.js';

const bigintOrUndefined = (s: string): bigint | undefined => (/^[0-9]+$/.test(s) ? BigInt(s) : undefined);

const credentialsOf = (p: { uid?: number; gid?: number }): { credentials?: { uid: number; gid: number } } =>
  p.uid !== undefined && p.gid !== undefined ? { credentials: { uid: p.uid, gid: p.gid } } : {};

/** Kill what is left of a domain we cannot reattach, and forget its runtime state. */
async function cleanUp(core: DriverCore, obj: DomainObject, rec: StatusRecord, reason: number, why: string): Promise<void> {
  core.log.warn({ domain: rec.name, why }, 'cannot reattach domain; cleaning up');
  const handles = [
    new AdoptedHandle(rec.main.pid, bigintOrUndefined(rec.main.startTime)),
    ...rec.remotes.map((r) => new AdoptedHandle(r.pid, bigintOrUndefined(r.startTime))),
  ];
  for (const h of handles) {
    await h.terminate(core.tuning.stopGraceMs).catch(() => {});
    h.dispose();
  }
  await core.status.removeRuntimeDir(rec.name).catch(() => {});
  try {
    await removeTaps(parseDomainXml(rec.liveXml), core.log, rec.name);
    unplugNetworks(parseDomainXml(rec.liveXml), core.networks, core.log, rec.name);
    removeDomainCgroup(core, parseDomainXml(rec.liveXml));
  } catch {
    // a live XML that no longer parses names no cgroup we could find
  }
  logLine(core, rec.name, `reconnect: ${why}; shutting down, reason=${reason === ShutoffReason.CRASHED ? 'crashed' : 'failed'}`);
  obj.restoreState({ state: DomainState.SHUTOFF, reason });
  obj.id = -1;
  obj.liveDef = undefined;
  core.displayPorts.release(rec.name);
  core.jail?.release(rec.name);
  core.events.lifecycle(obj.ref(), LifecycleEvent.STOPPED, Detail.STOPPED_FAILED);
  if (!obj.persistent) core.domains.remove(obj);
}

async function reattach(core: DriverCore, rec: StatusRecord): Promise<void> {
  const live = withResolvedVolumes(parseDomainXml(rec.liveXml), new Map(Object.entries(rec.volumes ?? {})));
  let obj = core.domains.findByUuid(rec.uuid);
  if (!obj) {
    obj = new DomainObject(live, rec.persistent);
    core.domains.add(obj);
  }
  obj.persistent = rec.persistent;
  obj.id = rec.id;
  obj.liveDef = live;
  core.displayPorts.adopt(rec.name, displayPortsOf(live));
  // the jail ids its processes still run as stay theirs
  core.jail?.adopt(rec.name, [rec.main.uid, ...rec.remotes.map((r) => r.uid)].filter((x): x is number => x !== undefined));
  // from the file, not through the transition table: the domain never stopped
  obj.restoreState({ state: rec.state as DomainStateNumber, reason: rec.reason });

  if (rec.state === DomainState.PAUSED && rec.reason === PausedReason.STARTING_UP) {
    return cleanUp(core, obj, rec, ShutoffReason.FAILED, 'the daemon stopped while the domain was starting');
  }
  const mainStart = bigintOrUndefined(rec.main.startTime);
  if (!sameProcess(rec.main.pid, mainStart)) {
    return cleanUp(core, obj, rec, ShutoffReason.CRASHED, 'the main QEMU died while the daemon was down');
  }
  let mainQmp: QmpClient;
  try {
    mainQmp = await QmpClient.connect(rec.main.qmpPath, { timeoutMs: core.tuning.monitorTimeoutMs });
  } catch (e) {
    return cleanUp(core, obj, rec, ShutoffReason.CRASHED, `cannot reconnect to the main QEMU's monitor: ${(e as Error).message}`);
  }
  const remotes: RemoteRuntime[] = [];
  const lost: string[] = [];
  for (const r of rec.remotes) {
    const handle = new AdoptedHandle(r.pid, bigintOrUndefined(r.startTime));
    let qmp: QmpClient | undefined;
    if (!handle.gone) qmp = await QmpClient.connect(r.qmpPath, { timeoutMs: core.tuning.monitorTimeoutMs }).catch(() => undefined);
    if (!qmp) {
      handle.dispose();
      lost.push(r.rid);
      if (r.onCrash !== 'preserve') continue;
      continue;
    }
    const startTime = bigintOrUndefined(r.startTime);
    remotes.push({
      rid: r.rid,
      alias: r.alias,
      onCrash: r.onCrash === 'preserve' ? 'preserve' : r.onCrash === 'restart' ? 'restart' : 'destroy',
      handle,
      qmp,
      qmpPath: r.qmpPath,
      ...credentialsOf(r),
      ...(r.jail ? { jail: r.jail.split(',') } : {}),
      restarts: r.restarts ?? 0,
      restartTimes: [],
      supervisor: superviseRemote(core, { rid: r.rid, alias: r.alias, pid: r.pid, ...(startTime !== undefined ? { startTime } : {}), qmp }),
    });
  }
  const rt: DomainRuntime = {
    runDir: `${core.dirs.stateDir}/${rec.name}`,
    main: { handle: new AdoptedHandle(rec.main.pid, mainStart), qmp: mainQmp, qmpPath: rec.main.qmpPath, ...credentialsOf(rec.main) },
    remotes,
    stopping: false,
    fakeReboot: false,
    shutdownEventSent: false,
    startedAt: rec.startedAt,
  };
  logLine(core, rec.name, `reconnected after a daemon restart (pid ${rec.main.pid})`);
  // the log keeper capped the processes' output while the daemon was away and goes on doing so
  await checkLogKeeper(core, rec.name, rt.runDir, 1 + rec.remotes.length);
  obj.runtime = rt;
  attachRuntime(core, obj);
  const fatal = rec.remotes.filter((r) => lost.includes(r.rid) && r.onCrash !== 'preserve');
  if (fatal.length > 0) {
    await obj.jobs.run({ owner: 'qemuProcessReconnect' }, () =>
      stopDomain(core, obj!, { reason: ShutoffReason.CRASHED, detail: Detail.STOPPED_FAILED }),
    );
    return;
  }
  await writeStatus(core, obj);
}

/** Reattach all running domains; returns the highest domain id seen (ids continue from it). */
export async function reconnectAll(core: DriverCore): Promise<number> {
  const records = await core.status.list((p) => core.log.error({ file: p.path, err: p.error }, 'unreadable status file; left in place'));
  let maxId = 0;
  for (const rec of records) {
    maxId = Math.max(maxId, rec.id);
    try {
      await reattach(core, rec);
    } catch (e) {
      core.log.error({ domain: rec.name, err: e }, 'reconnecting a domain failed');
    }
  }
  return maxId;
}
