// A real Linux guest (Debian kernel + busybox initramfs, test/fixtures/guest)
// managed by the driver: its SCSI disk is served by the remote process, the
// guest reads the host's marker through it and writes one back, then powers
// off — the domain stops by itself with libvirt's guest-shutdown events.
import { closeSync, existsSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness, MPQ, pidAlive, waitFor } from './harness.js';
import { guestImage } from './guest-image.js';


const h = new Harness();
afterAll(() => h.cleanup());

describe('a Linux guest on a remote SCSI controller', () => {
  it('reads and writes its disk through the remote process and powers off cleanly', async () => {
    const guest = await guestImage();
    const disk = h.disk('guest-disk.img', 16);
    const marker = `E2E-HOST-MARKER-${randomBytes(8).toString('hex')}`;
    const fd = openSync(disk, 'r+');
    writeSync(fd, `${marker}\n`, 2048 * 512);
    closeSync(fd);
    const serial = join(h.dir, 'serial.log');
    const driver = await h.driver();
    const obj = await driver.defineXML(`<domain type='qemu'>
  <name>linux1</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=basic e2e.timeout=60</cmdline></os>
  <features><acpi/></features>
  <metadata><mpq:remote xmlns:mpq='${MPQ}'><mpq:process rid='scsi0'><mpq:device alias='ua-scsi0'/></mpq:process></mpq:remote></metadata>
  <on_reboot>destroy</on_reboot>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'><alias name='ua-scsi0'/></controller>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='scsi'/></disk>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
  </devices>
</domain>`);
    await driver.start(obj);
    const pids = h.track(obj);
    const console = (): string => (existsSync(serial) ? readFileSync(serial, 'utf8') : '');
    const done = await waitFor(() => /E2E-OK|E2E-FAIL/.test(console()), 120_000, 100);
    expect(done, console().slice(-3000)).toBe(true);
    expect(console()).toContain(`E2E-READ: ${marker}`);
    expect(console()).not.toContain('E2E-FAIL');

    // the guest's poweroff stops the domain by itself
    expect(await waitFor(() => h.events.includes('linux1: Stopped Shutdown'), 30_000, 50)).toBe(true);
    expect(h.events.filter((e) => e.startsWith('linux1:'))).toEqual([
      'linux1: Defined Added',
      'linux1: Resumed Unpaused',
      'linux1: Started Booted',
      'linux1: Shutdown Finished after guest request',
      'linux1: Stopped Shutdown',
    ]);
    expect(h.stateOf(obj)).toBe('shut off (shutdown)');
    expect(await waitFor(() => !pidAlive(pids.main) && !pidAlive(pids.remotes[0]!), 5000)).toBe(true);

    // what the guest wrote through the remote reached the image
    const buf = Buffer.alloc(512);
    const rfd = openSync(disk, 'r');
    readSync(rfd, buf, 0, 512, 4096 * 512);
    closeSync(rfd);
    expect(buf.toString('latin1')).toContain(`E2E-GUEST-WROTE:${marker}`);
  }, 300_000);
});
