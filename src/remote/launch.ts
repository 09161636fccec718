/**
 * Starts the processes of a launch plan in the order of interfaces.md §5:
 * each remote QEMU first (socketpair end on fd 3), wait for its monitor, then
 * the main QEMU paused (-S) with the other ends, wait for its monitor. Any
 * failure part-way kills what was started and reports the failing process's
 * stderr tail, as libvirt does ("process exited while connecting to monitor").
 *
 * The socketpairs are made with socketpair(2) rather than child stdio pipes so
 * the daemon never has a libuv reader on a link: no byte between the two QEMUs
 * can end up in this process.
 */
import { mkdirSync } from 'node:fs';
import { MpvirtError } from '../errors.js';
import type { LaunchPlan, RemotePlan } from '../emulator/launch-plan.js';
import { spawnQemu, type FdMapEntry, type SpawnedQemu, type SpawnQemuOptions } from '../emulator/process.js';
import { QmpClient } from '../emulator/qmp.js';
import { closeFd, dupFd, socketpair } from '../emulator/unixfd.js';
import { openPlannedFds, type OpenedFds } from './planned-fds.js';

export interface LaunchedProcess {
  /** undefined for the main QEMU */
  rid?: string;
  proc: SpawnedQemu;
  qmp: QmpClient;
  /** a remote: the daemon's own unread copy of its end of the link (stand-in.ts) */
  linkCopy?: number;
}

export interface Launched {
  main: LaunchedProcess;
  remotes: LaunchedProcess[];
}

export interface LaunchOptions {
  /** the domain log: where every process's stdout/stderr ends up (and its error tail is read) */
  logFile: string;
  /**
   * each process's stdout/stderr (rid, or undefined for the main QEMU): the write end of a pipe
   * the log keeper caps into `logFile` (src/logd/); without it they append to `logFile` directly
   */
  output?: (rid: string | undefined) => Promise<OutputFd>;
  /** deadline for each monitor to answer after spawn; default 10 s */
  monitorTimeoutMs?: number;
  /** the uid/gid each process runs as (rid, or undefined for the main QEMU); default: the daemon's */
  credentials?: (rid: string | undefined) => Credentials | undefined;
  /**
   * a program that starts the process instead (it gets `args`, then QEMU's binary and argv, and
   * must exec QEMU in the same process): how a process enters its own namespaces. With it, the
   * wrapper sets the credentials itself.
   */
  wrapper?: (rid: string | undefined) => Wrapper | undefined;
  /**
   * told each process's pid right after its spawn, and QEMU's own once found (a wrapper that
   * forks): how the caller puts it into its cgroup before it does much
   */
  onSpawn?: (rid: string | undefined, pid: number) => void;
  /** more fds for the main QEMU (its taps, driver/net-tap.ts); the caller owns and closes them */
  mainFds?: FdMapEntry[];
}

/** A program that starts QEMU (see LaunchOptions.wrapper). */
export interface Wrapper {
  binary: string;
  args: string[];
  /** it runs QEMU as its one child (and exits as QEMU did) rather than exec'ing it */
  forks?: boolean;
  /** QEMU's exit status from the wrapper's (see SpawnQemuOptions.exitStatus) */
  exitStatus?: SpawnQemuOptions['exitStatus'];
  /** called once QEMU's monitor has answered or the start failed: the wrapper's setup is then done */
  afterStart?: () => void;
}

/** binary, argv and credentials of one spawn, through the wrapper when there is one. */
function spawnTarget(opts: LaunchOptions, rid: string | undefined, binary: string, argv: string[]): { target: { binary: string; argv: string[]; uid?: number; gid?: number; forks?: boolean; exitStatus?: SpawnQemuOptions['exitStatus'] }; afterStart: () => void } {
  const w = opts.wrapper?.(rid);
  if (w) return { target: { binary: w.binary, argv: [...w.args, binary, ...argv], forks: w.forks === true, ...(w.exitStatus ? { exitStatus: w.exitStatus } : {}) }, afterStart: once(w.afterStart) };
  return { target: { binary, argv, ...(opts.credentials?.(rid) ?? {}) }, afterStart: () => {} };
}

function withOutput(o: OutputFd | undefined): { output?: OutputFd } {
  return o ? { output: o } : {};
}

function once(f: (() => void) | undefined): () => void {
  let done = false;
  return () => {
    if (done || !f) return;
    done = true;
    f();
  };
}

export interface Credentials { uid: number; gid: number }

/** SpawnQemuOptions.output: the spawn takes the fd */
export type OutputFd = NonNullable<SpawnQemuOptions['output']>;

/** Connect to a monitor unless the process dies first; then report the tail of its output. */
async function connectMonitor(proc: SpawnedQemu, path: string, timeoutMs: number): Promise<QmpClient> {
  const died = proc.exited.then((st) => {
    const tail = proc.stderrTail().trim();
    // libvirt's words; a signal is worth saying too (libvirt's log would show it)
    const how = st.signal ? ` (signal ${st.signal})` : '';
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `process exited while connecting to monitor${how}: ${tail}`, { domain: 'QEMU' });
  });
  const connected = QmpClient.connect(path, { timeoutMs });
  try {
    return await Promise.race([connected, died]);
  } catch (e) {
    connected.then((q) => q.close(), () => {});
    // A dying QEMU often resets the monitor connection a moment before it is
    // reaped: if it exits shortly after, its stderr is the error worth reporting.
    const exit = await Promise.race([died.then(() => undefined, (err: unknown) => err), new Promise((r) => setTimeout(() => r(undefined), 1000).unref())]);
    throw exit ?? e;
  }
}

/** A remote that runs and answers on its monitor, with the main QEMU's end of its link still to hand over. */
export interface LaunchedRemote extends LaunchedProcess {
  rid: string;
  linkCopy: number;
  /**
   * the main QEMU's end of the link: launchRemote's caller passes it on (QMP getfd) and closes it;
   * launchPlan hands it to the main QEMU's argv and has closed it when it returns
   */
  mainEnd: number;
}

/**
 * Spawn one remote process of a plan and wait for its monitor: at start, and for the process that
 * replaces a dead one (on-crash restart). When it fails, everything it made is gone again.
 */
export async function launchRemote(r: RemotePlan, opts: LaunchOptions): Promise<LaunchedRemote> {
  const timeoutMs = opts.monitorTimeoutMs ?? 10_000;
  const [remoteEnd, mainEnd] = socketpair();
  // kept unread while the remote lives: answers the proxy in its place once it died
  const linkCopy = dupFd(remoteEnd);
  let proc: SpawnedQemu | undefined;
  let afterStart: () => void = () => {};
  try {
    let own: OpenedFds | undefined;
    let output: OutputFd | undefined;
    try {
      output = await opts.output?.(r.rid);
      own = openPlannedFds(r.files, r.listeners);
      const t = spawnTarget(opts, r.rid, r.binary, r.argv);
      afterStart = t.afterStart;
      const out = output;
      output = undefined; // spawnQemu owns it now, on every path
      proc = spawnQemu({ ...t.target, fdMap: [{ childFd: r.linkFd, source: remoteEnd }, ...own.entries], logFile: opts.logFile, ...withOutput(out) });
      opts.onSpawn?.(r.rid, proc.spawnedPid);
    } finally {
      closeFd(remoteEnd); // the child has its own copy now
      own?.close();
      if (output) closeFd(output.fd); // never reached the spawn
    }
    const qmp = await connectMonitor(proc, r.qmpPath, timeoutMs);
    if (proc.findForkedChild()) opts.onSpawn?.(r.rid, proc.pid);
    afterStart();
    return { rid: r.rid, proc, qmp, linkCopy, mainEnd };
  } catch (e) {
    closeFd(linkCopy);
    closeFd(mainEnd);
    try {
      afterStart();
    } catch {
      // the process is being torn down anyway; the next start of this domain detaches again
    }
    await proc?.terminate({ graceMs: 1000 }).catch(() => {});
    throw e;
  }
}

export async function launchPlan(plan: LaunchPlan, runDir: string, opts: LaunchOptions): Promise<Launched> {
  const timeoutMs = opts.monitorTimeoutMs ?? 10_000;
  const started: LaunchedRemote[] = [];
  /** remotes whose main-side link end went to the main QEMU (and is closed here) */
  const handedOver: LaunchedRemote[] = [];
  let main: SpawnedQemu | undefined;
  let mainAfterStart: () => void = () => {};
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  try {
    for (const r of plan.remotes) started.push(await launchRemote(r, opts));
    const fdMap = plan.remotes.map((r, i) => ({ childFd: r.mainLinkFd, source: started[i]!.mainEnd }));
    let own: OpenedFds | undefined;
    let output: OutputFd | undefined;
    try {
      output = await opts.output?.(undefined);
      own = openPlannedFds(plan.main.files, plan.main.listeners);
      const t = spawnTarget(opts, undefined, plan.main.binary, plan.main.argv);
      mainAfterStart = t.afterStart;
      const out = output;
      output = undefined; // spawnQemu owns it now, on every path
      main = spawnQemu({ ...t.target, fdMap: [...fdMap, ...own.entries, ...(opts.mainFds ?? [])], logFile: opts.logFile, ...withOutput(out) });
      opts.onSpawn?.(undefined, main.spawnedPid);
    } finally {
      // the main QEMU has its own copies now (or failed to start)
      for (const s of started.splice(0)) {
        closeFd(s.mainEnd);
        handedOver.push(s);
      }
      own?.close();
      if (output) closeFd(output.fd); // never reached the spawn
    }
    const qmp = await connectMonitor(main, plan.main.qmpPath, timeoutMs);
    if (main.findForkedChild()) opts.onSpawn?.(undefined, main.pid);
    mainAfterStart();
    return { main: { proc: main, qmp }, remotes: handedOver };
  } catch (e) {
    try {
      mainAfterStart();
    } catch {
      // as in launchRemote
    }
    for (const s of started) closeFd(s.mainEnd);
    const all = [...handedOver, ...started];
    for (const s of all) {
      closeFd(s.linkCopy);
      s.qmp.close();
    }
    // main first, then remotes: the order every stop path uses
    await main?.terminate({ graceMs: 1000 }).catch(() => {});
    for (const s of all.reverse()) await s.proc.terminate({ graceMs: 1000 }).catch(() => {});
    throw e;
  }
}

/**
 * Stop everything: the main QEMU first, then the remote processes (which exit
 * by themselves once their peer is gone; SIGTERM/SIGKILL if they do not).
 */
export async function stopLaunched(l: Launched, graceMs = 3000): Promise<void> {
  l.main.qmp.close();
  await l.main.proc.terminate({ graceMs });
  for (const r of l.remotes) {
    r.qmp.close();
    if ((await r.proc.waitExit(500)) === undefined) await r.proc.terminate({ graceMs });
  }
}
