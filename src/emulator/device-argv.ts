/**
 * argv fragments for devices, shared by the main and the remote QEMU: disks
 * (-blockdev + a frontend), controllers, NICs, serial ports, display devices.
 * Pure functions of the definition; every user string goes through JSON or
 * escapeOptValue.
 */
import { MpvirtError, unsupportedConfig } from '../errors.js';
import type { ControllerDef, DiskDef, DomainDef } from '../domainxml/model.js';
import { controllerAlias, diskAlias } from '../domainxml/aliases.js';
import { diskNameToIndex } from '../domainxml/defaults/drive-addresses.js';
import { diskSourceIndex } from '../domainxml/live.js';
import type { ChildFds } from './child-fds.js';
import { jsonArg, optList, type JsonValue } from './qemu-args.js';

type Json = { [key: string]: JsonValue | undefined };

/** Numeric field of an address (`unit='1'`, `slot='0x02'`). */
function addressField(a: { fields: Array<readonly [string, string]> } | undefined, name: string): number | undefined {
  const v = a?.fields.find(([k]) => k === name)?.[1];
  return v === undefined ? undefined : Number(v);
}

/** `sdc` → 2, `vdaa` → 26: libvirt's disk-name index (0 for a name it cannot read). */
export function diskNameIndex(dev: string): number {
  return diskNameToIndex(dev) ?? 0;
}
/** The QEMU id of a controller: its alias, or libvirt's generated name. */
export function controllerId(c: ControllerDef, machineIsQ35: boolean): string {
  return c.alias ?? controllerAlias(c, machineIsQ35);
}

export function findController(def: DomainDef, type: string, index: number): ControllerDef | undefined {
  return def.devices.find((d): d is ControllerDef => d.kind === 'controller' && d.type === type && (d.index ?? 0) === index);
}

/** Where a disk sits on its controller: explicit drive address, or derived from its name as libvirt does. */
export function driveAddress(disk: DiskDef): { controller: number; bus: number; target: number; unit: number } {
  const a = disk.address?.type === 'drive' ? disk.address : undefined;
  return {
    controller: addressField(a, 'controller') ?? 0,
    bus: addressField(a, 'bus') ?? 0,
    target: addressField(a, 'target') ?? 0,
    unit: addressField(a, 'unit') ?? diskNameIndex(disk.target.dev),
  };
}

export interface DiskArgs {
  argv: string[];
  /** node name of the format layer, absent for an empty cdrom */
  nodeName?: string;
  deviceId: string;
}

const bus0 = (disk: DiskDef): string => disk.target.bus ?? 'virtio';

/**
 * libvirt numbers disk sources backwards (qemuProcessPrepareDomainStorage walks the disks from
 * the last): with three disks the first is libvirt-3. The live XML shows it as `index`.
 */
export function diskNodeNumbers(def: DomainDef): Map<DiskDef, number> {
  const disks = def.devices.filter((d): d is DiskDef => d.kind === 'disk');
  // a running domain's disks keep the numbers they have (hot-plugged ones count on): a process
  // started again for it (on-crash restart) names every node as before
  return new Map(disks.map((d, i) => [d, diskSourceIndex(d) ?? disks.length - i]));
}

/** The floppy controller of a q35 machine is a device; on pc it is built in (isa-fdc). */
export function floppyControllerArgs(def: DomainDef, q35: boolean): string[] {
  const floppies = def.devices.filter((d): d is DiskDef => d.kind === 'disk' && d.target.bus === 'fdc');
  if (floppies.length === 0) return [];
  const boot: Json = {};
  for (const f of floppies) if (f.bootOrder !== undefined) boot[driveAddress(f).unit === 0 ? 'bootindexA' : 'bootindexB'] = f.bootOrder;
  if (q35) return ['-device', jsonArg({ driver: 'isa-fdc', ...boot })];
  return Object.entries(boot).flatMap(([k, v]) => ['-global', `isa-fdc.${k}=${v}`]);
}

/**
 * -blockdev for storage and format, then the frontend device. `n` numbers the
 * disk's nodes (libvirt-N-storage / libvirt-N-format).
 */
export interface DiskArgsOptions {
  /**
   * the frontend reports no volatile write cache (`write-cache=off`): the guest sends no cache
   * flush, so unplugging the disk's controller never waits on one (on-crash restart, replug.md §6)
   */
  writeCacheOff?: boolean;
}

export function diskArgs(def: DomainDef, disk: DiskDef, n: number, machineIsQ35: boolean, fds: ChildFds, opts: DiskArgsOptions = {}): DiskArgs {
  const argv: string[] = [];
  let nodeName: string | undefined;
  if (disk.source) {
    const storage = `libvirt-${n}-storage`;
    nodeName = `libvirt-${n}-format`;
    // the daemon opens the image (read-only when the disk is) and QEMU gets the fd: its
    // access is fixed, so the storage node says it instead of auto-read-only's reopen
    const readOnly = disk.readonly || disk.device === 'cdrom';
    argv.push('-blockdev', jsonArg({
      driver: disk.type === 'block' ? 'host_device' : 'file',
      filename: fds.file(disk.source.path, readOnly ? 'read' : 'readwrite', storage),
      'node-name': storage,
      'read-only': readOnly,
      discard: 'unmap',
    }));
    const format = disk.driver?.format ?? 'raw';
    const noBacking = disk.extra.children.some((c) => c.ns === null && c.local === 'backingStore');
    argv.push('-blockdev', jsonArg({
      'node-name': nodeName,
      'read-only': disk.readonly || disk.device === 'cdrom',
      driver: format,
      file: storage,
      // `<backingStore/>`: the image is used alone, whatever backing file it names
      ...(noBacking && format === 'qcow2' ? { backing: null } : {}),
    }));
  }
  if (disk.device === 'floppy' && bus0(disk) !== 'fdc') throw unsupportedConfig(`disk '${disk.target.dev}': a floppy must be on the fdc bus`);
  const cdrom = disk.device === 'cdrom';
  const common: Json = {
    drive: nodeName,
    bootindex: disk.bootOrder,
    serial: disk.serial,
    'share-rw': disk.shareable ? true : undefined,
  };
  const bus = disk.target.bus ?? 'virtio';
  let dev: Json;
  let deviceId: string;
  if (bus === 'scsi') {
    const at = driveAddress(disk);
    const ctrl = findController(def, 'scsi', at.controller);
    const ctrlId = ctrl ? controllerId(ctrl, machineIsQ35) : `scsi${at.controller}`;
    const lsi = !ctrl || ctrl.model === undefined || ctrl.model === 'lsilogic';
    deviceId = disk.alias ?? diskAlias(disk, def)!;
    // libvirt addresses lsi53c895a disks by unit alone; other HBAs by channel/target/lun
    dev = lsi
      ? { driver: cdrom ? 'scsi-cd' : 'scsi-hd', bus: `${ctrlId}.0`, 'scsi-id': at.unit, ...common, id: deviceId }
      : { driver: cdrom ? 'scsi-cd' : 'scsi-hd', bus: `${ctrlId}.0`, channel: at.bus, 'scsi-id': at.target, lun: at.unit, ...common, id: deviceId };
  } else if (bus === 'sata') {
    const at = driveAddress(disk);
    const ctrl = findController(def, 'sata', at.controller);
    const ctrlId = ctrl ? controllerId(ctrl, machineIsQ35) : machineIsQ35 && at.controller === 0 ? 'ide' : `sata${at.controller}`;
    deviceId = disk.alias ?? diskAlias(disk, def)!;
    dev = { driver: cdrom ? 'ide-cd' : 'ide-hd', bus: `${ctrlId}.${at.unit}`, ...common, id: deviceId };
  } else if (bus === 'ide') {
    const at = driveAddress(disk);
    deviceId = disk.alias ?? diskAlias(disk, def)!;
    dev = { driver: cdrom ? 'ide-cd' : 'ide-hd', bus: `ide.${at.bus}`, unit: at.unit, ...common, id: deviceId };
  } else if (bus === 'fdc') {
    if (disk.device !== 'floppy') throw unsupportedConfig(`disk '${disk.target.dev}': only a floppy can be on the fdc bus`);
    const at = driveAddress(disk);
    deviceId = disk.alias ?? diskAlias(disk, def)!;
    // a floppy's boot index is the controller's (isa-fdc bootindexA/B), not the drive's
    dev = { driver: 'floppy', unit: at.unit, drive: nodeName, id: deviceId };
  } else if (bus === 'virtio') {
    if (cdrom) throw unsupportedConfig(`disk '${disk.target.dev}': a cdrom cannot be on the virtio bus`);
    deviceId = disk.alias ?? diskAlias(disk, def)!;
    dev = { driver: 'virtio-blk-pci', ...pciPlacement(disk.address, machineIsQ35, `disk '${disk.target.dev}'`), ...common, id: deviceId };
  } else {
    throw unsupportedConfig(`disk bus '${bus}' is not supported`);
  }
  if (opts.writeCacheOff && nodeName && !cdrom) dev['write-cache'] = 'off';
  argv.push('-device', jsonArg(dev));
  return { argv, ...(nodeName ? { nodeName } : {}), deviceId };
}

/**
 * bus/addr of a PCI device from its `<address type='pci'>`. Every PCI device has one: define,
 * create and loading a stored definition fill them in (libvirt's rules), and the argv only
 * reads them — a device without one is refused rather than left to QEMU to place.
 */
export function pciPlacement(address: DiskDef['address'], machineIsQ35: boolean, what: string): Json {
  if (!address || address.type !== 'pci') {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `${what} has no PCI address; its definition must be defined again to get one`);
  }
  const bus = addressField(address, 'bus') ?? 0;
  const slot = addressField(address, 'slot') ?? 0;
  const fn = addressField(address, 'function') ?? 0;
  const multifunction = address.fields.find(([k]) => k === 'multifunction')?.[1];
  return {
    bus: bus === 0 ? (machineIsQ35 ? 'pcie.0' : 'pci.0') : `pci.${bus}`,
    // libvirt writes an explicit 'off' too (qemuBuildDeviceAddressProps)
    ...(multifunction === 'on' || multifunction === 'off' ? { multifunction: multifunction === 'on' } : {}),
    addr: fn === 0 ? `0x${slot.toString(16)}` : `0x${slot.toString(16)}.0x${fn.toString(16)}`,
  };
}

const USB_MODELS: Readonly<Record<string, string>> = {
  'qemu-xhci': 'qemu-xhci',
  'nec-xhci': 'nec-usb-xhci',
  'piix3-uhci': 'piix3-usb-uhci',
};

/** -device for a controller that QEMU does not provide by itself; [] for implicit ones. */
export function controllerArgs(c: ControllerDef, machineIsQ35: boolean): string[] {
  const id = controllerId(c, machineIsQ35);
  // the machine's own controllers (PCI roots, q35's SATA, pc's IDE/floppy) have no PCI address
  const at = (): Json => pciPlacement(c.address, machineIsQ35, `controller ${c.type} ${i}`);
  const i = c.index ?? 0;
  const targetAttr = (name: string): number | undefined => {
    const t = c.extra.children.find((x) => x.local === 'target');
    const v = t?.attrs.find((a) => a.name === name)?.value;
    return v === undefined ? undefined : Number(v);
  };
  switch (c.type) {
    case 'scsi': {
      const driver = c.model === 'virtio-scsi' ? 'virtio-scsi-pci' : 'lsi';
      return ['-device', jsonArg({ driver, id, ...at() })];
    }
    case 'usb': {
      if (c.model === 'none') return [];
      const driver = USB_MODELS[c.model ?? (machineIsQ35 ? 'qemu-xhci' : 'piix3-uhci')];
      if (!driver) throw unsupportedConfig(`USB controller model '${c.model}' is not supported`);
      return ['-device', jsonArg({ driver, id, ...at() })];
    }
    case 'pci':
      switch (c.model) {
        case undefined:
        case 'pci-root':
        case 'pcie-root':
          return [];
        case 'pcie-root-port':
          return ['-device', jsonArg({ driver: 'pcie-root-port', port: targetAttr('port') ?? 0x10 + i, chassis: targetAttr('chassis') ?? i, id, bus: 'pcie.0', ...at() })];
        case 'pcie-to-pci-bridge':
          return ['-device', jsonArg({ driver: 'pcie-pci-bridge', id, bus: 'pcie.0', ...at() })];
        case 'pci-bridge':
          return ['-device', jsonArg({ driver: 'pci-bridge', chassis_nr: targetAttr('chassisNr') ?? i, id, bus: 'pci.0', ...at() })];
        default:
          throw unsupportedConfig(`PCI controller model '${c.model}' is not supported`);
      }
    case 'sata':
      return i === 0 && machineIsQ35 ? [] : ['-device', jsonArg({ driver: 'ich9-ahci', id, ...at() })];
    case 'ide':
      // the pc machine's PIIX3 IDE is built in; q35 has none (libvirt refuses it too)
      if (i === 0 && !machineIsQ35) return [];
      throw unsupportedConfig('IDE controllers are unsupported for this QEMU binary or machine type');
    case 'fdc':
      // built into pc, a device on q35 (floppyControllerArgs, with the drives' boot order)
      if (i === 0) return [];
      throw unsupportedConfig('only one floppy controller is supported');
    default:
      throw unsupportedConfig(`controller type '${c.type}' is not supported`);
  }
}

/** -chardev options for a character device's backend; files and listening sockets come as fds. */
export function chardevArg(type: string, id: string, source: Array<readonly [string, string]> | undefined, fds: ChildFds): string {
  const src = (k: string): string | undefined => source?.find(([n]) => n === k)?.[1];
  switch (type) {
    case 'pty':
      return optList([['', 'pty'], ['id', id]]);
    case 'null':
      return optList([['', 'null'], ['id', id]]);
    case 'file': {
      const path = src('path');
      if (path === undefined) throw unsupportedConfig(`character device '${id}' of type 'file' has no source path`);
      const append = src('append') === 'on';
      return optList([['', 'file'], ['id', id], ['path', fds.file(path, append ? 'append' : 'truncate')], ['append', append ? true : undefined]]);
    }
    case 'unix': {
      const path = src('path');
      if (path === undefined) throw unsupportedConfig(`character device '${id}' of type 'unix' has no source path`);
      if (src('mode') === 'connect') return optList([['', 'socket'], ['id', id], ['path', path], ['server', false]]);
      return optList([['', 'socket'], ['id', id], ['fd', fds.listen(path)], ['server', true], ['wait', false]]);
    }
    default:
      throw unsupportedConfig(`character device type '${type}' is not supported`);
  }
}
