// A stable guest ABI, seen from inside a real Linux guest: its PCI layout (bus:slot.function,
// vendor:device, class from /sys/bus/pci/devices) is decided at define and does not move.
// The guest boots twice with the same definition and sees the same layout; then a disk
// controller (virtio-scsi) is added to the definition and the guest boots a third time:
// every device it saw before is where it was, and only the new controller (and a root port
// for it, where libvirt's rules add one) appears. The isolated lsilogic HBA (the remote
// process's proxy) is among the devices that must not move.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { QemuDriver } from '../../src/driver/driver.js';
import type { DomainObject } from '../../src/driver/domain-object.js';
import { guestImage } from './guest-image.js';
import { Harness, waitFor } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

/** Boot the guest in pci mode until it has listed its devices and powered off. */
async function pciLayout(driver: QemuDriver, obj: DomainObject, serial: string): Promise<string[]> {
  rmSync(serial, { force: true });
  await driver.start(obj);
  h.track(obj);
  const out = (): string => (existsSync(serial) ? readFileSync(serial, 'utf8') : '');
  const done = await waitFor(() => /E2E-PCI-END|E2E-FAIL/.test(out()), 120_000, 100);
  expect(done, out().slice(-3000)).toBe(true);
  expect(out()).not.toContain('E2E-FAIL');
  // the guest powers off by itself after listing
  expect(await waitFor(() => !obj.active, 30_000, 50)).toBe(true);
  return out().split('\n').filter((l) => l.startsWith('E2E-PCI ')).map((l) => l.slice('E2E-PCI '.length).trim());
}

describe("a guest's PCI layout", () => {
  it('is the same at every boot and does not move when a disk controller is added', async () => {
    const guest = await guestImage();
    const disk = h.disk('pci-disk.img', 16);
    const serial = join(h.dir, 'pci-serial.log');
    const driver = await h.driver();
    const base = `<domain type='qemu'>
  <name>pci1</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=pci e2e.timeout=60</cmdline></os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    <controller type='scsi' model='lsilogic'/>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='scsi'/></disk>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
    <input type='tablet' bus='usb'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>`;
    const obj = await driver.defineXML(base);
    const defined = driver.getXMLDesc(obj, { inactive: true });
    expect(defined).toContain('<mpq:process rid=');

    const first = await pciLayout(driver, obj, serial);
    const second = await pciLayout(driver, obj, serial);
    console.log(`guest PCI devices, first boot:\n  ${first.join('\n  ')}`);
    expect(first.length).toBeGreaterThan(5);
    expect(first.some((l) => / 0x1000:0x0012 0x010000$/.test(l)), 'the proxied lsi53c895a').toBe(true);
    expect(second).toEqual(first);

    // the disk controller goes into the stored definition; the defaults give it its slot
    const more = defined.replace('</devices>', "  <controller type='scsi' index='1' model='virtio-scsi'/>\n  </devices>");
    const obj2 = await driver.defineXML(more);
    expect(obj2).toBe(obj);
    const after = await pciLayout(driver, obj, serial);
    console.log(`guest PCI devices after adding a virtio-scsi controller:\n  ${after.join('\n  ')}`);
    for (const l of first) expect(after, `${l} moved or vanished`).toContain(l);
    const added = after.filter((l) => !first.includes(l));
    console.log(`added: ${added.join(', ')}`);
    expect(added.some((l) => / 0x1af4:0x(1048|1004) 0x010000$/.test(l)), 'the new virtio-scsi controller').toBe(true);
    expect(added.every((l) => / 0x1af4:0x(1048|1004) 0x010000$/.test(l) || / 0x1b36:0x000c 0x060400$/.test(l)), 'only the controller and its root port').toBe(true);
  }, 400_000);
});
