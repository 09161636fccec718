/**
 * PCI addresses at define time (qemuDomainAssignPCIAddresses), so the guest sees the same slots
 * at every boot. Devices without an address are placed in libvirt's order
 * (qemuDomainAssignDevicePCISlots): PCI controllers, network interfaces, sound, other
 * controllers, virtio disks, memballoon, rng, watchdog, secondary video, virtio input.
 *
 * i440fx (pci-root): bus 0, slot 1 is the PIIX3 (IDE 01.1, UHCI 01.2), slot 2 the primary
 * video; everything else takes the next free slot.
 * q35 (pcie-root): fixed slots for the primary video (01.0), ICH9 HDA (1b.0) and the first
 * SATA controller (1f.2); each PCIe endpoint sits alone on a pcie-root-port. Root ports are
 * added as needed, packed eight functions to a slot of bus 0 from the first free slot, plus one
 * spare so a device can be hot-plugged; conventional PCI devices go behind a
 * pcie-to-pci-bridge.
 */
import type { AddressDef, ControllerDef, DeviceDef, DomainDef } from '../model.js';
import { attr, makeElement } from '../xmltree.js';
import { isQ35 } from './caps.js';
import { addressOf, deviceName, pciAddress, pciOf, rawAttr, withAddress } from './devices.js';

export type Connect = 'pcie' | 'pci' | 'none';

const CONVENTIONAL_NICS = new Set(['e1000', 'rtl8139', 'ne2k_pci', 'pcnet']);

/** How a device plugs in (a reduced qemuDomainDeviceCalculatePCIConnectFlags). */
export function connectOf(d: DeviceDef): Connect {
  switch (d.kind) {
    case 'interface': return d.model !== undefined && CONVENTIONAL_NICS.has(d.model) ? 'pci' : d.type === 'user' || d.model ? 'pcie' : 'none';
    case 'disk': return d.target.bus === 'virtio' ? 'pcie' : 'none';
    case 'controller':
      switch (d.type) {
        case 'usb': return d.model === 'none' ? 'none' : d.model === 'piix3-uhci' || d.model?.startsWith('ich9-') ? 'pci' : 'pcie';
        case 'scsi': return d.model === 'virtio-scsi' ? 'pcie' : 'pci';
        case 'virtio-serial': return 'pcie';
        case 'sata': return 'pcie';
        default: return 'none';
      }
    case 'memballoon': return d.model === 'virtio' ? 'pcie' : 'none';
    case 'video': return d.model === 'none' || d.model === 'ramfb' ? 'none' : d.model === 'virtio' ? 'pcie' : 'pci';
    case 'input': return d.bus === 'virtio' ? 'pcie' : 'none';
    case 'raw':
      switch (d.element.name) {
        case 'disk': return d.element.children.some((c) => c.kind === 'element' && c.name === 'target' && attr(c, 'bus') === 'virtio') ? 'pcie' : 'none';
        case 'rng': return attr(d.element, 'model') === 'virtio' ? 'pcie' : 'none';
        case 'watchdog': return attr(d.element, 'model') === 'i6300esb' ? 'pci' : 'none';
        case 'sound': return attr(d.element, 'model') === 'ich9' ? 'pcie' : ['ich6', 'ac97', 'es1370', 'ich7'].includes(attr(d.element, 'model') ?? '') ? 'pci' : 'none';
        default: return 'none';
      }
    default: return 'none';
  }
}

/** Group of libvirt's assignment order a device belongs to; lower goes first. */
function orderGroup(d: DeviceDef): number {
  const name = deviceName(d);
  if (d.kind === 'controller') return d.type === 'pci' ? 0 : 3;
  const order: Record<string, number> = { filesystem: 1, interface: 2, sound: 2.5, disk: 4, hostdev: 5, memballoon: 6, rng: 7, watchdog: 8, video: 9, input: 10 };
  return order[name] ?? 11;
}

class SlotSet {
  readonly used = new Set<string>();
  key(bus: number, slot: number, fn: number): string {
    return `${bus}:${slot}:${fn}`;
  }
  take(bus: number, slot: number, fn: number): void {
    this.used.add(this.key(bus, slot, fn));
  }
  slotFree(bus: number, slot: number): boolean {
    for (let f = 0; f < 8; f++) if (this.used.has(this.key(bus, slot, f))) return false;
    return true;
  }
  has(bus: number, slot: number, fn: number): boolean {
    return this.used.has(this.key(bus, slot, fn));
  }
}

/** libvirt writes every PCI address in full: domain, bus, slot, function, multifunction. */
function canonicalPci(a: AddressDef): AddressDef {
  const p = pciOf(a)!;
  const mf = a.fields.find(([k]) => k === 'multifunction')?.[1];
  const out = pciAddress(p.bus, p.slot, p.fn);
  if (mf !== undefined) out.fields.push(['multifunction', mf]);
  return { ...out, extra: a.extra };
}

function rootPort(index: number, slot: number, fn: number): ControllerDef {
  return { kind: 'controller', type: 'pci', index, model: 'pcie-root-port', extra: { attrs: [], children: [] }, address: pciAddress(0, slot, fn) };
}

/** QEMU device names libvirt writes as `<model name=…/>` of a PCI controller. */
const PCI_MODEL_NAME: Readonly<Record<string, string>> = {
  'pcie-root-port': 'pcie-root-port', 'pci-bridge': 'pci-bridge', 'pcie-to-pci-bridge': 'pcie-pci-bridge',
  'dmi-to-pci-bridge': 'i82801b11-bridge', 'pcie-switch-upstream-port': 'x3130-upstream', 'pcie-switch-downstream-port': 'xio3130-downstream',
};

/** qemuDomainPCIControllerSetDefaultModelName and the target defaults, once addresses are known. */
function pciControllerDefaults(c: ControllerDef): ControllerDef {
  const modelName = c.model !== undefined ? PCI_MODEL_NAME[c.model] : undefined;
  if (c.type !== 'pci' || modelName === undefined) return c;
  let children = [...c.extra.children];
  if (!children.some((e) => e.name === 'model')) children = [makeElement('model', [['name', modelName]]), ...children];
  const targetAt = children.findIndex((e) => e.name === 'target');
  const target = targetAt >= 0 ? children[targetAt]! : undefined;
  const want: Array<readonly [string, string | number]> = [];
  const p = pciOf(c.address);
  if (c.model === 'pcie-root-port' || c.model === 'pcie-switch-downstream-port') {
    want.push(['chassis', c.index ?? 0]);
    if (p && c.model === 'pcie-root-port') want.push(['port', `0x${((p.slot << 3) | p.fn).toString(16)}`]);
  } else if (c.model === 'pci-bridge') {
    want.push(['chassisNr', c.index ?? 0]);
  }
  if (want.length > 0) {
    // libvirt's attribute order: the defaults (user values win), then anything else the user wrote
    const have = target?.attrs ?? [];
    const value = (k: string, dflt: string | number): string => have.find((a) => a.name === k)?.value ?? String(dflt);
    const merged = makeElement('target', [
      ...want.map(([k, v]) => [k, value(k, v)] as const),
      ...have.filter((a) => !want.some(([k]) => k === a.name)).map((a) => [a.name, a.value] as const),
    ]);
    if (targetAt >= 0) children[targetAt] = { ...merged, children: target!.children };
    else children.splice(1, 0, merged);
  }
  return { ...c, extra: { attrs: c.extra.attrs, children } };
}

export function assignPciAddresses(def: DomainDef): DomainDef {
  const placed = assignSlots(def);
  return { ...placed, devices: setAllMulti(placed.devices).map((d) => (d.kind === 'controller' ? pciControllerDefaults(d) : d)) };
}

/**
 * virDomainPCIAddressSetAllMulti: function 0 of a slot whose other functions are in use gets
 * multifunction='on', unless the user said otherwise.
 */
function setAllMulti(devices: DeviceDef[]): DeviceDef[] {
  const multi = new Set<string>();
  for (const d of devices) {
    const p = pciOf(addressOf(d));
    if (p && p.fn > 0) multi.add(`${p.bus}:${p.slot}`);
  }
  return devices.map((d) => {
    const a = addressOf(d);
    const p = pciOf(a);
    if (!a || !p || p.fn !== 0 || !multi.has(`${p.bus}:${p.slot}`) || a.fields.some(([k]) => k === 'multifunction')) return d;
    return withAddress(d, { ...a, fields: [...a.fields, ['multifunction', 'on']] });
  });
}

function assignSlots(def: DomainDef): DomainDef {
  const q35 = isQ35(def.os.machine);
  let devices = def.devices.map((d) => {
    const a = addressOf(d);
    return a?.type === 'pci' ? withAddress(d, canonicalPci(a)) : d;
  });
  const slots = new SlotSet();
  for (const d of devices) {
    const p = pciOf(addressOf(d));
    if (p) slots.take(p.bus, p.slot, p.fn);
  }
  const set = (i: number, a: AddressDef): void => {
    devices[i] = withAddress(devices[i]!, a);
    const p = pciOf(a)!;
    slots.take(p.bus, p.slot, p.fn);
  };
  const unplaced = (i: number): boolean => addressOf(devices[i]!) === undefined;

  // fixed slots
  slots.take(0, 0, 0); // the host bridge
  const primaryVideo = devices.findIndex((d) => d.kind === 'video' && connectOf(d) !== 'none');
  if (q35) {
    for (const f of [0, 3]) slots.take(0, 0x1f, f); // LPC, SMBus
    const sata = devices.findIndex((d) => d.kind === 'controller' && d.type === 'sata' && d.index === 0);
    if (sata >= 0 && unplaced(sata)) set(sata, pciAddress(0, 0x1f, 2));
    slots.take(0, 0x1f, 2);
    if (primaryVideo >= 0 && unplaced(primaryVideo)) set(primaryVideo, pciAddress(0, 1, 0));
    const hda = devices.findIndex((d) => d.kind === 'raw' && d.element.name === 'sound' && rawAttr(d, 'model') === 'ich9');
    if (hda >= 0 && unplaced(hda)) set(hda, pciAddress(0, 0x1b, 0));
  } else {
    for (let f = 0; f < 4; f++) slots.take(0, 1, f); // PIIX3: ISA, IDE, UHCI, PM
    devices.forEach((d, i) => {
      if (d.kind === 'controller' && d.index === 0 && unplaced(i) && (d.type === 'ide' || (d.type === 'usb' && d.model === 'piix3-uhci'))) {
        set(i, pciAddress(0, 1, d.type === 'ide' ? 1 : 2));
      }
    });
    if (primaryVideo >= 0 && unplaced(primaryVideo)) set(primaryVideo, pciAddress(0, 2, 0));
    else if (primaryVideo < 0 && devices.some((d) => d.kind === 'graphics')) slots.take(0, 2, 0);
  }

  const order = devices
    .map((d, i) => ({ d, i }))
    .filter(({ d }) => !(d.kind === 'controller' && d.type === 'pci'))
    .filter(({ d, i }) => unplaced(i) && connectOf(d) !== 'none')
    .sort((a, b) => orderGroup(a.d) - orderGroup(b.d) || a.i - b.i);

  if (!q35) {
    let slot = 1;
    for (const { i } of order) {
      while (slot < 32 && !slots.slotFree(0, slot)) slot++;
      if (slot >= 32) break; // a pci-bridge would be needed: left unaddressed
      set(i, pciAddress(0, slot, 0));
    }
    return { ...def, devices };
  }

  // q35: each PCIe endpoint on its own root port, ports added as needed
  const pciControllers = devices.filter((d): d is ControllerDef => d.kind === 'controller' && d.type === 'pci');
  let nextIndex = Math.max(0, ...pciControllers.map((c) => c.index ?? 0)) + 1;
  const freePorts = pciControllers
    .filter((c) => c.model === 'pcie-root-port' && c.index !== undefined)
    .map((c) => c.index!)
    .filter((idx) => !slots.has(idx, 0, 0))
    .sort((a, b) => a - b);
  const added: ControllerDef[] = [];
  // root ports share slots of bus 0, eight functions each (VIR_PCI_CONNECT_AGGREGATE_SLOT): the
  // lowest free function of the first slot that holds nothing but root ports
  const isPort = (d: DeviceDef): boolean => d.kind === 'controller' && d.type === 'pci' && d.model === 'pcie-root-port';
  const portKeys = new Set<string>();
  for (const d of devices) {
    const p = pciOf(addressOf(d));
    if (p && isPort(d)) portKeys.add(slots.key(p.bus, p.slot, p.fn));
  }
  // slots of bus 0 that hold something else (a device or a fixed reservation)
  const otherUse = new Set<number>();
  for (const u of slots.used) {
    const [bus, slot] = u.split(':').map(Number) as [number, number];
    if (bus === 0 && !portKeys.has(u)) otherUse.add(slot);
  }
  const nextPortAddress = (): AddressDef => {
    for (let slot = 1; slot < 32; slot++) {
      if (otherUse.has(slot)) continue;
      for (let fn = 0; fn < 8; fn++) {
        if (slots.has(0, slot, fn)) continue;
        slots.take(0, slot, fn);
        return pciAddress(0, slot, fn);
      }
    }
    throw new RangeError('no free slot on bus 0 for a pcie-root-port');
  };
  devices.forEach((d, i) => {
    if (d.kind === 'controller' && d.type === 'pci' && d.model === 'pcie-root-port' && unplaced(i)) set(i, nextPortAddress());
  });
  // dry run (libvirt grows the bus set as devices need it): a PCIe endpoint takes a free root
  // port or a new one; a conventional device takes a bridge slot, or a new pcie-to-pci-bridge,
  // which needs a root port of its own (created first, so it has the lower index)
  const isBridge = (d: DeviceDef): d is ControllerDef => d.kind === 'controller' && d.type === 'pci' && d.model === 'pcie-to-pci-bridge';
  const userBridges = devices.filter(isBridge);
  let freeCount = freePorts.length - devices.filter((d, i) => isBridge(d) && unplaced(i)).length;
  let bridgeSlots = userBridges.reduce((n, b) => n + [...Array(31).keys()].filter((k) => !slots.has(b.index ?? 0, k + 1, 0)).length, 0);
  const plan: Array<'port' | 'bridge'> = [];
  for (const { d } of order) {
    if (connectOf(d) === 'pcie') {
      if (freeCount > 0) freeCount--;
      else plan.push('port');
    }
    else if (bridgeSlots > 0) bridgeSlots--;
    else {
      plan.push('port', 'bridge'); // a new root port reserved for the new bridge
      bridgeSlots = 30;
    }
  }
  // one spare, so that a device can be hot-plugged: only when the user defined no PCI
  // controller beyond the root and something was added
  const userMaxIndex = Math.max(0, ...pciControllers.map((c) => c.index ?? 0));
  if (plan.length > 0 && userMaxIndex <= 0) plan.push('port');
  for (const kind of plan) {
    if (kind === 'port') {
      const p = pciOf(nextPortAddress())!;
      const c = rootPort(nextIndex++, p.slot, p.fn);
      added.push(c);
      freePorts.push(c.index!);
    } else {
      added.push({ kind: 'controller', type: 'pci', index: nextIndex++, model: 'pcie-to-pci-bridge', extra: { attrs: [], children: [] } });
    }
  }
  devices = [...devices, ...added];
  freePorts.sort((x, y) => x - y);
  // the real pass: bridges first (PCI controllers), then the devices in libvirt's order
  devices.forEach((d, i) => {
    if (isBridge(d) && unplaced(i)) set(i, pciAddress(freePorts.shift()!, 0, 0));
  });
  const bridgeBuses = devices.filter(isBridge).map((b) => b.index ?? 0).sort((x, y) => x - y);
  for (const { d, i } of order) {
    if (connectOf(d) === 'pcie') {
      const bus = freePorts.shift();
      if (bus !== undefined) set(i, pciAddress(bus, 0, 0));
      continue;
    }
    const at = bridgeBuses.flatMap((bus) => [...Array(31).keys()].map((k) => ({ bus, slot: k + 1 }))).find((x) => slots.slotFree(x.bus, x.slot));
    if (at) set(i, pciAddress(at.bus, at.slot, 0));
  }
  return { ...def, devices };
}
