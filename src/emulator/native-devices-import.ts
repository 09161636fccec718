/**
 * domxml-from-native for libvirt-style command lines (JSON `-device`/`-blockdev`/`-object`, as
 * domxml-to-native prints and libvirt runs): each device back into its domain XML element. The
 * inverse of device-argv.ts, display-argv.ts and guest-extras-argv.ts, one handler per QEMU
 * driver; a property no handler knows is refused by name, never dropped.
 */
import { SOUND_MODELS } from '../domainxml/supported-raw.js';
import type { NativeProps } from './native-words.js';
import { cannotConvert, el, type XmlText } from './native-xml.js';

export const str = (p: NativeProps, k: string): string | undefined => {
  const v = p[k];
  return v === undefined || v === null ? undefined : typeof v === 'object' ? cannotConvert(`the property '${k}' (${JSON.stringify(v)})`) : String(v);
};
export const num = (p: NativeProps, k: string): number | undefined => {
  const v = str(p, k);
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : cannotConvert(`the property ${k}='${v}'`);
};
export const bool = (p: NativeProps, k: string): boolean | undefined => {
  const v = p[k];
  return v === undefined ? undefined : v === true || v === 'on' || v === 'yes' || v === 'true';
};

/** Refuses every property of `p` not in `known` (what a handler cannot express). */
export function onlyProps(what: string, p: NativeProps, known: readonly string[]): void {
  for (const k of Object.keys(p)) if (!known.includes(k)) cannotConvert(`the ${what} property '${k}'`);
}

const hex = (n: number, width: number): string => `0x${n.toString(16).padStart(width, '0')}`;
const ua = (id: string | undefined): XmlText | undefined => (id?.startsWith('ua-') ? el('alias', { name: id }) : undefined);

export interface ControllerRef { type: string; index: number }

/** What the devices of one process refer to by id. */
export interface ImportContext {
  q35: boolean;
  /** QEMU id of every controller (both processes) → its type and index */
  controllers: Map<string, ControllerRef>;
  chardevs: Map<string, NativeProps>;
  netdevs: Map<string, NativeProps>;
  objects: Map<string, NativeProps>;
}

const PCI_PLACEMENT = ['bus', 'addr', 'multifunction'];

/** `<address type='pci'>` from bus/addr/multifunction. */
export function pciAddress(ctx: ImportContext, p: NativeProps, what: string): XmlText {
  const bus = str(p, 'bus') ?? cannotConvert(`${what} without a bus`);
  const m = /^0x([0-9a-f]+)(?:\.0x([0-7]))?$/.exec(str(p, 'addr') ?? '') ?? cannotConvert(`${what} without a PCI address (addr=0xSLOT[.0xFUNCTION])`);
  let busNo: number;
  if (bus === 'pcie.0' || bus === 'pci.0') busNo = 0;
  else if (/^pci\.\d+$/.test(bus)) busNo = Number(bus.slice(4));
  else busNo = ctx.controllers.get(bus)?.index ?? cannotConvert(`${what} on bus '${bus}', which no controller defines`);
  return el('address', {
    type: 'pci', domain: '0x0000', bus: hex(busNo, 2), slot: hex(parseInt(m[1]!, 16), 2), function: hex(parseInt(m[2] ?? '0', 16), 1),
    multifunction: p['multifunction'] === undefined ? undefined : bool(p, 'multifunction') ? 'on' : 'off',
  });
}

/** The controller a `bus` property names (`scsi0.0`, `usb.0`, `virtio-serial0.0`, `ide.2`). */
export function busController(ctx: ImportContext, bus: string, what: string): { ref: ControllerRef; id: string; sub: number } {
  const dot = bus.lastIndexOf('.');
  const id = bus.slice(0, dot);
  const ref = ctx.controllers.get(id) ?? cannotConvert(`${what} on bus '${bus}', which no controller defines`);
  return { ref, id, sub: Number(bus.slice(dot + 1)) };
}

const usbAddress = (ctx: ImportContext, p: NativeProps, what: string): XmlText => {
  const { ref } = busController(ctx, str(p, 'bus') ?? cannotConvert(`${what} without a bus`), what);
  return el('address', { type: 'usb', bus: ref.index, port: str(p, 'port') });
};

/** A controller's type and model for its QEMU driver. */
export const CONTROLLER_DRIVERS: Readonly<Record<string, { type: string; model?: string }>> = {
  'pcie-root-port': { type: 'pci', model: 'pcie-root-port' },
  'pcie-pci-bridge': { type: 'pci', model: 'pcie-to-pci-bridge' },
  'pci-bridge': { type: 'pci', model: 'pci-bridge' },
  lsi: { type: 'scsi', model: 'lsilogic' },
  lsi53c895a: { type: 'scsi', model: 'lsilogic' },
  'virtio-scsi-pci': { type: 'scsi', model: 'virtio-scsi' },
  'qemu-xhci': { type: 'usb', model: 'qemu-xhci' },
  'nec-usb-xhci': { type: 'usb', model: 'nec-xhci' },
  'piix3-usb-uhci': { type: 'usb', model: 'piix3-uhci' },
  'ich9-ahci': { type: 'sata' },
  'virtio-serial-pci': { type: 'virtio-serial' },
};

/** libvirt's generated controller ids, whose number is the index. */
const GENERATED_ID: Readonly<Record<string, RegExp>> = { pci: /^pci\.(\d+)$/, scsi: /^scsi(\d+)$/, usb: /^usb(\d*)$/, sata: /^sata(\d+)$/, 'virtio-serial': /^virtio-serial(\d+)$/ };

/** The index a controller had: its generated id says it; a user alias gets the lowest free one. */
export function controllerIndex(type: string, id: string, taken: ReadonlySet<number>): number {
  const m = GENERATED_ID[type]?.exec(id);
  if (m) return Number(m[1] || 0);
  let i = 0;
  while (taken.has(i)) i++;
  return i;
}

/** `<controller>` of a main-QEMU controller device (a remote's comes with its process). */
export function controllerXml(ctx: ImportContext, p: NativeProps, placement: XmlText | undefined): XmlText {
  const driver = str(p, 'driver')!;
  const { type, model } = CONTROLLER_DRIVERS[driver]!;
  const id = str(p, 'id')!;
  const index = ctx.controllers.get(id)!.index;
  let target: XmlText | undefined;
  if (driver === 'pcie-root-port') {
    onlyProps(`-device ${driver}`, p, ['driver', 'id', 'port', 'chassis', ...PCI_PLACEMENT]);
    target = el('target', { chassis: num(p, 'chassis'), port: hex(num(p, 'port') ?? 0, 0) });
  } else if (driver === 'pci-bridge') {
    onlyProps(`-device ${driver}`, p, ['driver', 'id', 'chassis_nr', ...PCI_PLACEMENT]);
    target = el('target', { chassisNr: num(p, 'chassis_nr') });
  } else onlyProps(`-device ${driver}`, p, ['driver', 'id', ...PCI_PLACEMENT]);
  return el('controller', { type, index, model }, target, ua(id), placement ?? pciAddress(ctx, p, `controller '${id}'`));
}

/** NICs: `-netdev user` or `-netdev bridge` (what domxml-to-native prints for a bridge interface) + the frontend. */
const NIC_DRIVERS: Readonly<Record<string, string>> = { 'virtio-net-pci': 'virtio', e1000: 'e1000', e1000e: 'e1000e', rtl8139: 'rtl8139' };

function nicXml(ctx: ImportContext, p: NativeProps): XmlText {
  const driver = str(p, 'driver')!;
  onlyProps(`-device ${driver}`, p, ['driver', 'netdev', 'id', 'mac', 'bootindex', ...PCI_PLACEMENT]);
  const netdevId = str(p, 'netdev') ?? cannotConvert(`-device ${driver} without a netdev`);
  const netdev = ctx.netdevs.get(netdevId) ?? cannotConvert(`-device ${driver} on netdev '${netdevId}', which no -netdev defines`);
  const type = str(netdev, 'type');
  onlyProps('-netdev', netdev, type === 'bridge' ? ['type', 'id', 'br'] : ['type', 'id']);
  if (type !== 'user' && type !== 'bridge') cannotConvert(`-netdev ${type}`);
  const bridge = type === 'bridge' ? str(netdev, 'br') ?? cannotConvert('-netdev bridge without br') : undefined;
  return el('interface', { type: type === 'bridge' ? 'bridge' : 'user' }, str(p, 'mac') !== undefined && el('mac', { address: str(p, 'mac') }),
    bridge !== undefined && el('source', { bridge }), el('model', { type: NIC_DRIVERS[driver] }),
    num(p, 'bootindex') !== undefined && el('boot', { order: num(p, 'bootindex') }), ua(str(p, 'id')), pciAddress(ctx, p, `interface '${str(p, 'id')}'`));
}

/** A character device's backend as the children and type of its element. */
function chardevXml(ctx: ImportContext, id: string, what: string): { type: string; source?: XmlText } {
  const c = ctx.chardevs.get(id) ?? cannotConvert(`${what} on chardev '${id}', which no -chardev defines`);
  const backend = str(c, 'backend');
  switch (backend) {
    case 'pty': case 'null': case 'spicevmc':
      onlyProps(`-chardev ${backend}`, c, ['backend', 'id', ...(backend === 'spicevmc' ? ['name'] : [])]);
      return { type: backend };
    case 'file':
      onlyProps('-chardev file', c, ['backend', 'id', 'path', 'append']);
      return { type: 'file', source: el('source', { path: str(c, 'path'), append: bool(c, 'append') ? 'on' : undefined }) };
    case 'socket': {
      onlyProps('-chardev socket', c, ['backend', 'id', 'path', 'server', 'wait']);
      const server = bool(c, 'server') ?? false;
      const path = str(c, 'path') ?? cannotConvert(`-chardev socket '${id}' without a path (a socket fd has no path to name)`);
      return { type: 'unix', source: el('source', { mode: server ? 'bind' : 'connect', path }) };
    }
    default: return cannotConvert(`-chardev ${backend}`);
  }
}

function serialXml(ctx: ImportContext, p: NativeProps): XmlText {
  onlyProps('-device isa-serial', p, ['driver', 'chardev', 'id', 'index']);
  const c = chardevXml(ctx, str(p, 'chardev') ?? cannotConvert('-device isa-serial without a chardev'), 'serial port');
  return el('serial', { type: c.type }, c.source, el('target', { port: num(p, 'index') ?? 0 }), ua(str(p, 'id')));
}

function channelXml(ctx: ImportContext, p: NativeProps): XmlText {
  onlyProps('-device virtserialport', p, ['driver', 'bus', 'nr', 'chardev', 'id', 'name']);
  const c = chardevXml(ctx, str(p, 'chardev') ?? cannotConvert('-device virtserialport without a chardev'), 'channel');
  const { ref } = busController(ctx, str(p, 'bus') ?? cannotConvert('-device virtserialport without a bus'), 'channel');
  return el('channel', { type: c.type }, c.source, el('target', { type: 'virtio', name: str(p, 'name') }),
    el('address', { type: 'virtio-serial', controller: ref.index, bus: 0, port: num(p, 'nr') }));
}

const INPUTS: Readonly<Record<string, [string, string]>> = {
  'usb-tablet': ['tablet', 'usb'], 'usb-mouse': ['mouse', 'usb'], 'usb-kbd': ['keyboard', 'usb'],
  'virtio-tablet-pci': ['tablet', 'virtio'], 'virtio-mouse-pci': ['mouse', 'virtio'], 'virtio-keyboard-pci': ['keyboard', 'virtio'],
};

function inputXml(ctx: ImportContext, p: NativeProps): XmlText {
  const driver = str(p, 'driver')!;
  const [type, bus] = INPUTS[driver]!;
  onlyProps(`-device ${driver}`, p, ['driver', 'id', ...(bus === 'usb' ? ['bus', 'port'] : PCI_PLACEMENT)]);
  return el('input', { type, bus }, ua(str(p, 'id')), bus === 'usb' ? usbAddress(ctx, p, `input '${str(p, 'id')}'`) : pciAddress(ctx, p, `input '${str(p, 'id')}'`));
}

/** Video adapters; `primaryFirst`: whether this is the first one (libvirt's primary by default). */
function videoXml(ctx: ImportContext, p: NativeProps, first: boolean): XmlText {
  const driver = str(p, 'driver')!;
  const id = str(p, 'id');
  const at = driver === 'ramfb' ? undefined : pciAddress(ctx, p, `video '${id}'`);
  const placement = driver === 'ramfb' ? [] : PCI_PLACEMENT;
  // the VGA-compatible variant of a model is the primary adapter; one not listed first says so
  const primary = (driver === 'qxl-vga' || driver === 'virtio-vga') && !first ? 'yes' : undefined;
  let model: XmlText;
  switch (driver) {
    case 'virtio-vga': case 'virtio-gpu-pci':
      onlyProps(`-device ${driver}`, p, ['driver', 'id', 'max_outputs', ...placement]);
      model = el('model', { type: 'virtio', heads: num(p, 'max_outputs'), primary });
      break;
    case 'cirrus-vga': case 'ramfb':
      onlyProps(`-device ${driver}`, p, ['driver', 'id', ...placement]);
      model = el('model', { type: driver === 'ramfb' ? 'ramfb' : 'cirrus' });
      break;
    case 'bochs-display': {
      onlyProps(`-device ${driver}`, p, ['driver', 'id', 'vgamem', ...placement]);
      const vgamem = num(p, 'vgamem');
      model = el('model', { type: 'bochs', vram: vgamem === undefined ? undefined : vgamem / 1024 });
      break;
    }
    case 'qxl-vga': case 'qxl': {
      onlyProps(`-device ${driver}`, p, ['driver', 'id', 'max_outputs', 'ram_size', 'vram_size', 'vram64_size_mb', 'vgamem_mb', ...placement]);
      const kib = (k: string, f: number): number | undefined => (num(p, k) === undefined ? undefined : num(p, k)! * f);
      model = el('model', { type: 'qxl', ram: kib('ram_size', 1 / 1024), vram: kib('vram_size', 1 / 1024), vram64: kib('vram64_size_mb', 1024), vgamem: kib('vgamem_mb', 1024), heads: num(p, 'max_outputs'), primary });
      break;
    }
    case 'VGA': {
      onlyProps(`-device ${driver}`, p, ['driver', 'id', 'vgamem_mb', ...placement]);
      const mb = num(p, 'vgamem_mb');
      model = el('model', { type: 'vga', vram: mb === undefined ? undefined : mb * 1024 });
      break;
    }
    default: return cannotConvert(`-device ${driver}`);
  }
  return el('video', {}, model, ua(id), at);
}

const SOUND_DRIVERS: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(SOUND_MODELS).map(([m, d]) => [d, m]));

/** A sound card and the HDA codecs that follow it on its bus. */
function soundXml(ctx: ImportContext, p: NativeProps, codecs: NativeProps[]): XmlText {
  const driver = str(p, 'driver')!;
  const id = str(p, 'id');
  onlyProps(`-device ${driver}`, p, ['driver', 'id', 'audiodev', ...PCI_PLACEMENT]);
  const mine = codecs.filter((c) => str(c, 'bus') === `${id}.0`);
  for (const c of mine) onlyProps(`-device ${str(c, 'driver')}`, c, ['driver', 'id', 'bus', 'cad', 'audiodev']);
  return el('sound', { model: SOUND_DRIVERS[driver] }, ...mine.map((c) => el('codec', { type: str(c, 'driver')!.replace(/^hda-/, '') })), ua(id), pciAddress(ctx, p, `sound '${id}'`));
}

function redirdevXml(ctx: ImportContext, p: NativeProps): XmlText {
  onlyProps('-device usb-redir', p, ['driver', 'chardev', 'id', 'bus', 'port']);
  const c = chardevXml(ctx, str(p, 'chardev') ?? cannotConvert('-device usb-redir without a chardev'), 'USB redirection');
  if (c.type !== 'spicevmc') cannotConvert(`USB redirection over a '${c.type}' chardev`);
  return el('redirdev', { bus: 'usb', type: 'spicevmc' }, ua(str(p, 'id')), usbAddress(ctx, p, 'USB redirection'));
}

function watchdogXml(ctx: ImportContext, p: NativeProps, action: string | undefined): XmlText {
  const driver = str(p, 'driver')!;
  onlyProps(`-device ${driver}`, p, ['driver', 'id', ...(driver === 'i6300esb' ? PCI_PLACEMENT : [])]);
  return el('watchdog', { model: driver, action }, ua(str(p, 'id')), driver === 'i6300esb' && pciAddress(ctx, p, 'watchdog'));
}

function rngXml(ctx: ImportContext, p: NativeProps): XmlText {
  onlyProps('-device virtio-rng-pci', p, ['driver', 'rng', 'id', ...PCI_PLACEMENT]);
  const objId = str(p, 'rng') ?? cannotConvert('-device virtio-rng-pci without an rng');
  const o = ctx.objects.get(objId) ?? cannotConvert(`-device virtio-rng-pci on '${objId}', which no -object defines`);
  const type = str(o, 'qom-type');
  onlyProps(`-object ${type}`, o, ['qom-type', 'id', ...(type === 'rng-random' ? ['filename'] : [])]);
  const backend = type === 'rng-random' ? el('backend', { model: 'random' }, str(o, 'filename') ?? '/dev/urandom') : type === 'rng-builtin' ? el('backend', { model: 'builtin' }) : cannotConvert(`-object ${type}`);
  return el('rng', { model: 'virtio' }, backend, ua(str(p, 'id')), pciAddress(ctx, p, 'rng'));
}

/** The drivers this file converts (disks, controllers and proxies are the caller's). */
export function isPlainDevice(driver: string): boolean {
  return driver in NIC_DRIVERS || driver in INPUTS || driver in SOUND_DRIVERS || driver.startsWith('hda-') ||
    ['isa-serial', 'virtserialport', 'virtio-vga', 'virtio-gpu-pci', 'cirrus-vga', 'ramfb', 'bochs-display', 'qxl-vga', 'qxl', 'VGA',
      'usb-redir', 'i6300esb', 'ib700', 'virtio-balloon-pci', 'virtio-rng-pci'].includes(driver);
}

/** Every plain device of the main QEMU, in command-line order. */
export function plainDevicesXml(ctx: ImportContext, devices: readonly NativeProps[], watchdogAction: string | undefined): XmlText[] {
  const out: XmlText[] = [];
  const codecs = devices.filter((d) => str(d, 'driver')!.startsWith('hda-'));
  let videos = 0;
  for (const p of devices) {
    const driver = str(p, 'driver')!;
    if (driver in NIC_DRIVERS) out.push(nicXml(ctx, p));
    else if (driver in INPUTS) out.push(inputXml(ctx, p));
    else if (driver in SOUND_DRIVERS) out.push(soundXml(ctx, p, codecs));
    else if (driver === 'isa-serial') out.push(serialXml(ctx, p));
    else if (driver === 'virtserialport') out.push(channelXml(ctx, p));
    else if (driver === 'usb-redir') out.push(redirdevXml(ctx, p));
    else if (driver === 'i6300esb' || driver === 'ib700') out.push(watchdogXml(ctx, p, watchdogAction));
    else if (driver === 'virtio-rng-pci') out.push(rngXml(ctx, p));
    else if (driver === 'virtio-balloon-pci') {
      onlyProps(`-device ${driver}`, p, ['driver', 'id', ...PCI_PLACEMENT]);
      out.push(el('memballoon', { model: 'virtio' }, ua(str(p, 'id')), pciAddress(ctx, p, 'memballoon')));
    } else if (!driver.startsWith('hda-')) out.push(videoXml(ctx, p, videos++ === 0));
  }
  for (const c of codecs) if (!devices.some((d) => `${str(d, 'id')}.0` === str(c, 'bus') && str(d, 'driver')! in SOUND_DRIVERS)) cannotConvert(`-device ${str(c, 'driver')} on bus '${str(c, 'bus')}', which no sound card defines`);
  return out;
}

