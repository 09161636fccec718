// Real QEMU (accel=tcg): a SIGSTOPped remote never answers its heartbeat (query-status) and is
// reported hung within about a second, while the event loop keeps running; kill() then ends it
// and the death is reported as a crash. A stopped remote that is continued answers again.
import { describe, expect, it } from 'vitest';
import { remoteEventData } from '../../src/remote/supervisor.js';
import { pidGone, until, useLaunchFixture, type Supervised } from './launch-fixture.js';

const fx = useLaunchFixture({ name: 'mpvirt-sv-stop-' });

async function superviseRemote(): Promise<Supervised> {
  const supervised = await fx.launchSupervised({ heartbeatIntervalMs: 200, hangDeadlineMs: 500 });
  await new Promise((res) => setTimeout(res, 450)); // a couple of answered heartbeats first
  expect(supervised.sv.state).toBe('running');
  return supervised;
}

describe('a SIGSTOPped remote', () => {
  it('is reported hung within 2 s without blocking the event loop; kill() makes it crashed and gone', async () => {
    const { l, sv, seen } = await superviseRemote();
    const pid = l.remotes[0]!.proc.pid;
    const ticks: number[] = [];
    const ticker = setInterval(() => ticks.push(performance.now()), 20);
    try {
      const hung = until(sv, 'hung', 2000);
      const t0 = performance.now();
      process.kill(pid, 'SIGSTOP');
      const t = await hung;
      ticks.push(performance.now());
      console.log(`SIGSTOP → 'hung' after ${(t.at - t0).toFixed(0)} ms (heartbeat 200 ms, deadline 500 ms)`);
      expect(t).toMatchObject({ from: 'running', to: 'hung', pid });
      expect(t.reason).toMatch(/query-status not answered within 500 ms/);
      expect(remoteEventData(t)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'hung', pid, status: null });
      // the loop never stalled while the heartbeat waited for the frozen monitor
      const gaps = ticks.slice(1).map((x, i) => x - ticks[i]!);
      expect(ticks.length).toBeGreaterThan(15);
      expect(Math.max(...gaps)).toBeLessThan(250);
    } finally {
      clearInterval(ticker);
    }

    // still hung while stopped: a further missed deadline changes nothing
    await new Promise((res) => setTimeout(res, 800));
    expect(sv.state).toBe('hung');

    const crashed = until(sv, 'crashed', 2000);
    expect(sv.kill()).toBe(true);
    const c = await crashed;
    expect(c).toMatchObject({ from: 'hung', to: 'crashed', pid, status: { code: null, signal: 'SIGKILL' } });
    expect(c.reason).toMatch(/after kill\(\)/);
    expect(remoteEventData(c)).toMatchObject({ state: 'crashed', pid, status: 137 });
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→hung', 'hung→crashed']);
    await l.remotes[0]!.proc.exited;
    expect(pidGone(pid)).toBe(true);
    expect(sv.kill()).toBe(false); // reaped: the pid is never signalled again
  });

  it('is running again once continued (hung → running has no public event name)', async () => {
    const { l, sv, seen } = await superviseRemote();
    const pid = l.remotes[0]!.proc.pid;
    const hung = until(sv, 'hung', 2000);
    process.kill(pid, 'SIGSTOP');
    await hung;
    const running = until(sv, 'running', 2000);
    process.kill(pid, 'SIGCONT');
    const t = await running;
    expect(t).toMatchObject({ from: 'hung', to: 'running', reason: 'monitor answers again' });
    expect(remoteEventData(t)).toBeUndefined();
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→hung', 'hung→running']);
  });
});
