import { describe, expect, it } from 'vitest';
import { isMpvirtError } from '../../src/errors.js';
import type { QmpClose } from '../../src/emulator/qmp.js';
import { closeFd, pidfdOpen, watchFd } from '../../src/emulator/unixfd.js';
import { killAllQemuAfterEach, pidAlive, startQemu, startQemuWithQmp } from './qemu-process.js';

killAllQemuAfterEach();

describe.sequential('the monitor going away', () => {
  it('kill -9: close is emitted within 1 s and every pending command is rejected', async () => {
    const { q, qmp } = await startQemuWithQmp();
    // Commands that cannot be answered before the kill: QEMU is stopped first.
    process.kill(q.pid, 'SIGSTOP');
    const pending = [qmp.execute('query-status'), qmp.execute('query-version'), qmp.execute('query-qmp-schema')];
    pending.forEach((p) => p.catch(() => undefined));
    const closed = new Promise<{ info: QmpClose; at: number }>((r) => qmp.once('close', (info) => r({ info, at: performance.now() })));

    const t0 = performance.now();
    process.kill(q.pid, 'SIGKILL');
    const { info, at } = await closed;
    console.log(`SIGKILL → 'close' (${info.reason}): ${(at - t0).toFixed(1)} ms`);
    expect(at - t0).toBeLessThan(1000);
    expect(info.error.code).toBe('VIR_ERR_OPERATION_FAILED');
    for (const p of pending) await expect(p).rejects.toBe(info.error);
    expect(qmp.closed).toBe(true);
    await expect(qmp.execute('query-status')).rejects.toBe(info.error);

    await q.exited;
    expect(pidAlive(q.pid)).toBe(false);
  });

  it('EOF (QEMU quits by itself) is reported as reason "eof" with libvirt\'s text', async () => {
    const { q, qmp } = await startQemuWithQmp();
    const closed = new Promise<QmpClose>((r) => qmp.once('close', r));
    // quit's own reply may or may not beat the EOF; either outcome is fine
    await qmp.execute('quit').catch(() => undefined);
    const info = await closed;
    expect(['eof', 'error']).toContain(info.reason);
    if (info.reason === 'eof') expect(info.error.message).toBe('operation failed: End of file from qemu monitor');
    expect(await q.exited).toEqual({ code: 0, signal: null });
  });

  it('close() rejects pending commands with "QEMU monitor was closed" and emits close once', async () => {
    const { q, qmp } = await startQemuWithQmp();
    process.kill(q.pid, 'SIGSTOP');
    const pending = qmp.execute('query-status');
    const closes: QmpClose[] = [];
    qmp.on('close', (c) => closes.push(c));
    qmp.close();
    qmp.close();
    const err = await pending.catch((e: unknown) => e);
    expect(isMpvirtError(err, 'VIR_ERR_OPERATION_FAILED')).toBe(true);
    expect((err as Error).message).toBe('operation failed: QEMU monitor was closed');
    await new Promise((r) => setTimeout(r, 50));
    expect(closes.map((c) => c.reason)).toEqual(['closed']);
  });

  it('a pidfd watch reports the exit of QEMU (for processes that are not our children)', async () => {
    const q = startQemu();
    const pidfd = pidfdOpen(q.pid);
    let stop: (() => void) | undefined;
    try {
      const fired = new Promise<number>((r) => {
        stop = watchFd(pidfd, () => r(performance.now()));
      });
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      process.kill(q.pid, 'SIGKILL');
      const at = await fired;
      console.log(`SIGKILL → pidfd readable: ${(at - t0).toFixed(1)} ms`);
      expect(at - t0).toBeLessThan(1000);
    } finally {
      stop?.();
      stop?.(); // idempotent
      closeFd(pidfd);
    }
  });
});
