// virsh attach-disk / detach-disk / attach-device --config on a running domain, and every refusal
// of a disk hot-plug with libvirt's wording: target in use, address in use, no such controller,
// image missing or unreadable, a disk on a controller whose remote is down, a disk that is not
// there. After each refusal the live and persistent XML, the processes and the remote's block
// devices are exactly as before.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const remoteBlocks = async (name: string): Promise<string[]> => {
  const obj = r.driver.lookupByName(name);
  const out = JSON.parse(await r.driver.qemuMonitorCommand(obj, JSON.stringify({ execute: 'x-mpvirt-remote', arguments: { rid: '8', command: { execute: 'query-block' } } }))) as { return: Array<{ qdev?: string }> };
  return out.return.map((b) => b.qdev ?? '').sort();
};

async function started(name: string, onCrash?: string): Promise<void> {
  const p = join(r.h.dir, `${name}.xml`);
  writeFileSync(p, r.h.xml(name, onCrash ? { onCrash } : {}));
  expect((await r.virsh(['define', p])).code).toBe(0);
  expect((await r.virsh(['start', name, '--paused'])).code).toBe(0);
  r.h.track(r.driver.lookupByName(name));
}

const diskFile = (name: string, xml: string): string => {
  const p = join(r.h.dir, `${name}.xml`);
  writeFileSync(p, xml);
  return p;
};

describe('disk hot-plug refusals and virsh attach-disk', () => {
  it('attach-disk and detach-disk --live put a disk into the remote and take it out; --config only the definition', async () => {
    await started('ad1');
    const img = r.h.disk('ad1-b.img', 8);
    const a = await r.virsh(['attach-disk', 'ad1', img, 'sdb', '--targetbus', 'scsi', '--live']);
    expect(a, a.stderr).toMatchObject({ code: 0, stdout: 'Disk attached successfully\n\n' });
    expect(await remoteBlocks('ad1')).toEqual(['scsi0-0-0', 'scsi0-0-1']);
    expect((await r.virsh(['domblklist', 'ad1'])).stdout).toContain(`sdb      ${img}`);
    expect((await r.virsh(['dumpxml', '--inactive', 'ad1'])).stdout).not.toContain("dev='sdb'");
    const d = await r.virsh(['detach-disk', 'ad1', 'sdb', '--live']);
    expect(d, d.stderr).toMatchObject({ code: 0, stdout: 'Disk detached successfully\n\n' });
    expect(await remoteBlocks('ad1')).toEqual(['scsi0-0-0']);

    const c = await r.virsh(['attach-disk', 'ad1', img, 'sdc', '--targetbus', 'scsi', '--config']);
    expect(c, c.stderr).toMatchObject({ code: 0 });
    expect((await r.virsh(['dumpxml', '--inactive', 'ad1'])).stdout).toMatch(/<target dev='sdc' bus='scsi'\/>\n\s*<address type='drive' controller='0' bus='0' target='0' unit='2'\/>/);
    expect((await r.virsh(['dumpxml', 'ad1'])).stdout).not.toContain("dev='sdc'");
    expect(await remoteBlocks('ad1')).toEqual(['scsi0-0-0']);
    const dc = await r.virsh(['detach-disk', 'ad1', 'sdc', '--config']);
    expect(dc.code, dc.stderr).toBe(0);
    expect((await r.virsh(['dumpxml', '--inactive', 'ad1'])).stdout).not.toContain("dev='sdc'");
  }, 60_000);

  it('refuses with libvirt wording and changes nothing', async () => {
    await started('ad2');
    const obj = r.driver.lookupByName('ad2');
    const img = r.h.disk('ad2-b.img', 8);
    const unreadable = r.h.disk('ad2-unreadable.img', 8);
    chmodSync(unreadable, 0o000);
    const snapshot = async () => ({
      live: (await r.virsh(['dumpxml', 'ad2'])).stdout,
      inactive: (await r.virsh(['dumpxml', '--inactive', 'ad2'])).stdout,
      pids: r.h.track(obj),
      blocks: await remoteBlocks('ad2'),
    });
    const before = await snapshot();
    const cases: Array<[string, string[], RegExp]> = [
      ['target in use', ['attach-disk', 'ad2', img, 'sda', '--targetbus', 'scsi', '--live'], /error: operation failed: target sda already exists/],
      ['address in use', ['attach-device', 'ad2', diskFile('ad2-addr', `<disk type='file' device='disk'><source file='${img}'/><target dev='sdd' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>`), '--live'], /error: Requested operation is not valid: Domain already contains a disk with that address/],
      ['no such controller', ['attach-device', 'ad2', diskFile('ad2-ctrl', `<disk type='file' device='disk'><source file='${img}'/><target dev='sde' bus='scsi'/><address type='drive' controller='3' bus='0' target='0' unit='0'/></disk>`), '--live'], /error: Requested operation is not valid: no SCSI controller with index 3 for disk 'sde'/],
      ['image missing', ['attach-disk', 'ad2', join(r.h.dir, 'nope.img'), 'sdf', '--targetbus', 'scsi', '--live'], /error: Cannot access storage file '[^']*nope.img': No such file or directory/],
      ['not a disk here', ['detach-disk', 'ad2', 'sdz', '--live'], /error: (device not found: disk sdz not found|No disk found whose source path or target is sdz)/],
      ['not in the definition', ['detach-device', 'ad2', diskFile('ad2-gone', `<disk type='file' device='disk'><source file='${img}'/><target dev='sdz' bus='scsi'/></disk>`), '--config'], /error: device not found: no target device sdz/],
    ];
    // root reads every file: an unreadable image is only refused for an unprivileged daemon
    if (process.getuid?.() !== 0) cases.push(['image unreadable', ['attach-disk', 'ad2', unreadable, 'sdg', '--targetbus', 'scsi', '--live'], /Permission denied/]);
    for (const [what, args, err] of cases) {
      const res = await r.virsh(args);
      expect(res.code, what).toBe(1);
      expect(res.stderr, what).toMatch(err);
      expect(await snapshot(), what).toEqual(before);
    }
  }, 60_000);

  it('refuses a disk on a controller whose remote process is down', async () => {
    await started('ad3', 'preserve');
    const obj = r.driver.lookupByName('ad3');
    const pids = r.h.track(obj);
    process.kill(pids.remotes[0]!, 'SIGKILL');
    expect(await waitFor(() => obj.runtime?.remotes[0]?.supervisor.state === 'crashed', 10_000)).toBe(true);
    const before = (await r.virsh(['dumpxml', 'ad3'])).stdout;
    const res = await r.virsh(['attach-disk', 'ad3', r.h.disk('ad3-b.img', 8), 'sdb', '--targetbus', 'scsi', '--live']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: Requested operation is not valid: the remote process serving controller 'ua-lsi0' is not running/);
    expect((await r.virsh(['dumpxml', 'ad3'])).stdout).toBe(before);
  }, 60_000);

  it('a disk on an in-process controller (virtio-scsi in the main QEMU) goes into the main QEMU', async () => {
    const p = join(r.h.dir, 'ad4.xml');
    writeFileSync(p, r.h.xml('ad4').replace("<devices>", "<devices>\n    <controller type='scsi' index='1' model='virtio-scsi'/>"));
    expect((await r.virsh(['define', p])).code).toBe(0);
    expect((await r.virsh(['start', 'ad4', '--paused'])).code).toBe(0);
    const obj = r.driver.lookupByName('ad4');
    r.h.track(obj);
    const img = r.h.disk('ad4-b.img', 8);
    const x = diskFile('ad4-disk', `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img}'/><target dev='sdb' bus='scsi'/><address type='drive' controller='1' bus='0' target='0' unit='0'/></disk>`);
    const a = await r.virsh(['attach-device', 'ad4', x, '--live']);
    expect(a, a.stderr).toMatchObject({ code: 0 });
    const main = JSON.parse(await r.driver.qemuMonitorCommand(obj, JSON.stringify({ execute: 'query-block' }))) as { return: Array<{ qdev?: string }> };
    expect(main.return.map((b) => b.qdev)).toContain('scsi1-0-0-0');
    expect(await remoteBlocks('ad4')).toEqual(['scsi0-0-0']);
    expect((await r.virsh(['detach-device', 'ad4', x, '--live'])).code).toBe(0);
    const after = JSON.parse(await r.driver.qemuMonitorCommand(obj, JSON.stringify({ execute: 'query-block' }))) as { return: Array<{ qdev?: string }> };
    expect(after.return.map((b) => b.qdev)).not.toContain('scsi1-0-0-0');
  }, 60_000);
});
