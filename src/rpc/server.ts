/**
 * The libvirt RPC server on UNIX sockets (interfaces.md §2): a read-write
 * socket (0600) and optionally a read-only one (0666, every connection
 * read-only). Each accepted socket becomes an RpcClient; the server only
 * counts, limits and closes them.
 *
 * Sockets are bound inside a private 0700 directory, chmod'ed, then renamed
 * into place, so nobody can connect while the mode is still the umask's, and
 * a stale socket is replaced atomically. A socket that still answers belongs
 * to a running daemon and is never taken over.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { MpvirtError } from '../errors.js';
import type { Logger } from '../driver/core.js';
import type { StorageDriver } from '../storage/storage-driver.js';
import { RpcClient, type KeepaliveOptions } from './connection.js';
import { defaultRegistry, type ProcedureRegistry } from './procedures/index.js';
import type { RpcDriver } from './procedures/types.js';
import type { SecondaryDriverOpener } from './procedures/forward-common.js';
import { VIR_NET_MESSAGE_MAX } from './protocol.js';

export interface RpcServerOptions {
  driver: RpcDriver;
  storage?: StorageDriver;
  /** where network, node device, nwfilter, secret and interface calls go (the daemon wires the host's libvirt) */
  secondary?: SecondaryDriverOpener;
  socketPath: string;
  socketRoPath?: string;
  /** systemd socket activation: already listening sockets to accept on instead of binding the paths */
  socketFd?: number;
  socketRoFd?: number;
  /** more sockets served the same way (drop-in mode's): bound at `path`, or accepted on `fd` (socket activation) */
  extraSockets?: readonly ExtraSocket[];
  log: Logger;
  /** connections at once over both sockets; more are closed on accept (libvirt's max_clients: 5000) */
  maxClients?: number;
  /** our PINGs: default every 5 s of client silence, drop after 6 unanswered (libvirt's keepalive) */
  keepalive?: Partial<KeepaliveOptions>;
  /** largest frame accepted, length word included; default 16 MiB */
  maxMessageBytes?: number;
  /** calls of one client handled at once (libvirt's max_client_requests: 5) */
  maxInflightPerClient?: number;
  /** unread replies/events one client may pile up before it is dropped; default 64 MiB */
  maxOutboundBytes?: number;
  /** the procedures served; default: every area in procedures/index.ts */
  registry?: ProcedureRegistry;
}

export interface ExtraSocket {
  path: string;
  readOnly: boolean;
  fd?: number;
}

export interface RpcServer {
  close(): Promise<void>;
  clientCount(): number;
}

interface Listener {
  server: Server;
  path: string;
  /** the inode we bound: on close we remove the path only if it is still ours */
  ino: number;
}

export async function startRpcServer(opts: RpcServerOptions): Promise<RpcServer> {
  const registry = opts.registry ?? defaultRegistry();
  const maxClients = opts.maxClients ?? 5000;
  const clients = new Set<RpcClient>();
  const connOpts = {
    registry,
    driver: opts.driver,
    ...(opts.storage && { storage: opts.storage }),
    ...(opts.secondary && { secondary: opts.secondary }),
    log: opts.log,
    maxMessageBytes: opts.maxMessageBytes ?? VIR_NET_MESSAGE_MAX,
    keepalive: { intervalMs: 5000, count: 6, ...opts.keepalive },
    maxInflight: opts.maxInflightPerClient ?? 5,
    maxOutboundBytes: opts.maxOutboundBytes ?? 64 * 1024 * 1024,
  };

  const accept = (readOnlySocket: boolean) => (socket: Socket): void => {
    if (clients.size >= maxClients) {
      opts.log.warn({ maxClients }, 'too many clients; refusing a connection');
      socket.destroy();
      return;
    }
    const client = new RpcClient(socket, { ...connOpts, readOnlySocket });
    clients.add(client);
    void client.done.then(() => clients.delete(client));
  };

  const extra = opts.extraSockets ?? [];
  // every path is checked before the first is bound: a refusal leaves none of ours half-created
  const toBind = [
    ...(opts.socketFd === undefined ? [opts.socketPath] : []),
    ...(opts.socketRoFd === undefined && opts.socketRoPath ? [opts.socketRoPath] : []),
    ...extra.filter((e) => e.fd === undefined).map((e) => e.path),
  ];
  for (const path of toBind) await refuseLiveSocket(path);
  const listeners: Listener[] = [];
  try {
    listeners.push(opts.socketFd !== undefined ? await adopt(opts.socketFd, opts.socketPath, accept(false)) : await listen(opts.socketPath, 0o600, accept(false)));
    if (opts.socketRoFd !== undefined) listeners.push(await adopt(opts.socketRoFd, opts.socketRoPath ?? `fd ${opts.socketRoFd}`, accept(true)));
    else if (opts.socketRoPath) listeners.push(await listen(opts.socketRoPath, 0o666, accept(true)));
    for (const e of extra) {
      listeners.push(e.fd !== undefined ? await adopt(e.fd, e.path, accept(e.readOnly)) : await listen(e.path, e.readOnly ? 0o666 : 0o600, accept(e.readOnly)));
    }
  } catch (e) {
    await Promise.all(listeners.map((l) => closeListener(l)));
    throw e;
  }
  opts.log.info({ socket: opts.socketPath, socketRo: opts.socketRoPath, ...(extra.length > 0 && { extraSockets: extra.map((e) => e.path) }) }, 'listening for libvirt clients');

  let closing: Promise<void> | undefined;
  return {
    clientCount: () => clients.size,
    close: () =>
      (closing ??= (async () => {
        const stopped = Promise.all(listeners.map((l) => closeListener(l)));
        const all = [...clients];
        for (const c of all) c.destroy();
        await Promise.all(all.map((c) => c.done));
        await stopped;
      })()),
  };
}

async function listen(path: string, mode: number, onConnection: (s: Socket) => void): Promise<Listener> {
  const parent = dirname(path);
  // 0755 whatever the umask: read-only clients of any user must reach the 0666 socket
  const first = mkdirSync(parent, { recursive: true, mode: 0o755 });
  if (first !== undefined) {
    for (let d = parent; d.length >= first.length; d = dirname(d)) chmodSync(d, 0o755);
  }
  await refuseLiveSocket(path);
  const tmpDir = mkdtempSync(join(parent, '.m'));
  const tmp = join(tmpDir, 's');
  // allowHalfOpen: a client that shuts down its sending side still gets its replies
  const server = createServer({ allowHalfOpen: true }, onConnection);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // libvirt's max_queued_clients: bursts of connects wait in the kernel instead of failing with EAGAIN
      server.listen({ path: tmp, backlog: 1000 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    server.close();
    throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `cannot listen on '${path}': ${(e as Error).message}`, { cause: e });
  } finally {
    try { unlinkSync(tmp); } catch { /* renamed */ }
    rmdirSync(tmpDir);
  }
  server.on('error', () => {}); // accept errors (EMFILE) must not crash the daemon; libuv retries
  return { server, path, ino: statSync(path).ino };
}

/** A socket systemd bound and handed over: accepted on as it is; its file is systemd's to remove. */
async function adopt(fd: number, what: string, onConnection: (s: Socket) => void): Promise<Listener> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    server.close();
    throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `cannot accept on the activated socket ${what} (fd ${fd}): ${(e as Error).message}`, { cause: e });
  }
  server.on('error', () => {});
  return { server, path: what, ino: -1 };
}

/** A socket file someone still accepts on is a running daemon's; anything else but a socket is not ours to delete. */
export async function refuseLiveSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `'${path}' exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
  if (live) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `another daemon is already listening on '${path}'`);
  // stale: the rename in listen() replaces it atomically
}

async function closeListener(l: Listener): Promise<void> {
  await new Promise<void>((resolve) => l.server.close(() => resolve()));
  try {
    if (statSync(l.path).ino === l.ino) unlinkSync(l.path);
  } catch {
    /* already gone */
  }
}
