/**
 * The log keeper (mpvirt-logd), libvirt's virtlogd for mpvirt: a small process of its own that
 * holds the read ends of the QEMU processes' stdout/stderr pipes and writes what arrives into the
 * domain logs within their caps (src/emulator/log-cap.ts). It outlives the daemon, so a log stays
 * capped, and output written while no daemon runs is kept, capped, for the next one to find.
 *
 * - One keeper per state directory, at `<stateDir>/.logd.sock` (mode 0600, in the daemon's 0700
 *   directory). The daemon makes a named pipe per process, holds its write end while it asks the
 *   keeper to `attach` it, and hands that end to the process as fds 1 and 2.
 * - A session is one domain run's cap on one log file: `fresh` at start (an older session of the
 *   same file, whose processes are still going away, is superseded and writes nothing more), else
 *   the latest session of that file is joined (a remote hot-plugged or restarted later).
 * - Nothing here runs on a timer: each pipe is a libuv stream; a pipe ends when every writer has
 *   closed it (its process and any child of it exited), and the daemon that attached it is told
 *   (`eof`), after its last bytes are in the file. A session ends with its last pipe.
 * - The keeper exits when it holds no pipe and no daemon is connected.
 *
 * Protocol: one JSON object per line each way. Requests carry an `id`, answered once by
 * `{id, ok: true, …}` or `{id, ok: false, error}`; `{event: 'eof', tag}` is unsolicited.
 */
import * as fs from 'node:fs';
import net from 'node:net';
import { CappedLog, LineJoiner } from '../emulator/log-cap.js';
import { setPipeSize } from '../emulator/unixfd.js';

export interface AttachRequest {
  op: 'attach';
  /** a named pipe with a writer already (the daemon's end, or a running process's) */
  fifo: string;
  file: string;
  budget: number;
  fresh: boolean;
  /** named in the `eof` event */
  tag: string;
}

export interface StatusRequest {
  op: 'status';
  file: string;
}

export type KeeperRequest = (AttachRequest | StatusRequest) & { id: number };

export interface SessionStatus {
  file: string;
  start: number;
  budget: number;
  limit: number;
  /** the most the processes' output makes the file (CappedLog.maxSize) */
  maxSize: number;
  reached: boolean;
  discarded: number;
  pipes: number;
  /** the keeper's pid: a restarted daemon finds the same keeper */
  keeper: number;
}

/** big enough that a QEMU flooding its stderr seldom waits for the keeper */
const PIPE_BYTES = 1 << 20;

interface Session {
  file: string;
  log: CappedLog;
  pipes: Set<Pipe>;
  superseded: boolean;
}

interface Pipe {
  tag: string;
  stream: net.Socket;
  lines: LineJoiner;
  session: Session;
  owner: Conn | undefined;
}

interface Conn {
  sock: net.Socket;
  buf: string;
}

export class LogKeeper {
  readonly #latest = new Map<string, Session>();
  readonly #sessions = new Set<Session>();
  readonly #conns = new Set<Conn>();
  readonly #server: net.Server;
  #closed = false;

  /** `onExit` is called once the keeper has nothing left to keep (its socket is gone by then). */
  constructor(readonly socketPath: string, readonly onExit: () => void = () => {}) {
    this.#server = net.createServer((sock) => this.#accept(sock));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.socketPath, () => {
        this.#server.off('error', reject);
        fs.chmodSync(this.socketPath, 0o600);
        resolve();
      });
    });
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  #accept(sock: net.Socket): void {
    const c: Conn = { sock, buf: '' };
    this.#conns.add(c);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      c.buf += d;
      for (let nl = c.buf.indexOf('\n'); nl >= 0; nl = c.buf.indexOf('\n')) {
        const line = c.buf.slice(0, nl);
        c.buf = c.buf.slice(nl + 1);
        this.#handle(c, line);
      }
      if (c.buf.length > 1 << 20) sock.destroy(); // no request is that long
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.#conns.delete(c);
      for (const s of this.#sessions) for (const p of s.pipes) if (p.owner === c) p.owner = undefined;
      this.#maybeExit();
    });
  }

  #handle(c: Conn, line: string): void {
    let req: KeeperRequest;
    try {
      req = JSON.parse(line) as KeeperRequest;
    } catch {
      return void c.sock.destroy();
    }
    const reply = (o: object): void => void c.sock.write(`${JSON.stringify({ id: req.id, ...o })}\n`);
    try {
      if (req.op === 'attach') reply({ ok: true, session: this.#status(this.#attach(c, req)) });
      else if (req.op === 'status') {
        const s = this.#latest.get(req.file);
        reply({ ok: true, session: s ? this.#status(s) : null });
      } else reply({ ok: false, error: `unknown request '${(req as { op?: unknown }).op}'` });
    } catch (e) {
      reply({ ok: false, error: (e as Error).message });
    }
  }

  #attach(c: Conn, req: AttachRequest): Session {
    let s = this.#latest.get(req.file);
    if (req.fresh || !s) {
      if (s) s.superseded = true;
      s = { file: req.file, log: CappedLog.open(req.file, req.budget), pipes: new Set(), superseded: false };
      this.#latest.set(req.file, s);
      this.#sessions.add(s);
    }
    let fd: number;
    try {
      // non-blocking, so opening never waits for a writer (there is one: a process or the daemon)
      fd = fs.openSync(req.fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      this.#endSessionIfIdle(s);
      throw e;
    }
    setPipeSize(fd, PIPE_BYTES);
    const session = s;
    const p: Pipe = { tag: req.tag, stream: new net.Socket({ fd, readable: true, writable: false, allowHalfOpen: true }), lines: new LineJoiner(), session, owner: c };
    session.pipes.add(p);
    p.stream.on('data', (chunk: Buffer) => this.#write(session, p.lines.push(chunk)));
    p.stream.on('error', () => p.stream.destroy());
    p.stream.on('end', () => p.stream.destroy());
    p.stream.on('close', () => {
      this.#write(session, p.lines.flush());
      session.pipes.delete(p);
      this.#endSessionIfIdle(session);
      // after the last bytes are in the file: the daemon may read them for an error message now
      if (p.owner && !p.owner.sock.destroyed) p.owner.sock.write(`${JSON.stringify({ event: 'eof', tag: p.tag })}\n`);
      this.#maybeExit();
    });
    return session;
  }

  #write(s: Session, bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (s.superseded) return; // its run is over; the next run's session owns the file
    s.log.write(bytes);
  }

  #endSessionIfIdle(s: Session): void {
    if (s.pipes.size > 0) return;
    s.log.close();
    this.#sessions.delete(s);
    if (this.#latest.get(s.file) === s) this.#latest.delete(s.file);
  }

  #status(s: Session): SessionStatus {
    return { file: s.file, start: s.log.start, budget: s.log.budget, limit: s.log.limit, maxSize: s.log.maxSize, reached: s.log.reached, discarded: s.log.discarded, pipes: s.pipes.size, keeper: process.pid };
  }

  /** No pipe, no daemon: stop listening first, so a daemon connecting now starts a new keeper. */
  #maybeExit(): void {
    if (this.#closed || this.#sessions.size > 0 || this.#conns.size > 0) return;
    this.#closed = true;
    this.#server.close(); // libuv unlinks the socket right here, never a later keeper's
    this.onExit();
  }
}
