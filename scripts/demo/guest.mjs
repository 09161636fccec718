// The demo's guest: the test guest's kernel and initramfs (test/fixtures/guest, built once and
// cached in .cache/guest) plus a small second initramfs archive holding the demo's own init
// (guest-init.sh, run with rdinit=/demo-init); the two disk images with the host's markers; the
// domain XML; and the host-side reading of what the guest wrote.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
export const SECTOR = 512;
/** where the host writes its marker, and where the guest writes its answer (guest-init.sh) */
export const MARKER_SECTOR = 2048;
export const ANSWER_SECTOR = 4096;
const MPQ = 'http://mpvirt.org/schemas/domain/mpqemu/1.0';

/**
 * One file in the cpio "newc" format the kernel unpacks (Documentation/driver-api/early-userspace):
 * a 110-byte ASCII header, the NUL-terminated name and the data, each padded to 4 bytes.
 */
function newcEntry(name, data, mode) {
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [1, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
  const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`);
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  return Buffer.concat([header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length)]);
}

/**
 * The kernel unpacks concatenated (compressed) cpio archives one after the other into the same
 * root, so appending an archive with /demo-init to the cached test initramfs gives the demo its own
 * init without rebuilding, or changing, the tests' image.
 */
function demoInitrd(baseInitrd, out) {
  const init = readFileSync(join(here, 'guest-init.sh'));
  const archive = Buffer.concat([newcEntry('demo-init', init, 0o100755), newcEntry('TRAILER!!!', Buffer.alloc(0), 0)]);
  writeFileSync(out, Buffer.concat([readFileSync(baseInitrd), gzipSync(archive)]));
}

/** A 16 MiB sparse raw image with `text` as the first line of the marker sector. */
function markedImage(path, text) {
  writeFileSync(path, '');
  truncateSync(path, 16 << 20);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, `${text}\n`, MARKER_SECTOR * SECTOR);
  } finally {
    closeSync(fd);
  }
}

/** The first line of a sector of an image, NULs stripped (what the guest's read_marker does). */
export function sectorLine(path, sector) {
  const buf = Buffer.alloc(SECTOR);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, SECTOR, sector * SECTOR);
  } finally {
    closeSync(fd);
  }
  return buf.toString('latin1').replace(/\0/g, '').split('\n')[0];
}

/**
 * Builds (or takes from the cache) the guest and writes into `dir`: the demo initrd, data.img (the
 * boot disk) and extra.img (the disk hot-plugged later), each with a fresh random marker, and the
 * XML of domain `demo` and of the extra disk.
 */
export async function prepareGuest(root, dir, log) {
  const builder = pathToFileURL(join(root, 'test', 'fixtures', 'guest', 'build-guest.mjs')).href;
  const { buildGuest } = await import(builder);
  const guest = await buildGuest({ cacheDir: join(root, '.cache', 'guest'), log });
  const initrd = join(dir, 'demo-initrd.gz');
  demoInitrd(guest.initrd, initrd);

  const dataImg = join(dir, 'data.img');
  const extraImg = join(dir, 'extra.img');
  const dataMarker = `E2E-HOST-MARKER-${randomBytes(8).toString('hex')}`;
  const extraMarker = `E2E-HOTPLUG-MARKER-${randomBytes(8).toString('hex')}`;
  markedImage(dataImg, dataMarker);
  markedImage(extraImg, extraMarker);

  // plain libvirt XML plus one element in <metadata>: the lsilogic controller (alias ua-scsi0)
  // and every disk on it run in remote process "scsi0", which the daemon restarts if it dies
  const domainXml = `<domain type='qemu'>
  <name>demo</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.kernel}</kernel>
    <initrd>${initrd}</initrd>
    <cmdline>${guest.cmdlineBase} rdinit=/demo-init e2e.timeout=90</cmdline>
  </os>
  <features><acpi/></features>
  <metadata>
    <mpq:remote xmlns:mpq='${MPQ}'>
      <mpq:process rid='scsi0'>
        <mpq:device alias='ua-scsi0'/>
        <mpq:on-crash action='restart'/>
      </mpq:process>
    </mpq:remote>
  </metadata>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'><alias name='ua-scsi0'/></controller>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/><source file='${dataImg}'/><target dev='sda' bus='scsi'/>
    </disk>
    <serial type='pty'><target port='0'/></serial>
  </devices>
</domain>
`;
  const extraDiskXml = `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/><source file='${extraImg}'/><target dev='sdb' bus='scsi'/>
</disk>
`;
  writeFileSync(join(dir, 'demo.xml'), domainXml);
  writeFileSync(join(dir, 'extra-disk.xml'), extraDiskXml);
  return { guest, dataImg, extraImg, dataMarker, extraMarker, domainXml, extraDiskXml };
}
