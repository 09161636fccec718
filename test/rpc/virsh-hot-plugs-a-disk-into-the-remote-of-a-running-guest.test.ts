// The seed's daily work through the real virsh: a running Linux guest (test/fixtures/guest, hotplug
// mode) gets a second disk with `virsh attach-device --live` on its remote SCSI controller; the
// guest's SCSI rescan finds /dev/sdb and reads the host's marker on it, served by the remote
// process; `virsh detach-device --live` takes it away again; a `virsh event --loop --all` client
// sees device-added and device-removed with the disk's alias. Refusals change nothing.
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { guestImage, remoteGuestXml } from '../driver/guest-image.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const remoteCmd = (command: object): string => JSON.stringify({ execute: 'x-mpvirt-remote', arguments: { rid: 'scsi0', command } });

describe('disk hot-plug into a remote process, through virsh', () => {
  it('a running guest finds the attached disk on its rescan and reads it; detach removes it; events seen', async () => {
    const guest = await guestImage();
    const disk1 = r.h.disk('hp-disk1.img', 16);
    const disk2 = r.h.disk('hp-disk2.img', 16);
    const marker = `E2E-HOTPLUG-MARKER-${randomBytes(8).toString('hex')}`;
    for (const [img, text] of [[disk1, 'E2E-HOST-MARKER-hp1'], [disk2, marker]] as const) {
      const fd = openSync(img, 'r+');
      writeSync(fd, `${text}\n`, 2048 * 512);
      closeSync(fd);
    }
    const serial = join(r.h.dir, 'hp-serial.log');
    const domXml = join(r.h.dir, 'hp1.xml');
    writeFileSync(domXml, remoteGuestXml(guest, { name: 'hp1', params: 'e2e.mode=hotplug e2e.hold=1 e2e.timeout=90', disk: disk1, serial }));
    const diskXml = join(r.h.dir, 'hp-sdb.xml');
    writeFileSync(diskXml, `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk2}'/><target dev='sdb' bus='scsi'/></disk>\n`);
    expect((await r.virsh(['define', domXml])).code).toBe(0);
    const start = await r.virsh(['start', 'hp1']);
    expect(start.code, start.stderr).toBe(0);
    const obj = r.driver.lookupByName('hp1');
    r.h.track(obj);
    const log = (): string => readFileSync(serial, 'latin1');
    expect(await waitFor(() => /E2E-HOTPLUG-WAIT|E2E-FAIL/.test(log()), 120_000, 50), log().slice(-2000)).toBe(true);
    expect(log(), log().slice(-2000)).toContain('E2E-HOTPLUG-WAIT');

    const base = r.driver.events.listenerCount('device-added');
    const ev = r.background(['event', '--loop', '--all', '--timeout', '20']);
    expect(await waitFor(() => r.driver.events.listenerCount('device-added') > base, 5000)).toBe(true);

    const inactiveBefore = (await r.virsh(['dumpxml', '--inactive', 'hp1'])).stdout;
    const attach = await r.virsh(['attach-device', 'hp1', diskXml, '--live']);
    expect(attach, attach.stderr).toMatchObject({ code: 0, stdout: 'Device attached successfully\n\n' });
    expect(await waitFor(() => /E2E-HOTPLUG-READ|E2E-FAIL/.test(log()), 90_000, 50), log().slice(-2000)).toBe(true);
    expect(log()).toContain(`E2E-HOTPLUG-READ: ${marker}`);

    // the live XML has it as libvirt shows a running disk; the persistent one does not (--live)
    const live = (await r.virsh(['dumpxml', 'hp1'])).stdout;
    expect(live).toMatch(new RegExp(`<source file='${disk2}' index='\\d+'/>\\n\\s*<backingStore/>\\n\\s*<target dev='sdb' bus='scsi'/>\\n\\s*<alias name='scsi0-0-1'/>\\n\\s*<address type='drive' controller='0' bus='0' target='0' unit='1'/>`));
    expect((await r.virsh(['dumpxml', '--inactive', 'hp1'])).stdout).toBe(inactiveBefore);
    // served by the remote process, not the main QEMU
    const remoteBlocks = JSON.parse(await r.driver.qemuMonitorCommand(obj, remoteCmd({ execute: 'query-block' }))) as { return: Array<{ qdev?: string }> };
    expect(remoteBlocks.return.map((b) => b.qdev)).toContain('scsi0-0-1');
    const domblk = await r.virsh(['domblklist', 'hp1']);
    expect(domblk.stdout).toContain(`sdb      ${disk2}`);

    const detach = await r.virsh(['detach-device', 'hp1', diskXml, '--live']);
    expect(detach, detach.stderr).toMatchObject({ code: 0, stdout: 'Device detached successfully\n\n' });
    const after = JSON.parse(await r.driver.qemuMonitorCommand(obj, remoteCmd({ execute: 'query-block' }))) as { return: Array<{ qdev?: string }> };
    expect(after.return.map((b) => b.qdev)).not.toContain('scsi0-0-1');
    const fdsets = JSON.parse(await r.driver.qemuMonitorCommand(obj, remoteCmd({ execute: 'query-fdsets' }))) as { return: Array<{ fds: Array<{ opaque?: string }> }> };
    expect(fdsets.return.flatMap((s) => s.fds.map((f) => f.opaque))).toEqual(['libvirt-1-storage']);
    expect((await r.virsh(['dumpxml', 'hp1'])).stdout).not.toContain("dev='sdb'");

    await waitFor(() => false, 300); // let the events reach the client
    const destroy = await r.virsh(['destroy', 'hp1']);
    expect(destroy.code).toBe(0);
    const lines = (await ev).stdout.split('\n').filter((l) => l.startsWith('event ') && l.includes('device-'));
    expect(lines).toEqual(["event 'device-added' for domain 'hp1': scsi0-0-1", "event 'device-removed' for domain 'hp1': scsi0-0-1"]);
  }, 300_000);
});
