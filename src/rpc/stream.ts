/**
 * libvirt's RPC streams (remote_daemon_stream.c): a call such as STORAGE_VOL_UPLOAD or
 * DOMAIN_OPEN_CONSOLE opens a stream named by its own serial and procedure. Data then travels as
 * STREAM messages: CONTINUE for data (an empty one is the end of the data), OK (empty) from the
 * client to finish, ERROR for a failure or an abort; the server confirms a finish or an abort with
 * an empty OK. A stream is opened by a procedure handler
 * through its call context, starts once the call's reply is out, and is aborted when its client
 * goes away. Data from the client is handed over in order, one chunk after the previous one was
 * taken; data to the client waits for the socket to drain, so a slow reader never makes the daemon
 * buffer without bound.
 */
import { MessageStatus, MessageType, type Header } from './protocol.js';

/** What a producer (download, console output) sends through. */
export interface StreamOutput {
  /** one STREAM CONTINUE message; resolves when the client's socket can take more */
  send(chunk: Buffer): Promise<void>;
  /** the end of our data (an empty STREAM CONTINUE); the client then finishes the stream */
  end(): void;
  /** a STREAM ERROR with this error; the stream is over */
  fail(e: unknown): void;
  /** the stream is over (finished, failed, aborted or its client gone) */
  readonly closed: boolean;
}

export interface StreamHandlers {
  /** after the call's reply went out: a producer starts here */
  onStart?(out: StreamOutput): void;
  /** client data in order; the next chunk comes once this settles; a throw fails the stream */
  onData?(chunk: Buffer): void | Promise<void>;
  /** the client's end (STREAM OK): settle to confirm it, throw to answer with the error */
  onFinish?(): void | Promise<void>;
  /** the client aborted (STREAM ERROR) or went away */
  onAbort?(): void;
}

/** The connection side a stream needs: writing frames and backpressure. */
export interface StreamTransport {
  writeFrame(header: Header, payload: Buffer): void;
  encodeError(e: unknown): Buffer;
  /** resolves when the socket's outbound buffer drained (or the connection is gone) */
  drained(): Promise<void>;
  /** incoming chunks waiting for their handler changed: the connection may pause or resume reading */
  flowChanged(): void;
}

/** Largest data payload in one STREAM message (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX). */
export const STREAM_CHUNK_MAX = 262120;

export class ServerStream implements StreamOutput {
  private done = false;
  private tail: Promise<void> = Promise.resolve();
  /** incoming chunks not yet taken by onData */
  pending = 0;

  constructor(
    private readonly call: Header,
    private readonly handlers: StreamHandlers,
    private readonly t: StreamTransport,
    private readonly onClosed: () => void,
  ) {}

  get serial(): number {
    return this.call.serial;
  }

  get closed(): boolean {
    return this.done;
  }

  private header(status: number): Header {
    return { ...this.call, type: MessageType.STREAM, status };
  }

  private close(): void {
    if (this.done) return;
    this.done = true;
    this.onClosed();
  }

  start(): void {
    this.handlers.onStart?.(this);
  }

  async send(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length && !this.done; off += STREAM_CHUNK_MAX) {
      this.t.writeFrame(this.header(MessageStatus.CONTINUE), chunk.subarray(off, off + STREAM_CHUNK_MAX));
      await this.t.drained();
    }
  }

  end(): void {
    // read EOF is an empty CONTINUE (virNetServerProgramSendStreamData); an OK would be taken as
    // the confirmation of a finish. The stream stays open: the client's finish is still to come.
    if (!this.done) this.t.writeFrame(this.header(MessageStatus.CONTINUE), Buffer.alloc(0));
  }

  fail(e: unknown): void {
    if (this.done) return;
    this.t.writeFrame(this.header(MessageStatus.ERROR), this.t.encodeError(e));
    this.close();
  }

  /** A STREAM message (or hole) from the client for this stream. */
  receive(status: number, payload: Buffer): void {
    if (this.done) return;
    if (status === MessageStatus.CONTINUE) {
      this.pending++;
      this.t.flowChanged();
      this.tail = this.tail.then(async () => {
        try {
          if (!this.done) await this.handlers.onData?.(payload);
        } catch (e) {
          this.fail(e);
        } finally {
          this.pending--;
          this.t.flowChanged();
        }
      });
      return;
    }
    const finishing = status === MessageStatus.OK;
    this.tail = this.tail.then(async () => {
      if (this.done) return;
      try {
        if (finishing) await this.handlers.onFinish?.();
        else this.handlers.onAbort?.();
        this.t.writeFrame(this.header(MessageStatus.OK), Buffer.alloc(0));
        this.close();
      } catch (e) {
        this.fail(e);
      }
    });
  }

  /** The connection went away. */
  abort(): void {
    if (this.done) return;
    this.close();
    this.handlers.onAbort?.();
  }
}
