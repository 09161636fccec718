/**
 * Device helpers the define-time defaults share: libvirt's device order, the element name of
 * any device (typed or raw), and reading/setting a device's `<address>` whether the model
 * types the device or keeps it verbatim.
 */
import type { AddressDef, DeviceDef, Extra } from '../model.js';
import { attr, elementChildren, makeElement, type XElement } from '../xmltree.js';

/** The order libvirt writes device kinds in (virDomainDefFormatInternalSetRootName). */
export const DEVICE_ORDER = [
  'emulator', 'disk', 'controller', 'lease', 'filesystem', 'interface', 'smartcard', 'serial', 'parallel', 'console',
  'channel', 'input', 'tpm', 'graphics', 'sound', 'audio', 'video', 'hostdev', 'redirdev', 'redirfilter', 'hub',
  'watchdog', 'memballoon', 'rng', 'nvram', 'panic', 'shmem', 'memory', 'iommu', 'vsock', 'crypto',
] as const;
const RANK: ReadonlyMap<string, number> = new Map(DEVICE_ORDER.map((n, i) => [n, i]));

/** `disk`, `controller`, … for typed devices; the element name for raw ones. */
export function deviceName(d: DeviceDef): string {
  return d.kind === 'raw' ? d.element.name : d.kind;
}

/** Stable sort into libvirt's order; unknown (foreign) elements keep their place at the end. */
export function sortDevices(devices: readonly DeviceDef[]): DeviceDef[] {
  return devices
    .map((d, i) => ({ d, i, r: RANK.get(deviceName(d)) ?? DEVICE_ORDER.length }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.d);
}

/** A `<channel>` whose target is virtio (the guest agent's): it needs a virtio-serial port. */
export function isVirtioChannel(d: DeviceDef): boolean {
  const t = rawChild(d, 'target');
  return d.kind === 'raw' && d.element.name === 'channel' && t !== undefined && attr(t, 'type') === 'virtio';
}

/** A raw device's attribute. */
export function rawAttr(d: DeviceDef, name: string): string | undefined {
  return d.kind === 'raw' ? attr(d.element, name) : undefined;
}

export function rawChild(d: DeviceDef, name: string): XElement | undefined {
  return d.kind === 'raw' ? elementChildren(d.element).find((c) => c.name === name) : undefined;
}

/** The device's address, typed or read from a raw element. */
export function addressOf(d: DeviceDef): AddressDef | undefined {
  if (d.kind !== 'raw') return d.address;
  const a = rawChild(d, 'address');
  if (!a) return undefined;
  const type = attr(a, 'type') ?? '';
  return { type, fields: a.attrs.filter((x) => x.name !== 'type').map((x) => [x.name, x.value] as const), extra: { attrs: [], children: [] } };
}

export function addressField(a: AddressDef | undefined, name: string): string | undefined {
  return a?.fields.find(([k]) => k === name)?.[1];
}

function addressElement(a: AddressDef): XElement {
  const base = makeElement('address', [['type', a.type], ...a.fields]);
  return { ...base, attrs: [...base.attrs, ...a.extra.attrs] };
}

/** A copy of the device with `a` as its address (after alias, last, as libvirt writes it). */
export function withAddress<T extends DeviceDef>(d: T, a: AddressDef): T {
  if (d.kind !== 'raw') return { ...d, address: a };
  const el = d.element;
  const kept = el.children.filter((c) => !(c.kind === 'element' && c.name === 'address'));
  return { ...d, element: { ...el, children: [...kept, addressElement(a)] } };
}

/** Appends children to an Extra (generated content such as `<model name=…/>`). */
export function extraWith(extra: Extra, ...children: XElement[]): Extra {
  return { attrs: extra.attrs, children: [...extra.children, ...children] };
}

export function pciAddress(bus: number, slot: number, fn: number): AddressDef {
  const hex = (n: number, w: number): string => `0x${n.toString(16).padStart(w, '0')}`;
  const fields: Array<readonly [string, string]> = [['domain', '0x0000'], ['bus', hex(bus, 2)], ['slot', hex(slot, 2)], ['function', hex(fn, 1)]];
  return { type: 'pci', fields, extra: { attrs: [], children: [] } };
}

/** bus/slot/function of a PCI address, or undefined for another type. */
export function pciOf(a: AddressDef | undefined): { bus: number; slot: number; fn: number } | undefined {
  if (!a || a.type !== 'pci') return undefined;
  const n = (k: string): number => Number(addressField(a, k) ?? '0') || 0; // 0x1f or 31, as libvirt reads them
  return { bus: n('bus'), slot: n('slot'), fn: n('function') };
}
