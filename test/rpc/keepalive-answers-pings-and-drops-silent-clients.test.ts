/**
 * Keepalive (libvirt-rpc.md §4): PINGs are answered with PONGs; our own PINGs
 * go only to clients that asked SUPPORTS_FEATURE(PROGRAM_KEEPALIVE), after an
 * interval of silence; a client that misses `count` in a row is dropped. Real
 * virsh both answers our PINGs and gets its own answered.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { encodeFrame, KEEPALIVE_PROGRAM, MessageStatus, MessageType } from '../../src/rpc/protocol.js';
import { startRpcServer, type RpcServer } from '../../src/rpc/server.js';
import * as x from '../../src/rpc/xdr.js';
import { RawClient, RpcHarness } from './harness.js';

const INTERVAL = 100;
const COUNT = 3;
const r = new RpcHarness();
let quiet: RpcServer;
const quietSocket = (): string => join(r.h.dir, 'quiet-sock');
beforeAll(async () => {
  await r.start({ keepalive: { intervalMs: INTERVAL, count: COUNT } });
  // a second server on the same driver without our own PINGs, to watch virsh's PINGs alone
  quiet = await startRpcServer({ driver: r.driver, socketPath: quietSocket(), log: r.log, keepalive: { intervalMs: 0 } });
});
afterAll(async () => {
  await quiet.close();
  await r.cleanup();
});

const keepalive = (proc: number): Buffer =>
  encodeFrame({ prog: KEEPALIVE_PROGRAM, vers: 1, proc, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK }, Buffer.alloc(0));
const pings = (c: RawClient): number => c.messages.filter((m) => m.header.prog === KEEPALIVE_PROGRAM && m.header.proc === 1).length;
const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

describe('keepalive', () => {
  it('answers a PING with a PONG: keepalive program, MESSAGE, serial 0, no payload', async () => {
    const c = await RawClient.open(r.socket);
    c.write(keepalive(1));
    expect(await waitFor(() => c.messages.length === 1, 2000)).toBe(true);
    const [pong] = c.messages;
    expect(pong!.header).toEqual({ prog: KEEPALIVE_PROGRAM, vers: 1, proc: 2, type: MessageType.MESSAGE, serial: 0, status: 0 });
    expect(pong!.payload.length).toBe(0);
    await c.close();
  });

  it('never PINGs a client that did not ask for keepalive', async () => {
    const c = await RawClient.open(r.socket);
    await c.call(66);
    await sleep(INTERVAL * (COUNT + 3));
    expect(pings(c)).toBe(0);
    expect(c.socket.destroyed).toBe(false);
    await c.close();
  });

  it('drops a client that asked for keepalive and then misses every PING', async () => {
    const c = await RawClient.open(r.socket);
    await c.call(60, x.encode(x.int, 10));
    const t0 = Date.now();
    await c.closed;
    const ms = Date.now() - t0;
    expect(pings(c)).toBe(COUNT);
    // dropped at the (COUNT+1)-th silent interval, give or take a timer tick
    expect(ms).toBeGreaterThanOrEqual(INTERVAL * COUNT);
    expect(ms).toBeLessThan(INTERVAL * (COUNT + 3) + 1000);
  });

  it('keeps a client that answers its PINGs', async () => {
    const c = await RawClient.open(r.socket);
    let answered = 0;
    c.socket.on('data', () => {
      for (let i = pings(c) - answered; i > 0; i--) c.write(keepalive(2));
      answered = pings(c);
    });
    await c.call(60, x.encode(x.int, 10));
    // as libvirt's virKeepAliveTimer, a PING goes only after a whole interval without a packet,
    // and each PONG is one: a client that answers at once gets one PING per two intervals, so
    // COUNT+1 of them need 2*(COUNT+1) intervals, plus timer slack
    await sleep(INTERVAL * (2 * (COUNT + 1) + 4));
    try {
      expect(pings(c)).toBeGreaterThan(COUNT);
      expect(c.socket.destroyed).toBe(false);
    } finally {
      await c.close();
    }
  });

  it('real virsh answers our PINGs (interval 100 ms, 3 misses) through a 3 s event loop', async () => {
    const res = await r.virsh(['event', '--loop', '--all', '--timeout', '3']);
    // rc 1 is virsh's verdict on "no events received"; a keepalive drop would print an error instead
    expect([res.code, res.stdout, res.stderr]).toEqual([1, 'event loop timed out\nevents received: 0\n\n', '']);
  });

  it("our PONGs keep virsh's own keepalive (-k 1 -K 2) satisfied for 5 s", async () => {
    const res = await r.virsh(['event', '--loop', '--all', '--timeout', '5'], {
      uri: `mpqemu+unix:///system?socket=${quietSocket()}`,
      globalArgs: ['-k', '1', '-K', '2'],
    });
    expect([res.code, res.stdout, res.stderr]).toEqual([1, 'event loop timed out\nevents received: 0\n\n', '']);
  });

  it('the dropped clients left nothing behind', async () => {
    expect(await waitFor(() => r.server.clientCount() === 0 && quiet.clientCount() === 0, 2000)).toBe(true);
    expect(r.log.lines.filter((l) => l.level !== 'info')).toEqual([]);
  });
});
