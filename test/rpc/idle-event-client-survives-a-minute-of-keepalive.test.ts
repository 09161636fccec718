/**
 * Long-lived clients (libvirt-rpc.md §4, gotcha 9): an idle `virsh event
 * --loop --all` stays connected through more than a minute of silence with
 * both keepalives at their defaults (virsh's and ours: 5 s interval, count
 * 6, so a side that stopped answering would be dropped after 35 s), still
 * prints the lifecycle event caused afterwards, and goes away when stopped by
 * pid. A client that registered an event callback and then stops answering
 * our PINGs is dropped, and everything it registered is freed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive, waitFor } from '../driver/harness.js';
import { registeredEventCallbacks } from '../../src/rpc/procedures/events.js';
import { KEEPALIVE_PROGRAM, optionalDomain } from '../../src/rpc/protocol.js';
import { startRpcServer, type RpcServer } from '../../src/rpc/server.js';
import * as x from '../../src/rpc/xdr.js';
import { RawClient, RpcHarness, VIRSH } from './harness.js';

const IDLE_MS = 62_000;
const r = new RpcHarness();
let strict: RpcServer;
const strictSocket = (): string => join(r.h.dir, 'strict-sock');
const STRICT = { intervalMs: 100, count: 3 };
let child: ChildProcess | undefined;

beforeAll(async () => {
  await r.start(); // keepalive at its defaults
  strict = await startRpcServer({ driver: r.driver, socketPath: strictSocket(), log: r.log, keepalive: STRICT });
});
afterAll(async () => {
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await strict.close();
  await r.cleanup();
});

const lifecycleListeners = (): number => r.driver.events.listenerCount('lifecycle');
const define = (name: string): Promise<number> => {
  const f = join(r.h.dir, `${name}.xml`);
  writeFileSync(f, r.h.xml(name));
  return r.virsh(['define', f]).then((res) => res.code);
};

describe('an idle virsh event client', () => {
  it(`stays connected ${IDLE_MS / 1000} s with default keepalive, prints a later event, and stops by pid`, async () => {
    const base = { listeners: lifecycleListeners(), clients: r.server.clientCount(), callbacks: registeredEventCallbacks() };
    child = spawn(VIRSH, ['-c', r.uri(), 'event', '--loop', '--all'], {
      env: { PATH: '/usr/bin:/bin', HOME: r.h.dir, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
      child!.on('exit', (code, signal) => res({ code, signal })));
    // registered: all 27 event IDs (libvirt-rpc.md §3)
    expect(await waitFor(() => registeredEventCallbacks() === base.callbacks + 27, 10_000)).toBe(true);
    expect(lifecycleListeners()).toBe(base.listeners + 1);

    const t0 = Date.now();
    await new Promise((res) => setTimeout(res, IDLE_MS));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(IDLE_MS);
    expect([child.exitCode, child.signalCode, stdout, stderr]).toEqual([null, null, '', '']);
    expect(r.server.clientCount()).toBe(base.clients + 1);
    expect(registeredEventCallbacks()).toBe(base.callbacks + 27);

    expect(await define('idle1')).toBe(0);
    expect(await waitFor(() => stdout.includes('\n'), 5000)).toBe(true);
    expect(stdout).toBe("event 'lifecycle' for domain 'idle1': Defined Added\n");

    // stopped by pid, as Ctrl-C stops it
    expect(pidAlive(child.pid!)).toBe(true);
    process.kill(child.pid!, 'SIGINT');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stdout).toBe("event 'lifecycle' for domain 'idle1': Defined Added\nevent loop interrupted\nevents received: 1\n\n");
    expect(stderr).toBe('');
    expect(await waitFor(() => r.server.clientCount() === base.clients && lifecycleListeners() === base.listeners, 5000)).toBe(true);
    expect(registeredEventCallbacks()).toBe(base.callbacks);
  }, IDLE_MS + 30_000);
});

describe('a client that stops answering PINGs', () => {
  it('is dropped after interval × count and its event registrations are freed', async () => {
    const base = { listeners: lifecycleListeners(), callbacks: registeredEventCallbacks() };
    const c = await RawClient.open(strictSocket());
    await c.call(66);
    await c.call(60, x.encode(x.int, 10)); // PROGRAM_KEEPALIVE: we will be PINGed
    await c.call(1, x.encode(x.struct({ name: x.optional(x.string()), flags: x.uint }), { name: 'mpqemu:///system', flags: 0 }));
    const reg = x.struct({ eventID: x.int, dom: optionalDomain });
    for (const eventID of [0, 1, 23]) {
      const res = await c.call(316, x.encode(reg, { eventID, dom: null }));
      expect(res.error).toBeUndefined();
    }
    expect(registeredEventCallbacks()).toBe(base.callbacks + 3);
    expect(lifecycleListeners()).toBe(base.listeners + 1);
    expect(strict.clientCount()).toBe(1);

    // from here on the client says nothing: no PONG, no call
    const t0 = Date.now();
    await c.closed;
    const ms = Date.now() - t0;
    const pings = c.messages.filter((m) => m.header.prog === KEEPALIVE_PROGRAM && m.header.proc === 1).length;
    expect(pings).toBe(STRICT.count);
    expect(ms).toBeGreaterThanOrEqual(STRICT.intervalMs * STRICT.count);
    expect(ms).toBeLessThan(STRICT.intervalMs * (STRICT.count + 3) + 1000);

    expect(await waitFor(() => strict.clientCount() === 0, 2000)).toBe(true);
    expect(registeredEventCallbacks()).toBe(base.callbacks);
    expect(lifecycleListeners()).toBe(base.listeners);
    // an event after the drop reaches nobody and breaks nothing
    expect(await define('idle2')).toBe(0);
    expect(r.log.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
