/**
 * Starts the processes of a launch plan (interfaces.md §5): every remote QEMU (its socketpair end
 * on fd 3) and the main QEMU paused (-S, the other ends) spawned at once, then all their monitors
 * awaited together. Any failure kills what was started and reports the process that failed, by
 * name, with its stderr tail, in libvirt's words ("process exited while connecting to monitor").
 *
 * The socketpairs are made with socketpair(2) rather than child stdio pipes so
 * the daemon never has a libuv reader on a link: no byte between the two QEMUs
 * can end up in this process.
 */
import { mkdirSync } from 'node:fs';
import { MpvirtError } from '../errors.js';
import type { LaunchPlan, RemotePlan } from '../emulator/launch-plan.js';
import { spawnQemu, type ExitStatus, type FdMapEntry, type SpawnedQemu, type SpawnQemuOptions } from '../emulator/process.js';
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

/** Which process a start error is about: the main QEMU, or a remote by its rid and device. */
export type StartingProcess = { rid: undefined } | { rid: string; alias: string };

/**
 * libvirt's words for a process that died before its monitor answered (qemuProcessReportLogError:
 * "PREFIX: LOG", or PREFIX alone when the log has nothing), naming the process: the main QEMU keeps
 * libvirt's own prefix, a remote's says which remote it is. A signal is said in the prefix, so a
 * QEMU that crashed without a word (SIGSEGV) still says how it ended.
 */
export function diedAtStartError(who: StartingProcess, st: ExitStatus, tail: string): MpvirtError {
  const what = who.rid === undefined ? 'process' : `remote process '${who.rid}' (device '${who.alias}')`;
  const how = st.signal ? ` (signal ${st.signal})` : '';
  const prefix = `${what} exited while connecting to monitor${how}`;
  const text = tail.trim();
  return new MpvirtError('VIR_ERR_INTERNAL_ERROR', text ? `${prefix}: ${text}` : prefix, { domain: 'QEMU' });
}

/** Connect to a monitor unless the process dies first; then report the tail of its output. */
async function connectMonitor(proc: SpawnedQemu, path: string, timeoutMs: number, who: StartingProcess): Promise<QmpClient> {
  const died = proc.exited.then((st) => {
    throw diedAtStartError(who, st, proc.stderrTail());
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

/** One process spawned, its monitor not yet asked. */
interface SpawnedProcess {
  who: StartingProcess;
  proc: SpawnedQemu;
  qmpPath: string;
  /** the wrapper's afterStart, at most once */
  afterStart: () => void;
}

interface SpawnedRemote extends SpawnedProcess {
  who: { rid: string; alias: string };
  linkCopy: number;
  mainEnd: number;
}

/**
 * Spawn one process with its planned files and sockets, its output (`output`: ownership moves
 * here, closed on every path) and the extra fds; returns without waiting for anything.
 */
function spawnOne(opts: LaunchOptions, rid: string | undefined, p: { binary: string; argv: string[]; files: RemotePlan['files']; listeners: RemotePlan['listeners'] }, output: OutputFd | undefined, fds: FdMapEntry[]): { proc: SpawnedQemu; afterStart: () => void } {
  let own: OpenedFds | undefined;
  let out = output;
  try {
    own = openPlannedFds(p.files, p.listeners);
    const t = spawnTarget(opts, rid, p.binary, p.argv);
    const o = out;
    out = undefined; // spawnQemu owns it now, on every path
    const proc = spawnQemu({ ...t.target, fdMap: [...fds, ...own.entries], logFile: opts.logFile, ...withOutput(o) });
    opts.onSpawn?.(rid, proc.spawnedPid);
    return { proc, afterStart: t.afterStart };
  } finally {
    own?.close(); // the child has its own copies now
    if (out) closeFd(out.fd); // never reached the spawn
  }
}

/** Spawn a remote on a new link; when the spawn fails, both link ends and the copy are closed again. */
function spawnRemote(r: RemotePlan, opts: LaunchOptions, output: OutputFd | undefined): SpawnedRemote {
  const [remoteEnd, mainEnd] = socketpair();
  // kept unread while the remote lives: answers the proxy in its place once it died
  const linkCopy = dupFd(remoteEnd);
  try {
    const s = spawnOne(opts, r.rid, r, output, [{ childFd: r.linkFd, source: remoteEnd }]);
    return { who: { rid: r.rid, alias: r.alias }, qmpPath: r.qmpPath, linkCopy, mainEnd, ...s };
  } catch (e) {
    closeFd(linkCopy);
    closeFd(mainEnd);
    throw e;
  } finally {
    closeFd(remoteEnd); // the child has its own copy now
  }
}

/** Wait for a spawned process's monitor; then the wrapper's setup is done and a forked QEMU's pid known. */
async function monitorOf(s: SpawnedProcess, timeoutMs: number, opts: LaunchOptions): Promise<QmpClient> {
  const qmp = await connectMonitor(s.proc, s.qmpPath, timeoutMs, s.who);
  if (s.proc.findForkedChild()) opts.onSpawn?.(s.who.rid, s.proc.pid);
  s.afterStart();
  return qmp;
}

function runAfterStart(s: SpawnedProcess): void {
  try {
    s.afterStart();
  } catch {
    // the process is being torn down anyway; the next start of this domain detaches again
  }
}

/**
 * Spawn one remote process of a plan and wait for its monitor: for the process that replaces a
 * dead one (on-crash restart) and a hot-plugged one. When it fails, everything it made is gone again.
 */
export async function launchRemote(r: RemotePlan, opts: LaunchOptions): Promise<LaunchedRemote> {
  const s = spawnRemote(r, opts, await opts.output?.(r.rid));
  try {
    const qmp = await monitorOf(s, opts.monitorTimeoutMs ?? 10_000, opts);
    return { rid: r.rid, proc: s.proc, qmp, linkCopy: s.linkCopy, mainEnd: s.mainEnd };
  } catch (e) {
    closeFd(s.linkCopy);
    closeFd(s.mainEnd);
    runAfterStart(s);
    await s.proc.terminate({ graceMs: 1000 }).catch(() => {});
    throw e;
  }
}

/** Every output of a start at once (remotes in plan order, then the main QEMU), or none: a failure closes those already made. */
async function outputsFor(opts: LaunchOptions, rids: Array<string | undefined>): Promise<Array<OutputFd | undefined>> {
  const got = await Promise.allSettled(rids.map((rid) => opts.output?.(rid)));
  const failed = got.find((g): g is PromiseRejectedResult => g.status === 'rejected');
  if (failed) {
    for (const g of got) if (g.status === 'fulfilled' && g.value) closeFd(g.value.fd);
    throw failed.reason;
  }
  return got.map((g) => (g as PromiseFulfilledResult<OutputFd | undefined>).value);
}

/**
 * Start a plan's processes all at once (issue 16): every remote and the main QEMU (paused, `-S`)
 * are spawned in the same tick, then every monitor is awaited together. Nothing needs the remote
 * to be ready first: the main QEMU's proxy sends its first message into the link at realize and
 * blocks until the remote, once up, answers it. The first process to die (or a monitor that does
 * not answer in time) is the error, named after that process and with its output; everything
 * spawned is then stopped, main QEMU first, and all fds closed.
 */
export async function launchPlan(plan: LaunchPlan, runDir: string, opts: LaunchOptions): Promise<Launched> {
  const timeoutMs = opts.monitorTimeoutMs ?? 10_000;
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const outputs = await outputsFor(opts, [...plan.remotes.map((r) => r.rid), undefined]);
  const remotes: SpawnedRemote[] = [];
  let main: SpawnedProcess | undefined;
  let mainEndsClosed = false;
  try {
    for (const [i, r] of plan.remotes.entries()) {
      const out = outputs[i];
      outputs[i] = undefined; // spawnRemote owns it now
      remotes.push(spawnRemote(r, opts, out));
    }
    const links = plan.remotes.map((r, i) => ({ childFd: r.mainLinkFd, source: remotes[i]!.mainEnd }));
    const out = outputs[plan.remotes.length];
    outputs[plan.remotes.length] = undefined;
    try {
      main = { who: { rid: undefined }, qmpPath: plan.main.qmpPath, ...spawnOne(opts, undefined, plan.main, out, [...links, ...(opts.mainFds ?? [])]) };
    } finally {
      // the main QEMU has its own copies now (or failed to start)
      for (const s of remotes) closeFd(s.mainEnd);
      mainEndsClosed = true;
    }
  } catch (e) {
    for (const o of outputs) if (o) closeFd(o.fd); // never reached a spawn
    if (!mainEndsClosed) for (const s of remotes) closeFd(s.mainEnd); // a later remote failed to spawn
    await abandon(remotes, main, []);
    throw e;
  }
  const all: SpawnedProcess[] = [...remotes, main];
  const monitors = all.map((s) => monitorOf(s, timeoutMs, opts));
  try {
    const qmps = await Promise.all(monitors);
    return {
      main: { proc: main.proc, qmp: qmps[remotes.length]! },
      remotes: remotes.map((s, i) => ({ rid: s.who.rid, proc: s.proc, qmp: qmps[i]!, linkCopy: s.linkCopy })),
    };
  } catch (e) {
    await abandon(remotes, main, monitors);
    throw e;
  }
}

/** Undo a failed start: every wrapper released, the processes stopped (main QEMU first), every monitor that still connects closed. */
async function abandon(remotes: SpawnedRemote[], main: SpawnedProcess | undefined, monitors: Array<Promise<QmpClient>>): Promise<void> {
  for (const s of [...(main ? [main] : []), ...remotes]) runAfterStart(s);
  for (const s of remotes) closeFd(s.linkCopy);
  // main first, then remotes: the order every stop path uses
  await main?.proc.terminate({ graceMs: 1000 }).catch(() => {});
  for (const s of [...remotes].reverse()) await s.proc.terminate({ graceMs: 1000 }).catch(() => {});
  for (const q of await Promise.allSettled(monitors)) if (q.status === 'fulfilled') q.value.close();
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
