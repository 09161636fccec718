/**
 * The daemon's side of the log keeper (keeper.ts): finds the keeper at its socket or starts one,
 * and gives each QEMU process the write end of a pipe whose read end the keeper holds.
 *
 * `output()` makes a named pipe, opens both ends (the read end only so that the non-blocking
 * open of the write end cannot fail and the keeper never sees an early EOF), asks the keeper to
 * attach it, then drops its read end: from then on the keeper is the only reader, and the write
 * end goes to the process. The pipe's path stays (in the domain's runtime directory) until the
 * domain stops.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MpvirtError } from '../errors.js';
import { mkfifo } from '../emulator/unixfd.js';
import type { AttachRequest, SessionStatus, StatusRequest } from './keeper.js';

export type { SessionStatus } from './keeper.js';

/** stdout/stderr of one process: the pipe's write end (the spawn takes it) and when its output is all in the log */
export interface ProcessOutput {
  fd: number;
  /** resolves once the keeper has written the pipe's last bytes (every writer closed it), or it is gone */
  drained: Promise<void>;
}

export interface OutputRequest {
  /** where the named pipe is made (replaced if it exists) */
  fifo: string;
  /** the log file */
  file: string;
  /** bytes of the processes' output the log may grow by in this run */
  budget: number;
  /** true for a run's first process (a new cap); false joins the run's cap */
  fresh: boolean;
}

/** The keeper program: beside this module in the build; the build's from sources run by the tests. */
export function keeperScript(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? join(dirname(here), '..', '..', 'dist', 'logd', 'main.js') : join(dirname(here), 'main.js');
}

const START_TIMEOUT_MS = 10_000;

type Reply = { id: number; ok: boolean; error?: string; session?: SessionStatus | null };

export class LogKeeperClient {
  #conn: net.Socket | undefined;
  #connecting: Promise<net.Socket> | undefined;
  #nextId = 1;
  #nextTag = 1;
  readonly #pending = new Map<number, (r: Reply | Error) => void>();
  readonly #drains = new Map<string, () => void>();
  #closed = false;

  constructor(readonly socketPath: string, readonly script: string = keeperScript()) {}

  /** A pipe for one process's stdout and stderr into `req.file`, capped by the keeper. */
  async output(req: OutputRequest): Promise<ProcessOutput & { session: SessionStatus }> {
    try {
      fs.unlinkSync(req.fifo); // a previous process's
    } catch {
      /* none */
    }
    mkfifo(req.fifo, 0o600);
    const reader = fs.openSync(req.fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    let writer: number | undefined;
    const tag = `${process.pid}-${this.#nextTag++}`;
    try {
      writer = fs.openSync(req.fifo, fs.constants.O_WRONLY); // blocking for the process; a reader exists
      const drained = new Promise<void>((resolve) => this.#drains.set(tag, resolve));
      const r = await this.#request({ op: 'attach', fifo: req.fifo, file: req.file, budget: req.budget, fresh: req.fresh, tag });
      return { fd: writer, drained, session: r.session! };
    } catch (e) {
      this.#drains.get(tag)?.();
      this.#drains.delete(tag);
      if (writer !== undefined) fs.closeSync(writer);
      throw e;
    } finally {
      fs.closeSync(reader);
    }
  }

  /**
   * Hand the keeper a named pipe that running processes already write to (theirs is the only
   * write end): how a new keeper takes over after the old one was killed.
   */
  async adopt(req: OutputRequest): Promise<SessionStatus> {
    const tag = `${process.pid}-${this.#nextTag++}`;
    return (await this.#request({ op: 'attach', fifo: req.fifo, file: req.file, budget: req.budget, fresh: req.fresh, tag })).session!;
  }

  /** The keeper's cap of `file` in the current run, or undefined when no process writes to it. */
  async status(file: string): Promise<SessionStatus | undefined> {
    return (await this.#request({ op: 'status', file })).session ?? undefined;
  }

  /** Hang up (the keeper lives on while pipes are open); pending drains resolve now. */
  close(): void {
    this.#closed = true;
    this.#conn?.destroy();
  }

  async #request(req: AttachRequest | StatusRequest, retry = true): Promise<Reply> {
    const conn = await this.#connect();
    const id = this.#nextId++;
    const reply = await new Promise<Reply | Error>((resolve) => {
      this.#pending.set(id, resolve);
      conn.write(`${JSON.stringify({ ...req, id })}\n`);
    });
    if (reply instanceof Error) {
      // a keeper that was exiting as we connected: the next one is started
      if (retry && !this.#closed) return this.#request(req, false);
      throw reply;
    }
    if (!reply.ok) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `log keeper: ${reply.error}`, { domain: 'QEMU' });
    return reply;
  }

  #connect(): Promise<net.Socket> {
    if (this.#closed) return Promise.reject(new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'log keeper client is closed', { domain: 'QEMU' }));
    if (this.#conn && !this.#conn.destroyed) return Promise.resolve(this.#conn);
    this.#connecting ??= (async () => {
      let sock: net.Socket;
      try {
        sock = await dial(this.socketPath);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw e;
        await startKeeper(this.script, this.socketPath);
        sock = await dial(this.socketPath);
      }
      this.#adopt(sock);
      return sock;
    })().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  #adopt(sock: net.Socket): void {
    this.#conn = sock;
    sock.unref(); // a connection to the keeper never keeps the daemon (or a test) alive
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as Reply & { event?: string; tag?: string };
        buf = buf.slice(nl + 1);
        if (msg.event === 'eof') {
          this.#drains.get(msg.tag!)?.();
          this.#drains.delete(msg.tag!);
        } else {
          this.#pending.get(msg.id)?.(msg);
          this.#pending.delete(msg.id);
        }
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      if (this.#conn === sock) this.#conn = undefined;
      const lost = new Error('the log keeper closed the connection');
      for (const r of this.#pending.values()) r(lost);
      this.#pending.clear();
      // no eof will come on a new connection: nobody waits for it in vain
      for (const d of this.#drains.values()) d();
      this.#drains.clear();
    });
  }
}

function dial(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Start a keeper in its own session and wait for its `ready` (or its exit). */
function startKeeper(script: string, socketPath: string): Promise<void> {
  if (!fs.existsSync(script)) {
    return Promise.reject(new MpvirtError('VIR_ERR_INTERNAL_ERROR', `log keeper program ${script} not found (run npm run build)`, { domain: 'QEMU' }));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, '--socket', socketPath], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => finish(new Error(`log keeper not ready within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const finish = (e?: Error): void => {
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      if (e) reject(new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot start the log keeper: ${e.message}`, { domain: 'QEMU', cause: e }));
      else resolve();
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) finish();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', (e) => finish(e));
    child.once('exit', (code, signal) => {
      if (!out.includes('ready\n')) finish(new Error(`it exited (${signal ?? code})${err ? `: ${err.trim()}` : ''}`));
    });
  });
}
