// on-crash restart with a real guest, through the real virsh: a running Linux guest
// (test/fixtures/guest, replug mode) reads its disk through a remote lsi53c895a; the remote is
// SIGKILLed; the daemon's stand-in answers for it, the proxy is unplugged (the guest ejects the
// slot through ACPI), a new remote with the same disks — a hot-plugged one included — is
// plugged into the same slot, and the guest finds the controller by itself and reads its marker
// again. Twice; and a third time while the guest is paused, which cannot release the device: the
// restart does not wait for it, and the new remote is plugged once the guest, resumed, lets go
// of the old one. The domain never leaves `running`; virsh event clients see device-removed →
// device-added and MPVIRT_REMOTE crashed → restarting → restarted.
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive, waitFor } from '../driver/harness.js';
import { guestImage, remoteGuestXml } from '../driver/guest-image.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
// a paused guest cannot release the device: the restart gives up waiting after a second
beforeAll(() => r.start({}, { tuning: { unplugTimeoutMs: 1000 } }));
afterAll(() => r.cleanup());

const remoteCmd = (command: object): string => JSON.stringify({ execute: 'x-mpvirt-remote', arguments: { rid: 'scsi0', command } });

function marked(img: string, text: string): string {
  const fd = openSync(img, 'r+');
  writeSync(fd, `${text}\n`, 2048 * 512);
  closeSync(fd);
  return img;
}

describe('on-crash restart of a remote under a running guest', () => {
  it('SIGKILL of the remote: it comes back in the same slot with every disk and the guest reads again, also when paused', async () => {
    const guest = await guestImage();
    const marker = `E2E-REPLUG-MARKER-${randomBytes(6).toString('hex')}`;
    const disk1 = marked(r.h.disk('rs-disk1.img', 16), marker);
    const disk2 = marked(r.h.disk('rs-disk2.img', 16), 'E2E-HOST-MARKER-rs2');
    const serial = join(r.h.dir, 'rs-serial.log');
    const domXml = join(r.h.dir, 'rs1.xml');
    writeFileSync(domXml, remoteGuestXml(guest, { name: 'rs1', params: 'e2e.mode=replug e2e.timeout=90', disk: disk1, serial, onCrash: 'restart' }));
    const diskXml = join(r.h.dir, 'rs-sdb.xml');
    writeFileSync(diskXml, `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk2}'/><target dev='sdb' bus='scsi'/></disk>\n`);
    expect((await r.virsh(['define', domXml])).code).toBe(0);
    const start = await r.virsh(['start', 'rs1']);
    expect(start.code, start.stderr).toBe(0);
    const obj = r.driver.lookupByName('rs1');
    r.h.track(obj);
    const log = (): string => readFileSync(serial, 'latin1');
    expect(await waitFor(() => /E2E-REPLUG-WAIT|E2E-FAIL/.test(log()), 120_000, 50), log().slice(-2000)).toBe(true);
    expect(log()).toContain(`E2E-READ: ${marker}`);
    const attach = await r.virsh(['attach-device', 'rs1', diskXml, '--live']);
    expect(attach.code, attach.stderr).toBe(0);
    const writeCache = async (qdev: string): Promise<string> =>
      (JSON.parse(await r.driver.qemuMonitorCommand(obj, remoteCmd({ execute: 'qom-get', arguments: { path: `/machine/peripheral/${qdev}`, property: 'write-cache' } }))) as { return: string }).return;
    // no disk of a restartable remote has a write cache, a hot-plugged one neither (replug.md §6)
    expect([await writeCache('scsi0-0-0'), await writeCache('scsi0-0-1')]).toEqual(['off', 'off']);

    const base = r.driver.events.listenerCount('device-added');
    const clients = new AbortController();
    const ev = r.background(['event', '--loop', '--all', '--timeout', '120'], clients.signal);
    const mon = r.background(['qemu-monitor-event', 'rs1', '--event', 'MPVIRT_REMOTE', '--loop', '--timeout', '120'], clients.signal);
    expect(await waitFor(() => r.driver.events.listenerCount('device-added') > base, 5000)).toBe(true);
    await waitFor(() => false, 300); // the monitor-event client registers too

    const domainLog = (): string => readFileSync(join(r.h.logDir, 'rs1.log'), 'utf8');
    for (const round of [1, 2, 3]) {
      const old = obj.runtime!.remotes[0]!.handle.pid;
      if (round === 3) expect((await r.virsh(['suspend', 'rs1'])).code).toBe(0);
      const t0 = performance.now();
      process.kill(old, 'SIGKILL');
      if (round === 3) {
        expect(await waitFor(() => domainLog().includes('the guest did not release ua-scsi0 within 1000 ms'), 10_000), domainLog().slice(-2000)).toBe(true);
        expect((await r.virsh(['domstate', 'rs1'])).stdout).toBe('paused\n\n');
        expect((await r.virsh(['resume', 'rs1'])).code).toBe(0);
      }
      const back = new RegExp(`E2E-REPLUG-READ ${round} \\d+: (.*)`);
      expect(await waitFor(() => back.test(log()) || /E2E-FAIL/.test(log()), 30_000, 10), log().slice(-3000)).toBe(true);
      if (round < 3) console.log(`round ${round}: SIGKILL → the guest read its disk again after ${(performance.now() - t0).toFixed(0)} ms (serial file polled every 10 ms)`);
      expect(back.exec(log())![1]).toBe(marker);
      const now = obj.runtime!.remotes[0]!;
      expect(now.handle.pid).not.toBe(old);
      expect(pidAlive(now.handle.pid)).toBe(true);
      expect(pidAlive(old)).toBe(false);
      expect((await r.virsh(['domstate', 'rs1'])).stdout).toBe('running\n\n');
      const live = (await r.virsh(['dumpxml', 'rs1'])).stdout;
      expect(live).toMatch(new RegExp(`<mpq:process rid="scsi0" pid="${now.handle.pid}" state="running"[^>]* restarts="${round}">`));
      // the new remote serves both disks, the hot-plugged one included, without a write cache
      const blocks = JSON.parse(await r.driver.qemuMonitorCommand(obj, remoteCmd({ execute: 'query-block' }))) as { return: Array<{ qdev?: string }> };
      expect(blocks.return.map((b) => b.qdev).sort()).toEqual(['scsi0-0-0', 'scsi0-0-1']);
      expect([await writeCache('scsi0-0-0'), await writeCache('scsi0-0-1')]).toEqual(['off', 'off']);
    }
    expect(r.driver.lookupByName('rs1').state.state).toBe(1);

    await waitFor(() => false, 300); // let the events reach the clients
    expect((await r.virsh(['destroy', 'rs1'])).code).toBe(0);
    await waitFor(() => false, 300);
    clients.abort();
    const lines = (await ev).stdout.split('\n').filter((l) => l.startsWith("event '"));
    const replug = ["event 'device-removed' for domain 'rs1': ua-scsi0", "event 'device-added' for domain 'rs1': ua-scsi0"];
    expect(lines.filter((l) => l.includes('device-'))).toEqual([...replug, ...replug, ...replug]);
    expect(lines.at(-1)).toBe("event 'lifecycle' for domain 'rs1': Stopped Destroyed");
    const states = [...(await mon).stdout.matchAll(/"state":"(\w+)"/g)].map((m) => m[1]);
    expect(states).toEqual(['crashed', 'restarting', 'restarted', 'crashed', 'restarting', 'restarted', 'crashed', 'restarting', 'restarted', 'exited']);
    expect((await mon).stdout).toContain('"action":"restart"');
  }, 300_000);
});
