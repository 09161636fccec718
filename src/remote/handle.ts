/**
 * One interface for a QEMU process, whether it is our child (spawned by this
 * daemon) or adopted after a daemon restart (known only by pid and start
 * time). Signals are sent only while the pid still names the same process
 * (its /proc start time matches), so a reused pid is never hit.
 */
import { readProcStat, type ExitStatus, type SpawnedQemu } from '../emulator/process.js';
import { closeFd, pidfdOpen, watchFd } from '../emulator/unixfd.js';

export interface ProcessHandle {
  readonly pid: number;
  readonly startTime: bigint | undefined;
  /** resolves when the process is gone; the status is unknown (null) for adopted processes */
  readonly exited: Promise<ExitStatus | null>;
  readonly gone: boolean;
  kill(signal: NodeJS.Signals): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves when gone */
  terminate(graceMs: number): Promise<void>;
  stderrTail(): string;
  dispose(): void;
}

export class ChildHandle implements ProcessHandle {
  readonly exited: Promise<ExitStatus>;
  constructor(readonly proc: SpawnedQemu) {
    this.exited = proc.exited;
  }
  get pid(): number {
    return this.proc.pid;
  }
  get startTime(): bigint | undefined {
    return this.proc.startTime;
  }
  get gone(): boolean {
    return this.proc.reaped;
  }
  kill(signal: NodeJS.Signals): boolean {
    return this.proc.kill(signal);
  }
  async terminate(graceMs: number): Promise<void> {
    await this.proc.terminate({ graceMs });
  }
  stderrTail(): string {
    return this.proc.stderrTail();
  }
  dispose(): void {
    /* the child's exit is tracked by Node itself */
  }
}

/** Is `pid` still the process that started at `startTime`? */
export function sameProcess(pid: number, startTime: bigint | undefined): boolean {
  const st = readProcStat(pid);
  if (!st) return false;
  // a zombie is gone for our purposes
  if (st.state === 'Z') return false;
  return startTime === undefined || st.startTime === startTime;
}

export class AdoptedHandle implements ProcessHandle {
  readonly exited: Promise<null>;
  #gone = false;
  #pidfd = -1;
  #stop: (() => void) | undefined;
  #resolve!: (v: null) => void;

  constructor(readonly pid: number, readonly startTime: bigint | undefined) {
    this.exited = new Promise((r) => (this.#resolve = r));
    if (!sameProcess(pid, startTime)) {
      this.#markGone();
      return;
    }
    try {
      this.#pidfd = pidfdOpen(pid);
    } catch {
      this.#markGone();
      return;
    }
    // a pidfd becomes readable when the process exits: death is noticed at once
    this.#stop = watchFd(this.#pidfd, () => this.#markGone());
  }

  get gone(): boolean {
    return this.#gone;
  }

  #markGone(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.dispose();
    this.#resolve(null);
  }

  kill(signal: NodeJS.Signals): boolean {
    if (this.#gone || !sameProcess(this.pid, this.startTime)) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  async terminate(graceMs: number): Promise<void> {
    if (this.#gone) return;
    this.kill('SIGTERM');
    const timer = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([this.exited, timer]);
    if (this.#gone) return;
    this.kill('SIGKILL');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  stderrTail(): string {
    return '';
  }

  dispose(): void {
    this.#stop?.();
    this.#stop = undefined;
    if (this.#pidfd >= 0) {
      closeFd(this.#pidfd);
      this.#pidfd = -1;
    }
  }
}
