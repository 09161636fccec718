// suspend/resume/reset/start --paused give libvirt's states and events; a
// start that fails part-way kills what it started, leaves nothing behind,
// reports `shut off (failed)` and the failing process's stderr.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness, pidAlive, waitFor } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

describe('more lifecycle paths', () => {
  it('suspend, resume, reset and start --paused', async () => {
    const driver = await h.driver();
    let reboots = 0;
    driver.events.on('reboot', () => reboots++);
    const obj = await driver.defineXML(h.xml('pr', { uuid: '44444444-0000-0000-0000-000000000001' }));
    await driver.start(obj, { paused: true });
    h.track(obj);
    expect(h.stateOf(obj)).toBe('paused (user)');
    expect(h.events).toEqual(['pr: Defined Added', 'pr: Started Booted', 'pr: Suspended Paused']);
    await driver.resume(obj);
    expect(h.stateOf(obj)).toBe('running (unpaused)');
    await driver.suspend(obj);
    expect(h.stateOf(obj)).toBe('paused (user)');
    await driver.resume(obj);
    await expect(driver.resume(obj)).rejects.toThrow('Requested operation is not valid: domain is already running');
    expect(h.events.slice(3)).toEqual(['pr: Resumed Unpaused', 'pr: Suspended Paused', 'pr: Resumed Unpaused']);
    await driver.reset(obj);
    expect(await waitFor(() => reboots === 1, 5000)).toBe(true);
    expect(h.stateOf(obj)).toBe('running (unpaused)');
    await driver.destroy(obj);
    await expect(driver.suspend(obj)).rejects.toThrow('Requested operation is not valid: domain is not running');
  });

  it('a start that fails part-way cleans up and reports the stderr of the process that failed', async () => {
    const driver = await h.driver();
    // the remote starts; the main QEMU then fails on its kernel
    const xml = h.xml('bad', { uuid: '44444444-0000-0000-0000-000000000002' }).replace('</os>', '<kernel>/nonexistent/vmlinuz</kernel></os>');
    const obj = await driver.defineXML(xml);
    h.events.length = 0;
    const err = await driver.start(obj).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/^internal error: process exited while connecting to monitor: .*could not open kernel file '\/nonexistent\/vmlinuz'/s);
    expect(h.stateOf(obj)).toBe('shut off (failed)');
    expect(h.events).toEqual(['bad: Stopped Failed']);
    expect(existsSync(join(h.stateDir, 'bad'))).toBe(false);
    expect(obj.id).toBe(-1);
    // nothing of it is left running: no qemu child of ours mentions the domain
    expect(await waitFor(() => ![...h.pids].some(pidAlive), 3000)).toBe(true);
  });

  it("a missing disk image is refused before any process starts, in libvirt's words", async () => {
    const driver = await h.driver();
    const obj = await driver.defineXML(h.xml('nodisk', { uuid: '44444444-0000-0000-0000-000000000003', disk: '/nonexistent/disk.img' }));
    h.events.length = 0;
    const before = h.pids.size;
    const err = await driver.start(obj).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toBe("Cannot access storage file '/nonexistent/disk.img': No such file or directory");
    expect(h.stateOf(obj)).toBe('shut off (failed)');
    expect(h.events).toEqual(['nodisk: Stopped Failed']);
    expect(h.pids.size).toBe(before);
  });
});
