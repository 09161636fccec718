/**
 * Supervision of ONE remote QEMU process. It notices, and reports as state transitions, what the
 * remote does; the driver owns the policy (destroy / preserve / restart, killing a hung remote).
 *
 * - Death is noticed at once, never by polling: the child's exit (SpawnedQemu 'exit') when the
 *   process is our child, else a pidfd watch (after a daemon restart); AND the monitor's EOF.
 *   The first one wins, the later ones are ignored, with one refinement: a dying child's monitor
 *   EOF arrives ~0.3 ms before its reap, so after an EOF the transition waits for the child's exit
 *   status (at most STATUS_WAIT_MS). The status of a pidfd-watched non-child is unknown (null).
 * - A remote has no liveness signal of its own (qemu-multiprocess.md §5), so a heartbeat
 *   (`query-status`, one outstanding at a time) runs while 'running' or 'hung', on one timer
 *   shared by all supervisors of the same interval (one wake-up per beat for every remote). No
 *   answer within the deadline → 'hung'; an error reply is an answer. A hung remote that answers again (e.g. after
 *   SIGCONT) is 'running' again, unless kill() was called: once killed, only its death follows.
 * - A QMP close that we caused (`qmp.close()`, reason 'closed') is not a death: it only ends the
 *   heartbeat; the process watch still reports the exit.
 *
 * State table (every change goes through transition(), which refuses anything else):
 *   starting   → running (begin) | crashed (dead before begin) | stopping (expectExit)
 *   running    → stopping (expectExit) | crashed (died) | hung (heartbeat deadline missed)
 *   hung       → running (answers again) | crashed (died or killed) | stopping (expectExit)
 *   stopping   → exited (ANY death after expectExit, even by a signal: it was expected)
 *   exited, crashed → restarting (the driver restarts it: restarting())
 *   restarting → running | crashed | stopping
 * A supervisor watches one process: the replacement of a dead remote gets its own, created in
 * 'restarting' (initialState), whose begin() is the public 'restarted'.
 * There is deliberately no running → exited nor hung → exited: the driver's expectExit() always
 * passes through 'stopping'. A remote exits by itself only when its main QEMU is gone or it
 * died, so an unexpected exit is 'crashed' even with status 0.
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { isMpvirtError, MpvirtError } from '../errors.js';
import { readProcStat, type ExitStatus, type SpawnedQemu } from '../emulator/process.js';
import type { QmpClient, QmpClose } from '../emulator/qmp.js';
import { closeFd, pidfdOpen, watchFd } from '../emulator/unixfd.js';

export type RemoteState = 'starting' | 'running' | 'stopping' | 'exited' | 'crashed' | 'hung' | 'restarting';

export interface RemoteTransition {
  rid: string;
  alias: string;
  from: RemoteState;
  to: RemoteState;
  pid: number;
  /** on 'exited' / 'crashed': the exit status, `{ code: null, signal: null }` when unknown */
  status?: { code: number | null; signal: string | null };
  reason: string;
  /** performance.now() */
  at: number;
}

export interface RemoteSupervisorOptions {
  rid: string;
  alias: string;
  pid: number;
  /** field 22 of /proc/<pid>/stat: defeats pid reuse when re-adopting (and for kill()) */
  startTime?: bigint;
  /** present when the process is our child; absent after a daemon restart (then a pidfd watches it) */
  proc?: SpawnedQemu;
  /** already connected to the remote's monitor; the caller keeps ownership (it is not closed here) */
  qmp: QmpClient;
  /** default 1000 */
  heartbeatIntervalMs?: number;
  /** query-status must answer within this; default 3000 */
  hangDeadlineMs?: number;
  /** 'restarting': this process replaces a dead one (on-crash restart); begin() then reports 'restarted' */
  initialState?: 'starting' | 'restarting';
}

export const REMOTE_TRANSITIONS: Readonly<Record<RemoteState, readonly RemoteState[]>> = {
  starting: ['running', 'crashed', 'stopping'],
  running: ['stopping', 'crashed', 'hung'],
  hung: ['running', 'crashed', 'stopping'],
  stopping: ['exited'],
  exited: ['restarting'],
  crashed: ['restarting'],
  restarting: ['running', 'crashed', 'stopping'],
};

export function canTransition(from: RemoteState, to: RemoteState): boolean {
  return REMOTE_TRANSITIONS[from]?.includes(to) ?? false;
}

const UNKNOWN_STATUS = { code: null, signal: null } as const;
/** how long a child's exit status is awaited after its monitor EOF (it normally takes < 1 ms) */
const STATUS_WAIT_MS = 100;

export class RemoteSupervisor extends EventEmitter<{ transition: [RemoteTransition] }> {
  readonly rid: string;
  readonly alias: string;
  readonly pid: number;
  #state: RemoteState = 'starting';
  #startTime: bigint | undefined;
  readonly #proc: SpawnedQemu | undefined;
  readonly #qmp: QmpClient;
  readonly #intervalMs: number;
  readonly #deadlineMs: number;
  /** set while the heartbeat runs: leaves the shared clock */
  #heartbeat: (() => void) | undefined;
  #beating = false;
  #killed = false;
  #watching = false;
  #disposed = false;
  #pidfd: number | undefined;
  #stopPidfd: (() => void) | undefined;
  /** set when the monitor's EOF came first for a child: the reason, until its status arrives */
  #eofFirst: string | undefined;
  #statusWait: NodeJS.Timeout | undefined;
  readonly #onExit = (st: ExitStatus): void => this.#died(this.#eofFirst ?? 'process exited', st);
  readonly #onQmpClose = (c: QmpClose): void => {
    this.#stopHeartbeat();
    if (c.reason === 'closed') return; // our own close(): the process may live on
    const reason = `monitor ${c.reason === 'eof' ? 'EOF' : 'error'}`;
    if (!this.#proc || this.#proc.exitStatus !== undefined) return this.#died(reason, this.#proc?.exitStatus);
    // A child's exit status follows its monitor EOF within about a millisecond: wait for it, briefly.
    this.#eofFirst = reason;
    this.#statusWait = setTimeout(() => this.#died(reason, undefined), STATUS_WAIT_MS);
  };

  constructor(opts: RemoteSupervisorOptions) {
    super();
    this.rid = opts.rid;
    this.alias = opts.alias;
    this.pid = opts.pid;
    this.#startTime = opts.startTime ?? opts.proc?.startTime;
    this.#proc = opts.proc;
    this.#qmp = opts.qmp;
    this.#intervalMs = opts.heartbeatIntervalMs ?? 1000;
    this.#deadlineMs = opts.hangDeadlineMs ?? 3000;
    if (opts.initialState === 'restarting') this.#state = 'restarting';
  }

  get state(): RemoteState {
    return this.#state;
  }

  /**
   * starting (or restarting) → running; begins watching (exit, QMP EOF, heartbeat). A remote already gone →
   * crashed. After an early expectExit() ('stopping') it only watches for the exit. A monitor
   * that is already closed gives no heartbeat; the process watch still reports the exit.
   */
  begin(): void {
    if (this.#disposed || this.#watching || (this.#state !== 'starting' && this.#state !== 'stopping' && this.#state !== 'restarting')) {
      throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `remote process '${this.rid}': begin() in state '${this.#state}'`, { domain: 'QEMU' });
    }
    this.#watching = true;
    const gone = this.#watchProcess();
    if (gone !== undefined) return this.#died(gone.reason, gone.status);
    if (!this.#qmp.closed) this.#qmp.on('close', this.#onQmpClose);
    if (this.#state === 'stopping') return;
    this.#transition('running', 'supervision began');
    if (!this.#qmp.closed) this.#startHeartbeat();
  }

  /** crashed (or exited) → restarting: the driver replaces this dead process by a new one. */
  restarting(reason: string): void {
    this.#transition('restarting', reason);
  }

  /** The driver is stopping the domain: any later exit is 'exited', not 'crashed'. */
  expectExit(): void {
    if (this.#state === 'starting' || this.#state === 'running' || this.#state === 'hung' || this.#state === 'restarting') {
      this.#stopHeartbeat();
      this.#transition('stopping', 'exit expected by the driver');
    }
  }

  /**
   * SIGKILL by pid, only while it is still the same process: our unreaped child, or a pid whose
   * /proc start time is the one we know. Returns whether the signal was sent. The death that
   * follows is reported as usual ('crashed', or 'exited' after expectExit()).
   */
  kill(): boolean {
    this.#killed = true;
    this.#stopHeartbeat();
    if (this.#proc) return this.#proc.kill('SIGKILL');
    const st = readProcStat(this.pid);
    if (st === undefined || this.#startTime === undefined || st.startTime !== this.#startTime) return false;
    try {
      process.kill(this.pid, 'SIGKILL');
      return true;
    } catch {
      return false;
    }
  }

  /** Stop watching and release the pidfd and timers. Does not kill, does not close the monitor. */
  dispose(): void {
    this.#disposed = true;
    this.#unwatch();
  }

  #transition(to: RemoteState, reason: string, status?: RemoteTransition['status']): void {
    const from = this.#state;
    if (!canTransition(from, to)) {
      throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `remote process '${this.rid}' (pid ${this.pid}): illegal state transition ${from} → ${to} (${reason})`, { domain: 'QEMU' });
    }
    this.#state = to;
    const t: RemoteTransition = { rid: this.rid, alias: this.alias, from, to, pid: this.pid, reason, at: performance.now() };
    if (status !== undefined) t.status = status;
    this.emit('transition', t);
  }

  /** Starts the exit watch; returns how the process is already gone, if it is. */
  #watchProcess(): { reason: string; status: ExitStatus | undefined } | undefined {
    if (this.#proc) {
      if (this.#proc.exitStatus !== undefined) return { reason: 'process exited', status: this.#proc.exitStatus };
      this.#proc.once('exit', this.#onExit);
      return undefined;
    }
    try {
      this.#pidfd = pidfdOpen(this.pid);
    } catch {
      return { reason: `process ${this.pid} not found`, status: undefined };
    }
    // checked after pidfd_open: if the start time still matches, the pidfd names that process
    const st = readProcStat(this.pid);
    if (st === undefined) return { reason: `process ${this.pid} not found`, status: undefined };
    if (this.#startTime !== undefined && st.startTime !== this.#startTime) {
      return { reason: `pid ${this.pid} now belongs to another process`, status: undefined };
    }
    this.#startTime ??= st.startTime;
    this.#stopPidfd = watchFd(this.#pidfd, () => this.#died('process exited (pidfd)', undefined));
    return undefined;
  }

  #died(reason: string, status: ExitStatus | undefined): void {
    const s = this.#state;
    if (this.#disposed || (s !== 'starting' && s !== 'running' && s !== 'hung' && s !== 'stopping' && s !== 'restarting')) return;
    this.#unwatch();
    const to = s === 'stopping' ? 'exited' : 'crashed';
    const why = this.#killed && to === 'crashed' ? `${reason} after kill()` : reason;
    this.#transition(to, why, status ? { code: status.code, signal: status.signal } : { ...UNKNOWN_STATUS });
  }

  #startHeartbeat(): void {
    this.#heartbeat ??= joinHeartbeatClock(this.#intervalMs, () => this.#beat());
  }

  #stopHeartbeat(): void {
    this.#heartbeat?.();
    this.#heartbeat = undefined;
  }

  #beat(): void {
    if (this.#beating || this.#heartbeat === undefined) return; // only one outstanding
    this.#beating = true;
    const answered = (): void => {
      this.#beating = false;
      if (this.#state === 'hung' && !this.#killed && this.#heartbeat !== undefined) this.#transition('running', 'monitor answers again');
    };
    this.#qmp.execute('query-status', {}, { timeoutMs: this.#deadlineMs }).then(answered, (e: unknown) => {
      if (!isMpvirtError(e, 'VIR_ERR_OPERATION_TIMEOUT')) {
        // an error reply is an answer; a closed monitor is handled by the 'close' listener
        if (isMpvirtError(e) && e.qmp !== undefined) return answered();
        this.#beating = false;
        return;
      }
      this.#beating = false;
      if (this.#state === 'running' && this.#heartbeat !== undefined) {
        this.#transition('hung', `query-status not answered within ${this.#deadlineMs} ms`);
      }
    });
  }

  #unwatch(): void {
    this.#stopHeartbeat();
    clearTimeout(this.#statusWait);
    this.#watching = false;
    this.#proc?.off('exit', this.#onExit);
    this.#qmp.off('close', this.#onQmpClose);
    this.#stopPidfd?.();
    this.#stopPidfd = undefined;
    if (this.#pidfd !== undefined) closeFd(this.#pidfd);
    this.#pidfd = undefined;
  }
}

/**
 * One timer per heartbeat interval for all supervisors: every remote is asked in the same tick,
 * so N remotes cost one wake-up a beat instead of N, and their answers arrive together. A
 * remote's first beat comes at the clock's next tick (within one interval, as before).
 */
const heartbeatClocks = new Map<number, { timer: NodeJS.Timeout; beats: Set<() => void> }>();

function joinHeartbeatClock(intervalMs: number, beat: () => void): () => void {
  let clock = heartbeatClocks.get(intervalMs);
  if (!clock) {
    const beats = new Set<() => void>();
    const timer = setInterval(() => {
      for (const b of beats) b();
    }, intervalMs);
    timer.unref();
    clock = { timer, beats };
    heartbeatClocks.set(intervalMs, clock);
  }
  const c = clock;
  const member = (): void => beat(); // its own identity: one supervisor may rejoin
  c.beats.add(member);
  return () => {
    c.beats.delete(member);
    if (c.beats.size === 0 && heartbeatClocks.get(intervalMs) === c) {
      clearInterval(c.timer);
      heartbeatClocks.delete(intervalMs);
    }
  };
}

export const MPVIRT_REMOTE_EVENT = 'MPVIRT_REMOTE';

export interface RemoteEventData {
  rid: string;
  alias: string;
  state: 'started' | 'exited' | 'crashed' | 'hung' | 'restarting' | 'restarted';
  pid: number;
  /** the exit code; 128 + the signal number when killed by a signal; null when unknown or not an exit */
  status: number | null;
}

/**
 * The data of the MPVIRT_REMOTE monitor event (interfaces.md §6) for a transition, or undefined
 * for a transition without a public name (→ stopping, hung → running).
 */
export function remoteEventData(t: RemoteTransition): RemoteEventData | undefined {
  let state: RemoteEventData['state'];
  if (t.to === 'running') {
    if (t.from === 'starting') state = 'started';
    else if (t.from === 'restarting') state = 'restarted';
    else return undefined;
  } else if (t.to === 'exited' || t.to === 'crashed' || t.to === 'hung' || t.to === 'restarting') {
    state = t.to;
  } else {
    return undefined;
  }
  return { rid: t.rid, alias: t.alias, state, pid: t.pid, status: exitNumber(t.status) };
}

function exitNumber(s: RemoteTransition['status']): number | null {
  if (s === undefined) return null;
  if (s.code !== null) return s.code;
  const signo = s.signal === null ? undefined : (osConstants.signals as Record<string, number>)[s.signal];
  return signo === undefined ? null : 128 + signo;
}
