// What no other tool does, through the real virsh: `attach-device` of a whole lsilogic HBA into a
// running q35 guest starts a new remote QEMU process for it (its `<mpq:process>` inside the
// `<controller>`), plugs its proxy into a free hot-pluggable slot; a disk attached to it is
// served by that new process and the guest (hotplug mode: rescans) reads its marker; detach
// of the disk and then of the HBA (requested while the guest is paused, finished once it runs)
// stops the process. Refusals (busy, index taken, type that
// cannot be hot-plugged) change nothing. Events: device-added/removed with both aliases.
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { guestImage, remoteGuestXml } from '../driver/guest-image.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const MPQ = 'http://mpvirt.org/schemas/domain/mpqemu/1.0';
const remoteCmd = (rid: string, command: object): string => JSON.stringify({ execute: 'x-mpvirt-remote', arguments: { rid, command } });

describe('hot-plug of a whole isolated HBA, through virsh', () => {
  it('a new remote process serves the new HBA and its disk; the guest reads it; detach stops the process', async () => {
    const guest = await guestImage();
    const disk1 = r.h.disk('hba-disk1.img', 16);
    const disk2 = r.h.disk('hba-disk2.img', 16);
    const marker = `E2E-HBA-MARKER-${randomBytes(8).toString('hex')}`;
    for (const [img, text] of [[disk1, 'E2E-HOST-MARKER-hba1'], [disk2, marker]] as const) {
      const fd = openSync(img, 'r+');
      writeSync(fd, `${text}\n`, 2048 * 512);
      closeSync(fd);
    }
    const serial = join(r.h.dir, 'hba-serial.log');
    const domXml = join(r.h.dir, 'hba1.xml');
    writeFileSync(domXml, remoteGuestXml(guest, { name: 'hba1', params: 'e2e.mode=hotplug e2e.hold=1 e2e.timeout=120', disk: disk1, serial }));
    const file = (name: string, text: string): string => {
      const p = join(r.h.dir, name);
      writeFileSync(p, `${text}\n`);
      return p;
    };
    const hbaXml = file('hba.xml', `<controller type='scsi' index='1' model='lsilogic'><mpq:process xmlns:mpq='${MPQ}' rid='hba1'><mpq:on-crash action='destroy'/></mpq:process></controller>`);
    const diskXml = file('hba-sdb.xml', `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk2}'/><target dev='sdb' bus='scsi'/><address type='drive' controller='1' bus='0' target='0' unit='0'/></disk>`);
    expect((await r.virsh(['define', domXml])).code).toBe(0);
    const start = await r.virsh(['start', 'hba1']);
    expect(start.code, start.stderr).toBe(0);
    const obj = r.driver.lookupByName('hba1');
    r.h.track(obj);
    const log = (): string => readFileSync(serial, 'latin1');
    expect(await waitFor(() => /E2E-HOTPLUG-WAIT|E2E-FAIL/.test(log()), 120_000, 50), log().slice(-2000)).toBe(true);
    expect(log(), log().slice(-2000)).toContain('E2E-HOTPLUG-WAIT');

    const base = r.driver.events.listenerCount('device-added');
    const ev = r.background(['event', '--loop', '--all', '--timeout', '40']);
    expect(await waitFor(() => r.driver.events.listenerCount('device-added') > base, 5000)).toBe(true);

    // refusals before the HBA exists: nothing changes
    const liveBefore = (await r.virsh(['dumpxml', 'hba1'])).stdout;
    const usb = await r.virsh(['attach-device', 'hba1', file('usb.xml', "<controller type='usb' index='3' model='qemu-xhci'/>"), '--live']);
    expect(usb.code).toBe(1);
    expect(usb.stderr).toContain("Operation not supported: 'usb' controller cannot be hot plugged.");
    const taken = await r.virsh(['attach-device', 'hba1', file('hba0.xml', "<controller type='scsi' index='0' model='lsilogic'/>"), '--live']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('operation failed: target scsi:0 already exists');
    expect((await r.virsh(['dumpxml', 'hba1'])).stdout).toBe(liveBefore);
    expect(obj.runtime!.remotes.map((x) => x.rid)).toEqual(['scsi0']);

    const inactiveBefore = (await r.virsh(['dumpxml', '--inactive', 'hba1'])).stdout;
    const attach = await r.virsh(['attach-device', 'hba1', hbaXml, '--live']);
    expect(attach, attach.stderr).toMatchObject({ code: 0, stdout: 'Device attached successfully\n\n' });
    const hba = obj.runtime!.remotes.find((x) => x.rid === 'hba1');
    expect(hba?.supervisor.state).toBe('running');
    const pid = hba!.handle.pid;
    const live = (await r.virsh(['dumpxml', 'hba1'])).stdout;
    expect(live).toMatch(/<controller type='scsi' index='1' model='lsilogic'>\n\s*<alias name='ua-scsi1'\/>\n\s*<address type='pci' domain='0x0000' bus='0x0\d' slot='0x0\d' function='0x0'\/>/);
    expect(live).toContain(`<mpq:process rid="hba1" pid="${pid}" state="running"`);
    expect((await r.virsh(['dumpxml', '--inactive', 'hba1'])).stdout).toBe(inactiveBefore);

    const attachDisk = await r.virsh(['attach-device', 'hba1', diskXml, '--live']);
    expect(attachDisk, attachDisk.stderr).toMatchObject({ code: 0, stdout: 'Device attached successfully\n\n' });
    expect(await waitFor(() => /E2E-HOTPLUG-READ|E2E-FAIL/.test(log()), 90_000, 50), log().slice(-2000)).toBe(true);
    expect(log()).toContain(`E2E-HOTPLUG-READ: ${marker}`);
    // served by the new process, not by the first remote nor the main QEMU
    const blocks = (rid: string): Promise<Array<string | undefined>> =>
      r.driver.qemuMonitorCommand(obj, remoteCmd(rid, { execute: 'query-block' })).then((s) => (JSON.parse(s) as { return: Array<{ qdev?: string }> }).return.map((b) => b.qdev));
    expect(await blocks('hba1')).toEqual(['scsi1-0-0']);
    expect(await blocks('scsi0')).not.toContain('scsi1-0-0');

    const busy = await r.virsh(['detach-device', 'hba1', hbaXml, '--live']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('operation failed: device cannot be detached: device is busy');
    expect(obj.runtime!.remotes.map((x) => x.rid)).toEqual(['scsi0', 'hba1']);

    expect((await r.virsh(['detach-device', 'hba1', diskXml, '--live'])).code).toBe(0);
    // detach while the guest is paused: it cannot answer, the request stands (libvirt's
    // behaviour) and the removal finishes once the resumed guest lets the HBA go
    expect((await r.virsh(['suspend', 'hba1'])).code).toBe(0);
    const detach = await r.virsh(['detach-device', 'hba1', hbaXml, '--live']);
    expect(detach, detach.stderr).toMatchObject({ code: 0, stdout: 'Device detached successfully\n\n' });
    expect(obj.runtime!.remotes.map((x) => x.rid)).toEqual(['scsi0', 'hba1']);
    expect((await r.virsh(['dumpxml', 'hba1'])).stdout).toContain("<alias name='ua-scsi1'/>");
    expect((await r.virsh(['resume', 'hba1'])).code).toBe(0);
    expect(await waitFor(() => obj.runtime!.remotes.length === 1, 20_000)).toBe(true);
    expect(obj.runtime!.remotes.map((x) => x.rid)).toEqual(['scsi0']);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    const after = (await r.virsh(['dumpxml', 'hba1'])).stdout;
    expect(after).not.toContain('rid="hba1"');
    expect(after).not.toContain("index='1' model='lsilogic'");
    expect((await r.virsh(['domstate', 'hba1'])).stdout.trim()).toBe('running');

    await waitFor(() => false, 300); // let the events reach the client
    expect((await r.virsh(['destroy', 'hba1'])).code).toBe(0);
    const lines = (await ev).stdout.split('\n').filter((l) => l.startsWith('event ') && l.includes('device-'));
    expect(lines).toEqual([
      "event 'device-added' for domain 'hba1': ua-scsi1",
      "event 'device-added' for domain 'hba1': scsi1-0-0",
      "event 'device-removed' for domain 'hba1': scsi1-0-0",
      "event 'device-removed' for domain 'hba1': ua-scsi1",
    ]);
  }, 400_000);
});
