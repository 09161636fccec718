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

  it("preserve: the domain keeps running; the stand-in answers the proxy in the dead remote's place, so nothing floods", async () => {
    h = new Harness();
    const driver = await h.driver({ tuning: { logLimitBytes: 64 * 1024 } });
    const obj = await driver.defineXML(h.xml('keep1', { onCrash: 'preserve' }));
    await driver.start(obj);
    const pids = h.track(obj);
    const file = join(h.logDir, 'keep1.log');
    const before = statSync(file).size;
    process.kill(pids.remotes[0]!, 'SIGKILL');
    expect(await waitFor(() => remoteStates(h).includes('crashed'), 5000)).toBe(true);
    // make the main QEMU touch the dead device: a reset re-runs SeaBIOS's PCI scan
    await driver.reset(obj);
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.stateOf(obj)).toBe('running (booted)');
    expect(pidAlive(pids.main)).toBe(true);
    // the proxy's config and BAR accesses were answered (without the stand-in each failed and
    // the main QEMU logged one 'Unable to write to socket' line per access, millions a minute)
    const seen = obj.runtime!.remotes[0]!.standIn!.stats.seen;
    console.log(`stand-in answered: ${[...seen].map(([c, n]) => `cmd ${c} ×${n}`).join(', ')}`);
    expect((seen.get(3) ?? 0) + (seen.get(5) ?? 0), 'config/BAR reads answered').toBeGreaterThan(0);
    const added = readFileSync(file, 'utf8').slice(before);
    expect(added).not.toContain('Unable to write to socket');
    expect(added.length).toBeLessThan(4096);
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
