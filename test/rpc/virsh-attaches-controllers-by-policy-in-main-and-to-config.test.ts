// attach-device / detach-device of SCSI controllers on a running (paused) domain through the
// real virsh, without a guest: an lsilogic HBA with no <mpq:process> is placed by the daemon's
// isolation policy in a new remote process; a virtio-scsi controller goes into the main QEMU;
// --config changes only the definition (placement included) and detach --config takes both
// away; a detach the guest does not answer leaves the device in place; refusals (no such controller, an address already used) change nothing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const file = (name: string, text: string): string => {
  const p = join(r.h.dir, name);
  writeFileSync(p, `${text}\n`);
  return p;
};

describe('controller hot-plug by policy, into the main QEMU and into the definition', () => {
  it('places an lsilogic HBA by the isolation policy and a virtio-scsi controller in the main QEMU', async () => {
    const p = file('ctl1.xml', r.h.xml('ctl1'));
    expect((await r.virsh(['define', p])).code).toBe(0);
    expect((await r.virsh(['start', 'ctl1', '--paused'])).code).toBe(0);
    const obj = r.driver.lookupByName('ctl1');
    r.h.track(obj);

    const lsi = file('ctl1-lsi.xml', "<controller type='scsi' model='lsilogic'/>");
    const a = await r.virsh(['attach-device', 'ctl1', lsi, '--live']);
    expect(a, a.stderr).toMatchObject({ code: 0 });
    // no index given: the first unused one, as libvirt; the policy's rid and user alias
    expect(obj.runtime!.remotes.map((x) => [x.rid, x.alias])).toEqual([['8', 'ua-lsi0'], ['scsi1', 'ua-scsi1']]);
    r.h.track(obj);
    const live = (await r.virsh(['dumpxml', 'ctl1'])).stdout;
    expect(live).toMatch(/<mpq:process rid="scsi1" pid="\d+" state="running"[^>]*>\n\s*<mpq:device alias="ua-scsi1"\/>\n\s*<mpq:on-crash action="destroy"\/>/);

    const vs = file('ctl1-vs.xml', "<controller type='scsi' index='2' model='virtio-scsi'/>");
    const b = await r.virsh(['attach-device', 'ctl1', vs, '--live']);
    expect(b, b.stderr).toMatchObject({ code: 0 });
    expect(obj.runtime!.remotes).toHaveLength(2);
    const pci = JSON.parse((await r.virsh(['qemu-monitor-command', 'ctl1', '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/scsi2","property":"type"}}'])).stdout) as { return: string };
    expect(pci.return).toBe('virtio-scsi-pci');
    expect((await r.virsh(['dumpxml', 'ctl1'])).stdout).toMatch(/<controller type='scsi' index='2' model='virtio-scsi'>\n\s*<alias name='scsi2'\/>/);

    // refusals: nothing changes
    const before = (await r.virsh(['dumpxml', 'ctl1'])).stdout;
    const missing = await r.virsh(['detach-device', 'ctl1', file('ctl1-9.xml', "<controller type='scsi' index='9'/>"), '--live']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('controller scsi:9 not found');
    const slot = /<controller type='scsi' index='1' model='lsilogic'>\n\s*<alias name='ua-scsi1'\/>\n\s*<address type='pci' domain='0x0000' bus='(0x[0-9a-f]+)' slot='(0x[0-9a-f]+)'/.exec(before)!;
    const twice = await r.virsh(['attach-device', 'ctl1', file('ctl1-3.xml', `<controller type='scsi' index='3' model='lsilogic'><address type='pci' domain='0x0000' bus='${slot[1]}' slot='${slot[2]}' function='0x0'/></controller>`), '--live']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('Attempted double use of PCI Address');
    expect((await r.virsh(['dumpxml', 'ctl1'])).stdout).toBe(before);
    expect(obj.runtime!.remotes).toHaveLength(2);

    // a guest that does not answer the unplug (paused, no OS): the request stands, as in libvirt
    const d = await r.virsh(['detach-device', 'ctl1', file('ctl1-lsi1.xml', "<controller type='scsi' index='1'/>"), '--live']);
    expect(d, d.stderr).toMatchObject({ code: 0 });
    expect(obj.runtime!.remotes.map((x) => x.rid)).toEqual(['8', 'scsi1']);
    expect((await r.virsh(['dumpxml', 'ctl1'])).stdout).toContain("<alias name='ua-scsi1'/>");
    expect((await r.virsh(['destroy', 'ctl1'])).code).toBe(0);
  }, 120_000);

  it('--config adds the controller with its placement to the definition only, and detach --config removes both', async () => {
    const p = file('ctl2.xml', r.h.xml('ctl2'));
    expect((await r.virsh(['define', p])).code).toBe(0);
    const hba = file('ctl2-hba.xml', "<controller type='scsi' index='1' model='lsilogic'><mpq:process xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0' rid='extra'><mpq:on-crash action='preserve'/></mpq:process></controller>");
    const a = await r.virsh(['attach-device', 'ctl2', hba, '--config']);
    expect(a, a.stderr).toMatchObject({ code: 0 });
    const def = (await r.virsh(['dumpxml', '--inactive', 'ctl2'])).stdout;
    expect(def).toMatch(/<mpq:process rid="extra">\n\s*<mpq:device alias="ua-scsi1"\/>\n\s*<mpq:on-crash action="preserve"\/>/);
    expect(def).toMatch(/<controller type='scsi' index='1' model='lsilogic'>\n\s*<alias name='ua-scsi1'\/>\n\s*<address type='pci'/);
    const again = await r.virsh(['attach-device', 'ctl2', hba, '--config']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("controller index='1' already exists");
    expect((await r.virsh(['dumpxml', '--inactive', 'ctl2'])).stdout).toBe(def);
    const d = await r.virsh(['detach-device', 'ctl2', hba, '--config']);
    expect(d, d.stderr).toMatchObject({ code: 0 });
    const after = (await r.virsh(['dumpxml', '--inactive', 'ctl2'])).stdout;
    expect(after).not.toContain('rid="extra"');
    expect(after).not.toContain("index='1' model='lsilogic'");
    expect((await r.virsh(['undefine', 'ctl2'])).code).toBe(0);
  }, 60_000);
});
