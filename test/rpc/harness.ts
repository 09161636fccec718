/**
 * RPC test harness: a QemuDriver in temp directories (the driver tests'
 * Harness) behind startRpcServer on temp sockets, the REAL /usr/bin/virsh run
 * without a shell, and a raw client that speaks frames directly.
 */
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Harness } from '../driver/harness.js';
import type { DriverOptions, QemuDriver } from '../../src/driver/driver.js';
import type { Logger } from '../../src/driver/core.js';
import { startRpcServer, type RpcServer, type RpcServerOptions } from '../../src/rpc/server.js';
import { StorageDriver } from '../../src/storage/storage-driver.js';
import {
  encodeFrame, FrameDecoder, MessageStatus, MessageType, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION,
  remoteErrorCodec, type Frame, type RemoteError,
} from '../../src/rpc/protocol.js';
import { decode } from '../../src/rpc/xdr.js';

export const VIRSH = '/usr/bin/virsh';

export interface VirshResult {
  stdout: string;
  stderr: string;
  code: number;
  ms: number;
}

/** A logger that keeps warnings and errors, so tests can assert the daemon stayed quiet. */
export function recordingLogger(): Logger & { lines: Array<{ level: string; obj: object; msg?: string }> } {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const rec = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, ...(msg === undefined ? {} : { msg }) });
  return { lines, debug() {}, info() {}, warn: rec('warn'), error: rec('error') };
}

/** What a successful / failed (run-time error) virsh command returns. */
export const ok = (stdout: string): Partial<VirshResult> => ({ code: 0, stdout, stderr: '' });
export const fail = (stderr: string): Partial<VirshResult> => ({ code: 1, stdout: '\n', stderr });

export class RpcHarness {
  readonly h = new Harness();
  readonly socket: string;
  readonly socketRo: string;
  readonly log = recordingLogger();
  driver!: QemuDriver;
  /** storage pools kept in the harness's directory, as the daemon wires them */
  storage!: StorageDriver;
  server!: RpcServer;

  constructor() {
    this.socket = join(this.h.dir, 'sock');
    this.socketRo = join(this.h.dir, 'sock-ro');
  }

  async start(opts: Partial<RpcServerOptions> = {}, driverOpts: Partial<DriverOptions> = {}): Promise<this> {
    this.driver = await this.h.driver(driverOpts);
    this.storage = new StorageDriver({ configDir: join(this.h.dir, 'storage'), stateDir: join(this.h.dir, 'storage-state'), log: this.log });
    await this.storage.init();
    this.driver.volumes = (pool, volume) => this.storage.resolveDiskVolume(pool, volume);
    this.server = await startRpcServer({ driver: this.driver, storage: this.storage, socketPath: this.socket, socketRoPath: this.socketRo, log: this.log, ...opts });
    return this;
  }

  uri(readOnly = false): string {
    return `mpqemu+unix:///system?socket=${readOnly ? this.socketRo : this.socket}`;
  }

  /** Real virsh, no shell; `-r` and the ro socket with `readOnly`. */
  virsh(args: string[], opts: { readOnly?: boolean; uri?: string; timeoutMs?: number; globalArgs?: string[] } = {}): Promise<VirshResult> {
    const argv = [...(opts.globalArgs ?? []), ...(opts.readOnly ? ['-r'] : []), '-c', opts.uri ?? this.uri(opts.readOnly), ...args];
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.h.dir, XDG_CONFIG_HOME: join(this.h.dir, 'xdg'), XDG_CACHE_HOME: join(this.h.dir, 'xdg'), LC_ALL: 'C' };
    const t0 = performance.now();
    return new Promise((resolve) => {
      execFile(VIRSH, argv, { env, timeout: opts.timeoutMs ?? 30_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ stdout, stderr, code, ms: performance.now() - t0 });
      });
    });
  }

  /** virsh's stdout, stderr and exit code, for exact comparisons with ok()/fail(). */
  async run(...args: string[]): Promise<Partial<VirshResult>> {
    const { code, stdout, stderr } = await this.virsh(args);
    return { code, stdout, stderr };
  }

  /**
   * A virsh that runs in the background (e.g. `event --loop --timeout N`) until it exits, or until
   * `stop` aborts: then it gets SIGINT, which ends virsh's event loop as Ctrl-C does.
   */
  background(args: string[], stop?: AbortSignal): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(VIRSH, ['-c', this.uri(), ...args], { env: { PATH: '/usr/bin:/bin', HOME: this.h.dir, LC_ALL: 'C' }, ...(stop ? { signal: stop, killSignal: 'SIGINT' as const } : {}) }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
    });
  }

  async cleanup(): Promise<void> {
    await this.server?.close();
    await this.h.cleanup();
  }
}

export interface Reply {
  header: Frame['header'];
  payload: Buffer;
  error?: RemoteError;
}

/** Frames over a plain socket: what a hostile or minimal client sends. */
export class RawClient {
  readonly socket: Socket;
  readonly messages: Frame[] = [];
  private readonly decoder = new FrameDecoder();
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private serial = 0;
  closed: Promise<void>;

  private constructor(path: string) {
    this.socket = connect(path);
    this.closed = new Promise((r) => this.socket.once('close', () => r()));
    this.socket.on('error', () => {});
    this.socket.on('data', (b: Buffer) => {
      for (const f of this.decoder.push(b)) {
        if (f.header.type !== MessageType.REPLY) {
          this.messages.push(f);
          continue;
        }
        const cb = this.waiting.get(f.header.serial);
        this.waiting.delete(f.header.serial);
        const r: Reply = { header: f.header, payload: f.payload };
        if (f.header.status === MessageStatus.ERROR) r.error = decode(remoteErrorCodec, f.payload);
        cb?.(r);
      }
    });
  }

  static async open(path: string): Promise<RawClient> {
    const c = new RawClient(path);
    await new Promise<void>((resolve, reject) => {
      c.socket.once('connect', () => resolve());
      c.socket.once('error', reject);
    });
    return c;
  }

  call(proc: number, payload: Uint8Array = Buffer.alloc(0), prog = REMOTE_PROGRAM, vers = REMOTE_PROTOCOL_VERSION, status: number = MessageStatus.OK): Promise<Reply> {
    const serial = this.serial++;
    const p = new Promise<Reply>((resolve, reject) => {
      this.waiting.set(serial, resolve);
      void this.closed.then(() => reject(new Error(`connection closed before the reply to ${proc}`)));
    });
    this.socket.write(encodeFrame({ prog, vers, proc, type: MessageType.CALL, serial, status }, payload));
    return p;
  }

  write(b: Uint8Array): void {
    this.socket.write(b);
  }

  close(): Promise<void> {
    this.socket.end();
    return this.closed;
  }
}
