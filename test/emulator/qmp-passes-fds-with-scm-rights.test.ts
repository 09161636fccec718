import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMpvirtError } from '../../src/errors.js';
import { killAllQemuAfterEach, startQemuWithQmp } from './qemu-process.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mpvirt-fds-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
killAllQemuAfterEach();

describe.sequential('fd passing over QMP (SCM_RIGHTS)', () => {
  it('add-fd puts the attached file into an fdset that query-fdsets lists', async () => {
    const { qmp } = await startQemuWithQmp();
    const file = join(dir, 'disk0.img');
    writeFileSync(file, Buffer.alloc(4096));
    const fd = openSync(file, 'r+');
    try {
      const added = await qmp.execute<{ fd: number; 'fdset-id': number }>(
        'add-fd', { 'fdset-id': 1, opaque: 'rw:disk0' }, { fds: [fd] });
      expect(added['fdset-id']).toBe(1);
      expect(added.fd).toBeGreaterThan(2); // QEMU's own number for its copy of the fd
      await expect(qmp.execute('query-fdsets')).resolves.toEqual([
        { 'fdset-id': 1, fds: [{ fd: added.fd, opaque: 'rw:disk0' }] },
      ]);
    } finally {
      closeSync(fd); // QEMU holds its own duplicate; ours is ours to close
    }
    qmp.close();
  });

  it('getfd without an attached fd fails with QEMU\'s SCM_RIGHTS error; with one it succeeds', async () => {
    const { qmp } = await startQemuWithQmp();
    const err = await qmp.execute('getfd', { fdname: 'f1' }).catch((e: unknown) => e);
    expect(isMpvirtError(err, 'VIR_ERR_INTERNAL_ERROR')).toBe(true);
    expect(err).toMatchObject({ qmp: { class: 'GenericError', desc: 'No file descriptor supplied via SCM_RIGHTS' } });

    const fd = openSync(join(dir, 'named'), 'w');
    try {
      await expect(qmp.execute('getfd', { fdname: 'f1' }, { fds: [fd] })).resolves.toEqual({});
      await expect(qmp.execute('closefd', { fdname: 'f1' })).resolves.toEqual({});
    } finally {
      closeSync(fd);
    }
    qmp.close();
  });

  it('sends an fd command only after libuv has flushed a large queued command (no interleaving)', async () => {
    const { q, qmp } = await startQemuWithQmp();
    const file = join(dir, 'queued.img');
    writeFileSync(file, '');
    const fd = openSync(file, 'r');
    try {
      // A stopped QEMU does not read: 320 KiB of padding overflows the ~208 KiB socket buffer, so the rest
      // of that command sits in libuv's write queue when add-fd wants to go out.
      process.kill(q.pid, 'SIGSTOP');
      const big = qmp.execute('query-status', { padding: 'x'.repeat(320 << 10) }, { timeoutMs: 20_000 });
      const added = qmp.execute<{ fd: number; 'fdset-id': number }>('add-fd', { 'fdset-id': 7 }, { fds: [fd], timeoutMs: 20_000 });
      const plain = qmp.execute('query-status', undefined, { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 100));
      process.kill(q.pid, 'SIGCONT');
      // Had the fd message overtaken the queued bytes, QEMU would have seen broken JSON.
      await expect(big).rejects.toMatchObject({ qmp: { class: 'GenericError' } });
      await expect(added).resolves.toMatchObject({ 'fdset-id': 7 });
      await expect(plain).resolves.toMatchObject({ status: 'prelaunch' });
      await expect(qmp.execute('query-fdsets')).resolves.toMatchObject([{ 'fdset-id': 7 }]);
    } finally {
      closeSync(fd);
    }
    qmp.close();
  });
});
