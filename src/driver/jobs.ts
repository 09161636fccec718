/**
 * libvirt's per-domain job model (qemu_domainjob.c, simplified to one kind of
 * job): every state-changing operation on a domain runs as a job, and a domain
 * has at most one job at a time. Queries take no job. Waiters are served in
 * FIFO order with a bounded wait; a job that may cut another short
 * (destroy during start) is `interrupting`: it aborts the holder's signal and
 * goes first once the holder lets go.
 */
import { MpvirtError } from '../errors.js';

/** libvirt's QEMU_JOB_WAIT_TIME: 30 s */
export const DEFAULT_JOB_TIMEOUT_MS = 30_000;

export interface JobOptions {
  /** libvirt-style name of the API holding the job, shown in timeouts, e.g. 'remoteDispatchDomainCreate' */
  owner: string;
  /** how long to wait for the lock; default 30000; Infinity waits for ever; 0 fails at once when busy */
  timeoutMs?: number;
  /** destroy may interrupt a running start */
  interrupting?: boolean;
}

export interface Job {
  readonly owner: string;
  /** aborted when an interrupting job asks this one to give up; the reason is an MpvirtError */
  readonly signal: AbortSignal;
  /** lets the next waiter in; calling it again does nothing */
  release(): void;
}

interface Waiter {
  readonly opts: JobOptions;
  readonly resolve: (job: Job) => void;
  readonly reject: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

class HeldJob implements Job {
  readonly #controller = new AbortController();
  #released = false;

  constructor(
    readonly owner: string,
    private readonly onRelease: (job: HeldJob) => void,
  ) {}

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  interrupt(by: string): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(new MpvirtError('VIR_ERR_OPERATION_ABORTED', `job '${this.owner}' was interrupted by '${by}'`));
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.onRelease(this);
  }
}

/**
 * The state change lock of one domain.
 *
 * Invariant: when nobody holds the lock, nobody waits for it (release hands the
 * lock to the next waiter synchronously), so a holder is never skipped.
 */
export class DomainJobLock {
  #current: HeldJob | undefined;
  /** interrupting waiters first (in arrival order), then the others (in arrival order) */
  readonly #queue: Waiter[] = [];

  /** owner of the job in flight, if any */
  get holder(): string | undefined {
    return this.#current?.owner;
  }

  /** how many acquire() calls are queued */
  get waiting(): number {
    return this.#queue.length;
  }

  acquire(opts: JobOptions): Promise<Job> {
    if (typeof opts?.owner !== 'string' || opts.owner === '') {
      return Promise.reject(new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'a job needs an owner'));
    }
    if (this.#current === undefined) return Promise.resolve(this.#grant(opts.owner));
    if (opts.interrupting) this.#current.interrupt(opts.owner);

    return new Promise<Job>((resolve, reject) => {
      const waiter: Waiter = { opts, resolve, reject, timer: undefined };
      if (opts.interrupting) {
        const firstPlain = this.#queue.findIndex((w) => !w.opts.interrupting);
        this.#queue.splice(firstPlain === -1 ? this.#queue.length : firstPlain, 0, waiter);
      } else {
        this.#queue.push(waiter);
      }
      const timeoutMs = opts.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
      if (Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(() => this.#timeOut(waiter), Math.max(0, timeoutMs));
      }
    });
  }

  /** Acquire, run `fn`, and release whatever happens. */
  async run<T>(opts: JobOptions, fn: (job: Job) => Promise<T>): Promise<T> {
    const job = await this.acquire(opts);
    try {
      return await fn(job);
    } finally {
      job.release();
    }
  }

  #grant(owner: string): HeldJob {
    const job = new HeldJob(owner, (j) => this.#released(j));
    this.#current = job;
    return job;
  }

  #released(job: HeldJob): void {
    if (this.#current !== job) return; // cannot happen: only the holder has a live release()
    this.#current = undefined;
    const next = this.#queue.shift();
    if (next === undefined) return;
    if (next.timer !== undefined) clearTimeout(next.timer);
    next.resolve(this.#grant(next.opts.owner));
  }

  #timeOut(waiter: Waiter): void {
    const i = this.#queue.indexOf(waiter);
    if (i === -1) return; // already granted
    this.#queue.splice(i, 1);
    waiter.timer = undefined;
    const detail =
      this.#current === undefined
        ? 'cannot acquire state change lock'
        : `cannot acquire state change lock (held by monitor=${this.#current.owner})`;
    waiter.reject(new MpvirtError('VIR_ERR_OPERATION_TIMEOUT', detail));
  }
}
