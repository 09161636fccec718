// Real QEMU (accel=tcg): after a daemon restart the remote is no longer known as a child, only
// by pid, /proc start time and its monitor path. A supervisor built that way (no `proc`, a fresh
// QMP connection) watches it with a pidfd and reports its SIGKILL as a crash with unknown
// status; a start time that does not match (pid reused) is never trusted nor signalled.
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from '../../src/emulator/qmp.js';
import type { Launched } from '../../src/remote/launch.js';
import { remoteEventData, RemoteSupervisor, type RemoteTransition } from '../../src/remote/supervisor.js';
import { pidGone, until, useLaunchFixture } from './launch-fixture.js';

const fx = useLaunchFixture({ name: 'mpvirt-sv-adopt-' });

const fresh: QmpClient[] = [];
afterEach(() => {
  for (const q of fresh.splice(0)) q.close();
});

/** launch, then forget the child: only pid, start time and the monitor path are kept */
async function launchAndForget(): Promise<{ pid: number; startTime: bigint; qmpPath: string; l: Launched }> {
  const l = await fx.launch();
  const r = l.remotes[0]!;
  r.qmp.close(); // a QEMU monitor serves one client at a time: the "old daemon" lets go
  return { pid: r.proc.pid, startTime: r.proc.startTime!, qmpPath: fx.planOf(l).remotes[0]!.qmpPath, l };
}

describe('a re-adopted remote (no child handle)', () => {
  it('is watched by a pidfd and the monitor: SIGKILL is reported crashed with status null', async () => {
    const { pid, startTime, qmpPath, l } = await launchAndForget();
    const qmp = await QmpClient.connect(qmpPath);
    fresh.push(qmp);
    const sv = fx.track(new RemoteSupervisor({ rid: '8', alias: 'ua-lsi0', pid, startTime, qmp, heartbeatIntervalMs: 100 }));
    const seen: RemoteTransition[] = [];
    sv.on('transition', (t) => seen.push(t));
    sv.begin();
    await new Promise((res) => setTimeout(res, 250));
    expect(sv.state).toBe('running');

    const crashed = until(sv, 'crashed', 2000);
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const t = await crashed;
    console.log(`re-adopted remote: SIGKILL → 'crashed' in ${(t.at - t0).toFixed(2)} ms, noticed by ${t.reason}`);
    expect(t).toMatchObject({ from: 'running', to: 'crashed', pid, status: { code: null, signal: null } });
    expect(remoteEventData(t)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'crashed', pid, status: null });
    await l.remotes[0]!.proc.exited;
    await new Promise((res) => setTimeout(res, 50));
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→crashed']);
  });

  it('notices the death through the pidfd alone once its monitor connection was closed by us', async () => {
    const { pid, startTime, qmpPath } = await launchAndForget();
    const qmp = await QmpClient.connect(qmpPath);
    fresh.push(qmp);
    const sv = fx.track(new RemoteSupervisor({ rid: '8', alias: 'ua-lsi0', pid, startTime, qmp }));
    sv.begin();
    qmp.close(); // our own close: not a death, only the end of the heartbeat
    await new Promise((res) => setTimeout(res, 50));
    expect(sv.state).toBe('running');

    const crashed = until(sv, 'crashed', 2000);
    process.kill(pid, 'SIGKILL');
    const t = await crashed;
    expect(t).toMatchObject({ reason: 'process exited (pidfd)', status: { code: null, signal: null } });
  });

  it('refuses a pid whose start time differs (pid reuse): crashed at once, and kill() sends nothing', async () => {
    const { pid, startTime, qmpPath } = await launchAndForget();
    const qmp = await QmpClient.connect(qmpPath);
    fresh.push(qmp);
    const sv = fx.track(new RemoteSupervisor({ rid: '8', alias: 'ua-lsi0', pid, startTime: startTime - 1n, qmp }));
    const seen: RemoteTransition[] = [];
    sv.on('transition', (t) => seen.push(t));
    sv.begin();
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→crashed']);
    expect(seen[0]!.reason).toMatch(/another process/);
    expect(sv.kill()).toBe(false);
    await new Promise((res) => setTimeout(res, 50));
    expect(pidGone(pid)).toBe(false); // the (supposed) stranger was left alone
  });
});
