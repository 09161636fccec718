/**
 * The process side of hot-plugging a whole isolated controller (controller-hotplug.ts): a new
 * remote QEMU for it while the guest runs, started as at domain start (jailed with an id of its
 * own, in a cgroup leaf of its own, its stand-in copy of the link), then plugged into the main
 * QEMU; and its end when the controller is unplugged.
 */
import type { DomainDef } from '../domainxml/model.js';
import type { RemotePlan } from '../emulator/launch-plan.js';
import { closeFd } from '../emulator/unixfd.js';
import { ChildHandle } from '../remote/handle.js';
import { launchRemote, type LaunchedRemote } from '../remote/launch.js';
import { RemoteStandIn } from '../remote/stand-in.js';
import type { DriverCore } from './core.js';
import { cgroupLeaf, domainCgroup } from './domain-cgroup.js';
import { domainLogFile, logBudget, logLine, processOutputs } from './domain-log.js';
import type { DomainObject, DomainRuntime, RemoteRuntime } from './domain-object.js';
import { idText, jailText, jailWrapper } from './jail.js';
import type { Credentials } from './jail-ids.js';
import { superviseRemote } from './remote-supervision.js';
import { watchRemote } from './runtime.js';

/** Spawn the remote of `plan`, plug its proxy (`getfd` + `device_add`), supervise it; undone on failure. */
export async function startRemoteForHotplug(core: DriverCore, obj: DomainObject, rt: DomainRuntime, live: DomainDef, plan: RemotePlan, proxy: Record<string, unknown>): Promise<RemoteRuntime> {
  const id = core.jail?.take(obj.name, 1)[0];
  const creds: Credentials | undefined = id !== undefined ? { uid: id, gid: id } : undefined;
  const cgroup = domainCgroup(core, live);
  cgroup?.create([cgroupLeaf(plan.rid)]);
  if (creds) logLine(core, obj.name, `jail: ${plan.rid} as ${idText(creds)}`);
  logLine(core, obj.name, `remote ${plan.rid}: ${[plan.binary, ...plan.argv].join(' ')}`);
  let launched;
  try {
    launched = await launchRemote(plan, {
      logFile: domainLogFile(core, obj.name),
      output: processOutputs(core, obj.name, rt.runDir, logBudget(core, 2 + rt.remotes.length), false),
      monitorTimeoutMs: core.tuning.monitorTimeoutMs,
      onSpawn: (rid, pid) => cgroup?.place(cgroupLeaf(rid), pid),
      ...(creds ? { credentials: () => creds } : {}),
      ...(creds && core.namespaces ? { wrapper: (rid: string | undefined) => jailWrapper(core, live, rt.runDir, rid, { main: rt.main.credentials ?? creds, remotes: new Map([[plan.rid, creds]]) }) } : {}),
    });
  } catch (e) {
    if (id !== undefined) core.jail?.releaseId(obj.name, id);
    throw e;
  }
  try {
    await plugProxy(rt, launched, proxy);
  } catch (e) {
    if (id !== undefined) core.jail?.releaseId(obj.name, id);
    throw e;
  }
  const r: RemoteRuntime = {
    rid: plan.rid,
    alias: plan.alias,
    onCrash: plan.onCrash,
    handle: new ChildHandle(launched.proc),
    qmp: launched.qmp,
    qmpPath: plan.qmpPath,
    ...(creds ? { credentials: creds } : {}),
    ...(creds && core.namespaces ? { jail: jailText(core, true) } : {}),
    standIn: new RemoteStandIn(launched.linkCopy),
    restarts: 0,
    restartTimes: [],
    supervisor: superviseRemote(core, { rid: plan.rid, alias: plan.alias, pid: launched.proc.pid, proc: launched.proc, qmp: launched.qmp }),
  };
  rt.remotes.push(r);
  watchRemote(core, obj, r); // MPVIRT_REMOTE running
  return r;
}

/**
 * getfd of the launched remote's link + device_add of its proxy in the main QEMU (hot-plug and
 * on-crash restart). On failure the fd is closed again and the launched remote is gone.
 */
export async function plugProxy(rt: DomainRuntime, l: LaunchedRemote, proxy: Record<string, unknown>): Promise<void> {
  const fdname = `mpvirt-link-${l.rid}`;
  try {
    try {
      await rt.main.qmp.execute('getfd', { fdname }, { fds: [l.mainEnd] });
    } finally {
      closeFd(l.mainEnd);
      l.mainEnd = -1;
    }
    await rt.main.qmp.execute('device_add', { ...proxy, fd: fdname });
  } catch (e) {
    await rt.main.qmp.execute('closefd', { fdname }).catch(() => undefined);
    closeFd(l.linkCopy);
    l.qmp.close();
    await l.proc.terminate({ graceMs: 1000 }).catch(() => {});
    throw e;
  }
}

/** The proxy is gone (DEVICE_DELETED): the remote exits by itself once its link closed; helped if not. */
export async function stopHotplugRemote(core: DriverCore, obj: DomainObject, rt: DomainRuntime, r: RemoteRuntime): Promise<void> {
  r.standIn?.close();
  r.qmp.close();
  const exited = await Promise.race([r.handle.exited.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 1000).unref())]);
  if (!exited) await r.handle.terminate(core.tuning.stopGraceMs).catch((e: unknown) => core.log.error({ err: e, domain: obj.name, rid: r.rid }, 'terminating an unplugged remote failed'));
  await new Promise((res) => setImmediate(res)); // the supervisor reports the exit first
  r.supervisor.dispose();
  r.handle.dispose();
  rt.remotes = rt.remotes.filter((x) => x !== r);
  if (r.credentials) core.jail?.releaseId(obj.name, r.credentials.uid);
  logLine(core, obj.name, `remote ${r.rid} (pid ${r.handle.pid}) stopped: its controller ${r.alias} was unplugged`);
}
