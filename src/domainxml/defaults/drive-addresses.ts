/**
 * Addresses that are not PCI: drive addresses of disks on SCSI/IDE/SATA/floppy controllers
 * (virDomainDiskDefAssignAddress, with QEMU's wide SCSI bus) and virtio-serial ports of
 * channels (qemuDomainAssignVirtioSerialAddresses: ports from 1, port 0 being the console's),
 * USB ports of USB inputs (qemuDomainAssignUSBAddresses, for a new domain).
 */
import type { AddressDef, DeviceDef } from '../model.js';
import { attr } from '../xmltree.js';
import { addressField, addressOf, isVirtioChannel, withAddress } from './devices.js';

const NO_EXTRA = { attrs: [], children: [] };

/** virDiskNameToIndex: `sda` → 0, `vdb` → 1, `hdaa` → 26; undefined for a name it cannot read. */
export function diskNameToIndex(dev: string): number | undefined {
  const m = /^(?:fd|hd|vd|sd|xvd|ubd)([a-z]+)$/.exec(dev);
  if (!m) return undefined;
  // base-26 where each place starts at 'a': a=0, z=25, aa=26
  let n = -1;
  for (const ch of m[1]!) n = (n + 1) * 26 + (ch.charCodeAt(0) - 97);
  return n;
}

const drive = (controller: number, bus: number, target: number, unit: number): AddressDef => ({
  type: 'drive',
  fields: [['controller', String(controller)], ['bus', String(bus)], ['target', String(target)], ['unit', String(unit)]],
  extra: NO_EXTRA,
});

const SCSI_WIDE_BUS_MAX_CONT_UNIT = 16;

function driveAddressFor(bus: string | undefined, idx: number): AddressDef | undefined {
  switch (bus) {
    case 'scsi': {
      let unit = idx % (SCSI_WIDE_BUS_MAX_CONT_UNIT - 1);
      if (unit >= 7) unit++; // unit 7 is the controller itself
      return drive(Math.floor(idx / (SCSI_WIDE_BUS_MAX_CONT_UNIT - 1)), 0, 0, unit);
    }
    case 'ide': return drive(Math.floor(idx / 4), Math.floor((idx % 4) / 2), 0, idx % 2);
    case 'sata': return drive(Math.floor(idx / 6), 0, 0, idx % 6);
    case 'fdc': return drive(Math.floor(idx / 2), 0, 0, idx % 2);
    default: return undefined;
  }
}

/** Fills in missing fields of a drive address the user gave partly, as libvirt's parser does. */
function completeDrive(a: AddressDef): AddressDef {
  const get = (k: string): string => addressField(a, k) ?? '0';
  return { ...drive(Number(get('controller')), Number(get('bus')), Number(get('target')), Number(get('unit'))), extra: a.extra };
}

export function assignDriveAddresses(devices: readonly DeviceDef[]): DeviceDef[] {
  return devices.map((d) => {
    if (d.kind !== 'disk') return d;
    const a = addressOf(d);
    if (a?.type === 'drive') return withAddress(d, completeDrive(a));
    if (a) return d;
    const idx = diskNameToIndex(d.target.dev);
    const addr = idx === undefined ? undefined : driveAddressFor(d.target.bus, idx);
    return addr ? withAddress(d, addr) : d;
  });
}

export function assignVirtioSerialAddresses(devices: readonly DeviceDef[]): DeviceDef[] {
  const used = new Set<string>();
  for (const d of devices) {
    const a = addressOf(d);
    if (a?.type === 'virtio-serial') used.add(`${addressField(a, 'controller') ?? 0}:${addressField(a, 'bus') ?? 0}:${addressField(a, 'port')}`);
  }
  return devices.map((d) => {
    if (!isVirtioChannel(d) || addressOf(d)) return d;
    let port = 1;
    while (used.has(`0:0:${port}`)) port++;
    used.add(`0:0:${port}`);
    return withAddress(d, { type: 'virtio-serial', fields: [['controller', '0'], ['bus', '0'], ['port', String(port)]], extra: NO_EXTRA });
  });
}

/** Ports of a USB controller's root hub (virDomainUSBAddressControllerModelToPorts). */
function usbPorts(d: DeviceDef): number {
  if (d.kind !== 'controller' || d.type !== 'usb') return 0;
  const ports = d.extra.attrs.find((a) => a.name === 'ports')?.value;
  switch (d.model) {
    case 'qemu-xhci': case 'nec-xhci': return ports !== undefined ? Number(ports) : 4;
    case 'ich9-ehci1': return 6;
    case 'none': case 'ich9-uhci1': case 'ich9-uhci2': case 'ich9-uhci3': return 0;
    default: return 2;
  }
}

/** A device that takes a USB port: a USB input (rank 0) or a redirected USB device (rank 1). */
function usbRank(d: DeviceDef): number | undefined {
  if (d.kind === 'input' && d.bus === 'usb') return 0;
  if (d.kind === 'raw' && d.element.name === 'redirdev' && attr(d.element, 'bus') === 'usb') return 1;
  return undefined;
}

/**
 * USB devices get the first free port of the first USB controller with one (no hubs added),
 * in virDomainUSBDeviceDefForeach's order: inputs, then redirected devices.
 */
export function assignUsbAddresses(devices: readonly DeviceDef[]): DeviceDef[] {
  const buses = devices.filter((d) => usbPorts(d) > 0).map((d) => ({ bus: d.kind === 'controller' ? d.index ?? 0 : 0, ports: usbPorts(d) }));
  const used = new Set<string>();
  for (const d of devices) {
    const a = addressOf(d);
    if (a?.type === 'usb') used.add(`${addressField(a, 'bus') ?? 0}:${addressField(a, 'port')}`);
  }
  const out = [...devices];
  const order = devices.map((d, i) => ({ i, r: usbRank(d) })).filter((x) => x.r !== undefined && !addressOf(devices[x.i]!));
  order.sort((a, b) => a.r! - b.r! || a.i - b.i);
  for (const { i } of order) {
    next: for (const { bus, ports } of buses) {
      for (let port = 1; port <= ports; port++) {
        if (used.has(`${bus}:${port}`)) continue;
        used.add(`${bus}:${port}`);
        out[i] = withAddress(out[i]!, { type: 'usb', fields: [['bus', String(bus)], ['port', String(port)]], extra: NO_EXTRA });
        break next;
      }
    }
  }
  return out;
}
