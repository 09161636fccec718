import { describe, expect, it } from 'vitest';
import { pidIsGone, readIfExists, useSpawner, waitFor } from './spawn-helpers.js';

describe('terminate()', () => {
  const sp = useSpawner();

  it('sends SIGKILL after graceMs to a child that ignores SIGTERM, and resolves once it is reaped', async () => {
    // 'ready' only after the handler is installed: a SIGTERM sent earlier would kill node outright
    const q = sp.node(`process.on('SIGTERM', () => console.log('got SIGTERM')); setInterval(() => {}, 1000); console.log('ready')`);
    await waitFor(() => readIfExists(q.logFile).includes('ready'), 10_000);
    const t0 = performance.now();
    const status = await q.terminate({ graceMs: 300 });
    const ms = performance.now() - t0;
    expect(status).toEqual({ code: null, signal: 'SIGKILL' });
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(2000);
    expect(q.reaped).toBe(true);
    expect(pidIsGone(q.pid)).toBe(true);
    expect(readIfExists(q.logFile)).toContain('got SIGTERM');
    expect(q.kill('SIGKILL')).toBe(false); // never signals a reaped pid
    expect(await q.terminate()).toEqual(status);
    console.log(`terminate with graceMs 300: reaped after ${ms.toFixed(0)} ms`);
  });

  it('returns without SIGKILL when SIGTERM suffices', async () => {
    const q = sp.node(`setInterval(() => {}, 1000); console.log('ready')`);
    await waitFor(() => readIfExists(q.logFile).includes('ready'), 10_000);
    const t0 = performance.now();
    expect(await q.terminate({ graceMs: 5000 })).toEqual({ code: null, signal: 'SIGTERM' });
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('waitExit returns undefined on timeout and the status after exit; exit is also an event', async () => {
    const q = sp.node(`setTimeout(() => process.exit(7), 300)`);
    const events: unknown[] = [];
    q.on('exit', (s) => events.push(s));
    expect(await q.waitExit(20)).toBeUndefined();
    expect(await q.waitExit(10_000)).toEqual({ code: 7, signal: null });
    expect(events).toEqual([{ code: 7, signal: null }]);
    expect(await q.exited).toEqual({ code: 7, signal: null });
  });
});
