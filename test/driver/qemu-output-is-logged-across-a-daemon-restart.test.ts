// QEMU writes its stdout/stderr into pipes held by the log keeper (src/logd/), not by the daemon:
// what it prints after a daemon restart is still logged, within the cap of the run it belongs to
// (the keeper's, kept across the restart, not a new one from the reattach).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { logCapStatus } from '../../src/driver/domain-log.js';
import { Harness, pidAlive, waitFor } from './harness.js';

let h: Harness;
afterEach(async () => {
  await h.cleanup();
});

describe('QEMU output across a daemon restart', () => {
  it("the main QEMU's errors after the restart reach the log, which stays capped", async () => {
    h = new Harness();
    const tuning = { logLimitBytes: 1024 };
    const d1 = await h.driver({ tuning });
    const obj1 = await d1.defineXML(h.xml('relog1', { onCrash: 'preserve' }));
    await d1.start(obj1);
    const pids = h.track(obj1);
    const before = (await logCapStatus(d1, 'relog1'))!;
    expect(before).toMatchObject({ budget: 2 * 1024, pipes: 2, reached: false });
    await d1.detach(); // the daemon goes away; the QEMUs and the keeper stay

    const d2 = await h.driver({ tuning });
    const obj = d2.lookupByName('relog1');
    expect(h.stateOf(obj)).toBe('running (booted)');
    expect(obj.runtime!.main.handle.pid).toBe(pids.main);
    const file = join(h.logDir, 'relog1.log');
    const reattached = readFileSync(file, 'utf8');
    expect(reattached).toContain('reconnected after a daemon restart');
    expect(reattached).not.toContain('Unable to');

    process.kill(pids.remotes[0]!, 'SIGKILL');
    expect(await waitFor(() => h.monitorEvents.some((e) => e.event === 'MPVIRT_REMOTE' && e.details?.includes('crashed')), 5000)).toBe(true);
    // make the main QEMU touch the dead device: a reset re-runs SeaBIOS's PCI scan
    await d2.reset(obj);
    await new Promise((r) => setTimeout(r, 1000));
    expect(pidAlive(pids.main)).toBe(true);
    expect(h.stateOf(obj)).toBe('running (booted)');

    const log = readFileSync(file, 'utf8');
    const at = log.lastIndexOf('reconnected after a daemon restart');
    expect(at).toBeGreaterThanOrEqual(0);
    expect(log.indexOf('Unable to', at)).toBeGreaterThan(at); // written after the reattach
    // capped by the keeper within the run's budget from its start: the marker once, and after it
    // nothing of the processes', only the daemon's own timestamped lines
    const cap = (await logCapStatus(d2, 'relog1'))!;
    expect(cap).toMatchObject({ keeper: before.keeper, start: before.start, budget: 2 * 1024, reached: true });
    expect(statSync(file).size).toBeLessThanOrEqual(cap.maxSize + 1024);
    const capped = readFileSync(file, 'utf8');
    expect(capped.split('log limit of').length).toBe(2);
    const after = capped.slice(capped.indexOf('log limit of'));
    expect(after.split('\n').slice(1, -1).every((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: /.test(l))).toBe(true);

    await d2.destroy(obj);
    expect(await waitFor(() => !pidAlive(pids.main) && !pidAlive(pids.remotes[0]!), 5000)).toBe(true);
  });

  it('when the keeper itself was killed meanwhile, the next daemon starts one that takes over the pipes', async () => {
    h = new Harness();
    const d1 = await h.driver();
    const obj1 = await d1.defineXML(h.xml('relog2', { onCrash: 'preserve' }));
    await d1.start(obj1);
    const pids = h.track(obj1);
    const old = (await logCapStatus(d1, 'relog2'))!;
    await d1.detach();
    process.kill(old.keeper, 'SIGKILL'); // the QEMUs' writes fail with EPIPE until a reader comes back
    expect(await waitFor(() => !pidAlive(old.keeper), 5000)).toBe(true);

    const d2 = await h.driver();
    const obj = d2.lookupByName('relog2');
    expect(h.stateOf(obj)).toBe('running (booted)');
    const cap = (await logCapStatus(d2, 'relog2'))!;
    expect(cap.keeper).not.toBe(old.keeper);
    expect(cap.pipes).toBe(2); // main.log.fifo and remote-8.log.fifo, taken over by path
    const file = join(h.logDir, 'relog2.log');
    const at = readFileSync(file, 'utf8').indexOf("the log keeper had lost this run's output: 2 pipe(s) taken over");
    expect(at).toBeGreaterThan(0);

    process.kill(pids.remotes[0]!, 'SIGKILL');
    expect(await waitFor(() => h.monitorEvents.some((e) => e.event === 'MPVIRT_REMOTE' && e.details?.includes('crashed')), 5000)).toBe(true);
    await d2.reset(obj);
    expect(await waitFor(() => readFileSync(file, 'utf8').indexOf('Unable to', at) > at, 5000)).toBe(true);

    await d2.destroy(obj);
    expect(await waitFor(() => !pidAlive(pids.main) && !pidAlive(pids.remotes[0]!), 5000)).toBe(true);
  });
});
