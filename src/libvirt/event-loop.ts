/**
 * The main thread's side of libvirt's event loop (event-worker.ts runs the loop itself).
 *
 * libvirt requires virEventRegisterDefaultImpl before the first connection is opened, or no
 * connection ever gets events or keepalives. As virsh does, this thread registers the
 * implementation (microseconds) and a thread of its own runs it: the worker is started at once but
 * not waited for, since a new worker takes ~100 ms to boot and a short command (`mpvirsh list`)
 * should not pay that. Only what needs the worker's callback pointers (an event subscription, a
 * stream watch) waits until it is ready. There is one loop per process, for good: libvirt cannot
 * unregister an event implementation. The worker is unref'ed unless a subscription is live, so it
 * never keeps a process alive by itself, and at exit it is told to stop — woken if it already
 * polls, or never entering the loop if it is still booting (a thread blocked in poll() would
 * otherwise hang the process's exit).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BindingError } from './errors.js';
import { DOMAIN_EVENT_SHAPES } from './domain-events.js';
import { eventWorkerMain, type WorkerData, type WorkerMessage } from './event-worker.js';
import { lv, type Ptr } from './ffi.js';

export type MessageHandler = (m: WorkerMessage) => void;

export interface CallbackPointers {
  /** in DOMAIN_EVENT_SHAPES order (domain-events.ts) */
  domain: Ptr[];
  qemuMonitor: Ptr;
  stream: Ptr;
}

class EventLoop {
  readonly #worker: Worker;
  readonly #ctl: Int32Array;
  readonly #data: WorkerData;
  readonly #shapes: number;
  #ready: { callbacks: CallbackPointers; timer: number } | undefined;
  readonly #handlers = new Map<number, MessageHandler>();
  #nextId = 1;

  constructor(shapes: WorkerData['shapes']) {
    registerEventImpl();
    this.#shapes = shapes.length;
    this.#data = {
      koffiPath: createRequire(import.meta.url).resolve('koffi'),
      shapes,
      ctl: new SharedArrayBuffer(8),
      ptrs: new SharedArrayBuffer(8 * (shapes.length + 3)),
      failure: new SharedArrayBuffer(512),
    };
    // Shipped as source: the worker must run from dist/ and from src/ under a TS loader alike.
    // `__name` is defined in case a bundler's keep-names transform references it. The code reaches
    // Node's modules through process.getBuiltinModule, not `require`: a worker inherits the
    // parent's flags, and under `--input-type=module` its eval'd code is an ES module.
    const code = `globalThis.__name ??= (f) => f;
{ const wt = process.getBuiltinModule('node:worker_threads');
  const req = process.getBuiltinModule('node:module').createRequire(wt.workerData.koffiPath);
  (${eventWorkerMain.toString()})(req, wt.workerData); }`;
    this.#worker = new Worker(code, { eval: true, workerData: this.#data, name: 'libvirt-event-loop' });
    this.#ctl = new Int32Array(this.#data.ctl);
    this.#worker.on('message', (m: WorkerMessage) => this.#handlers.get(m.s)?.(m));
    this.#worker.unref();
    process.once('exit', () => this.stop());
  }

  /** The worker's C callbacks, once it has booted (waits for that the first time). */
  get callbacks(): CallbackPointers {
    return this.#booted().callbacks;
  }

  #booted(): { callbacks: CallbackPointers; timer: number } {
    if (this.#ready) return this.#ready;
    if (Atomics.wait(this.#ctl, 0, 0, 30_000) === 'timed-out') throw new BindingError('ERR_LIBVIRT_EVENT_LOOP', 'the event loop thread did not start within 30 s');
    if (Atomics.load(this.#ctl, 0) !== 1) {
      const text = Buffer.from(this.#data.failure).toString('utf8').replace(/\0.*$/s, '');
      throw new BindingError('ERR_LIBVIRT_EVENT_LOOP', text || 'the event loop thread failed');
    }
    const ptrs = [...new BigInt64Array(this.#data.ptrs)];
    const n = this.#shapes;
    this.#ready = { callbacks: { domain: ptrs.slice(0, n), qemuMonitor: ptrs[n]!, stream: ptrs[n + 1]! }, timer: Number(ptrs[n + 2]) };
    return this.#ready;
  }

  /** A subscription id to pass to libvirt as the callback's opaque; its messages go to `h`. */
  add(h: MessageHandler): number {
    const id = this.#nextId++;
    this.#handlers.set(id, h);
    if (this.#handlers.size === 1) this.#worker.ref();
    return id;
  }

  /** Messages already queued for `id` are dropped from now on. */
  remove(id: number): void {
    if (this.#handlers.delete(id) && this.#handlers.size === 0) this.#worker.unref();
  }

  /**
   * Stops the loop thread: the flag first, then, if the worker has published its wake-up timer,
   * that timer armed, so a poll() in progress returns; a worker still booting finishes booting,
   * then sees the flag before it would enter the loop.
   */
  stop(): void {
    Atomics.store(this.#ctl, 1, 1);
    // A worker still booting is waited for: Node terminating it at exit in the middle of loading
    // koffi's native module is a fatal error (napi_throw), seen as mpvirsh dying at exit.
    Atomics.wait(this.#ctl, 0, 0, 10_000);
    if (Atomics.load(this.#ctl, 0) === 1) lv().virEventUpdateTimeout(this.#booted().timer, 0);
  }
}

let loop: EventLoop | undefined;
let implRegistered = false;

/**
 * Registers libvirt's default event implementation on this thread, once (what libvirt needs
 * before the first open). Without the loop thread running it, connections still work call by
 * call; the thread starts with eventLoop(), at the latest when something subscribes.
 */
export function registerEventImpl(): void {
  if (implRegistered) return;
  if (lv().virEventRegisterDefaultImpl() < 0) throw new BindingError('ERR_LIBVIRT_EVENT_LOOP', 'virEventRegisterDefaultImpl failed');
  implRegistered = true;
}

/** The process's event loop, started (synchronously) on first use. */
export function eventLoop(): EventLoop {
  loop ??= new EventLoop(Object.values(DOMAIN_EVENT_SHAPES).map((s) => ({ args: [...s.args], returnsInt: s.id === 0 })));
  return loop;
}

/** Whether the loop runs (connections opened before it cannot get events). */
export function eventLoopStarted(): boolean {
  return loop !== undefined;
}
