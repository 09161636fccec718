// Real QEMU (accel=tcg), launched through src/remote/launch.ts: a supervised remote that is
// SIGKILLed is reported running → crashed at once (process exit or monitor EOF, no polling),
// with the child's exit status, and the MPVIRT_REMOTE event data names the crash and the pid.
import { describe, expect, it } from 'vitest';
import { MPVIRT_REMOTE_EVENT, remoteEventData, type RemoteTransition } from '../../src/remote/supervisor.js';
import { useLaunchFixture } from './launch-fixture.js';

const fx = useLaunchFixture({ name: 'mpvirt-sv-kill-' });

describe('a SIGKILLed remote', () => {
  it('is reported running → crashed within milliseconds, with its status and pid', async () => {
    const latencies: number[] = [];
    const reasons: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { r, sv, seen } = await fx.launchSupervised();
      expect(sv.state).toBe('running');
      const crashed = new Promise<RemoteTransition>((res) => sv.on('transition', (t) => t.to === 'crashed' && res(t)));

      const t0 = performance.now();
      process.kill(r.proc.pid, 'SIGKILL');
      const t = await crashed;
      latencies.push(t.at - t0);
      reasons.push(t.reason);

      expect(t).toMatchObject({ rid: '8', alias: 'ua-lsi0', from: 'running', to: 'crashed', pid: r.proc.pid });
      expect(t.status).toEqual({ code: null, signal: 'SIGKILL' });
      expect(t.at - t0).toBeLessThan(2000);
      expect(sv.state).toBe('crashed');
      expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→crashed']);
      expect(remoteEventData(seen[0]!)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'started', pid: r.proc.pid, status: null });
      expect(remoteEventData(t)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'crashed', pid: r.proc.pid, status: 137 });
      expect(MPVIRT_REMOTE_EVENT).toBe('MPVIRT_REMOTE');

      // the later signal (exit after EOF, or EOF after exit) is ignored: still one crash
      await r.proc.exited;
      await new Promise((res) => setTimeout(res, 20));
      expect(seen).toHaveLength(2);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      `SIGKILL → 'crashed' over ${latencies.length} runs: median ${sorted[sorted.length >> 1]!.toFixed(2)} ms, ` +
        `min ${sorted[0]!.toFixed(2)}, max ${sorted[sorted.length - 1]!.toFixed(2)}; first noticed by: ${[...new Set(reasons)].join(', ')}`,
    );
  });
});
