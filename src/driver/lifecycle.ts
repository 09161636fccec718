/**
 * Start and stop of a domain (always called inside a job): the order of
 * interfaces.md §5, libvirt's state and event sequences, and cleanup of every
 * process, socket and directory on every path.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MpvirtError } from '../errors.js';
import { assignAliases } from '../domainxml/aliases.js';
import { formatDomainXml, ptyPathsOf, withChannelState, withPtyPaths, withResourcePartition, withRunningDisks } from '../domainxml/index.js';
import { diskNodeNumbers } from '../emulator/device-argv.js';
import { channelSocketPath } from '../emulator/guest-extras-argv.js';
import type { DomainDef, MemballoonDef } from '../domainxml/model.js';
import { buildLaunchPlan, type LaunchPlan } from '../emulator/launch-plan.js';
import { imageHasNoBacking } from './block-info.js';
import { withDisplayPorts } from './display-ports.js';
import { cgroupLeaf, domainCgroup, removeDomainCgroup } from './domain-cgroup.js';
import { idText, jailCredentials, jailText, jailWrapper, prepareDisplayDirs, type JailCredentials } from './jail.js';
import { LogCap } from '../emulator/log-cap.js';
import { assertMultiprocess } from '../emulator/caps-probe.js';
import { shellQuote } from '../emulator/native.js';
import { ChildHandle } from '../remote/handle.js';
import { launchPlan } from '../remote/launch.js';
import { RemoteSupervisor } from '../remote/supervisor.js';
import type { DriverCore } from './core.js';
import type { DomainObject, DomainRuntime } from './domain-object.js';
import { Detail, LifecycleEvent } from './events.js';
import type { StatusRecord } from './persistence.js';
import { attachRuntime } from './runtime.js';
import { DomainState, PausedReason, RunningReason, ShutoffReason, reasonName } from './state.js';

const LOG_ROTATE_BYTES = 8 * 1024 * 1024;

export function domainLogFile(core: DriverCore, name: string): string {
  return join(core.dirs.logDir, `${name}.log`);
}

/** One timestamped line in the domain's log, libvirt's `YYYY-MM-DD hh:mm:ss.sss+0000: …` style. */
export function logLine(core: DriverCore, name: string, text: string): void {
  const ts = new Date().toISOString().replace('T', ' ').replace('Z', '+0000');
  try {
    appendFileSync(domainLogFile(core, name), `${ts}: ${text}\n`, { mode: 0o600 });
  } catch (e) {
    core.log.warn({ err: e, domain: name }, 'cannot write the domain log');
  }
}

/**
 * Starts the size cap of a domain's log for `processes` QEMU processes, measured from the log's
 * current size: `core.tuning.logLimitBytes` per process.
 */
export function startLogCap(core: DriverCore, name: string, processes: number): LogCap {
  return LogCap.fromCurrentSize(domainLogFile(core, name), core.tuning.logLimitBytes * processes).begin();
}

function rotateLog(core: DriverCore, name: string): void {
  const file = domainLogFile(core, name);
  try {
    if (statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
}

export function notRunning(): MpvirtError {
  return new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
}

export async function writeStatus(core: DriverCore, obj: DomainObject, job?: string): Promise<void> {
  const rt = obj.runtime;
  if (!rt || rt.stopping) return;
  const rec: StatusRecord = {
    version: 1,
    name: obj.name,
    uuid: obj.uuid,
    id: obj.id,
    state: obj.state.state,
    reason: obj.state.reason,
    liveXml: formatDomainXml(obj.liveDef ?? obj.def),
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
    })),
    ...(job !== undefined ? { job } : {}),
    startedAt: rt.startedAt,
  };
  await core.status.write(rec);
}

function planFor(core: DriverCore, def: DomainDef): Promise<LaunchPlan> {
  const emulator = def.emulator ?? core.defaultEmulator;
  return core.caps.get(emulator).then((caps) => {
    if ((def.metadata?.remote?.processes.length ?? 0) > 0) assertMultiprocess(caps);
    const firmwareLog = core.tuning.firmwareLog ? { firmwareLog: join(core.dirs.logDir, `${def.name}.firmware.log`) } : {};
    return buildLaunchPlan(def, caps, { runDir: join(core.dirs.stateDir, def.name), ...firmwareLog });
  });
}

export interface StartOptions {
  paused?: boolean;
  signal?: AbortSignal;
}

/** Start a domain: remotes, then the main QEMU paused, then `cont` (unless paused). */
export async function startDomain(core: DriverCore, obj: DomainObject, opts: StartOptions = {}): Promise<void> {
  if (obj.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is already running');
  // the running definition names every device as libvirt does; the argv uses those names
  // and every autoport display has its port before QEMU is told where to listen
  if (obj.def.type === 'qemu' && obj.def.cpu?.mode === 'host-passthrough') {
    // qemuValidateDomainDefCpu, at start as in libvirt: TCG has no host CPU to pass through
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', "CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host is not supported by hypervisor");
  }
  const runDir = join(core.dirs.stateDir, obj.name);
  const live = await withDisplayPorts(assignAliases(obj.def), core.displayPorts, obj.name, runDir);
  let plan: LaunchPlan;
  try {
    plan = await planFor(core, live);
  } catch (e) {
    core.displayPorts.release(obj.name);
    throw e;
  }
  mkdirSync(core.dirs.logDir, { recursive: true, mode: 0o700 });
  rotateLog(core, obj.name);
  obj.id = core.allocateId();
  // what libvirt shows of a running guest's disks and channels
  obj.liveDef = withChannelState(withRunningDisks(live, diskNodeNumbers(live), imageHasNoBacking), (name, i) => channelSocketPath(runDir, name ?? `channel${i}`));
  obj.setState(DomainState.PAUSED, PausedReason.STARTING_UP);
  logLine(core, obj.name, `starting up mpvirt, domain id ${obj.id}`);
  for (const r of plan.remotes) logLine(core, obj.name, `remote ${r.rid}: ${[r.binary, ...r.argv].map(shellQuote).join(' ')}`);
  logLine(core, obj.name, `main: ${[plan.main.binary, ...plan.main.argv].map(shellQuote).join(' ')}`);

  // QEMU appends to the log directly; the cap keeps its head: logLimitBytes per process
  const logCap = startLogCap(core, obj.name, plan.remotes.length + 1);
  let launched;
  let creds: JailCredentials | undefined;
  try {
    creds = jailCredentials(core, obj.name, live, plan);
    if (creds) logLine(core, obj.name, `jail: main as ${idText(creds.main)}, ${plan.remotes.map((r) => `${r.rid} as ${idText(creds!.remotes.get(r.rid)!)}`).join(', ') || 'no remote processes'}`);
    prepareDisplayDirs(live, runDir, creds?.main);
    const cgroup = domainCgroup(core, live);
    if (cgroup) {
      const refused = cgroup.create([cgroupLeaf(undefined), ...plan.remotes.map((r) => cgroupLeaf(r.rid))]);
      logLine(core, obj.name, `cgroup: ${cgroup.path}${refused.length ? ` (not in ${refused.join(', ')})` : ''}`);
      obj.liveDef = withResourcePartition(obj.liveDef!, cgroup.partition);
    }
    launched = await launchPlan(plan, runDir, {
      ...(cgroup ? { onSpawn: (rid: string | undefined, pid: number) => cgroup.place(cgroupLeaf(rid), pid) } : {}),
      logFile: domainLogFile(core, obj.name),
      monitorTimeoutMs: core.tuning.monitorTimeoutMs,
      ...(creds ? { credentials: (rid: string | undefined) => (rid === undefined ? creds!.main : creds!.remotes.get(rid)) } : {}),
      ...(creds && core.namespaces ? { wrapper: (rid: string | undefined) => jailWrapper(core, live, runDir, rid, creds!) } : {}),
    });
  } catch (e) {
    logCap.enforce();
    logCap.stop();
    await failStart(core, obj, e);
    throw e;
  }
  const rt: DomainRuntime = {
    runDir,
    plan,
    main: { handle: new ChildHandle(launched.main.proc), qmp: launched.main.qmp, qmpPath: plan.main.qmpPath, ...(creds ? { credentials: creds.main } : {}) },
    remotes: launched.remotes.map((l, i) => {
      const p = plan.remotes[i]!;
      const c = creds?.remotes.get(p.rid);
      return {
        rid: p.rid,
        alias: p.alias,
        onCrash: p.onCrash,
        handle: new ChildHandle(l.proc),
        qmp: l.qmp,
        qmpPath: p.qmpPath,
        ...(c ? { credentials: c } : {}),
        ...(c && core.namespaces ? { jail: jailText(core, true) } : {}),
        supervisor: new RemoteSupervisor({
          rid: p.rid,
          alias: p.alias,
          pid: l.proc.pid,
          ...(l.proc.startTime !== undefined ? { startTime: l.proc.startTime } : {}),
          proc: l.proc,
          qmp: l.qmp,
          heartbeatIntervalMs: core.tuning.heartbeatMs,
          hangDeadlineMs: core.tuning.hangDeadlineMs,
        }),
      };
    }),
    stopping: false,
    fakeReboot: false,
    shutdownEventSent: false,
    startedAt: new Date().toISOString(),
    logCap,
  };
  // a process's last words are capped at once, not only at the next interval
  for (const h of [rt.main.handle, ...rt.remotes.map((r) => r.handle)]) void h.exited.then(() => logCap.enforce());
  obj.runtime = rt;
  attachRuntime(core, obj);
  try {
    if (opts.signal?.aborted) throw new MpvirtError('VIR_ERR_OPERATION_ABORTED', 'domain start was interrupted by destroy');
    // qemuProcessSetupBalloon: the guest's memory statistics every `period` seconds
    const balloon = live.devices.find((d): d is MemballoonDef => d.kind === 'memballoon' && d.model === 'virtio');
    const period = balloon?.extra.children.find((c) => c.ns === null && c.local === 'stats')?.attrs.find((a) => a.name === 'period')?.value;
    if (balloon && period !== undefined && Number(period) > 0) {
      await rt.main.qmp.execute('qom-set', { path: `/machine/peripheral/${balloon.alias ?? 'balloon0'}`, property: 'guest-stats-polling-interval', value: Number(period) });
    }
    // the ptys QEMU allocated for serial ports and consoles, in the live XML as libvirt shows them
    if (live.devices.some((d) => (d.kind === 'serial' || d.kind === 'console') && d.type === 'pty')) {
      const chardevs = await rt.main.qmp.execute<Array<{ label: string; filename: string }>>('query-chardev');
      obj.liveDef = withPtyPaths(obj.liveDef ?? live, ptyPathsOf(chardevs));
    }
    await writeStatus(core, obj);
    if (opts.paused) {
      core.events.lifecycle(obj.ref(), LifecycleEvent.STARTED, Detail.STARTED_BOOTED);
      obj.setState(DomainState.PAUSED, PausedReason.USER);
      core.events.lifecycle(obj.ref(), LifecycleEvent.SUSPENDED, Detail.SUSPENDED_PAUSED);
    } else {
      await rt.main.qmp.execute('cont');
      obj.setState(DomainState.RUNNING, RunningReason.BOOTED);
      core.events.lifecycle(obj.ref(), LifecycleEvent.RESUMED, Detail.RESUMED_UNPAUSED);
      core.events.lifecycle(obj.ref(), LifecycleEvent.STARTED, Detail.STARTED_BOOTED);
    }
    await writeStatus(core, obj);
  } catch (e) {
    if (obj.runtime === rt && !rt.stopping) {
      const interrupted = opts.signal?.aborted === true;
      await stopDomain(core, obj, interrupted
        ? { reason: ShutoffReason.DESTROYED, detail: Detail.STOPPED_DESTROYED }
        : { reason: ShutoffReason.FAILED, detail: Detail.STOPPED_FAILED });
    }
    throw e;
  }
}

async function failStart(core: DriverCore, obj: DomainObject, e: unknown): Promise<void> {
  logLine(core, obj.name, `start failed: ${(e as Error).message}`);
  await core.status.removeRuntimeDir(obj.name).catch(() => {});
  removeDomainCgroup(core, obj.liveDef);
  obj.setState(DomainState.SHUTOFF, ShutoffReason.FAILED);
  obj.id = -1;
  obj.liveDef = undefined;
  core.displayPorts.release(obj.name);
  core.jail?.release(obj.name);
  core.events.lifecycle(obj.ref(), LifecycleEvent.STOPPED, Detail.STOPPED_FAILED);
  if (!obj.persistent) core.domains.remove(obj);
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
  for (const r of rt.remotes) r.supervisor.expectExit();
  await rt.main.handle.terminate(grace).catch((e: unknown) => core.log.error({ err: e, domain: obj.name }, 'terminating the main QEMU failed'));
  rt.main.qmp.close();
  rt.main.handle.dispose();
  for (const r of rt.remotes) {
    r.qmp.close();
    // a remote exits by itself once its peer is gone; help it if it does not
    const exited = await Promise.race([r.handle.exited.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 500).unref())]);
    if (!exited) await r.handle.terminate(grace).catch((e: unknown) => core.log.error({ err: e, domain: obj.name, rid: r.rid }, 'terminating a remote failed'));
    r.supervisor.dispose();
    r.handle.dispose();
  }
  // every process is gone: cap what they wrote last, then stop (our own lines are not capped)
  rt.logCap?.enforce();
  rt.logCap?.stop();
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
