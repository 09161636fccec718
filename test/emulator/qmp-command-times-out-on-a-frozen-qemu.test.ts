import { describe, expect, it } from 'vitest';
import { isMpvirtError } from '../../src/errors.js';
import { killAllQemuAfterEach, killQemu, startQemuWithQmp } from './qemu-process.js';

killAllQemuAfterEach();

describe.sequential('a SIGSTOPped QEMU (its QMP freezes, qemu-multiprocess.md §5)', () => {
  it('times a command out with VIR_ERR_OPERATION_TIMEOUT; after SIGCONT the monitor is usable again', async () => {
    const { q, qmp } = await startQemuWithQmp();
    process.kill(q.pid, 'SIGSTOP');
    try {
      const t0 = performance.now();
      // the event loop stays free: a timer keeps ticking while the command waits
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 20);
      const err = await qmp.execute('query-status', {}, { timeoutMs: 300 }).catch((e: unknown) => e);
      clearInterval(ticker);
      const elapsed = performance.now() - t0;
      console.log(`timeout rejected after ${elapsed.toFixed(0)} ms (asked for 300 ms), ${ticks} timer ticks meanwhile`);
      expect(isMpvirtError(err, 'VIR_ERR_OPERATION_TIMEOUT')).toBe(true);
      expect((err as Error).message).toBe("Timed out during operation: QEMU did not answer 'query-status' within 300 ms");
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1000);
      expect(ticks).toBeGreaterThan(5);
      expect(qmp.closed).toBe(false);
    } finally {
      process.kill(q.pid, 'SIGCONT');
    }
    // The late reply to the timed-out command arrives now and is dropped by its id;
    // the next command gets its own answer.
    await expect(qmp.execute('query-name')).resolves.toEqual({});
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });
    qmp.close();
  });

  it('SIGKILL of a stopped QEMU ends the monitor and is reaped', async () => {
    const { q, qmp } = await startQemuWithQmp();
    process.kill(q.pid, 'SIGSTOP');
    const pending = qmp.execute('query-status', {}, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    const closed = new Promise((r) => qmp.once('close', r));
    expect(await killQemu(q)).toBe(true);
    await expect(closed).resolves.toBeDefined();
    expect(await pending).toMatchObject({ code: 'VIR_ERR_OPERATION_FAILED' });
  });
});
