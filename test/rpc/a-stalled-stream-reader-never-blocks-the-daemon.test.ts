/**
 * Streams and slow clients: a client that opens a vol-download and then never reads its socket
 * holds only what the socket buffers (the daemon waits for it to drain instead of queueing the
 * volume in memory), every other client is served meanwhile, and when it goes away its stream and
 * the volume's file descriptor go with it.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import * as x from '../../src/rpc/xdr.js';
import { RawClient, RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const openArgs = x.struct({ name: x.optional(x.string()), flags: x.uint });
const vol = x.struct({ pool: x.string(), name: x.string(), key: x.string() });
const download = x.struct({ vol, offset: x.uhyper, length: x.uhyper, flags: x.uint });
const fds = (): number => readdirSync('/proc/self/fd').length;

describe('a stalled stream reader', () => {
  it('is not read ahead of, does not block other clients, and leaves nothing open when it goes', async () => {
    const dir = join(r.h.dir, 'big');
    expect((await r.virsh(['pool-create-as', 'big', 'dir', '--target', dir, '--build'])).code).toBe(0);
    expect((await r.virsh(['vol-create-as', 'big', 'v.img', '256M'])).code).toBe(0);
    const before = fds();
    const c = await RawClient.open(r.socket);
    expect((await c.call(1, x.encode(openArgs, { name: 'mpqemu:///system', flags: 0 }))).error).toBeUndefined();
    c.socket.pause(); // reads nothing from now on
    const reply = c.call(209, x.encode(download, { vol: { pool: 'big', name: 'v.img', key: join(dir, 'v.img') }, offset: 0n, length: 0n, flags: 0 }));
    // the daemon writes the reply and data until the unread socket is full, then waits for it to drain
    await new Promise((res) => setTimeout(res, 500));
    const mem = process.memoryUsage().rss;
    const t0 = performance.now();
    const other = await r.virsh(['vol-list', 'big']);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toContain('v.img');
    console.log(`another client served in ${Math.round(performance.now() - t0)} ms while a 256 MiB download stalls; rss grew ${Math.round((process.memoryUsage().rss - mem) / 1e6)} MB`);
    // far less than the volume was read: the daemon stopped at what the socket holds
    expect(process.memoryUsage().rss - mem).toBeLessThan(64 * 1024 * 1024);
    c.socket.destroy();
    await reply.catch(() => undefined);
    expect(await waitFor(() => r.server.clientCount() === 0 && fds() <= before, 5000)).toBe(true);
  });
});
