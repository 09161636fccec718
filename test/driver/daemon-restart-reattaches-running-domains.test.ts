// A restarted driver (same directories) reattaches every running domain from
// its status file without touching the guest: still running, still stoppable,
// still supervised. A domain whose main QEMU died while the driver was away is
// reported crashed and cleaned up; ids continue from the highest running one.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness, pidAlive, waitFor } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

describe('daemon restart', () => {
  it('reattaches two running domains and cleans up one that died meanwhile', async () => {
    const d1 = await h.driver();
    const a = await d1.defineXML(h.xml('ra'));
    const b = await d1.defineXML(h.xml('rb', { uuid: '11111111-2222-3333-4444-555555555555' }));
    const c = await d1.defineXML(h.xml('rc', { uuid: '11111111-2222-3333-4444-666666666666' }));
    await d1.start(a);
    await d1.start(b);
    await d1.start(c);
    await d1.suspend(b);
    const pa = h.track(a);
    const pb = h.track(b);
    const pc = h.track(c);

    await d1.detach(); // the daemon goes away; guests keep running
    expect([pa.main, pb.main, pc.main, ...pa.remotes].every(pidAlive)).toBe(true);
    process.kill(pc.main, 'SIGKILL'); // dies while nobody watches
    await waitFor(() => !pidAlive(pc.main), 5000);

    h.events.length = 0;
    const d2 = await h.driver();
    const a2 = d2.lookupByName('ra');
    const b2 = d2.lookupByName('rb');
    const c2 = d2.lookupByName('rc');
    expect(h.stateOf(a2)).toBe('running (booted)');
    expect(h.stateOf(b2)).toBe('paused (user)');
    expect([a2.id, b2.id]).toEqual([a.id, b.id]);
    expect(a2.runtime?.main.handle.pid).toBe(pa.main);
    // the one that died is crashed and cleaned
    expect(h.stateOf(c2)).toBe('shut off (crashed)');
    expect(h.events).toContain('rc: Stopped Failed');
    expect(await waitFor(() => !pidAlive(pc.remotes[0]!), 5000)).toBe(true);
    expect(existsSync(join(h.stateDir, 'rc'))).toBe(false);

    // the guest was not touched: the remote still serves the disk, the monitor answers
    const reply = JSON.parse(await d2.qemuMonitorCommand(a2, '{"execute":"query-status"}')) as { return: { status: string } };
    expect(reply.return.status).toBe('running');

    // supervision resumed: a remote crash is still noticed (pidfd, not a child any more)
    process.kill(pa.remotes[0]!, 'SIGKILL');
    expect(await waitFor(() => h.events.includes('ra: Stopped Failed'), 5000)).toBe(true);
    expect(await waitFor(() => !pidAlive(pa.main), 5000)).toBe(true);

    // still stoppable, and new ids continue after the highest one
    await d2.resume(b2);
    await d2.destroy(b2);
    expect(await waitFor(() => !pidAlive(pb.main) && !pidAlive(pb.remotes[0]!), 5000)).toBe(true);
    await d2.start(c2);
    h.track(c2);
    expect(c2.id).toBeGreaterThan(Math.max(a.id, b.id, c.id));
    await d2.destroy(c2);
  });

  it('kills a domain caught starting up', async () => {
    const d1 = await h.driver();
    const obj = await d1.defineXML(h.xml('rstart', { uuid: '11111111-2222-3333-4444-777777777777' }));
    await d1.start(obj, { paused: true });
    const pids = h.track(obj);
    // pretend the daemon died between spawn and cont
    const { DomainState, PausedReason } = await import('../../src/driver/state.js');
    obj.restoreState({ state: DomainState.PAUSED, reason: PausedReason.STARTING_UP });
    await d1.detach();
    h.events.length = 0;
    const d2 = await h.driver();
    expect(h.stateOf(d2.lookupByName('rstart'))).toBe('shut off (failed)');
    expect(await waitFor(() => !pidAlive(pids.main) && !pidAlive(pids.remotes[0]!), 5000)).toBe(true);
  });
});
