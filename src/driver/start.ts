/**
 * Start of a domain (always called inside a job): the order of interfaces.md §5, libvirt's state
 * and event sequences, and cleanup of everything started when a step fails.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MpvirtError } from '../errors.js';
import { assignAliases } from '../domainxml/aliases.js';
import { ptyPathsOf, withChannelState, withPtyPaths, withResourcePartition, withRunningDisks, withTapNames } from '../domainxml/index.js';
import { diskNodeNumbers } from '../emulator/device-argv.js';
import { channelSocketPath } from '../emulator/guest-extras-argv.js';
import type { DomainDef, MemballoonDef } from '../domainxml/model.js';
import { buildLaunchPlan, type LaunchPlan } from '../emulator/launch-plan.js';
import { imageHasNoBacking } from './block-info.js';
import { withDisplayPorts } from './display-ports.js';
import { cgroupLeaf, domainCgroup, removeDomainCgroup } from './domain-cgroup.js';
import { idText, jailCredentials, jailText, jailWrapper, prepareDisplayDirs, type JailCredentials } from './jail.js';
import { assertMultiprocess } from '../emulator/caps-probe.js';
import { refuseKnownCrashes } from '../emulator/known-crashes.js';
import { shellQuote } from '../emulator/native.js';
import { ChildHandle } from '../remote/handle.js';
import { launchPlan } from '../remote/launch.js';
import { superviseRemote } from './remote-supervision.js';
import { openTaps } from './net-tap.js';
import { applyPinning, hasPinning } from './cpu-pinning.js';
import { resolveVolumes } from './volumes.js';
import { plugNetworks, unplugNetworks } from './networks.js';
import { refreshLiveCpu } from './live-cpu.js';
import type { DriverCore } from './core.js';
import type { DomainObject, DomainRuntime } from './domain-object.js';
import { Detail, LifecycleEvent } from './events.js';
import { attachRuntime } from './runtime.js';
import { DomainState, PausedReason, RunningReason, ShutoffReason } from './state.js';

import { domainLogFile, logBudget, logLine, processOutputs, rotateLog } from './domain-log.js';
import { stopDomain, writeStatus } from './stop.js';
import { RemoteStandIn } from '../remote/stand-in.js';

function planFor(core: DriverCore, def: DomainDef): Promise<LaunchPlan> {
  const emulator = def.emulator ?? core.defaultEmulator;
  return core.caps.get(emulator).then((caps) => {
    if ((def.metadata?.remote?.processes.length ?? 0) > 0) assertMultiprocess(caps);
    const firmwareLog = core.tuning.firmwareLog ? { firmwareLog: join(core.dirs.logDir, `${def.name}.firmware.log`) } : {};
    const plan = buildLaunchPlan(def, caps, { runDir: join(core.dirs.stateDir, def.name), ...firmwareLog });
    // a QEMU combination known to crash is refused before anything is spawned
    refuseKnownCrashes(caps, { domainType: def.type, remotes: plan.remotes });
    return plan;
  });
}

export interface StartOptions {
  paused?: boolean;
  signal?: AbortSignal;
}

/** Start a domain: the remotes and the main QEMU (paused) spawned at once, then `cont` (unless paused). */
export async function startDomain(core: DriverCore, obj: DomainObject, opts: StartOptions = {}): Promise<void> {
  if (obj.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is already running');
  // the running definition names every device as libvirt does; the argv uses those names
  // and every autoport display has its port before QEMU is told where to listen
  if (obj.def.type === 'qemu' && obj.def.cpu?.mode === 'host-passthrough') {
    // qemuValidateDomainDefCpu, at start as in libvirt: TCG has no host CPU to pass through
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', "CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host is not supported by hypervisor");
  }
  const runDir = join(core.dirs.stateDir, obj.name);
  // a volume disk gets its volume's path now, as libvirt translates it at start
  // and a network interface its port on the host's network, which names the bridge it runs on
  const plugged = plugNetworks(assignAliases(resolveVolumes(obj.def, core.volumes)), core.networks, core.log);
  let live: DomainDef;
  let plan: LaunchPlan;
  try {
    live = await withDisplayPorts(plugged, core.displayPorts, obj.name, runDir);
    plan = await planFor(core, live);
  } catch (e) {
    core.displayPorts.release(obj.name);
    unplugNetworks(plugged, core.networks, core.log, obj.name);
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
    // bridge interfaces: the daemon makes the taps, the main QEMU gets only their fds
    const taps = await openTaps(plan.main.taps);
    try {
      if (taps.names.size > 0) {
        obj.liveDef = withTapNames(obj.liveDef!, taps.names);
        logLine(core, obj.name, `taps: ${[...taps.names].map(([alias, tap]) => `${alias} on ${tap}`).join(', ')}`);
      }
      launched = await launchPlan(plan, runDir, {
        ...(cgroup ? { onSpawn: (rid: string | undefined, pid: number) => cgroup.place(cgroupLeaf(rid), pid) } : {}),
        logFile: domainLogFile(core, obj.name),
        // through the log keeper, which caps this run's output at logLimitBytes per process
        output: processOutputs(core, obj.name, runDir, logBudget(core, plan.remotes.length + 1), true),
        monitorTimeoutMs: core.tuning.monitorTimeoutMs,
        ...(creds ? { credentials: (rid: string | undefined) => (rid === undefined ? creds!.main : creds!.remotes.get(rid)) } : {}),
        ...(creds && core.namespaces ? { wrapper: (rid: string | undefined) => jailWrapper(core, live, runDir, rid, creds!) } : {}),
        ...(taps.entries.length > 0 ? { mainFds: taps.entries } : {}),
      });
    } finally {
      taps.close(); // the main QEMU holds them now: each tap lives as long as it does
    }
  } catch (e) {
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
        ...(l.linkCopy !== undefined ? { standIn: new RemoteStandIn(l.linkCopy) } : {}),
        restarts: 0,
        restartTimes: [],
        supervisor: superviseRemote(core, { rid: p.rid, alias: p.alias, pid: l.proc.pid, proc: l.proc, qmp: l.qmp }),
      };
    }),
    stopping: false,
    fakeReboot: false,
    shutdownEventSent: false,
    startedAt: new Date().toISOString(),
  };
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
    // qemuProcessUpdateAndVerifyCPU: the <cpu> QEMU really gave the guest (or libvirt's refusal)
    await refreshLiveCpu(core, obj);
    // <cputune> / <vcpu cpuset>: the threads' affinity before the guest runs (qemuProcessSetupVcpus)
    if (hasPinning(live)) await applyPinning(obj, obj.liveDef ?? live);
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
  unplugNetworks(obj.liveDef, core.networks, core.log, obj.name);
  obj.setState(DomainState.SHUTOFF, ShutoffReason.FAILED);
  obj.id = -1;
  obj.liveDef = undefined;
  core.displayPorts.release(obj.name);
  core.jail?.release(obj.name);
  core.events.lifecycle(obj.ref(), LifecycleEvent.STOPPED, Detail.STOPPED_FAILED);
  if (!obj.persistent) core.domains.remove(obj);
}
