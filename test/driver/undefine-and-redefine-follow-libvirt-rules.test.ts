// define/undefine semantics: a redefinition of a running domain applies at its
// next start; undefining a running domain makes it transient, and it goes
// away when it stops; a transient domain (virsh create) vanishes on stop.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

describe('definitions', () => {
  it('redefining a running domain takes effect at the next start', async () => {
    const driver = await h.driver();
    const obj = await driver.defineXML(h.xml('redef', { uuid: '33333333-0000-0000-0000-000000000001' }));
    await driver.start(obj);
    h.track(obj);
    await driver.defineXML(h.xml('redef', { uuid: '33333333-0000-0000-0000-000000000001' }).replace("<memory unit='MiB'>128</memory>", "<memory unit='MiB'>192</memory>"));
    expect(h.events).toContain('redef: Defined Updated');
    expect(driver.getXMLDesc(obj)).toContain("<memory unit='KiB'>131072</memory>");
    expect(driver.getXMLDesc(obj, { inactive: true })).toContain("<memory unit='KiB'>196608</memory>");
    await driver.destroy(obj);
    expect(driver.getXMLDesc(obj)).toContain("<memory unit='KiB'>196608</memory>");
  });

  it('live XML shows the id and each remote process\'s pid, state and monitor; define of it stores none of them', async () => {
    const driver = await h.driver();
    const obj = await driver.defineXML(h.xml('livexml', { uuid: '33333333-0000-0000-0000-000000000007' }));
    await driver.start(obj);
    const pids = h.track(obj);
    const live = driver.getXMLDesc(obj);
    expect(live).toMatch(/^<domain type='qemu' id='\d+'>/);
    expect(live).toMatch(new RegExp(`<mpq:process rid="8" pid="${pids.remotes[0]}" state="running" monitor="${join(h.stateDir, 'livexml', 'remote-8.qmp')}" uid="(\\d+)" gid="\\1" jail="root,net,ipc,uts,pid">`));
    expect(driver.getXMLDesc(obj, { inactive: true })).toContain('<mpq:process rid="8">');
    await driver.defineXML(live); // what `virsh dumpxml vm > f; virsh define f` does
    const saved = readFileSync(join(h.configDir, 'livexml.xml'), 'utf8');
    expect(saved).not.toMatch(/<domain [^>]*id='|pid=|state=|monitor=/);
    await driver.destroy(obj);
  });

  it('undefine of a running domain makes it transient; it disappears when stopped', async () => {
    const driver = await h.driver();
    const obj = await driver.defineXML(h.xml('undef', { uuid: '33333333-0000-0000-0000-000000000002' }));
    await driver.setAutostart(obj, true);
    expect(existsSync(join(h.configDir, 'autostart', 'undef.xml'))).toBe(true);
    await driver.start(obj);
    h.track(obj);
    await driver.undefine(obj);
    expect(obj.persistent).toBe(false);
    expect(existsSync(join(h.configDir, 'undef.xml'))).toBe(false);
    expect(existsSync(join(h.configDir, 'autostart', 'undef.xml'))).toBe(false);
    expect(driver.lookupByName('undef')).toBe(obj);
    await driver.destroy(obj);
    expect(() => driver.lookupByName('undef')).toThrow(/Domain not found/);
  });

  it('create starts a transient domain that vanishes on destroy', async () => {
    const driver = await h.driver();
    const obj = await driver.createXML(h.xml('trans', { uuid: '33333333-0000-0000-0000-000000000003' }));
    h.track(obj);
    expect(obj.persistent).toBe(false);
    expect(h.stateOf(obj)).toBe('running (booted)');
    expect(existsSync(join(h.configDir, 'trans.xml'))).toBe(false);
    await driver.destroy(obj);
    expect(() => driver.lookupByName('trans')).toThrow(/Domain not found/);
  });

  it('auto-isolates an lsilogic controller of plain libvirt XML at define', async () => {
    const driver = await h.driver();
    const disk = h.disk('auto.img');
    const obj = await driver.defineXML(`<domain type='qemu'><name>auto</name><uuid>33333333-0000-0000-0000-000000000004</uuid>
      <memory unit='MiB'>128</memory><os><type arch='x86_64' machine='q35'>hvm</type></os>
      <devices><controller type='scsi' index='0' model='lsilogic'/>
      <disk type='file' device='disk'><source file='${disk}'/><target dev='sda' bus='scsi'/></disk></devices></domain>`);
    const xml = driver.getXMLDesc(obj, { inactive: true });
    expect(xml).toContain("<alias name='ua-scsi0'/>");
    expect(xml).toMatch(/<mpq:process rid="scsi0">\s*<mpq:device alias="ua-scsi0"\/>\s*<mpq:on-crash action="destroy"\/>/);
    await driver.start(obj);
    h.track(obj);
    expect(obj.runtime?.remotes.map((r) => r.rid)).toEqual(['scsi0']);
    await driver.destroy(obj);
  });

  it('refuses what it cannot run at define, changing nothing', async () => {
    const driver = await h.driver();
    await expect(
      driver.defineXML(h.xml('hostdev', { uuid: '33333333-0000-0000-0000-000000000005' }).replace('</devices>', "<hostdev mode='subsystem' type='pci'/></devices>")),
    ).rejects.toThrow("unsupported configuration: device <hostdev type='pci'> is not supported: it passes a host device through, which mpvirt does not do (/domain/devices/hostdev)");
    // on-crash restart re-plugs the proxy through the guest's ACPI hot-plug, on a slot that has it
    const restart = h.xml('restart', { onCrash: 'restart', uuid: '33333333-0000-0000-0000-000000000006' });
    await expect(driver.defineXML(restart)).rejects.toThrow(
      "unsupported configuration: on-crash action 'restart' of remote process '8' needs <features><acpi/></features>: the guest releases the device of a dead remote through ACPI hot-plug",
    );
    const onPcie0 = restart
      .replace('</os>', '</os><features><acpi/></features>')
      .replace("<alias name='ua-lsi0'/></controller>", "<alias name='ua-lsi0'/><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></controller>");
    await expect(driver.defineXML(onPcie0)).rejects.toThrow(
      "unsupported configuration: on-crash action 'restart' of remote process '8' needs controller 'ua-lsi0' on a hot-pluggable slot, which pcie.0 (bus 0) has none of: leave its address to mpvirt, which puts it behind a pcie-to-pci-bridge as libvirt does",
    );
    expect(existsSync(join(h.configDir, 'hostdev.xml'))).toBe(false);
    expect(() => driver.lookupByName('restart')).toThrow(/Domain not found/);
  });
});
