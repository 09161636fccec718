// Real QEMU (accel=tcg): when the driver stops the domain it first calls expectExit(); the
// remote then goes running → stopping, and its exit (by itself once the main QEMU is gone, or
// by SIGTERM/SIGKILL from stopLaunched) is reported as exited, never as crashed.
import { describe, expect, it } from 'vitest';
import { stopLaunched } from '../../src/remote/launch.js';
import { remoteEventData } from '../../src/remote/supervisor.js';
import { pidGone, useLaunchFixture } from './launch-fixture.js';

const fx = useLaunchFixture({ name: 'mpvirt-sv-exit-' });

describe('a remote stopped by the driver', () => {
  it('is reported stopping then exited, and no crash', async () => {
    const { l, r, sv, seen } = await fx.launchSupervised({ heartbeatIntervalMs: 100 });
    await l.main.qmp.execute('cont');
    await new Promise((res) => setTimeout(res, 300));

    sv.expectExit();
    expect(sv.state).toBe('stopping');
    sv.expectExit(); // idempotent
    await stopLaunched(l, 2000);
    await new Promise((res) => setTimeout(res, 200)); // nothing else may follow

    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→stopping', 'stopping→exited']);
    const exited = seen[2]!;
    console.log(`expected stop: remote exit noticed by ${exited.reason}, status ${JSON.stringify(exited.status)}`);
    expect(exited.pid).toBe(r.proc.pid);
    expect(exited.status).toEqual(await r.proc.exited); // the remote exits by itself, rc 0
    expect(remoteEventData(seen[1]!)).toBeUndefined(); // 'stopping' has no public name
    expect(remoteEventData(exited)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'exited', pid: r.proc.pid, status: 0 });
    expect(pidGone(r.proc.pid) && pidGone(l.main.proc.pid)).toBe(true);
  });

  it('is reported exited even when it has to be SIGKILLed after expectExit()', async () => {
    const { r, sv, seen } = await fx.launchSupervised();
    sv.expectExit();
    expect(sv.kill()).toBe(true);
    await r.proc.exited;
    await new Promise((res) => setTimeout(res, 50));
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→stopping', 'stopping→exited']);
    expect(seen[2]!.status).toEqual({ code: null, signal: 'SIGKILL' });
    expect(remoteEventData(seen[2]!)).toMatchObject({ state: 'exited', status: 137 });
  });
});
