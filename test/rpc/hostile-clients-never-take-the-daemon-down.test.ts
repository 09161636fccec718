/**
 * Hostile and broken clients: garbage, truncated frames, absurd lengths,
 * unknown programs/procedures/versions, undecodable arguments, stray message
 * types, connection floods, clients that never read. The daemon answers what
 * can be answered, drops what cannot, never throws, keeps serving virsh, and
 * the process's open sockets return to their baseline.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { encodeFrame, MessageStatus, MessageType, REMOTE_PROGRAM } from '../../src/rpc/protocol.js';
import { startRpcServer } from '../../src/rpc/server.js';
import * as x from '../../src/rpc/xdr.js';
import { RawClient, RpcHarness } from './harness.js';

const r = new RpcHarness();
let baselineFds = 0;
/** Open sockets of this process (server and test clients alike); other fds belong to the test runner. */
const fds = (): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false; // closed meanwhile
    }
  }).length;

beforeAll(async () => {
  await r.start();
  expect((await r.virsh(['list', '--all'])).code).toBe(0); // warm up lazily opened fds
  baselineFds = fds();
});
afterAll(() => r.cleanup());

const openArgs = x.struct({ name: x.optional(x.string()), flags: x.uint });
const errorOf = (rep: { error?: { code: number; domain: number; message: string | null } }) =>
  rep.error && { code: rep.error.code, domain: rep.error.domain, message: rep.error.message };

/** Connects, sends `bytes`, resolves once the server has closed the connection. */
async function sendAndExpectClose(bytes: Uint8Array, timeoutMs = 3000): Promise<void> {
  const s = connect(r.socket);
  s.on('error', () => {});
  s.on('data', () => {});
  const closed = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not close the connection')), timeoutMs);
    s.once('close', () => (clearTimeout(t), resolve()));
  });
  s.write(bytes);
  await closed;
}

const len = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

async function virshListStillWorks(): Promise<void> {
  const res = await r.virsh(['list', '--all']);
  expect([res.code, res.stdout, res.stderr]).toEqual([0, ' Id   Name   State\n--------------------\n\n', '']);
}

describe('hostile clients', () => {
  it('are disconnected for garbage, impossible lengths and 2^31, without a large allocation', async () => {
    const rss = process.memoryUsage().rss;
    await sendAndExpectClose(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await sendAndExpectClose(len(0));
    await sendAndExpectClose(len(27));
    await sendAndExpectClose(len(2 ** 31));
    await sendAndExpectClose(Buffer.concat([len(2 ** 32 - 1), Buffer.alloc(100, 0xff)]));
    await sendAndExpectClose(len(16 * 1024 * 1024 + 1));
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
    await virshListStillWorks();
  });

  it('announcing 16 MiB frames costs only the bytes actually sent', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const sockets = await Promise.all(Array.from({ length: 100 }, () => new Promise<Socket>((resolve) => {
      const s = connect(r.socket);
      s.on('error', () => {});
      s.once('connect', () => (s.write(Buffer.concat([len(16 * 1024 * 1024), Buffer.alloc(100)])), resolve(s)));
    })));
    expect(await waitFor(() => r.server.clientCount() === 100, 5000)).toBe(true);
    await new Promise((res) => setTimeout(res, 100));
    // 100 × 16 MiB would be 1.6 GiB if the announced length were allocated up front
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
    for (const s of sockets) s.destroy();
    expect(await waitFor(() => r.server.clientCount() === 0, 5000)).toBe(true);
  });

  it('a truncated frame followed by a close costs nothing', async () => {
    for (const cut of [1, 3, 4, 10, 27, 40]) {
      const frame = encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 66, type: 0, serial: 0, status: 0 }, Buffer.alloc(20));
      const s = connect(r.socket);
      s.on('error', () => {});
      await new Promise<void>((res) => s.once('connect', () => res()));
      s.end(frame.subarray(0, cut));
      await new Promise<void>((res) => s.once('close', () => res()));
    }
    await virshListStillWorks();
  });

  it('get libvirt errors for unknown programs, versions, procedures, statuses and undecodable arguments, and stay connected', async () => {
    const c = await RawClient.open(r.socket);
    expect(errorOf(await c.call(1, Buffer.alloc(0), 0x12345678, 1))).toEqual({ code: 39, domain: 7, message: 'Cannot find program 305419896 version 1' });
    expect(errorOf(await c.call(66, Buffer.alloc(0), REMOTE_PROGRAM, 2))).toEqual({ code: 39, domain: 7, message: `Cannot find program ${REMOTE_PROGRAM} version 2` });
    expect(errorOf(await c.call(9999))).toEqual({ code: 3, domain: 0, message: 'this function is not supported by the connection driver: remote procedure 9999' });
    expect(errorOf(await c.call(-5))).toEqual({ code: 3, domain: 0, message: 'this function is not supported by the connection driver: remote procedure -5' });
    expect(errorOf(await c.call(1, Buffer.from([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff])))).toEqual({ code: 39, domain: 7, message: 'Unable to decode message payload' });
    expect(errorOf(await c.call(60, Buffer.alloc(2)))).toEqual({ code: 39, domain: 7, message: 'Unable to decode message payload' });
    // trailing bytes after the arguments are ignored, as libvirtd ignores them
    expect(errorOf(await c.call(66, Buffer.alloc(4)))).toBeUndefined();
    expect(errorOf(await c.call(66, Buffer.alloc(0), REMOTE_PROGRAM, 1, MessageStatus.ERROR))).toEqual({ code: 39, domain: 7, message: 'Unexpected message status 1' });
    // a stray REPLY, STREAM and unknown type: ignored, never fatal
    const serial = 9000;
    c.write(encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 66, type: MessageType.REPLY, serial, status: 0 }, Buffer.alloc(0)));
    c.write(encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 66, type: MessageType.STREAM, serial, status: MessageStatus.CONTINUE }, Buffer.alloc(8)));
    c.write(encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 66, type: 77, serial, status: 0 }, Buffer.alloc(0)));
    // the connection still works, and the handshake still succeeds on it
    const auth = await c.call(66);
    expect(x.decode(x.array(x.int, 20), auth.payload)).toEqual([0]);
    expect((await c.call(1, x.encode(openArgs, { name: 'mpqemu:///system', flags: 0 }))).error).toBeUndefined();
    expect(x.decode(x.string(), (await c.call(3)).payload)).toBe('QEMU');
    expect(c.messages).toEqual([]);
    await c.close();
  });

  it('1000 connections opened and dropped leave no client, fd or listener behind', async () => {
    const listenersBefore = r.driver.events.listenerCount('lifecycle');
    const sockets: Socket[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const opened = await Promise.all(Array.from({ length: 100 }, (_, i) => new Promise<Socket>((resolve, reject) => {
        const s = connect(r.socket);
        s.on('error', () => {});
        s.once('connect', () => {
          // some send half a frame, some a whole handshake call, some nothing
          if (i % 3 === 1) s.write(len(40));
          if (i % 3 === 2) s.write(encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 316, type: 0, serial: 0, status: 0 }, x.encode(x.struct({ e: x.int, d: x.int }), { e: 0, d: 0 })));
          resolve(s);
        });
        s.once('error', reject);
      })));
      sockets.push(...opened);
      // client and server share this process's event loop: let the server accept the batch
      await waitFor(() => r.server.clientCount() === sockets.length, 5000);
    }
    expect(await waitFor(() => r.server.clientCount() === 1000, 5000)).toBe(true);
    await virshListStillWorks(); // served while 1000 others are connected
    for (const s of sockets) s.destroy();
    expect(await waitFor(() => r.server.clientCount() === 0, 5000)).toBe(true);
    expect(r.driver.events.listenerCount('lifecycle')).toBe(listenersBefore);
    expect(await waitFor(() => fds() === baselineFds, 5000)).toBe(true);
  });

  it('connections beyond maxClients are closed at once; a client that never reads is dropped', async () => {
    const sock = join(r.h.dir, 'small-sock');
    const small = await startRpcServer({ driver: r.driver, socketPath: sock, log: r.log, maxClients: 3, maxOutboundBytes: 64 * 1024 });
    try {
      const keep = await Promise.all([0, 1, 2].map(() => RawClient.open(sock)));
      expect(await waitFor(() => small.clientCount() === 3, 2000)).toBe(true);
      const extra = await RawClient.open(sock);
      await extra.closed;
      expect(small.clientCount()).toBe(3);
      await keep[0]!.close();
      expect(await waitFor(() => small.clientCount() === 2, 2000)).toBe(true);

      // 20000 GET_HOSTNAME calls in one write, never reading the replies
      const reader = await RawClient.open(sock);
      reader.socket.pause();
      const call = (serial: number): Buffer => encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 59, type: 0, serial, status: 0 }, Buffer.alloc(0));
      const open = encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 1, type: 0, serial: 0, status: 0 }, x.encode(openArgs, { name: 'mpqemu:///system', flags: 0 }));
      reader.write(Buffer.concat([open, ...Array.from({ length: 20000 }, (_, i) => call(i + 1))]));
      expect(await waitFor(() => r.log.lines.some((l) => l.msg === 'client does not read its replies; closing it'), 10_000)).toBe(true);
      expect(await waitFor(() => small.clientCount() === 2, 5000)).toBe(true);
      reader.socket.destroy();
      for (const c of keep.slice(1)) await c.close();
    } finally {
      await small.close();
    }
  });

  it('the daemon is still up, logged the protocol errors as warnings and nothing as an error', async () => {
    await virshListStillWorks();
    expect(r.log.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(r.log.lines.filter((l) => l.msg === 'protocol error; closing the client').length).toBeGreaterThanOrEqual(6);
    expect(await waitFor(() => fds() === baselineFds && r.server.clientCount() === 0, 5000)).toBe(true);
  });
});
