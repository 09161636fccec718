/**
 * Stop of a domain (always inside a job) and the status record of a running one: every process
 * gone in the order of interfaces.md §5 (main QEMU first), libvirt's events, and cleanup of every
 * process, socket, directory and cgroup on every path.
 */
import { MpvirtError } from '../errors.js';
import { formatDomainXml, resolvedVolumes } from '../domainxml/index.js';
import { removeDomainCgroup } from './domain-cgroup.js';
import { removeTaps } from './net-tap.js';
import { unplugNetworks } from './networks.js';
import type { DriverCore } from './core.js';
import type { DomainObject } from './domain-object.js';
import { Detail, LifecycleEvent } from './events.js';
import type { StatusRecord } from './persistence.js';
import { DomainState, reasonName } from './state.js';

import { logLine } from './domain-log.js';

export function notRunning(): MpvirtError {
  return new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
}

export async function writeStatus(core: DriverCore, obj: DomainObject, job?: string): Promise<void> {
  const rt = obj.runtime;
  if (!rt || rt.stopping) return;
  const volumes = resolvedVolumes(obj.liveDef ?? obj.def);
  const rec: StatusRecord = {
    version: 1,
    name: obj.name,
    uuid: obj.uuid,
    id: obj.id,
    state: obj.state.state,
    reason: obj.state.reason,
    liveXml: formatDomainXml(obj.liveDef ?? obj.def),
    // the XML shows a volume disk's pool and volume only: what it runs on is kept beside it
    ...(volumes.size > 0 ? { volumes: Object.fromEntries(volumes) } : {}),
    persistent: obj.persistent,
    main: { pid: rt.main.handle.pid, startTime: String(rt.main.handle.startTime ?? ''), qmpPath: rt.main.qmpPath, ...(rt.main.credentials ?? {}) },
    remotes: rt.remotes.map((r) => ({
      rid: r.rid,
      alias: r.alias,
      pid: r.handle.pid,
      startTime: String(r.handle.startTime ?? ''),
      qmpPath: r.qmpPath,
      state: r.supervisor.state,
      onCrash: r.onCrash,
      ...(r.credentials ?? {}),
      ...(r.jail ? { jail: r.jail.join(',') } : {}),
      ...(r.restarts > 0 ? { restarts: r.restarts } : {}),
    })),
    ...(job !== undefined ? { job } : {}),
    startedAt: rt.startedAt,
  };
  await core.status.write(rec);
}

export interface StopOptions {
  reason: number;
  detail: number;
  /** SIGTERM → SIGKILL grace; default the driver's */
  graceMs?: number;
}

/**
 * Stop every process of a running domain — main QEMU first, then the remotes —
 * and clean up. Idempotent: a second call for the same run does nothing.
 */
export async function stopDomain(core: DriverCore, obj: DomainObject, opts: StopOptions): Promise<void> {
  const rt = obj.runtime;
  if (!rt || rt.stopping) return;
  rt.stopping = true;
  const grace = opts.graceMs ?? core.tuning.stopGraceMs;
  for (const r of rt.remotes) {
    r.supervisor.expectExit();
    r.pendingReplacement?.();
  }
  await rt.main.handle.terminate(grace).catch((e: unknown) => core.log.error({ err: e, domain: obj.name }, 'terminating the main QEMU failed'));
  rt.main.qmp.close();
  rt.main.handle.dispose();
  await removeTaps(obj.liveDef, core.log, obj.name);
  unplugNetworks(obj.liveDef, core.networks, core.log, obj.name);
  for (const r of rt.remotes) {
    r.qmp.close();
    // a remote exits by itself once its peer is gone; help it if it does not
    const exited = await Promise.race([r.handle.exited.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 500).unref())]);
    if (!exited) await r.handle.terminate(grace).catch((e: unknown) => core.log.error({ err: e, domain: obj.name, rid: r.rid }, 'terminating a remote failed'));
    r.supervisor.dispose();
    r.handle.dispose();
    r.standIn?.close();
  }
  await core.status.removeRuntimeDir(obj.name).catch((e: unknown) => core.log.warn({ err: e, domain: obj.name }, 'cannot remove the runtime dir'));
  removeDomainCgroup(core, obj.liveDef);
  logLine(core, obj.name, `shutting down, reason=${reasonName(DomainState.SHUTOFF, opts.reason)}`);
  if (opts.detail === Detail.STOPPED_DESTROYED && !rt.shutdownEventSent) {
    // QEMU announces SIGTERM with a SHUTDOWN event; after a SIGKILL we say it ourselves
    core.events.lifecycle(obj.ref(), LifecycleEvent.SHUTDOWN, Detail.SHUTDOWN_HOST);
  }
  const ref = obj.ref();
  obj.runtime = undefined;
  obj.liveDef = undefined;
  core.displayPorts.release(obj.name);
  core.jail?.release(obj.name);
  obj.setState(DomainState.SHUTOFF, opts.reason);
  obj.id = -1;
  if (obj.pendingDef) {
    obj.def = obj.pendingDef;
    obj.pendingDef = undefined;
  }
  core.events.lifecycle({ ...ref, id: -1 }, LifecycleEvent.STOPPED, opts.detail);
  if (!obj.persistent) core.domains.remove(obj);
}
