/**
 * Spawning QEMU processes: exact child fd numbers, detached sessions, a shared log file, reaping.
 *
 * - No shell; `detached: true`, so each child leads its own session and process group (setsid)
 *   and survives a daemon restart.
 * - stdin is /dev/null; stdout and stderr are one fd: the write end of a pipe whose reader (the
 *   log keeper, src/logd/) writes into the log file within its cap (`output`), or, for short-lived
 *   helpers such as the capability probe, the log file itself opened with O_APPEND. The daemon
 *   never reads a process's output and holds no copy of that fd after the spawn, so the process
 *   keeps logging, capped, while no daemon runs.
 * - `fdMap` puts fds at exact numbers ≥ 3 in the child; gaps are closed. `'socketpair'` is a libuv
 *   `'pipe'` stdio entry, i.e. an AF_UNIX SOCK_STREAM socketpair; the parent's end is handed out
 *   once by {@link SpawnedQemu.takeSocket}. To link two QEMUs, pass it to the second spawn as
 *   `{ handOff: socket }`, which closes the parent's copy right after that spawn.
 * - Signals go to the pid, not the process group (QEMU forks no long-lived helpers), and only
 *   while it is our unreaped child, so the pid cannot have been reused.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import { MpvirtError } from '../errors.js';


/** per process; the driver's default budget for a domain is this times its number of processes */
export const DEFAULT_LOG_LIMIT_BYTES = 1024 * 1024;
/** How much of the log, from the end of what was appended since the spawn, {@link SpawnedQemu.stderrTail} reads. */
export const STDERR_TAIL_BYTES = 4096;
/** how long an exit waits for the keeper to have written the process's last output */
export const OUTPUT_DRAIN_WAIT_MS = 1000;

/**
 * What a child fd is connected to:
 * - `'socketpair'`: a new AF_UNIX SOCK_STREAM pair; the parent's end via `takeSocket(childFd)`.
 * - a number: an fd open in this process, dup'ed into the child; the caller keeps and closes it.
 * - a Socket: its fd is dup'ed into the child; the caller keeps and closes it.
 * - `{ handOff: socket }`: as a Socket, but ownership moves here: the parent's copy is destroyed
 *   right after the spawn (also when the spawn fails), in the same tick, so the parent never
 *   reads from it.
 */
export type FdSource = 'socketpair' | number | Socket | { handOff: Socket };
export interface FdMapEntry { childFd: number; source: FdSource }

export interface SpawnQemuOptions {
  binary: string;
  /** the arguments after the program name */
  argv: string[];
  fdMap?: FdMapEntry[];
  /**
   * the log the process's output ends up in: stdout and stderr are this file opened O_APPEND
   * (created with mode 0600 if missing), unless `output` is given; {@link SpawnedQemu.stderrTail}
   * reads it either way
   */
  logFile: string;
  /**
   * stdout and stderr go to this fd instead (ownership moves here: closed right after the spawn),
   * the write end of the log keeper's pipe; `exited` then also waits (at most
   * {@link OUTPUT_DRAIN_WAIT_MS}) for `drained`, so the process's last words are in the log when
   * its exit is reported
   */
  output?: { fd: number; drained: Promise<void> };
  /** the child's whole environment (not merged); default: this process's environment */
  env?: Record<string, string>;
  cwd?: string;
  /** do not keep the event loop alive for this child (see {@link SpawnedQemu.unref}) */
  unref?: boolean;
  /**
   * run as this user and group (set by the spawn before exec, with no supplementary groups and
   * so no capabilities left): the process never holds the daemon's privileges, not even briefly
   */
  uid?: number;
  gid?: number;
  /**
   * the program runs QEMU as its one child and exits as that child did (unshare --fork, for a
   * pid namespace): once QEMU runs, {@link SpawnedQemu.findForkedChild} makes `pid` and signals
   * that child's
   */
  forks?: boolean;
  /**
   * how the program reports its child's end, when its own exit status says it imperfectly
   * (`tail` reads what the process wrote last): the status `exited` resolves to
   */
  exitStatus?: (raw: ExitStatus, tail: () => string) => ExitStatus;
}

/** `code` is null when the process was killed by a signal */
export interface ExitStatus { code: number | null; signal: NodeJS.Signals | null }

/** A spawned, detached QEMU (or any) process. Emits `'exit'` (ExitStatus) when `exited` settles. */
export class SpawnedQemu extends EventEmitter<{ exit: [ExitStatus] }> {
  /** QEMU's pid: the spawned program's, or its forked child's once found */
  #pid: number;
  /** field 22 of /proc/<pid>/stat read right after the spawn (undefined if already gone) */
  #startTime: bigint | undefined;
  readonly #forks: boolean;
  #forked = false;
  readonly logFile: string;
  /** the size of the log file when the process was spawned: its output starts at or after this offset */
  readonly logStart: number;
  /** Resolves once the process has been reaped. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  #child: ChildProcess;
  #sockets = new Map<number, Socket>();
  #reaped = false;
  #status: ExitStatus | undefined;

  /** @internal use {@link spawnQemu} */
  constructor(child: ChildProcess, logFile: string, logStart: number, socketFds: number[], forks = false, mapExit?: SpawnQemuOptions['exitStatus'], drained?: Promise<void>) {
    super();
    this.#child = child;
    this.#pid = child.pid!;
    this.#forks = forks;
    this.logFile = logFile;
    this.logStart = logStart;
    this.#startTime = startTimeOf(this.#pid);
    for (const fd of socketFds) this.#sockets.set(fd, child.stdio[fd] as Socket);
    // kill() failures other than ESRCH arrive as 'error'; kill() reports them through its result
    child.on('error', () => {});
    let resolve!: (s: ExitStatus) => void;
    this.exited = new Promise((r) => (resolve = r));
    child.once('exit', (code, signal) => {
      this.#reaped = true;
      for (const s of this.#sockets.values()) s.destroy();
      this.#sockets.clear();
      const settle = (): void => {
        this.#status = mapExit ? mapExit({ code, signal }, () => this.stderrTail()) : { code, signal };
        resolve(this.#status);
        this.emit('exit', this.#status);
      };
      if (!drained) return settle();
      // the keeper writes the last output a moment after the exit; a stuck keeper never holds it up
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, OUTPUT_DRAIN_WAIT_MS)));
      void Promise.race([drained, bound]).then(() => {
        clearTimeout(timer);
        settle();
      });
    });
  }

  /** QEMU's pid (the spawned program's until {@link findForkedChild} has found QEMU) */
  get pid(): number { return this.#pid; }
  get startTime(): bigint | undefined { return this.#startTime; }
  /** the pid this daemon spawned and reaps (the wrapper's, when it forks) */
  get spawnedPid(): number { return this.#child.pid!; }

  /**
   * For a program that forks QEMU (`forks`): from now on `pid`, `startTime` and signals are its
   * one child's. Call it once QEMU runs (its monitor has answered). Returns false when the
   * program does not fork or has no child (any more).
   */
  findForkedChild(): boolean {
    if (!this.#forks || this.#forked || this.#reaped) return this.#forked;
    const parent = this.#child.pid!;
    let children: string[];
    try {
      children = fs.readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return false;
    }
    if (children.length !== 1) return false;
    const pid = Number(children[0]);
    const startTime = startTimeOf(pid);
    if (startTime === undefined) return false;
    this.#pid = pid;
    this.#startTime = startTime;
    this.#forked = true;
    return true;
  }

  /** the exit status once `exited` has settled */
  get exitStatus(): ExitStatus | undefined { return this.#status; }
  /** true once the process has been reaped: from then on its pid may belong to someone else */
  get reaped(): boolean { return this.#reaped; }

  /**
   * The parent's end of the socketpair at `childFd`. Ownership moves to the caller: it is no
   * longer destroyed when this process exits, and it no longer counts for {@link unref}.
   * Reading has already started on it (Node does that), so bytes the child sends could be
   * consumed by this process unless the socket is handed to the next spawn as
   * `{ handOff: socket }` in the same tick. The socket is O_NONBLOCK; that flag is shared with
   * any process it is handed to (QEMU does not mind). Throws if there is no such socketpair
   * or it was already taken.
   */
  takeSocket(childFd: number): Socket {
    const s = this.#sockets.get(childFd);
    if (s === undefined) {
      throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `no untaken socketpair at fd ${childFd} of process ${this.pid}`, { domain: 'QEMU' });
    }
    this.#sockets.delete(childFd);
    return s;
  }

  /**
   * The last bytes (up to {@link STDERR_TAIL_BYTES}) appended to the log since this process was
   * spawned, as text starting on a UTF-8 character boundary. That is this process's stdout and
   * stderr, and anything else appended to the same log meanwhile. Empty if the log is not a
   * regular file (e.g. /dev/null) or cannot be read.
   */
  stderrTail(): string {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.logFile, 'r');
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return '';
      const from = Math.max(this.logStart, st.size - STDERR_TAIL_BYTES);
      if (st.size <= from) return '';
      const buf = Buffer.alloc(st.size - from);
      const n = fs.readSync(fd, buf, 0, buf.length, from);
      const tail = buf.subarray(0, n);
      let start = 0;
      while (start < tail.length && (tail[start]! & 0xc0) === 0x80) start++; // cut UTF-8 sequence
      return tail.subarray(start).toString('utf8');
    } catch {
      return '';
    } finally {
      if (fd !== undefined) try { fs.closeSync(fd); } catch { /* ignore */ }
    }
  }

  /**
   * Sends `signal` to the pid (not the process group). Returns false without signalling once the
   * process has been reaped (its pid may have been reused) or when the signal could not be sent.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.#reaped) return false;
    if (!this.#forked) return this.#child.kill(signal);
    // QEMU itself (its parent waits for it, so while that parent is unreaped the pid is QEMU's
    // or a zombie of it; the start time rules out a reuse in between)
    if (startTimeOf(this.#pid) !== this.#startTime) return false;
    try {
      process.kill(this.#pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** The exit status, or undefined if the process has not exited within `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<ExitStatus | undefined> {
    if (this.#status !== undefined) return this.#status;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((r) => (timer = setTimeout(r, timeoutMs, undefined)));
    try { return await Promise.race([this.exited, timeout]); } finally { clearTimeout(timer); }
  }

  /**
   * SIGTERM, then SIGKILL if the process is still there after `graceMs` (default 5000). Resolves
   * when it has been reaped; rejects (VIR_ERR_OPERATION_FAILED) if even SIGKILL did not
   * end it within `killWaitMs` (default 5000, e.g. a process stuck in uninterruptible sleep).
   */
  async terminate(opts: { graceMs?: number; killWaitMs?: number } = {}): Promise<ExitStatus> {
    if (this.#status !== undefined) return this.#status;
    this.kill('SIGTERM');
    const status = await this.waitExit(opts.graceMs ?? 5000);
    if (status !== undefined) return status;
    this.kill('SIGKILL');
    const killed = await this.waitExit(opts.killWaitMs ?? 5000);
    if (killed !== undefined) return killed;
    if (this.#forked) this.#child.kill('SIGKILL'); // its child dies with it (--kill-child)
    const parentKilled = this.#forked ? await this.waitExit(1000) : undefined;
    if (parentKilled !== undefined) return parentKilled;
    throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `Failed to terminate process ${this.pid} with SIGKILL`, { domain: 'QEMU' });
  }

  /** Do not keep the event loop alive for this process and its untaken sockets. */
  unref(): this { return this.#setRef(false); }
  ref(): this { return this.#setRef(true); }

  #setRef(ref: boolean): this {
    for (const h of [this.#child, ...this.#sockets.values()]) {
      (h as { ref(): void; unref(): void } | null | undefined)?.[ref ? 'ref' : 'unref']();
    }
    return this;
  }
}

/** Spawns a detached process with an exact fd map, its output appended to a log file. Throws MpvirtError on failure. */
export function spawnQemu(opts: SpawnQemuOptions): SpawnedQemu {
  const map = opts.fdMap ?? [];
  const handOffs = map.flatMap((e) => (isHandOff(e.source) ? [e.source.handOff] : []));
  // an `output` fd is ours from here: closed on every path, like the log file's
  let logFd: number | undefined = opts.output?.fd;
  const closeLog = (): void => {
    if (logFd !== undefined) try { fs.closeSync(logFd); } catch { /* ignore */ }
    logFd = undefined;
  };
  const fail = (detail: string, cause?: unknown): never => {
    for (const s of handOffs) s.destroy();
    closeLog();
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', detail, { domain: 'QEMU', cause });
  };
  const stdio: StdioOptions = ['ignore', 'ignore', 'ignore'];
  const socketFds: number[] = [];
  for (const { childFd, source } of map) {
    if (!Number.isInteger(childFd) || childFd < 3) fail(`child fd ${childFd} must be an integer >= 3`);
    if (stdio[childFd] !== undefined && stdio[childFd] !== 'ignore') fail(`child fd ${childFd} is mapped twice`);
    while (stdio.length <= childFd) stdio.push('ignore');
    if (source === 'socketpair') socketFds.push(childFd);
    stdio[childFd] = source === 'socketpair' ? 'pipe' : isHandOff(source) ? source.handOff : source;
  }
  let logStart = 0;
  try {
    if (opts.output) {
      logStart = logSize(opts.logFile);
    } else {
      logFd = fs.openSync(opts.logFile, 'a', 0o600);
      const st = fs.fstatSync(logFd);
      logStart = st.isFile() ? st.size : 0;
    }
  } catch (e) {
    fail(`cannot open log file '${opts.logFile}': ${(e as Error).message}`, e);
  }
  stdio[1] = logFd!;
  stdio[2] = logFd!;
  let child: ChildProcess;
  try {
    child = spawn(opts.binary, opts.argv, {
      stdio, detached: true, shell: false, env: opts.env ?? process.env, ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
      ...(opts.uid === undefined ? {} : { uid: opts.uid }), ...(opts.gid === undefined ? {} : { gid: opts.gid }),
    });
  } catch (e) {
    return fail(`cannot execute '${opts.binary}': ${(e as Error).message}`, e);
  } finally {
    for (const s of handOffs) s.destroy();
    closeLog(); // the child has its own copy now
  }
  if (child.pid === undefined) {
    // ENOENT, EACCES, EAGAIN, EMFILE: Node reports them as an 'error' event on the next tick
    child.on('error', () => {});
    for (const s of child.stdio) (s as Socket | null)?.destroy();
    return fail(`cannot execute '${opts.binary}'${whyNotExecutable(opts.binary, opts.cwd)}`);
  }
  const q = new SpawnedQemu(child, opts.logFile, logStart, socketFds, opts.forks === true, opts.exitStatus, opts.output?.drained);
  if (opts.unref) q.unref();
  return q;
}

function logSize(file: string): number {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st.size : 0;
  } catch {
    return 0;
  }
}

function isHandOff(source: FdSource): source is { handOff: Socket } {
  return typeof source === 'object' && source !== null && 'handOff' in source;
}

function whyNotExecutable(binary: string, cwd: string | undefined): string {
  if (cwd !== undefined && !fs.existsSync(cwd)) return `: working directory '${cwd}' does not exist`;
  if (!binary.includes('/')) return ': not found in PATH or not executable';
  try { fs.accessSync(binary, fs.constants.X_OK); return ''; } catch (e) { return `: ${(e as NodeJS.ErrnoException).code}`; }
}

/** Fields 1–6 and 22 (proc(5) numbering) of /proc/<pid>/stat; comm without its parentheses. */
export interface ProcStat { pid: number; comm: string; state: string; ppid: number; pgrp: number; session: number; startTime: bigint; /** clock ticks */ utime: bigint; stime: bigint }

/** Parses the text of /proc/<pid>/stat; the fields after `comm` start after its last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 1).trim().split(' ');
  const field = (n: number): string => rest[n - 3] ?? '';
  const ints = [1, 4, 5, 6].map((n) => (n === 1 ? text.slice(0, open).trim() : field(n)));
  if (!ints.every((v) => /^-?\d+$/.test(v)) || !/^\d+$/.test(field(22))) return undefined;
  const [pid, ppid, pgrp, session] = ints.map(Number) as [number, number, number, number];
  const ticks = (n: number): bigint => (/^\d+$/.test(field(n)) ? BigInt(field(n)) : 0n);
  return { pid, comm: text.slice(open + 1, close), state: field(3), ppid, pgrp, session, startTime: BigInt(field(22)), utime: ticks(14), stime: ticks(15) };
}

/** /proc/<pid>/stat, or undefined when there is no such process (reaped) or it cannot be read. */
export function readProcStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try { return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return undefined; }
}

/**
 * Start time of `pid` (field 22 of /proc/<pid>/stat, clock ticks since boot): with the pid it
 * identifies a process across pid reuse. Undefined once the pid is gone; a zombie still has one.
 */
export function startTimeOf(pid: number): bigint | undefined {
  return readProcStat(pid)?.startTime;
}
