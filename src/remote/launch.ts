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
import type { LaunchPlan } from '../emulator/launch-plan.js';
import { spawnQemu, type SpawnedQemu, type SpawnQemuOptions } from '../emulator/process.js';
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
  /**
   * every process's stdout/stderr is appended here directly (O_APPEND); the caller caps its size
   * (see LogCap)
   */
  logFile: string;
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

function once(f: (() => void) | undefined): () => void {
  let done = false;
  return () => {
    if (done || !f) return;
    done = true;
    f();
  };
}

export interface Credentials { uid: number; gid: number }

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

export async function launchPlan(plan: LaunchPlan, runDir: string, opts: LaunchOptions): Promise<Launched> {
  const timeoutMs = opts.monitorTimeoutMs ?? 10_000;
  const started: LaunchedProcess[] = [];
  const spawned: SpawnedQemu[] = [];
  const mainEnds: number[] = [];
  const cleanups: Array<() => void> = [];
  const linkCopies: number[] = [];
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const common = { logFile: opts.logFile };
  try {
    for (const r of plan.remotes) {
      const [remoteEnd, mainEnd] = socketpair();
      mainEnds.push(mainEnd);
      // kept unread while the remote lives: answers the proxy in its place once it died
      const linkCopy = dupFd(remoteEnd);
      linkCopies.push(linkCopy);
      let proc: SpawnedQemu;
      let own: OpenedFds | undefined;
      let afterStart: () => void = () => {};
      try {
        own = openPlannedFds(r.files, r.listeners);
        const t = spawnTarget(opts, r.rid, r.binary, r.argv);
        afterStart = t.afterStart;
        cleanups.push(afterStart);
        proc = spawnQemu({ ...t.target, fdMap: [{ childFd: r.linkFd, source: remoteEnd }, ...own.entries], ...common });
        opts.onSpawn?.(r.rid, proc.spawnedPid);
      } finally {
        closeFd(remoteEnd); // the child has its own copies now
        own?.close();
      }
      spawned.push(proc);
      const qmp = await connectMonitor(proc, r.qmpPath, timeoutMs);
      started.push({ rid: r.rid, proc, qmp, linkCopy });
      if (proc.findForkedChild()) opts.onSpawn?.(r.rid, proc.pid);
      afterStart();
    }
    const fdMap = plan.remotes.map((r, i) => ({ childFd: r.mainLinkFd, source: mainEnds[i]! }));
    let main: SpawnedQemu;
    let own: OpenedFds | undefined;
    let afterStart: () => void = () => {};
    try {
      own = openPlannedFds(plan.main.files, plan.main.listeners);
      const t = spawnTarget(opts, undefined, plan.main.binary, plan.main.argv);
      afterStart = t.afterStart;
      cleanups.push(afterStart);
      main = spawnQemu({ ...t.target, fdMap: [...fdMap, ...own.entries], ...common });
      opts.onSpawn?.(undefined, main.spawnedPid);
    } finally {
      for (const fd of mainEnds.splice(0)) closeFd(fd);
      own?.close();
    }
    spawned.push(main);
    const qmp = await connectMonitor(main, plan.main.qmpPath, timeoutMs);
    if (main.findForkedChild()) opts.onSpawn?.(undefined, main.pid);
    afterStart();
    return { main: { proc: main, qmp }, remotes: started };
  } catch (e) {
    for (const fd of linkCopies) closeFd(fd);
    for (const c of cleanups) {
      try {
        c();
      } catch {
        // the process is being torn down anyway; the next start of this domain detaches again
      }
    }
    for (const fd of mainEnds) closeFd(fd);
    for (const s of started) s.qmp.close();
    // main first, then remotes: the order every stop path uses
    for (const p of spawned.reverse()) await p.terminate({ graceMs: 1000 }).catch(() => {});
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
