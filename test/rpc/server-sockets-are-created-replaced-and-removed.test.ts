/**
 * Socket files (interfaces.md §2): parent directory created 0755 when
 * missing, read-write socket 0600 and read-only 0666, a stale socket replaced,
 * a live one (another daemon) and a non-socket left alone with an error,
 * sockets removed at close unless someone else's has replaced them.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QemuDriver } from '../../src/driver/driver.js';
import { startRpcServer } from '../../src/rpc/server.js';
import { Harness } from '../driver/harness.js';
import { RawClient, recordingLogger } from './harness.js';

const h = new Harness();
let driver: QemuDriver;
const log = recordingLogger();
beforeAll(async () => {
  driver = await h.driver();
});
afterAll(() => h.cleanup());

const mode = (p: string): number => statSync(p).mode & 0o777;
const listening = (p: string): Promise<Server> =>
  new Promise((resolve) => {
    const s = createServer((c) => c.destroy());
    s.listen(p, () => resolve(s));
  });
const closeServer = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

describe('server sockets', () => {
  it('creates the parent directory 0755, the sockets 0600 and 0666, and removes them at close', async () => {
    const dir = join(h.dir, 'run', 'libvirt');
    const rw = join(dir, 'virtmpqemud-sock');
    const ro = join(dir, 'virtmpqemud-sock-ro');
    const srv = await startRpcServer({ driver, socketPath: rw, socketRoPath: ro, log });
    expect(mode(dir)).toBe(0o755);
    expect(statSync(rw).isSocket()).toBe(true);
    expect(mode(rw)).toBe(0o600);
    expect(mode(ro)).toBe(0o666);
    expect(readdirSync(dir).sort()).toEqual(['virtmpqemud-sock', 'virtmpqemud-sock-ro']); // no temporary directory left
    const c = await RawClient.open(ro);
    expect((await c.call(66)).error).toBeUndefined();
    await srv.close();
    await c.closed; // close() drops connected clients
    expect(existsSync(rw)).toBe(false);
    expect(existsSync(ro)).toBe(false);
    expect(srv.clientCount()).toBe(0);
  });

  it('replaces a stale socket left by a daemon that died', async () => {
    const p = join(h.dir, 'stale-sock');
    const aside = join(h.dir, 'aside');
    const old = await listening(p);
    renameSync(p, aside); // keep the file when the old server closes (libuv unlinks its own path)
    await closeServer(old);
    renameSync(aside, p);
    expect(statSync(p).isSocket()).toBe(true);
    const srv = await startRpcServer({ driver, socketPath: p, log });
    const c = await RawClient.open(p);
    expect((await c.call(66)).error).toBeUndefined();
    await c.close();
    await srv.close();
    expect(existsSync(p)).toBe(false);
  });

  it("refuses to take over another daemon's live socket, or a file that is not a socket", async () => {
    const p = join(h.dir, 'live-sock');
    const other = await listening(p);
    const ino = statSync(p).ino;
    await expect(startRpcServer({ driver, socketPath: p, log })).rejects.toThrow(`operation failed: another daemon is already listening on '${p}'`);
    expect(statSync(p).ino).toBe(ino);
    await closeServer(other);

    const f = join(h.dir, 'not-a-socket');
    writeFileSync(f, 'data');
    await expect(startRpcServer({ driver, socketPath: f, log })).rejects.toThrow(`operation failed: '${f}' exists and is not a socket`);
    expect(statSync(f).isFile()).toBe(true);

    // the read-write socket came up, the read-only one cannot: nothing is left listening
    const rw = join(h.dir, 'half-sock');
    await expect(startRpcServer({ driver, socketPath: rw, socketRoPath: f, log })).rejects.toThrow('is not a socket');
    expect(existsSync(rw)).toBe(false);
  });

  it('leaves a socket that replaced ours alone at close', async () => {
    const p = join(h.dir, 'replaced-sock');
    const srv = await startRpcServer({ driver, socketPath: p, log });
    unlinkSync(p);
    mkdirSync(p); // someone else's file now
    await srv.close();
    expect(statSync(p).isDirectory()).toBe(true);
  });
});
