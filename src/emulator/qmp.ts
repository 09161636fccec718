/**
 * A QMP (QEMU Machine Protocol) client: line-delimited JSON over a UNIX stream socket.
 *
 * - Replies are matched to commands by `id`, so commands may run concurrently.
 * - Every command has a timeout. A SIGSTOPped or wedged QEMU (e.g. a proxy whose vCPU waits
 *   on a stopped remote, qemu-multiprocess.md §5) never answers; the caller gets
 *   VIR_ERR_OPERATION_TIMEOUT and the connection STAYS USABLE: a late reply is dropped by its
 *   id. The command may still take effect in QEMU after the timeout.
 * - fds travel with SCM_RIGHTS in the same sendmsg() as the command's JSON, and only while
 *   libuv's write queue for the socket is empty, so they are never interleaved with it.
 * - EOF or a socket error rejects every pending command at once and emits 'close'.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { MpvirtError } from '../errors.js';
import { errnoCode, sendWithFds, socketFd, strerror } from './unixfd.js';

export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}
export interface QmpGreeting {
  version: QmpVersion;
  capabilities: string[];
}
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}
export interface QmpClose {
  /** 'eof': QEMU closed the socket (exited); 'error': socket error (ECONNRESET …); 'closed': close() */
  reason: 'eof' | 'error' | 'closed';
  /** the error pending and later commands are rejected with */
  error: MpvirtError;
}
export interface QmpClientEvents {
  event: [QmpEvent];
  close: [QmpClose];
}
export interface QmpOptions {
  /** deadline for connecting (connect() retries ENOENT/ECONNREFUSED), greeting and negotiation; default 10 s */
  timeoutMs?: number;
  /** default per-command timeout; default 10 s */
  commandTimeoutMs?: number;
}
export interface ExecuteOptions {
  timeoutMs?: number;
  /** told the command's id as it is sent (qemu-monitor-command shows it, as libvirt's does) */
  onId?: (id: string) => void;
  /**
   * fds to pass with the command (SCM_RIGHTS). The caller keeps ownership: keep them open until
   * execute() settles, close them afterwards (QEMU holds its own copies). A command that timed
   * out before it could be sent is never sent, so its fds are not touched after the rejection.
   */
  fds?: number[];
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_LINE = 64 << 20; // a QEMU reply larger than this is treated as a broken monitor
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `Connection reset by peer` rather than Node's `read ECONNRESET` */
const sysText = (e: NodeJS.ErrnoException) => (typeof e.errno === 'number' ? strerror(e.errno) : e.message);
const qemuError = (code: 'VIR_ERR_OPERATION_FAILED' | 'VIR_ERR_OPERATION_TIMEOUT' | 'VIR_ERR_INTERNAL_ERROR', detail: string, cause?: unknown) =>
  new MpvirtError(code, detail, { domain: 'QEMU', cause });

export class QmpClient extends EventEmitter<QmpClientEvents> {
  private greet: QmpGreeting | undefined;
  /** set by fromSocket() until the greeting line (or the end of the monitor) arrives */
  private onGreeting: ((err?: Error) => void) | undefined;
  private readonly commandTimeoutMs: number;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  /** all writes are chained so an fd send (possibly waiting for EAGAIN) is never interleaved */
  private writeChain: Promise<void> = Promise.resolve();
  private closeInfo: QmpClose | undefined;

  /**
   * Connect to a QMP UNIX socket. QEMU creates it shortly after spawn, so ENOENT and
   * ECONNREFUSED are retried until the deadline.
   */
  static async connect(path: string, opts: QmpOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    for (;;) {
      const sock = net.connect(path);
      try {
        await new Promise<void>((resolve, reject) => {
          const settle = (err?: Error) => {
            sock.off('connect', settle).off('error', settle);
            if (err) reject(err);
            else resolve();
          };
          sock.once('connect', settle).once('error', settle);
        });
      } catch (e) {
        sock.destroy();
        const code = (e as NodeJS.ErrnoException).code;
        if ((code === 'ENOENT' || code === 'ECONNREFUSED') && Date.now() < deadline) {
          // QEMU creates the socket ~25 ms after spawn; a short poll keeps start latency near the floor
          await sleep(Math.min(2, deadline - Date.now()));
          continue;
        }
        const why = code === 'ENOENT' || code === 'ECONNREFUSED' ? 'timed out' : sysText(e as NodeJS.ErrnoException);
        throw qemuError(code === 'ENOENT' || code === 'ECONNREFUSED' ? 'VIR_ERR_OPERATION_TIMEOUT' : 'VIR_ERR_OPERATION_FAILED',
          `failed to connect to monitor socket '${path}': ${why}`, e);
      }
      return QmpClient.fromSocket(sock, { ...opts, timeoutMs: Math.max(1, deadline - Date.now()) });
    }
  }

  /**
   * Adopt an already-connected socket (e.g. a child's `'pipe'` stdio entry, a socketpair end)
   * or a raw connected AF_UNIX stream fd, which the client then owns.
   */
  static async fromSocket(sockOrFd: net.Socket | number, opts: QmpOptions = {}): Promise<QmpClient> {
    const sock = typeof sockOrFd === 'number' ? new net.Socket({ fd: sockOrFd, readable: true, writable: true }) : sockOrFd;
    const client = new QmpClient(sock, opts.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(qemuError('VIR_ERR_OPERATION_TIMEOUT', `QEMU monitor greeting not received within ${timeoutMs} ms`)), timeoutMs);
        client.onGreeting = (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
      });
      await client.execute('qmp_capabilities', undefined, { timeoutMs: Math.max(1, deadline - Date.now()) });
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  private constructor(private readonly sock: net.Socket, commandTimeoutMs: number) {
    super();
    this.commandTimeoutMs = commandTimeoutMs;
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    // 'end' = EOF. QEMU never half-closes QMP, so EOF means it exited (or closed the monitor).
    sock.on('end', () => this.shutdown('eof', qemuError('VIR_ERR_OPERATION_FAILED', 'End of file from qemu monitor')));
    sock.on('error', (e) => this.shutdown('error', qemuError('VIR_ERR_OPERATION_FAILED', `Unable to ${(e as NodeJS.ErrnoException).syscall === 'write' ? 'write to' : 'read from'} monitor: ${sysText(e)}`, e)));
    sock.on('close', () => this.shutdown('eof', qemuError('VIR_ERR_OPERATION_FAILED', 'End of file from qemu monitor')));
    sock.resume();
  }

  /** `{"QMP": {"version": …, "capabilities": […]}}` as QEMU sent it on connect */
  get greeting(): QmpGreeting {
    if (!this.greet) throw new Error('QMP greeting not received yet');
    return this.greet;
  }

  /** true once the monitor is gone; every execute() then rejects with `closeInfo.error` */
  get closed(): boolean {
    return this.closeInfo !== undefined;
  }

  execute<T = unknown>(command: string, args?: object, opts: ExecuteOptions = {}): Promise<T> {
    if (this.closeInfo) return Promise.reject(this.closeInfo.error);
    // libvirt's own id scheme: a reply shown through `virsh qemu-monitor-command` looks the same
    const id = `libvirt-${this.nextId++}`;
    opts.onId?.(id);
    const line = Buffer.from(JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }) + '\n');
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    const fds = opts.fds ?? [];
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id); // a late reply is ignored; the monitor remains usable
        reject(qemuError('VIR_ERR_OPERATION_TIMEOUT', `QEMU did not answer '${command}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.writeChain = this.writeChain.then(() => this.send(id, line, fds)).catch((e: unknown) => {
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        clearTimeout(p.timer);
        const code = errnoCode(e);
        if (code === 'EPIPE' || code === 'ECONNRESET') this.shutdown('error', qemuError('VIR_ERR_OPERATION_FAILED', `Unable to write to monitor: ${sysText((e as Error).cause as NodeJS.ErrnoException)}`, e));
        p.reject(this.closeInfo?.error ?? (e as Error));
      });
    });
  }

  /** End the connection; pending commands are rejected with "QEMU monitor was closed". */
  close(): void {
    this.shutdown('closed', qemuError('VIR_ERR_OPERATION_FAILED', 'QEMU monitor was closed'));
    this.sock.destroy();
  }

  private async send(id: string, line: Buffer, fds: number[]): Promise<void> {
    if (this.closeInfo) throw this.closeInfo.error;
    if (!this.pending.has(id)) return; // timed out while earlier sends were still waiting
    if (fds.length === 0) {
      this.sock.write(line);
      return;
    }
    // sendmsg() only with libuv's queue empty: otherwise our bytes would overtake queued ones.
    while (this.sock.writableLength > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.sock.off('drain', done).off('close', done);
          resolve();
        };
        this.sock.once('drain', done).once('close', done);
      });
      const gone = this.closeInfo as QmpClose | undefined; // may have been set while we waited
      if (gone) throw gone.error;
    }
    // Checked synchronously right before sendmsg(): the caller may close the fds once it has been rejected.
    if (!this.pending.has(id)) return;
    await sendWithFds(socketFd(this.sock), line, fds);
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      const line = this.chunks.length ? Buffer.concat([...this.chunks, piece]) : piece;
      this.chunks = [];
      this.chunkBytes = 0;
      start = nl + 1;
      if (line.length > 0) this.onLine(line.toString('utf8'));
      if (this.closeInfo) return;
    }
    if (start < chunk.length) {
      this.chunks.push(chunk.subarray(start));
      this.chunkBytes += chunk.length - start;
      if (this.chunkBytes > MAX_LINE) this.fail(`QEMU monitor reply exceeds ${MAX_LINE} bytes`);
    }
  }

  private onLine(text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return this.fail(`cannot parse QEMU monitor reply: ${text.slice(0, 200)}`);
    }
    if (!this.greet) {
      // A client that connects in the same instant QEMU starts its VM can see
      // the start's event (RESUME) before the greeting: skip events until then.
      if (typeof msg.event === 'string') return;
      const g = msg.QMP as Partial<QmpGreeting> | undefined;
      if (!g?.version?.qemu) return this.fail(`unexpected QEMU monitor greeting: ${text.slice(0, 200)}`);
      this.greet = { version: g.version, capabilities: g.capabilities ?? [] };
      this.onGreeting?.();
      this.onGreeting = undefined;
      return;
    }
    if (typeof msg.event === 'string') {
      const timestamp = (msg.timestamp as QmpEvent['timestamp'] | undefined) ?? { seconds: 0, microseconds: 0 };
      this.emit('event', { event: msg.event, data: (msg.data as Record<string, unknown> | undefined) ?? {}, timestamp });
      return;
    }
    const p = typeof msg.id === 'string' ? this.pending.get(msg.id) : undefined;
    if (!p) return; // reply to a timed-out command, or an id-less error for unparsable input we never send
    this.pending.delete(msg.id as string);
    clearTimeout(p.timer);
    if ('return' in msg) return p.resolve(msg.return);
    const err = (msg.error ?? {}) as { class?: unknown; desc?: unknown };
    const qmp = { class: String(err.class ?? 'GenericError'), desc: String(err.desc ?? 'unknown error') };
    p.reject(new MpvirtError('VIR_ERR_INTERNAL_ERROR', `unable to execute QEMU command '${p.command}': ${qmp.desc}`, { domain: 'QEMU', qmp }));
  }

  private fail(detail: string): void {
    this.shutdown('error', qemuError('VIR_ERR_INTERNAL_ERROR', detail));
    this.sock.destroy();
  }

  /** Idempotent: the first cause wins, every pending command is rejected, 'close' is emitted once. */
  private shutdown(reason: QmpClose['reason'], error: MpvirtError): void {
    if (this.closeInfo) return;
    this.closeInfo = { reason, error };
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
    this.onGreeting?.(error);
    this.onGreeting = undefined;
    this.sock.destroy();
    this.emit('close', this.closeInfo);
  }
}
