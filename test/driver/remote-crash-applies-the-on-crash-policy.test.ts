// A remote process that dies or hangs is noticed at once and the domain's
// on-crash policy applies: destroy → MPVIRT_REMOTE crashed, then Stopped Failed
// and nothing left; preserve → the domain keeps running and the main QEMU's
// error flood stays within its log cap.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, pidAlive, waitFor } from './harness.js';

let h: Harness;
afterEach(async () => {
  await h.cleanup();
});

const remoteStates = (h: Harness): string[] =>
  h.monitorEvents.filter((e) => e.event === 'MPVIRT_REMOTE').map((e) => (JSON.parse(e.details ?? '{}') as { state: string }).state);

describe('on-crash policy', () => {
  it('destroy (default): SIGKILL of the remote destroys the domain', async () => {
    h = new Harness();
    const driver = await h.driver();
    const obj = await driver.defineXML(h.xml('crash1'));
    await driver.start(obj);
    const pids = h.track(obj);
    process.kill(pids.remotes[0]!, 'SIGKILL');
    expect(await waitFor(() => h.events.includes('crash1: Stopped Failed'), 5000)).toBe(true);
    expect(remoteStates(h)).toEqual(['started', 'crashed']);
    const crashed = h.monitorEvents.find((e) => e.event === 'MPVIRT_REMOTE' && e.details?.includes('crashed'))!;
    expect(JSON.parse(crashed.details!)).toMatchObject({ rid: '8', alias: 'ua-lsi0', state: 'crashed', pid: pids.remotes[0] });
    // the MPVIRT_REMOTE event comes before the lifecycle consequence
    expect(h.stateOf(obj)).toBe('shut off (crashed)');
    expect(await waitFor(() => !pidAlive(pids.main), 5000)).toBe(true);
    expect(statSync(h.stateDir).isDirectory()).toBe(true);
    expect(() => statSync(join(h.stateDir, 'crash1'))).toThrow();
  });

  it('preserve: the domain keeps running and the flood is capped', async () => {
    h = new Harness();
    const driver = await h.driver({ tuning: { logLimitBytes: 1024 } });
    const obj = await driver.defineXML(h.xml('keep1', { onCrash: 'preserve' }));
    await driver.start(obj);
    const pids = h.track(obj);
    process.kill(pids.remotes[0]!, 'SIGKILL');
    expect(await waitFor(() => remoteStates(h).includes('crashed'), 5000)).toBe(true);
    // make the main QEMU touch the dead device: a reset re-runs SeaBIOS's PCI scan
    await driver.reset(obj);
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.stateOf(obj)).toBe('running (booted)');
    expect(pidAlive(pids.main)).toBe(true);
    // QEMU appends to the log itself; the daemon's cap checks it every intervalMs and cuts it
    // back to start + budget + one marker line. The budget (1 KiB per process, 2 processes) is
    // far below what the main QEMU prints after the reset (~70 "Unable to write to socket"
    // lines, ~6 KiB), so the cap must have cut. Between two checks the file may exceed the cap by
    // one interval's output: wait for at most two intervals for a check to bring it down; a
    // burst that has ended stays down.
    const file = join(h.logDir, 'keep1.log');
    const cap = obj.runtime!.logCap!;
    expect(cap.budget).toBe(2 * 1024);
    expect(cap.reached).toBe(true);
    expect(await waitFor(() => statSync(file).size <= cap.maxSize, 2 * cap.intervalMs + 100)).toBe(true);
    const log = readFileSync(file, 'utf8');
    expect(log).toContain('Unable to write to socket'); // the head of the flood is kept
    expect(log.split('log limit of').length).toBe(2); // one marker line
    expect(h.events.filter((e) => e.includes('Stopped'))).toEqual([]);
    await driver.destroy(obj);
    expect(h.events.at(-1)).toBe('keep1: Stopped Destroyed');
  });

  it('a SIGSTOPped remote is reported hung and handled like a crash, while the driver keeps answering', async () => {
    h = new Harness();
    const driver = await h.driver({ tuning: { heartbeatMs: 100, hangDeadlineMs: 500 } });
    const a = await driver.defineXML(h.xml('hang1'));
    const b = await driver.defineXML(h.xml('other1', { uuid: '11111111-2222-3333-4444-555555555555' }));
    await driver.start(a);
    await driver.start(b);
    const pa = h.track(a);
    h.track(b);
    process.kill(pa.remotes[0]!, 'SIGSTOP');
    // meanwhile another domain's API calls keep working
    let answered = 0;
    const stopAt = Date.now() + 1500;
    while (Date.now() < stopAt) {
      await driver.suspend(b);
      await driver.resume(b);
      answered++;
    }
    expect(answered).toBeGreaterThan(3);
    expect(await waitFor(() => h.events.includes('hang1: Stopped Failed'), 5000)).toBe(true);
    expect(remoteStates(h).filter((s) => s === 'hung')).toHaveLength(1);
    expect(await waitFor(() => !pidAlive(pa.main) && !pidAlive(pa.remotes[0]!), 5000)).toBe(true);
    expect(h.stateOf(b)).toBe('running (unpaused)');
    await driver.destroy(b);
  });

  it('SIGKILL of the main QEMU: Stopped Failed, the remote goes too', async () => {
    h = new Harness();
    const driver = await h.driver();
    const obj = await driver.defineXML(h.xml('mainkill'));
    await driver.start(obj);
    const pids = h.track(obj);
    process.kill(pids.main, 'SIGKILL');
    expect(await waitFor(() => h.events.includes('mainkill: Stopped Failed'), 5000)).toBe(true);
    expect(h.stateOf(obj)).toBe('shut off (crashed)');
    expect(await waitFor(() => !pidAlive(pids.remotes[0]!), 5000)).toBe(true);
  });
});
