/**
 * One client connection: framing, dispatch with the server-side policy
 * (handshake first, read-only, unknown programs and procedures), keepalive,
 * async messages, and the cleanup of everything the client registered.
 *
 * Calls on one connection run concurrently up to `maxInflight` (libvirt's
 * max_client_requests); each reply is encoded into one buffer and written with
 * one write, so replies never interleave. A client that sends an impossible
 * frame is disconnected: the byte stream cannot be resynchronised.
 */
import type { Socket } from 'node:net';
import { ForeignLibvirtError, MpvirtError } from '../errors.js';
import type { Logger } from '../driver/core.js';
import type { StorageDriver } from '../storage/storage-driver.js';
import type { SecondaryDriverOpener } from './procedures/forward-common.js';
import { ServerStream, type StreamHandlers } from './stream.js';
import { unsupportedName, type ProcedureRegistry } from './procedures/index.js';
import type { CallContext, Procedure, RpcConnection, RpcDriver } from './procedures/types.js';
import {
  encodeFrame, FrameDecoder, KEEPALIVE_PROGRAM, KEEPALIVE_PROTOCOL_VERSION, KeepaliveProc, MessageStatus, MessageType,
  remoteErrorCodec, toRemoteError, type Frame, type Header,
} from './protocol.js';
import { decodePrefix, encode, XdrDecodeError, type Codec } from './xdr.js';
import { closeFd, sendWithFds, socketFd } from '../emulator/unixfd.js';

export interface KeepaliveOptions {
  /** silence after which we PING; 0 turns our PINGs off */
  intervalMs: number;
  /** unanswered PINGs in a row before the client is dropped */
  count: number;
}

export interface ConnectionOptions {
  registry: ProcedureRegistry;
  driver: RpcDriver;
  storage?: StorageDriver;
  /** the host's libvirt drivers the network, node device, … procedures forward to */
  secondary?: SecondaryDriverOpener;
  log: Logger;
  /** accepted on the read-only socket: every connection is read-only */
  readOnlySocket: boolean;
  maxMessageBytes: number;
  keepalive: KeepaliveOptions;
  maxInflight: number;
  /** unread output a client may accumulate before it is dropped */
  maxOutboundBytes: number;
}

let nextConnectionId = 1;

export class RpcClient implements RpcConnection {
  readonly id = nextConnectionId++;
  private state: { opened: boolean; readOnly: boolean; uri: string | undefined };
  /** settles once the socket is closed and every cleanup ran */
  readonly done: Promise<void>;

  private readonly decoder: FrameDecoder;
  private readonly queue: Frame[] = [];
  private inflight = 0;
  private closing = false;
  private closed = false;
  /** the client half-closed: finish its calls, then end our side */
  private clientEnded = false;
  private readonly cleanups = new Set<() => void | Promise<void>>();
  private readonly slots = new Map<symbol, unknown>();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastRx = Date.now();
  private missedPings = 0;
  private resolveDone!: () => void;
  /** open streams by the serial of the call that opened them */
  private readonly streams = new Map<number, ServerStream>();
  /** a stream's pending client data holds more than this many chunks: stop reading */
  private static readonly STREAM_BACKLOG = 8;
  /**
   * Output held while a reply's fds go out: they must follow its last byte, one SCM_RIGHTS byte
   * each, with nothing in between (libvirt's virNetServerClientDispatchWrite); null: none held.
   */
  private held: Array<{ frame: Buffer; fds: number[] }> | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly opts: ConnectionOptions,
  ) {
    this.state = { opened: false, readOnly: opts.readOnlySocket, uri: undefined };
    this.decoder = new FrameDecoder(opts.maxMessageBytes);
    this.done = new Promise((r) => (this.resolveDone = r));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => opts.log.debug({ conn: this.id, err: e }, 'client socket error'));
    socket.on('end', () => {
      this.clientEnded = true;
      this.endIfIdle();
    });
    socket.on('close', () => void this.cleanup());
  }

  // ------------------------------------------------------------ RpcConnection

  get opened(): boolean {
    return this.state.opened;
  }

  get readOnly(): boolean {
    return this.state.readOnly;
  }

  get uri(): string | undefined {
    return this.state.uri;
  }

  markOpen(uri: string, readOnly: boolean): void {
    // a read-only socket stays read-only whatever the client asks (libvirtd does the same)
    this.state = { opened: true, uri, readOnly: this.opts.readOnlySocket || readOnly };
    this.opts.log.debug({ conn: this.id, uri, readOnly: this.readOnly }, 'connection opened');
  }

  enableKeepalive(): void {
    const { intervalMs } = this.opts.keepalive;
    if (this.keepaliveTimer || intervalMs <= 0 || this.closed) return;
    this.keepaliveTimer = setInterval(() => this.keepaliveTick(), intervalMs);
    this.keepaliveTimer.unref();
  }

  closeAfterReply(): void {
    this.closing = true;
  }

  sendMessage<T>(program: number, proc: number, codec: Codec<T>, body: T): void {
    if (this.closed || this.closing) return;
    let payload: Buffer;
    try {
      payload = encode(codec, body);
    } catch (e) {
      this.opts.log.error({ conn: this.id, program, proc, err: e }, 'cannot encode an event');
      return;
    }
    const vers = this.opts.registry.programs.get(program) ?? 1;
    this.write(encodeFrame({ prog: program, vers, proc, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK }, payload));
  }

  onClose(fn: () => void | Promise<void>): () => void {
    if (this.closed) {
      void Promise.resolve().then(fn).catch((e: unknown) => this.opts.log.error({ conn: this.id, err: e }, 'connection cleanup failed'));
      return () => {};
    }
    this.cleanups.add(fn);
    return () => void this.cleanups.delete(fn);
  }

  slot<T>(key: symbol, init: () => T): T {
    if (!this.slots.has(key)) this.slots.set(key, init());
    return this.slots.get(key) as T;
  }

  /** Drop the client now (protocol error, keepalive timeout, server shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  // ------------------------------------------------------------ input

  private onData(chunk: Buffer): void {
    this.lastRx = Date.now();
    this.missedPings = 0;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.opts.log.warn({ conn: this.id, err: (e as Error).message }, 'protocol error; closing the client');
      this.destroy();
      return;
    }
    for (const f of frames) this.receive(f);
  }

  private receive(f: Frame): void {
    if (this.closed || this.closing) return;
    const h = f.header;
    if (h.prog === KEEPALIVE_PROGRAM) {
      if (h.vers === KEEPALIVE_PROTOCOL_VERSION && h.type === MessageType.MESSAGE && h.proc === KeepaliveProc.PING) {
        this.write(encodeFrame({ ...h, proc: KeepaliveProc.PONG, serial: 0, status: MessageStatus.OK }, Buffer.alloc(0)));
      }
      return; // PONGs only prove the client is alive, which onData noted
    }
    if (h.type === MessageType.STREAM || h.type === MessageType.STREAM_HOLE) {
      const st = this.streams.get(h.serial);
      // a hole is only sent for sparse streams, which no procedure here opens
      if (st && h.type === MessageType.STREAM) st.receive(h.status, f.payload);
      else this.opts.log.debug({ conn: this.id, header: h }, 'stream message for no open stream');
      return;
    }
    if (h.type !== MessageType.CALL && h.type !== MessageType.CALL_WITH_FDS) {
      this.opts.log.debug({ conn: this.id, header: h }, 'ignoring a non-call message');
      return;
    }
    this.queue.push(f);
    this.pump();
  }

  private pump(): void {
    while (this.inflight < this.opts.maxInflight && this.queue.length > 0) {
      const f = this.queue.shift()!;
      this.inflight++;
      void this.dispatch(f).finally(() => {
        this.inflight--;
        this.pump();
        this.endIfIdle();
      });
    }
    this.flowControl();
  }

  /** Backpressure: stop reading while calls wait (libvirtd's max_client_requests) or a stream's data piles up. */
  private flowControl(): void {
    const streamBacklog = [...this.streams.values()].some((s) => s.pending > RpcClient.STREAM_BACKLOG);
    if (this.queue.length > 0 || streamBacklog) this.socket.pause();
    else if (!this.closed) this.socket.resume();
  }

  /** The stream a procedure opens for its call; it starts once the reply is out. */
  private openStream(h: Header, handlers: StreamHandlers): ServerStream {
    if (this.streams.has(h.serial)) throw rpcError(`a stream with serial ${h.serial} is already open`);
    const st = new ServerStream(h, handlers, {
      writeFrame: (header, payload) => this.write(encodeFrame(header, payload)),
      encodeError,
      drained: () => (this.closed || !this.socket.writableNeedDrain ? Promise.resolve() : new Promise((r) => {
        const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); r(); };
        this.socket.once('drain', done);
        this.socket.once('close', done);
      })),
      flowChanged: () => this.flowControl(),
    }, () => {
      this.streams.delete(h.serial);
      this.flowControl();
    });
    this.streams.set(h.serial, st);
    return st;
  }

  private async dispatch(f: Frame): Promise<void> {
    const h = f.header;
    const started = process.hrtime.bigint();
    let name = `${h.prog}:${h.proc}`;
    let status: number = MessageStatus.OK;
    let payload: Buffer;
    let stream: ServerStream | undefined;
    const fds: number[] = [];
    try {
      const p = this.checkCall(h);
      name = p.name;
      let args: unknown;
      try {
        args = decodePrefix(p.args, f.payload); // trailing bytes ignored, as libvirtd does
      } catch (e) {
        if (e instanceof XdrDecodeError) throw rpcError('Unable to decode message payload', e);
        throw e;
      }
      const ctx: CallContext = {
        driver: this.opts.driver, ...(this.opts.storage && { storage: this.opts.storage }), ...(this.opts.secondary && { secondary: this.opts.secondary }), conn: this, log: this.opts.log,
        openStream: (handlers) => (stream = this.openStream(h, handlers)),
        passFds: (f) => void fds.push(...f),
      };
      const ret = await p.handler(ctx, args);
      try {
        payload = encode(p.ret, ret);
      } catch (e) {
        throw rpcError('Unable to encode message payload', e);
      }
    } catch (e) {
      if (!(e instanceof MpvirtError) && !(e instanceof ForeignLibvirtError)) this.opts.log.error({ conn: this.id, proc: name, err: e }, 'procedure failed unexpectedly');
      status = MessageStatus.ERROR;
      payload = encodeError(e);
    }
    const us = Number(process.hrtime.bigint() - started) / 1000;
    this.opts.log.debug({ conn: this.id, proc: name, serial: h.serial, status, us }, 'rpc call');
    if (fds.length > 0 && status === MessageStatus.OK) {
      // REPLY_WITH_FDS: the number of fds precedes the reply's payload
      const n = Buffer.alloc(4);
      n.writeUInt32BE(fds.length);
      this.writeWithFds(encodeFrame({ ...h, type: MessageType.REPLY_WITH_FDS, status }, Buffer.concat([n, payload])), fds);
    } else {
      for (const fd of fds) closeFd(fd);
      this.write(encodeFrame({ ...h, type: MessageType.REPLY, status }, payload));
    }
    // a stream lives only if its call succeeded, and starts after the reply
    if (stream) {
      if (status === MessageStatus.OK) stream.start();
      else stream.abort();
    }
    // CONNECT_CLOSE: flush the reply, then close both directions (libvirtd's delayed close)
    if (this.closing && !this.closed) this.socket.end(() => this.socket.destroy());
  }

  /** The server's policy, in libvirtd's order; throws the error the client gets. */
  private checkCall(h: Header): Procedure {
    const { registry } = this.opts;
    if (!registry.speaks(h.prog, h.vers)) throw rpcError(`Cannot find program ${h.prog} version ${h.vers}`);
    if (h.status !== MessageStatus.OK) throw rpcError(`Unexpected message status ${h.status}`);
    // FDs cannot arrive on our sockets (Node reads no SCM_RIGHTS), and no procedure we serve takes any
    if (h.type === MessageType.CALL_WITH_FDS) throw rpcError('file descriptor passing is not supported');
    const p = registry.get(h.prog, h.proc);
    if (!p) {
      const api = unsupportedName(h.prog, h.proc);
      throw new MpvirtError('VIR_ERR_NO_SUPPORT', api, { domain: api.startsWith('virDomain') ? 'DOMAIN' : 'NONE' });
    }
    if (!this.opened && !p.beforeOpen) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'connection not open', { domain: 'NONE' });
    if (this.readOnly && !p.readOnlySafe) {
      throw new MpvirtError('VIR_ERR_OPERATION_DENIED', `read only access prevents ${p.api}`);
    }
    return p;
  }

  // ------------------------------------------------------------ output and lifetime

  private endIfIdle(): void {
    if (this.clientEnded && this.inflight === 0 && this.queue.length === 0 && !this.socket.destroyed) this.socket.end();
  }

  private write(frame: Buffer): void {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return;
    if (this.socket.writableLength + frame.length > this.opts.maxOutboundBytes) {
      this.opts.log.warn({ conn: this.id, pending: this.socket.writableLength }, 'client does not read its replies; closing it');
      this.destroy();
      return;
    }
    if (this.held) this.held.push({ frame, fds: [] });
    else this.socket.write(frame);
  }

  /** A frame, then each fd with one byte of its own; everything else written meanwhile waits. */
  private writeWithFds(frame: Buffer, fds: number[]): void {
    if (this.held) {
      this.held.push({ frame, fds });
      return;
    }
    const queue = (this.held = [{ frame, fds }]);
    void (async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        if (this.closed || this.socket.destroyed || this.socket.writableEnded) {
          for (const fd of next.fds) closeFd(fd);
          continue;
        }
        this.socket.write(next.frame);
        if (next.fds.length === 0) continue;
        try {
          // sendmsg() only once libuv's queue is empty, or the fd bytes would overtake the frame
          while (this.socket.writableLength > 0 && !this.socket.destroyed) {
            await new Promise<void>((r) => {
              const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); r(); };
              this.socket.once('drain', done);
              this.socket.once('close', done);
            });
          }
          for (const fd of next.fds) if (!this.socket.destroyed) await sendWithFds(socketFd(this.socket), Buffer.alloc(1), [fd]);
        } catch (e) {
          this.opts.log.warn({ conn: this.id, err: e }, 'cannot pass a file descriptor; closing the client');
          this.destroy();
        } finally {
          for (const fd of next.fds) closeFd(fd);
        }
      }
      this.held = null;
    })();
  }

  private keepaliveTick(): void {
    const { intervalMs, count } = this.opts.keepalive;
    if (Date.now() - this.lastRx < intervalMs) return;
    if (this.missedPings >= count) {
      this.opts.log.info({ conn: this.id, missed: this.missedPings }, 'keepalive timeout; closing the client');
      this.destroy();
      return;
    }
    this.missedPings++;
    this.write(encodeFrame(
      { prog: KEEPALIVE_PROGRAM, vers: KEEPALIVE_PROTOCOL_VERSION, proc: KeepaliveProc.PING, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK },
      Buffer.alloc(0),
    ));
  }

  private async cleanup(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepaliveTimer);
    this.queue.length = 0;
    for (const st of [...this.streams.values()]) st.abort();
    const fns = [...this.cleanups];
    this.cleanups.clear();
    for (const fn of fns) {
      try {
        await fn();
      } catch (e) {
        this.opts.log.error({ conn: this.id, err: e }, 'connection cleanup failed');
      }
    }
    this.slots.clear();
    this.opts.log.debug({ conn: this.id }, 'connection closed');
    this.resolveDone();
  }
}

/** Never throws: a reply must go out whatever the error looked like. */
function encodeError(e: unknown): Buffer {
  try {
    return encode(remoteErrorCodec, toRemoteError(e));
  } catch {
    return encode(remoteErrorCodec, toRemoteError(new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'cannot encode the error of this call')));
  }
}

function rpcError(message: string, cause?: unknown): MpvirtError {
  return new MpvirtError('VIR_ERR_RPC', message, { domain: 'RPC', ...(cause === undefined ? {} : { cause }) });
}
