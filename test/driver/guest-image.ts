/**
 * The test guest (Debian kernel + busybox initramfs, test/fixtures/guest), built once and cached
 * in .cache/guest: what the driver tests that boot a real Linux guest share.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../domainxml/helpers.js';

export interface GuestImage {
  kernel: string;
  initrd: string;
  cmdlineBase: string;
  /** the bzImage (`kernel` is the faster PVH vmlinux when there is one, which leaves VGA untouched) */
  vmlinuz: string;
}
type BuildGuest = (opts: { cacheDir?: string }) => Promise<GuestImage>;

const builder = pathToFileURL(join(projectRoot, 'test', 'fixtures', 'guest', 'build-guest.mjs')).href;

export async function guestImage(): Promise<GuestImage> {
  const { buildGuest } = (await import(builder)) as { buildGuest: BuildGuest };
  return buildGuest({ cacheDir: join(projectRoot, '.cache', 'guest') });
}

/**
 * The domain of a guest test: the test guest on q35 with ACPI, its disk on an lsilogic controller
 * in remote process `scsi0` (alias `ua-scsi0`), its serial console into `serial`. `params` are the
 * guest's e2e.* parameters (test/fixtures/guest/init.sh).
 */
export function remoteGuestXml(guest: GuestImage, o: { name: string; params: string; disk: string; serial: string; onCrash?: string }): string {
  const mpq = 'http://mpvirt.org/schemas/domain/mpqemu/1.0';
  return `<domain type='qemu'>
  <name>${o.name}</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} ${o.params}</cmdline></os>
  <features><acpi/></features>
  <metadata><mpq:remote xmlns:mpq='${mpq}'><mpq:process rid='scsi0'><mpq:device alias='ua-scsi0'/>${o.onCrash ? `<mpq:on-crash action='${o.onCrash}'/>` : ''}</mpq:process></mpq:remote></metadata>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'><alias name='ua-scsi0'/></controller>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${o.disk}'/><target dev='sda' bus='scsi'/></disk>
    <serial type='file'><source path='${o.serial}'/><target port='0'/></serial>
  </devices>
</domain>`;
}
