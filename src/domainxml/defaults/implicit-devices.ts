/**
 * The devices and controllers libvirt adds or completes at define time for an x86_64 guest
 * (qemuDomainDefAddDefaultDevices, virDomainDefAddImplicitDevices, the device post-parse
 * callbacks): default USB/SATA/PCI root controllers, controllers the disks and channels need,
 * serial/console pairing, PS/2 input, the audio backend, the default video model, memballoon,
 * the default NIC model and SCSI/USB controller models, controller indexes.
 *
 * Controllers libvirt adds are appended (virDomainDefAddController), which decides the order
 * they are written in. Pure: a new device list is returned.
 */
import type { CharDeviceDef, ControllerDef, DeviceDef, DomainDef, VideoDef } from '../model.js';
import { attr, makeElement } from '../xmltree.js';
import { isQ35, type DefineCaps } from './caps.js';
import { addressField, addressOf, deviceName, extraWith, isVirtioChannel } from './devices.js';
import { graphicsDefaults } from './graphics.js';

const NO_EXTRA = { attrs: [], children: [] };

const controller = (type: string, index: number, model?: string): ControllerDef => ({
  kind: 'controller', type, index, ...(model !== undefined ? { model } : {}), extra: NO_EXTRA,
});

function controllers(devices: readonly DeviceDef[], type: string): ControllerDef[] {
  return devices.filter((d): d is ControllerDef => d.kind === 'controller' && d.type === type);
}

/** Number the controllers that have no index: next free index of their type, in document order. */
function numberControllers(devices: DeviceDef[]): DeviceDef[] {
  const used = new Map<string, Set<number>>();
  for (const d of devices) if (d.kind === 'controller' && d.index !== undefined) (used.get(d.type) ?? used.set(d.type, new Set()).get(d.type)!).add(d.index);
  return devices.map((d) => {
    if (d.kind !== 'controller' || d.index !== undefined) return d;
    const set = used.get(d.type) ?? used.set(d.type, new Set()).get(d.type)!;
    let i = 0;
    while (set.has(i)) i++;
    set.add(i);
    return { ...d, index: i };
  });
}

/** The controller type a disk's bus needs (virDomainDefAddDiskControllersForType). */
function diskControllerType(bus: string | undefined): string | undefined {
  return bus === 'scsi' || bus === 'sata' || bus === 'ide' ? bus : bus === 'fdc' ? 'fdc' : undefined;
}

function ensureController(devices: DeviceDef[], type: string, index: number, model?: string): void {
  if (controllers(devices, type).some((c) => c.index === index)) return;
  devices.push(controller(type, index, model));
}

/** A unix channel's `<source mode='bind'/>` without a path: the path is chosen at start. */
function dropPathlessBindSource(d: DeviceDef): DeviceDef {
  if (d.kind !== 'raw' || d.element.name !== 'channel' || attr(d.element, 'type') !== 'unix') return d;
  const kept = d.element.children.filter((c) => !(c.kind === 'element' && c.name === 'source' && attr(c, 'path') === undefined));
  return { ...d, element: { ...d.element, children: kept } };
}

function serialTarget(port: number, extra: CharDeviceDef['target']): NonNullable<CharDeviceDef['target']> {
  const hasModel = (extra?.extra.children ?? []).some((c) => c.name === 'model');
  const base = extra?.extra ?? NO_EXTRA;
  return {
    type: extra?.type ?? 'isa-serial',
    port: extra?.port ?? port,
    extra: hasModel ? base : extraWith(base, makeElement('model', [['name', 'isa-serial']])),
  };
}

/** Serial target types whose port 0 gets a stub console (virDomainDefAddConsoleCompat). */
const STUB_CONSOLE_SERIAL_TARGETS: ReadonlySet<string> = new Set(['isa-serial', 'spapr-vio-serial', 'system-serial', 'sclp-serial', 'none']);

/** virDomainDefAddConsoleCompat + serial target defaults. */
function pairSerialAndConsole(devices: DeviceDef[]): DeviceDef[] {
  let serials = devices.filter((d): d is CharDeviceDef => d.kind === 'serial');
  const consoles = devices.filter((d): d is CharDeviceDef => d.kind === 'console');
  const first = consoles[0];
  let out = devices;
  if (first && (first.target?.type === undefined || first.target.type === 'serial') && serials.length === 0) {
    // the console is really serial port 0: create it
    const serial: CharDeviceDef = { ...first, kind: 'serial', target: undefined, extra: NO_EXTRA };
    delete serial.target;
    delete serial.alias;
    out = [...out, serial];
    serials = [serial];
  }
  let n = 0;
  out = out.map((d) => (d.kind === 'serial' ? { ...d, target: serialTarget(n++, d.target) } : d));
  serials = out.filter((d): d is CharDeviceDef => d.kind === 'serial');
  const s0 = serials[0];
  if (consoles.length === 0 && s0 && STUB_CONSOLE_SERIAL_TARGETS.has(s0.target?.type ?? 'none')) {
    // an HVM guest's serial port 0 is also its console: libvirt adds the stub that says so
    const stub: CharDeviceDef = { kind: 'console', type: s0.type, target: { type: 'serial', port: 0, extra: NO_EXTRA }, extra: NO_EXTRA };
    out = [...out, stub];
  }
  let c = 0;
  return out.map((d) => {
    if (d.kind !== 'console') return d;
    const i = c++;
    if (d.target?.type !== undefined && d.target.type !== 'serial') return d;
    const s = serials[i];
    if (!s) return d;
    // written as a copy of the serial port it is (virDomainDefFormat's back-compat console)
    return { ...s, kind: 'console', target: { type: 'serial', port: s.target?.port ?? i, extra: NO_EXTRA }, extra: NO_EXTRA } as CharDeviceDef;
  });
}

const VIDEO_VRAM: Readonly<Record<string, number>> = { cirrus: 16384, vga: 16384, bochs: 16384, qxl: 65536 };

/** libvirt's attribute order of a video `<model>` (after type). */
const VIDEO_ATTR_ORDER = ['ram', 'vram', 'vram64', 'vgamem', 'heads', 'primary', 'blob'];

function withModelAttrs(v: VideoDef, attrs: Array<readonly [string, string]>): VideoDef {
  const have = new Set(v.modelExtra.attrs.map((a) => a.name));
  const add = attrs.filter(([k]) => !have.has(k)).map(([name, value]) => ({ name, ns: null, value }));
  const rank = (n: string): number => (VIDEO_ATTR_ORDER.includes(n) ? VIDEO_ATTR_ORDER.indexOf(n) : VIDEO_ATTR_ORDER.length);
  const all = [...v.modelExtra.attrs, ...add].map((a, i) => ({ a, i })).sort((x, y) => rank(x.a.name) - rank(y.a.name) || x.i - y.i).map((x) => x.a);
  return { ...v, modelExtra: { attrs: all, children: v.modelExtra.children } };
}

/** Video model defaults: model, vram/ram/vgamem, heads, primary for the first one. */
function videoDefaults(v: VideoDef, primary: boolean, caps: DefineCaps): VideoDef {
  const model = v.model ?? (caps.devices?.includes('cirrus-vga') === false ? 'vga' : 'cirrus');
  let out: VideoDef = { ...v, model };
  if (model === 'none') return out;
  const a: Array<readonly [string, string]> = [];
  if (model === 'qxl') a.push(['ram', '65536']);
  if (VIDEO_VRAM[model] !== undefined) a.push(['vram', String(VIDEO_VRAM[model])]);
  if (model === 'qxl') a.push(['vgamem', '16384']);
  a.push(['heads', '1']);
  if (primary) a.push(['primary', 'yes']);
  out = withModelAttrs(out, a);
  return out;
}

export function implicitDevices(def: DomainDef, caps: DefineCaps): DomainDef {
  const q35 = isQ35(def.os.machine);
  let devices: DeviceDef[] = def.devices.map(dropPathlessBindSource).map((d) => (d.kind === 'graphics' ? graphicsDefaults(d) : d));
  // device post-parse: controller models, NIC model
  devices = devices.map((d) => {
    if (d.kind === 'controller' && d.model === undefined) {
      if (d.type === 'scsi') return { ...d, model: 'lsilogic' };
      // on x86 regardless of the machine (qemuDomainControllerDefPostParse); only the implicit
      // controller of a q35 machine is a qemu-xhci
      if (d.type === 'usb') return { ...d, model: 'piix3-uhci' };
    }
    if (d.kind === 'interface' && d.model === undefined && d.type !== 'hostdev') return { ...d, model: 'rtl8139' };
    // qemuDomainDeviceDiskDefPostParse: the qemu driver, raw unless a format is named
    if (d.kind === 'disk') return { ...d, driver: { extra: NO_EXTRA, ...d.driver, name: d.driver?.name ?? 'qemu', format: d.driver?.format ?? 'raw' } };
    return d;
  });
  devices = numberControllers(devices);

  // qemuDomainDefAddDefaultDevices: USB, then SATA (q35), then the PCI root
  if (controllers(devices, 'usb').length === 0) devices.push(controller('usb', 0, q35 ? 'qemu-xhci' : 'piix3-uhci'));
  if (q35) ensureController(devices, 'sata', 0);
  if (controllers(devices, 'pci').every((c) => c.index !== 0)) devices.push(controller('pci', 0, q35 ? 'pcie-root' : 'pci-root'));

  // virDomainDefAddImplicitControllers: what disks and virtio channels/consoles need
  for (const d of [...devices]) {
    if (d.kind !== 'disk') continue;
    const type = diskControllerType(d.target.bus);
    if (!type) continue;
    const a = addressOf(d);
    const idx = a?.type === 'drive' ? Number(addressField(a, 'controller') ?? 0) : 0;
    ensureController(devices, type, idx, type === 'scsi' ? 'lsilogic' : undefined);
  }
  if (devices.some(isVirtioChannel)) ensureController(devices, 'virtio-serial', 0);

  devices = pairSerialAndConsole(devices);

  // implicit PS/2 mouse and keyboard of an x86 machine
  const hasInput = (type: string): boolean => devices.some((d) => d.kind === 'input' && d.type === type && d.bus === 'ps2');
  if (!hasInput('mouse')) devices.push({ kind: 'input', type: 'mouse', bus: 'ps2', extra: NO_EXTRA });
  if (!hasInput('keyboard')) devices.push({ kind: 'input', type: 'keyboard', bus: 'ps2', extra: NO_EXTRA });

  // the audio backend: spice's when there is spice graphics, else none
  if (!devices.some((d) => deviceName(d) === 'audio')) {
    const spice = devices.some((d) => d.kind === 'graphics' && d.type === 'spice');
    devices.push({ kind: 'raw', element: makeElement('audio', [['id', '1'], ['type', spice ? 'spice' : 'none']]) });
  }

  // a graphical console gets a video device
  if (devices.some((d) => d.kind === 'graphics') && !devices.some((d) => d.kind === 'video')) {
    devices.push({ kind: 'video', modelExtra: NO_EXTRA, extra: NO_EXTRA });
  }
  let firstVideo = true;
  devices = devices.map((d) => {
    if (d.kind !== 'video') return d;
    const v = videoDefaults(d, firstVideo, caps);
    firstVideo = false;
    return v;
  });

  if (!devices.some((d) => d.kind === 'memballoon')) devices.push({ kind: 'memballoon', model: 'virtio', extra: NO_EXTRA });
  return { ...def, devices };
}

