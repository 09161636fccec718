import { closeSync, openSync } from 'node:fs';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from '../../src/emulator/qmp.js';
import { closeFd, socketpair } from '../../src/emulator/unixfd.js';
import { killAllQemu, startQemu } from './qemu-process.js';

afterEach(async () => {
  expect(await killAllQemu()).toEqual([]);
});

// QEMU takes a connected socket as its monitor: -chardev socket,id=m,fd=3 -mon chardev=m,mode=control
const MONITOR_ON_FD3 = ['-chardev', 'socket,id=mon0,fd=3', '-mon', 'chardev=mon0,mode=control'];

describe.sequential('QmpClient.fromSocket over a socketpair handed to QEMU as fd 3', () => {
  it('speaks QMP over a child stdio "pipe" entry (libuv makes it a socketpair), fds included', async () => {
    const q = startQemu({ qmpSocket: false, args: MONITOR_ON_FD3, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const qmp = await QmpClient.fromSocket(q.proc.stdio[3] as net.Socket, { timeoutMs: 10_000 });
    console.log(`spawn → QMP ready over stdio socketpair: ${(performance.now() - q.spawnedAt).toFixed(1)} ms`);
    expect(qmp.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });

    const fd = openSync('/dev/null', 'r');
    try {
      await expect(qmp.execute('add-fd', { 'fdset-id': 3 }, { fds: [fd] })).resolves.toMatchObject({ 'fdset-id': 3 });
    } finally {
      closeSync(fd);
    }
    qmp.close();
  });

  it('adopts a raw fd: the parent end of a koffi socketpair', async () => {
    const [mine, theirs] = socketpair();
    const q = startQemu({ qmpSocket: false, args: MONITOR_ON_FD3, stdio: ['ignore', 'ignore', 'pipe', theirs] });
    closeFd(theirs); // the child has its copy as fd 3; keeping ours would hide QEMU's EOF from us
    const qmp = await QmpClient.fromSocket(mine, { timeoutMs: 10_000 });
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });

    const closed = new Promise((r) => qmp.once('close', r));
    process.kill(q.pid, 'SIGKILL');
    await expect(closed).resolves.toMatchObject({ reason: expect.stringMatching(/^(eof|error)$/) });
  });
});
