// Issue 4, end to end with real QEMU (tcg): define → start → the remote serves
// the disk, SeaBIOS in the main QEMU sees it, events in libvirt's order →
// destroy → no process, socket, status file or runtime dir left.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness, pidAlive, waitFor } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

describe('the managed path', () => {
  it('defines, starts, wires, and destroys a domain with a remote SCSI process', async () => {
    const driver = await h.driver();
    const disk = h.disk('data.img');
    const obj = await driver.defineXML(h.xml('vm1', { disk }));
    expect(h.stateOf(obj)).toBe('shut off (unknown)');
    expect(existsSync(join(h.configDir, 'vm1.xml'))).toBe(true);

    await driver.start(obj);
    const pids = h.track(obj);
    expect(obj.id).toBe(1);
    expect(h.stateOf(obj)).toBe('running (booted)');
    expect(h.events).toEqual(['vm1: Defined Added', 'vm1: Resumed Unpaused', 'vm1: Started Booted']);

    // both processes exist with the right argv
    const cmdline = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline(pids.remotes[0]!)).toEqual(expect.arrayContaining(['-machine', 'x-remote']));
    expect(cmdline(pids.main)).toEqual(expect.arrayContaining(['-S', '-no-shutdown']));
    expect(cmdline(pids.main).some((a) => a.includes('"driver":"x-pci-proxy-dev"'))).toBe(true);

    // the remote has the disk open (through the monitor passthrough wrapper)
    const reply = JSON.parse(
      await driver.qemuMonitorCommand(obj, JSON.stringify({ execute: 'x-mpvirt-remote', arguments: { rid: '8', command: { execute: 'query-block' } } })),
    ) as { return: Array<{ inserted?: { file: string } }> };
    // QEMU knows it by the fd set the daemon passed it in; the fd is the image itself
    expect(reply.return.map((b) => b.inserted?.file)).toContain('/dev/fdset/1');
    const openFiles = readdirSync(`/proc/${pids.remotes[0]}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pids.remotes[0]}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(openFiles).toContain(disk);

    // SeaBIOS in the main QEMU finds the controller and the disk through the proxy
    expect(await waitFor(() => /sectors=131072/.test(h.firmwareLog('vm1')), 30_000, 50)).toBe(true);
    expect(h.firmwareLog('vm1')).toMatch(/found lsi53c895a/);

    // live XML carries the id; inactive does not
    expect(driver.getXMLDesc(obj)).toMatch(/^<domain type='qemu' id='1'>/);
    expect(driver.getXMLDesc(obj, { inactive: true })).toMatch(/^<domain type='qemu'>/);

    const runDir = join(h.stateDir, 'vm1');
    expect(existsSync(join(runDir, 'status.json'))).toBe(true);
    await driver.destroy(obj);
    expect(h.stateOf(obj)).toBe('shut off (destroyed)');
    expect(h.events.slice(3)).toEqual(['vm1: Shutdown Finished after host request', 'vm1: Stopped Destroyed']);
    expect(await waitFor(() => !pidAlive(pids.main) && !pidAlive(pids.remotes[0]!), 5000)).toBe(true);
    expect(existsSync(runDir)).toBe(false);
    expect(obj.id).toBe(-1);

    // the domain log has the argv and the start/stop lines
    const log = readFileSync(join(h.logDir, 'vm1.log'), 'utf8');
    expect(log).toMatch(/starting up mpvirt, domain id 1/);
    expect(log).toMatch(/remote 8: \/usr\/bin\/qemu-system-x86_64 .*-machine x-remote/);
    expect(log).toMatch(/shutting down, reason=destroyed/);

    // a second start gets a new id
    await driver.start(obj);
    h.track(obj);
    expect(obj.id).toBe(2);
    await driver.destroy(obj);
    await expect(driver.destroy(obj)).rejects.toThrow('Requested operation is not valid: domain is not running');
  });
});
