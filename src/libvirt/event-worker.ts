/**
 * The body of libvirt's event-loop thread: a worker_thread that registers libvirt's default event
 * implementation, then runs virEventRunDefaultImpl forever. It owns the C callbacks libvirt calls
 * for domain, QEMU monitor and stream events: koffi runs a registered callback directly only on the
 * thread that registered it (another thread would block until that JS thread is idle), so by
 * registering them here, where libvirt dispatches, a busy main thread never stalls libvirt's loop
 * (keepalives, streams) and never deadlocks it. Each callback copies what it needs out of libvirt's
 * arguments (valid only during the call) and posts it to the main thread, whose port queues it.
 *
 * The function is shipped to the worker as source text (`eventWorkerMain.toString()`), so it must
 * not use anything from its module: only its parameters and globals.
 */

/** How a callback's arguments between (conn, dom) and opaque are typed, in koffi's spelling. */
export type ArgType = 'int' | 'uint' | 'int64' | 'uint64' | 'str';

export interface WorkerData {
  koffiPath: string;
  /** one entry per domain event callback shape: its argument types and whether it returns int */
  shapes: Array<{ args: ArgType[]; returnsInt: boolean }>;
  /** [0] state: 0 starting, 1 ready, 2 failed; [1] stop requested */
  ctl: SharedArrayBuffer;
  /** callback pointers: shapes..., then qemu monitor, then stream; then the wake-up timer id */
  ptrs: SharedArrayBuffer;
  /** UTF-8 text of a startup failure */
  failure: SharedArrayBuffer;
}

/** What the worker posts: `s` is the subscription id libvirt handed back as the callback's opaque. */
export interface WorkerMessage {
  s: number;
  /** the domain: name, UUID, id (-1 when inactive); absent for stream events */
  d?: [string, string, number];
  /** the callback's remaining arguments (or, for a stream, [events]) */
  a: Array<string | number | bigint | null>;
}

export function eventWorkerMain(req: (id: string) => unknown, data: WorkerData): void {
  const ctl = new Int32Array(data.ctl);
  const ptrs = new BigInt64Array(data.ptrs);
  try {
    const koffi = req(data.koffiPath) as typeof import('koffi');
    const { parentPort } = req('node:worker_threads') as typeof import('node:worker_threads');
    const lib = koffi.load('libvirt.so.0');
    const runOnce = lib.func('int virEventRunDefaultImpl(void)') as () => number;
    const addTimeout = lib.func('int virEventAddTimeout(int, void *, void *, void *)') as (f: number, cb: bigint, o: null, ff: null) => number;
    const updateTimeout = lib.func('void virEventUpdateTimeout(int, int)') as (t: number, f: number) => void;
    const getName = lib.func('const char *virDomainGetName(void *)') as (d: bigint) => string;
    const getUUID = lib.func('int virDomainGetUUIDString(void *, _Out_ uint8_t *buf)') as (d: bigint, b: Buffer) => number;
    const getID = lib.func('uint virDomainGetID(void *)') as (d: bigint) => number;
    const post = parentPort!.postMessage.bind(parentPort!);
    const uuid = Buffer.alloc(37);
    const domain = (d: bigint): [string, string, number] => {
      getUUID(d, uuid);
      const id = getID(d);
      return [getName(d), uuid.toString('latin1', 0, 36), id === 0xffffffff ? -1 : id];
    };
    const cType = (t: ArgType): string => (t === 'str' ? 'const char *' : t);

    // the main thread has registered libvirt's default implementation before starting this worker
    data.shapes.forEach((shape, i) => {
      const proto = koffi.proto(`mpvirtLibvirtEvent${i}`, shape.returnsInt ? 'int' : 'void', ['void *', 'void *', ...shape.args.map(cType), 'void *']);
      const fn = (...argv: unknown[]): number => {
        const opaque = argv[argv.length - 1] as bigint | null;
        post({ s: Number(opaque ?? 0), d: domain(argv[1] as bigint), a: argv.slice(2, -1) as WorkerMessage['a'] } satisfies WorkerMessage);
        return 0;
      };
      ptrs[i] = koffi.register(fn, koffi.pointer(proto));
    });
    // virConnectDomainQemuMonitorEventCallback(conn, dom, event, seconds, micros, details, opaque)
    const qemuProto = koffi.proto('mpvirtLibvirtQemuEvent', 'void', ['void *', 'void *', 'const char *', 'int64', 'uint', 'const char *', 'void *']);
    const qemuCb = (_c: unknown, dom: bigint, event: string, secs: number | bigint, micros: number, details: string | null, opaque: bigint | null): void =>
      post({ s: Number(opaque ?? 0), d: domain(dom), a: [event, secs, micros, details] } satisfies WorkerMessage);
    ptrs[data.shapes.length] = koffi.register(qemuCb, koffi.pointer(qemuProto));
    // virStreamEventCallback(stream, events, opaque)
    const streamProto = koffi.proto('mpvirtLibvirtStreamEvent', 'void', ['void *', 'int', 'void *']);
    const streamCb = (_s: unknown, events: number, opaque: bigint | null): void => post({ s: Number(opaque ?? 0), a: [events] } satisfies WorkerMessage);
    ptrs[data.shapes.length + 1] = koffi.register(streamCb, koffi.pointer(streamProto));
    // A disabled timer the main thread arms (virEventUpdateTimeout is thread-safe and interrupts
    // the poll) to make this loop look at the stop flag.
    const wakeProto = koffi.proto('mpvirtLibvirtWake', 'void', ['int', 'void *']);
    const wake = koffi.register((timer: number) => updateTimeout(timer, -1), koffi.pointer(wakeProto));
    const timer = addTimeout(-1, wake, null, null);
    if (timer < 0) throw new Error('virEventAddTimeout failed');
    ptrs[data.shapes.length + 2] = BigInt(timer);
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    // the stop flag is read after the timer id is published: a stop() that saw no timer yet is
    // seen here before the first poll; one that armed it makes the poll return
    while (Atomics.load(ctl, 1) === 0) runOnce();
  } catch (e) {
    new Uint8Array(data.failure).set(Buffer.from(String(e instanceof Error ? e.message : e)).subarray(0, data.failure.byteLength - 1));
    Atomics.store(ctl, 0, 2);
    Atomics.notify(ctl, 0);
  }
}
