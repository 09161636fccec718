/**
 * domxml-from-native for libvirt-style disks: a `-blockdev` chain (file or host_device under a
 * format node) and its frontend (`scsi-hd`, `ide-cd`, `virtio-blk-pci`, `floppy`, …), in the
 * main QEMU or in a remote process, back into `<disk>` elements in their original order.
 */
import { bool, busController, num, onlyProps, pciAddress, str, type ImportContext } from './native-devices-import.js';
import type { NativeProps } from './native-words.js';
import { cannotConvert, el, type XmlText } from './native-xml.js';

export interface NativeDisk {
  frontend: NativeProps;
  /** the -blockdev nodes of the process the disk is in, by node-name */
  blockdevs: ReadonlyMap<string, NativeProps>;
  /** the remote process it is in (a restarted one's disks have no write cache) */
  rid?: string;
}

export const DISK_DRIVERS = new Set(['scsi-hd', 'scsi-cd', 'ide-hd', 'ide-cd', 'virtio-blk-pci', 'floppy']);

const DEV_PREFIX: Readonly<Record<string, string>> = { scsi: 'sd', sata: 'sd', ide: 'hd', fdc: 'fd', virtio: 'vd' };

/** `a`…`z`, `aa`…: the letters of a disk name for index n (libvirt's virDiskNameParse inverse). */
export function diskLetters(n: number): string {
  let s = '';
  for (let i = n + 1; i > 0; i = Math.floor((i - 1) / 26)) s = String.fromCharCode(97 + ((i - 1) % 26)) + s;
  return s;
}

/** The -blockdev chain under a frontend's `drive`: the image, its format, its read-only flag. */
function sourceOf(d: NativeDisk, what: string): { source: XmlText; type: 'file' | 'block'; format: string; readonly: boolean; noBacking: boolean; node: number } | undefined {
  const nodeName = str(d.frontend, 'drive');
  if (nodeName === undefined) return undefined;
  const fmt = d.blockdevs.get(nodeName) ?? cannotConvert(`${what} on drive '${nodeName}', which no -blockdev defines`);
  onlyProps(`-blockdev ${str(fmt, 'driver')}`, fmt, ['node-name', 'read-only', 'driver', 'file', 'backing']);
  if (fmt['backing'] !== undefined && fmt['backing'] !== null) cannotConvert(`the -blockdev backing '${JSON.stringify(fmt['backing'])}'`);
  const fileNode = str(fmt, 'file') ?? cannotConvert(`-blockdev '${nodeName}' without a file node`);
  const storage = d.blockdevs.get(fileNode) ?? cannotConvert(`-blockdev '${nodeName}' on '${fileNode}', which no -blockdev defines`);
  const driver = str(storage, 'driver');
  if (driver !== 'file' && driver !== 'host_device') cannotConvert(`-blockdev ${driver} as a disk's storage`);
  onlyProps(`-blockdev ${driver}`, storage, ['driver', 'filename', 'node-name', 'read-only', 'discard']);
  const filename = str(storage, 'filename') ?? cannotConvert(`-blockdev '${fileNode}' without a filename`);
  if (filename.startsWith('/dev/fdset/')) cannotConvert(`the image '${filename}' (an fd set the daemon passes; convert domxml-to-native's output, which names the file)`);
  const m = /^libvirt-(\d+)-format$/.exec(nodeName);
  return {
    source: el('source', driver === 'file' ? { file: filename } : { dev: filename }),
    type: driver === 'file' ? 'file' : 'block',
    format: str(fmt, 'driver') ?? 'raw',
    readonly: bool(fmt, 'read-only') ?? false,
    noBacking: fmt['backing'] === null,
    node: m ? Number(m[1]) : 0,
  };
}

interface Placed { bus: string; address: XmlText }

/** Where the frontend sits: its bus in the XML and its address there. */
function placement(ctx: ImportContext, p: NativeProps, what: string): Placed {
  const driver = str(p, 'driver')!;
  const drive = (controller: number, bus: number, target: number, unit: number): XmlText => el('address', { type: 'drive', controller, bus, target, unit });
  if (driver.startsWith('scsi-')) {
    const { ref } = busController(ctx, str(p, 'bus') ?? cannotConvert(`${what} without a bus`), what);
    // lsi53c895a disks are addressed by unit alone (device-argv.ts); other HBAs by channel/target/lun
    return p['channel'] === undefined
      ? { bus: 'scsi', address: drive(ref.index, 0, 0, num(p, 'scsi-id') ?? 0) }
      : { bus: 'scsi', address: drive(ref.index, num(p, 'channel') ?? 0, num(p, 'scsi-id') ?? 0, num(p, 'lun') ?? 0) };
  }
  if (driver.startsWith('ide-')) {
    const { ref, sub } = busController(ctx, str(p, 'bus') ?? cannotConvert(`${what} without a bus`), what);
    // pc's IDE names the bus and the unit; an AHCI port is the unit of a SATA disk
    return ref.type === 'ide' ? { bus: 'ide', address: drive(0, sub, 0, num(p, 'unit') ?? 0) } : { bus: 'sata', address: drive(ref.index, 0, 0, sub) };
  }
  if (driver === 'floppy') return { bus: 'fdc', address: drive(0, 0, 0, num(p, 'unit') ?? 0) };
  return { bus: 'virtio', address: pciAddress(ctx, p, what) };
}

const FRONTEND_PROPS = ['driver', 'id', 'drive', 'bootindex', 'serial', 'share-rw', 'write-cache', 'bus', 'scsi-id', 'channel', 'lun', 'unit', 'addr', 'multifunction'];

/**
 * Every disk, in the domain's order: libvirt numbers disk nodes backwards from the last disk
 * (`libvirt-1-format` is the last), in whichever process it is, so the numbers put the remote
 * processes' disks back among the main QEMU's.
 */
export function disksXml(ctx: ImportContext, disks: readonly NativeDisk[], floppyBoot: ReadonlyMap<number, number>): XmlText[] {
  const names = new Map<string, number>();
  const built = disks.map((d) => {
    const p = d.frontend;
    const driver = str(p, 'driver')!;
    const id = str(p, 'id');
    const what = `disk '${id}'`;
    onlyProps(`-device ${driver}`, p, FRONTEND_PROPS);
    if (str(p, 'write-cache') !== undefined && (d.rid === undefined || str(p, 'write-cache') !== 'off')) cannotConvert(`the -device ${driver} property write-cache=${str(p, 'write-cache')}`);
    const src = sourceOf(d, what);
    const at = placement(ctx, p, what);
    const device = driver.endsWith('-cd') ? 'cdrom' : driver === 'floppy' ? 'floppy' : 'disk';
    const unit = driver === 'floppy' ? (num(p, 'unit') ?? 0) : undefined;
    const boot = unit !== undefined ? floppyBoot.get(unit) : num(p, 'bootindex');
    return { d, id, src, at, device, boot };
  });
  // virtio disks are named by their index (the alias virtio-diskN says it); the rest in order
  for (const b of built) {
    const m = /^virtio-disk(\d+)$/.exec(b.id ?? '');
    if (b.at.bus === 'virtio' && m) names.set(`vd${diskLetters(Number(m[1]))}`, 1);
  }
  const counters = new Map<string, number>();
  const nameFor = (bus: string): string => {
    const prefix = DEV_PREFIX[bus]!;
    for (let i = counters.get(prefix) ?? 0; ; i++) {
      const name = `${prefix}${diskLetters(i)}`;
      if (names.has(name)) continue;
      counters.set(prefix, i + 1);
      names.set(name, 1);
      return name;
    }
  };
  const xmls = built.map((b) => (dev: string) =>
    el('disk', { type: b.src?.type ?? 'file', device: b.device },
      el('driver', { name: 'qemu', type: b.src?.format ?? 'raw' }), b.src?.source, b.src?.noBacking && el('backingStore'),
      el('target', { dev, bus: b.at.bus }), b.boot !== undefined && el('boot', { order: b.boot }),
      b.src?.readonly && b.device !== 'cdrom' && el('readonly'), bool(b.d.frontend, 'share-rw') && el('shareable'),
      str(b.d.frontend, 'serial') !== undefined && el('serial', {}, str(b.d.frontend, 'serial')!),
      b.id?.startsWith('ua-') && el('alias', { name: b.id }), b.at.address));
  const order: Array<number | undefined> = new Array<number | undefined>(disks.length).fill(undefined);
  const rest: number[] = [];
  built.forEach((b, i) => {
    const pos = b.src && b.src.node > 0 ? disks.length - b.src.node : -1;
    if (pos >= 0 && pos < disks.length && order[pos] === undefined) order[pos] = i;
    else rest.push(i);
  });
  for (let pos = 0; pos < disks.length; pos++) order[pos] ??= rest.shift()!;
  return order.map((i) => {
    const b = built[i!]!;
    const virtio = /^virtio-disk(\d+)$/.exec(b.id ?? '');
    return xmls[i!]!(b.at.bus === 'virtio' && virtio ? `vd${diskLetters(Number(virtio[1]))}` : nameFor(b.at.bus));
  });
}
