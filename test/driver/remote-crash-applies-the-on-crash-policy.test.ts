// A remote process that dies or hangs is noticed at once and the domain's
// on-crash policy applies: destroy → MPVIRT_REMOTE crashed, then Stopped Failed
// and nothing left; preserve → the domain keeps running and the main QEMU's
// error flood stays within its log cap; restart → a remote that dies at start every time is
// restarted at most restartLimit times, then the domain is destroyed, and the events say so.
// (Restart with a guest that re-plugs: test/rpc/virsh-sees-a-killed-remote-restarted-….)
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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

  it('restart storm: a remote that dies at start every time is restarted restartLimit times, then the domain is destroyed', async () => {
    h = new Harness();
    // run as the daemon's user: the flaky emulator below lives outside a jail's root
    const driver = await h.driver({ jailIds: null, cgroups: false, tuning: { restartLimit: 3, restartBackoffMs: 20 } });
    const flag = `${h.dir}/fail-now`;
    const flaky = `${h.dir}/flaky-qemu`;
    writeFileSync(flaky, `#!/bin/sh\nif [ -e '${flag}' ]; then echo 'flaky-qemu: failing at start on purpose' >&2; exit 1; fi\nexec /usr/bin/qemu-system-x86_64 "$@"\n`);
    chmodSync(flaky, 0o755);
    const xml = h
      .xml('storm1', { onCrash: 'restart' })
      .replace('</os>', '</os><features><acpi/></features>')
      .replace("<mpq:on-crash action='restart'/>", `<mpq:emulator>${flaky}</mpq:emulator><mpq:on-crash action='restart'/>`);
    const obj = await driver.defineXML(xml);
    await driver.start(obj);
    const pids = h.track(obj);
    writeFileSync(flag, '');
    process.kill(pids.remotes[0]!, 'SIGKILL');
    expect(await waitFor(() => h.events.includes('storm1: Stopped Failed'), 15_000)).toBe(true);
    const remote = h.monitorEvents.filter((e) => e.event === 'MPVIRT_REMOTE').map((e) => JSON.parse(e.details ?? '{}') as { state: string; pid: number; action?: string; reason?: string });
    expect(remote.map((e) => e.state)).toEqual(['started', 'crashed', 'restarting', 'crashed', 'restarting', 'crashed', 'restarting', 'crashed']);
    expect(remote.filter((e) => e.state === 'crashed').map((e) => e.action)).toEqual(['restart', 'restart', 'restart', 'destroy']);
    expect(remote.at(-1)!.reason).toBe('restarted 3 times within 60 s (limit 3): on-crash restart falls back to destroy');
    // each failed start was a real process of its own
    const failed = remote.slice(2).filter((e) => e.state === 'crashed').map((e) => e.pid);
    expect(new Set(failed).size).toBe(3);
    expect(failed.every((p) => p > 0 && p !== pids.remotes[0])).toBe(true);
    expect(h.stateOf(obj)).toBe('shut off (crashed)');
    const log = readFileSync(join(h.logDir, 'storm1.log'), 'utf8');
    expect(log).toContain('flaky-qemu: failing at start on purpose');
    expect(log).toContain('remote 8: restarted 3 times within 60 s (limit 3): on-crash restart falls back to destroy; destroying the domain');
    expect(await waitFor(() => !pidAlive(pids.main), 5000)).toBe(true);
    expect(() => statSync(join(h.stateDir, 'storm1'))).toThrow();
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
