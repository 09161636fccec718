/**
 * The main thread's side of libvirt's event loop (event-worker.ts runs the loop itself).
 *
 * libvirt requires virEventRegisterDefaultImpl before the first connection is opened, or no
 * connection ever gets events or keepalives; so the first connect() starts the worker and waits
 * (Atomics.wait, ~60 ms) until it has registered. There is one loop per process, for good: libvirt
 * cannot unregister an event implementation. The worker is unref'ed unless a subscription is live,
 * so it never keeps a process alive by itself, and at exit it is woken so the thread can be joined
 * (a thread blocked in poll() would otherwise hang the process's exit).
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
  readonly #timer: number;
  readonly #handlers = new Map<number, MessageHandler>();
  #nextId = 1;
  readonly callbacks: CallbackPointers;

  constructor(shapes: WorkerData['shapes']) {
    const data: WorkerData = {
      koffiPath: createRequire(import.meta.url).resolve('koffi'),
      shapes,
      ctl: new SharedArrayBuffer(8),
      ptrs: new SharedArrayBuffer(8 * (shapes.length + 3)),
      failure: new SharedArrayBuffer(512),
    };
    // Shipped as source: the worker must run from dist/ and from src/ under a TS loader alike.
    // `__name` is defined in case a bundler's keep-names transform references it.
    const code = `globalThis.__name ??= (f) => f;\n(${eventWorkerMain.toString()})(require, require('node:worker_threads').workerData);`;
    this.#worker = new Worker(code, { eval: true, workerData: data, name: 'libvirt-event-loop' });
    this.#ctl = new Int32Array(data.ctl);
    if (Atomics.wait(this.#ctl, 0, 0, 30_000) === 'timed-out') throw new BindingError('ERR_LIBVIRT_EVENT_LOOP', 'the event loop thread did not start within 30 s');
    if (Atomics.load(this.#ctl, 0) !== 1) {
      const text = Buffer.from(data.failure).toString('utf8').replace(/\0.*$/s, '');
      throw new BindingError('ERR_LIBVIRT_EVENT_LOOP', text || 'the event loop thread failed');
    }
    const ptrs = [...new BigInt64Array(data.ptrs)];
    this.callbacks = { domain: ptrs.slice(0, shapes.length), qemuMonitor: ptrs[shapes.length]!, stream: ptrs[shapes.length + 1]! };
    this.#timer = Number(ptrs[shapes.length + 2]);
    this.#worker.on('message', (m: WorkerMessage) => this.#handlers.get(m.s)?.(m));
    this.#worker.unref();
    process.once('exit', () => this.stop());
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

  stop(): void {
    Atomics.store(this.#ctl, 1, 1);
    lv().virEventUpdateTimeout(this.#timer, 0);
  }
}

let loop: EventLoop | undefined;

/** The process's event loop, started (synchronously) on first use. */
export function eventLoop(): EventLoop {
  loop ??= new EventLoop(Object.values(DOMAIN_EVENT_SHAPES).map((s) => ({ args: [...s.args], returnsInt: s.id === 0 })));
  return loop;
}

/** Whether the loop runs (connections opened before it cannot get events). */
export function eventLoopStarted(): boolean {
  return loop !== undefined;
}
