// A definition stored before mpvirt filled in libvirt's defaults (or written into the config
// directory by hand) gets them when the daemon loads it, as libvirt's post-parse does at load:
// machine type, controllers and every PCI address — so its launch plan never has to invent a
// slot. USB ports stay unassigned (libvirt gives those only to new domains).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

describe('a stored definition without addresses', () => {
  it('is loaded with libvirt\'s defaults and runs at its defined addresses', async () => {
    mkdirSync(h.configDir, { recursive: true });
    writeFileSync(join(h.configDir, 'old1.xml'), `<domain type='qemu'>
  <name>old1</name>
  <uuid>5f0e3a6e-8c39-4a52-9f39-5c1d8e9b2a11</uuid>
  <memory>131072</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <input type='tablet' bus='usb'/>
  </devices>
</domain>
`);
    const driver = await h.driver();
    const obj = driver.lookupByName('old1');
    const xml = driver.getXMLDesc(obj, { inactive: true });
    expect(xml).toContain("<type arch='x86_64' machine='pc-q35-7.2'>hvm</type>");
    expect(xml).toMatch(/<controller type='scsi' index='0' model='virtio-scsi'>\n\s*<address type='pci' domain='0x0000' bus='0x0\d' slot='0x00' function='0x0'\/>/);
    expect(xml).toContain("<controller type='pci' index='1' model='pcie-root-port'>");
    expect(xml).toContain("<input type='tablet' bus='usb'/>");
    const native = await driver.domxmlToNative(xml);
    expect(native).toMatch(/"driver":"virtio-scsi-pci","id":"scsi0","bus":"pci\.\d","addr":"0x0"/);
  });
});
