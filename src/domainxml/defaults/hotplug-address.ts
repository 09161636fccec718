/**
 * The PCI address of a device hot-plugged into a running guest (libvirt's
 * qemuDomainEnsurePCIAddress): unlike define, a running guest gets no new buses, so the device
 * takes a free hot-pluggable slot of the buses it already has. q35's pcie.0 has none: a
 * conventional PCI device (lsilogic) takes a slot of a pcie-to-pci-bridge or pci-bridge (ACPI
 * hot-plug, as at define), else a free pcie-root-port; a PCIe device (virtio-scsi) a free
 * root port first. On pc, a free slot of bus 0 or of a pci-bridge.
 */
import { MpvirtError } from '../../errors.js';
import type { AddressDef, ControllerDef, DeviceDef, DomainDef } from '../model.js';
import { isQ35 } from './caps.js';
import { addressOf, pciAddress, pciOf } from './devices.js';
import { connectOf } from './pci-addresses.js';

type Bus = { index: number; kind: 'root' | 'port' | 'bridge' };

function busesOf(def: DomainDef, q35: boolean): Bus[] {
  const buses: Bus[] = [{ index: 0, kind: 'root' }];
  for (const d of def.devices) {
    if (d.kind !== 'controller' || d.type !== 'pci' || d.index === undefined || d.index === 0) continue;
    if (d.model === 'pcie-root-port' || d.model === 'pcie-switch-downstream-port') buses.push({ index: d.index, kind: 'port' });
    else if (d.model === 'pcie-to-pci-bridge' || d.model === 'pci-bridge') buses.push({ index: d.index, kind: 'bridge' });
  }
  return q35 ? buses : buses.filter((b) => b.kind !== 'port');
}

function usedSlots(def: DomainDef, q35: boolean): Set<string> {
  const used = new Set<string>();
  const take = (bus: number, slot: number): void => void used.add(`${bus}:${slot}`);
  take(0, 0); // the host bridge
  if (q35) take(0, 0x1f); // LPC, SATA, SMBus
  else take(0, 1); // PIIX3
  for (const d of def.devices) {
    const p = pciOf(addressOf(d));
    if (p) take(p.bus, p.slot);
  }
  return used;
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
const addressText = (bus: number, slot: number, fn: number): string => `0000:${hex(bus, 2)}:${hex(slot, 2)}.${fn}`;

/** Checks a user's address against the running guest's buses, or picks a free slot. */
export function hotplugPciAddress(def: DomainDef, dev: DeviceDef): AddressDef {
  const q35 = isQ35(def.os.machine);
  const buses = busesOf(def, q35);
  const used = usedSlots(def, q35);
  const given = addressOf(dev);
  const p = pciOf(given);
  if (given && p) {
    const bus = buses.find((b) => b.index === p.bus);
    if (!bus) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Invalid PCI address ${addressText(p.bus, p.slot, p.fn)}: no hot-pluggable PCI bus ${p.bus} in the running guest`);
    if (bus.kind === 'root' && q35) {
      throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `PCI address ${addressText(p.bus, p.slot, p.fn)} is on pcie.0, which has no hot-pluggable slots: leave the address out or name a pcie-to-pci-bridge or pcie-root-port`);
    }
    if ((bus.kind === 'port' && p.slot !== 0) || p.slot > 31) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Invalid PCI address ${addressText(p.bus, p.slot, p.fn)}: slot must be ${bus.kind === 'port' ? '0 on a root port' : '<= 31'}`);
    if (used.has(`${p.bus}:${p.slot}`)) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Attempted double use of PCI Address ${addressText(p.bus, p.slot, p.fn)}`);
    return pciAddress(p.bus, p.slot, p.fn);
  }
  const bridgeSlot = (): AddressDef | undefined => {
    for (const b of buses.filter((x) => x.kind === 'bridge' || (!q35 && x.kind === 'root'))) {
      for (let slot = 1; slot < 32; slot++) if (!used.has(`${b.index}:${slot}`)) return pciAddress(b.index, slot, 0);
    }
    return undefined;
  };
  const freePort = (): AddressDef | undefined => {
    const port = buses.find((b) => b.kind === 'port' && !used.has(`${b.index}:0`));
    return port ? pciAddress(port.index, 0, 0) : undefined;
  };
  const order = connectOf(dev) === 'pcie' ? [freePort, bridgeSlot] : [bridgeSlot, freePort];
  for (const pick of order) {
    const a = pick();
    if (a) return a;
  }
  throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'No more available PCI slots');
}

/** The controller's PCI slot is the device's: for messages. */
export function pciAddressText(c: ControllerDef): string {
  const p = pciOf(c.address);
  return p ? addressText(p.bus, p.slot, p.fn) : 'no PCI address';
}
