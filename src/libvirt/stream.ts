/**
 * virStreamPtr, non-blocking: a blocking virStreamRecv would freeze the JS thread until data came.
 * Readiness comes from libvirt's event loop (virStreamEventAddCallback, dispatched on the loop's
 * thread and posted here), so reads happen only when data is queued in the stream.
 */
import { StreamEventType } from './enums-misc.js';
import { check, lastError } from './errors.js';
import { eventLoop } from './event-loop.js';
import { lv, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';

const WOULD_BLOCK = -2;

interface StreamState {
  /** finished or aborted: free() need not abort */
  done: boolean;
  /** the event loop subscription of the active watch (libvirt holds its id as the opaque) */
  sub: number | undefined;
  cb?: (events: number) => void;
}

function release(p: Ptr, s: StreamState): void {
  if (s.sub !== undefined) {
    lv().virStreamEventRemoveCallback(p);
    eventLoop().remove(s.sub);
    s.sub = undefined;
  }
  // libvirt: a stream still transferring must be aborted before it is freed
  if (!s.done) lv().virStreamAbort(p);
  lv().virStreamFree(p);
}

export class Stream extends LibvirtObject {
  readonly #s: StreamState;

  /** Wraps a new stream the caller owns. @internal */
  constructor(ptr: Ptr, state: StreamState = { done: false, sub: undefined }) {
    super(ptr, (p) => release(p, state), 'Stream');
    this.#s = state;
  }

  /** Up to `max` bytes: a Buffer (empty at end of stream), or null when nothing is queued yet. */
  recv(max = 65536): Buffer | null {
    const buf = Buffer.alloc(max);
    const n = lv().virStreamRecv(this.ptr, buf, max);
    if (n === WOULD_BLOCK) return null;
    if (n < 0) throw lastError('virStreamRecv');
    return buf.subarray(0, n);
  }

  /** Bytes accepted (possibly fewer than given), or 0 when the stream cannot take data now. */
  send(data: Buffer | string): number {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const n = lv().virStreamSend(this.ptr, buf, buf.length);
    if (n === WOULD_BLOCK) return 0;
    return check(n, 'virStreamSend');
  }

  finish(): void {
    check(lv().virStreamFinish(this.ptr), 'virStreamFinish');
    this.#s.done = true;
  }

  abort(): void {
    this.#s.done = true;
    check(lv().virStreamAbort(this.ptr), 'virStreamAbort');
  }

  /**
   * Calls `cb` with virStreamEventType bits (1 readable, 2 writable, 4 error, 8 hangup) whenever
   * the stream becomes ready; one watch per stream (a second call replaces the mask and callback).
   */
  watch(events: number, cb: (events: number) => void): void {
    const loop = eventLoop();
    const s = this.#s;
    s.cb = cb;
    if (s.sub !== undefined) {
      check(lv().virStreamEventUpdateCallback(this.ptr, events), 'virStreamEventUpdateCallback');
      return;
    }
    const sub = loop.add((m) => s.cb?.(m.a[0] as number));
    if (lv().virStreamEventAddCallback(this.ptr, events, loop.callbacks.stream, BigInt(sub), null) < 0) {
      loop.remove(sub);
      throw lastError('virStreamEventAddCallback');
    }
    this.#s.sub = sub;
  }

  unwatch(): void {
    if (this.#s.sub === undefined) return;
    check(lv().virStreamEventRemoveCallback(this.ptr), 'virStreamEventRemoveCallback');
    eventLoop().remove(this.#s.sub);
    this.#s.sub = undefined;
  }

  /** Incoming data until end of stream (or a stream error, thrown). Leaves the watch removed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    let wake: (() => void) | undefined;
    let signalled = true; // try once before the first event
    this.watch(StreamEventType.READABLE | StreamEventType.ERROR | StreamEventType.HANGUP, () => {
      signalled = true;
      wake?.();
    });
    try {
      for (;;) {
        if (!signalled) await new Promise<void>((r) => (wake = r));
        signalled = false;
        wake = undefined;
        for (;;) {
          const chunk = this.recv();
          if (chunk === null) break;
          if (chunk.length === 0) return;
          yield chunk;
        }
      }
    } finally {
      if (!this.freed) this.unwatch();
    }
  }
}
