/**
 * argv for what a guest shows and hears and how it is pointed at: VNC and SPICE displays, video
 * adapters, sound cards with their audio backends, USB/virtio input, SPICE's USB redirection,
 * and watchdogs. Pure functions of the definition, in the order libvirt emits them; the
 * display's port is the one the driver reserved in the live definition (autoport).
 */
import { unsupportedConfig } from '../errors.js';
import { addressField, addressOf } from '../domainxml/defaults/devices.js';
import type { ControllerDef, DeviceDef, DomainDef, GraphicsDef, RawDevice, VideoDef } from '../domainxml/model.js';
import { SOUND_MODELS } from '../domainxml/supported-raw.js';
import { attr, elementChildren, type XElement } from '../domainxml/xmltree.js';
import { pciPlacement } from './device-argv.js';
import { jsonArg, optList } from './qemu-args.js';

const raws = (def: DomainDef, name: string): RawDevice[] =>
  def.devices.filter((d): d is RawDevice => d.kind === 'raw' && d.element.name === name);
const child = (el: XElement | undefined, name: string): XElement | undefined => (el ? elementChildren(el).find((c) => c.name === name) : undefined);
const childrenOf = (g: GraphicsDef, name: string): XElement[] => g.extra.children.filter((c) => c.ns === null && c.local === name);

/** `-audiodev` for every `<audio>` backend (libvirt always has one: `none` without sound). */
export function audioArgs(def: DomainDef): string[] {
  return raws(def, 'audio').flatMap((a) => ['-audiodev', jsonArg({ id: `audio${attr(a.element, 'id') ?? '1'}`, driver: attr(a.element, 'type') ?? 'none' })]);
}

const firstAudio = (def: DomainDef): string | undefined => {
  const a = raws(def, 'audio')[0];
  return a ? `audio${attr(a.element, 'id') ?? '1'}` : undefined;
};

/** The first listen of a display, as the defaults complete it. */
function listenOf(g: GraphicsDef): { type: string; address?: string; socket?: string } {
  const l = childrenOf(g, 'listen')[0];
  const type = l ? attr(l, 'type') ?? 'address' : 'address';
  const address = (l ? attr(l, 'address') : undefined) ?? g.listen;
  const socket = l ? attr(l, 'socket') : undefined;
  return { type, ...(address !== undefined ? { address } : {}), ...(socket !== undefined ? { socket } : {}) };
}

const hostPart = (address: string): string => (address.includes(':') ? `[${address}]` : address);

/**
 * The default socket of a listen type='socket' without a path (libvirt's: in its per-domain
 * directory), in a directory of its own that only the main QEMU may write.
 */
export function displaySocketPath(runDir: string, type: string): string {
  return `${runDir}/display/${type}.sock`;
}

function vncArgs(def: DomainDef, g: GraphicsDef, runDir: string): string[] {
  const l = listenOf(g);
  let where: string;
  let to: number | undefined;
  if (l.type === 'socket') where = `vnc=unix:${l.socket ?? displaySocketPath(runDir, 'vnc')}`;
  else {
    // the driver reserves a port for autoport; a plan built without one lets QEMU search :0-:99
    const port = g.port !== undefined && g.port > 0 ? g.port : undefined;
    if (port === undefined) to = 99;
    where = `${hostPart(l.address ?? '127.0.0.1')}:${port === undefined ? 0 : port - 5900}`;
  }
  const share = g.extra.attrs.find((a) => a.name === 'sharePolicy')?.value;
  return ['-vnc', optList([['', where], ['to', to], ['share', share], ['audiodev', firstAudio(def)]])];
}

/** SPICE's image/stream settings: element, its attribute, the -spice option (also read back by native-graphics-import.ts). */
export const SPICE_COMPRESSION: ReadonlyArray<readonly [string, string, string]> = [
  ['image', 'compression', 'image-compression'],
  ['jpeg', 'compression', 'jpeg-wan-compression'],
  ['zlib', 'compression', 'zlib-glz-wan-compression'],
  ['playback', 'compression', 'playback-compression'],
  ['streaming', 'mode', 'streaming-video'],
];

function spiceArgs(g: GraphicsDef, runDir: string): string[] {
  const l = listenOf(g);
  const opts: Array<readonly [string, string | number | boolean | undefined]> = [];
  if (l.type === 'socket') opts.push(['', 'unix'], ['addr', l.socket ?? displaySocketPath(runDir, 'spice')]);
  else if (l.type === 'none') opts.push(['port', 0]);
  else {
    // the driver reserves an autoport display's port before the real plan; a plan built
    // without one (define's check, domxml-to-native) shows the first, as libvirt's does
    const port = g.port !== undefined && g.port > 0 ? g.port : g.autoport === 'yes' ? 5900 : undefined;
    if (port === undefined) throw unsupportedConfig("SPICE display has no port: set port= or autoport='yes'");
    opts.push(['port', port], ['addr', l.address ?? '127.0.0.1']);
  }
  const mouse = childrenOf(g, 'mouse')[0];
  if (mouse && attr(mouse, 'mode') === 'server') opts.push(['agent-mouse', 'off']);
  for (const [el, a, opt] of SPICE_COMPRESSION) {
    const v = childrenOf(g, el)[0];
    if (v && attr(v, a) !== undefined) opts.push([opt, attr(v, a)]);
  }
  if (childrenOf(g, 'clipboard').some((c) => attr(c, 'copypaste') === 'no')) opts.push(['disable-copy-paste', 'on']);
  if (childrenOf(g, 'filetransfer').some((c) => attr(c, 'enable') === 'no')) opts.push(['disable-agent-file-xfer', 'on']);
  opts.push(['seamless-migration', 'on']);
  const passwordless = !g.extra.attrs.some((a) => a.name === 'passwd');
  if (passwordless && l.type !== 'none') opts.push(['disable-ticketing', 'on']);
  return ['-spice', optList(opts)];
}

export function graphicsArgs(def: DomainDef, runDir: string): string[] {
  const gs = def.devices.filter((d): d is GraphicsDef => d.kind === 'graphics');
  if (gs.length === 0) return ['-display', 'none'];
  return ['-display', 'none', ...gs.flatMap((g) => (g.type === 'vnc' ? vncArgs(def, g, runDir) : spiceArgs(g, runDir)))];
}

const modelAttr = (v: VideoDef, name: string): number | undefined => {
  const s = v.modelExtra.attrs.find((a) => a.name === name)?.value;
  return s === undefined ? undefined : Number(s);
};

/** A video adapter as libvirt builds it; the primary one is the VGA-compatible variant. */
function videoDevice(v: VideoDef, primary: boolean): Record<string, string | number | boolean> {
  const vram = modelAttr(v, 'vram') ?? 0;
  const heads = modelAttr(v, 'heads') ?? 1;
  switch (v.model) {
    case 'virtio': return { driver: primary ? 'virtio-vga' : 'virtio-gpu-pci', max_outputs: heads };
    case 'cirrus': return { driver: 'cirrus-vga' };
    case 'bochs': return { driver: 'bochs-display', ...(vram > 0 ? { vgamem: vram * 1024 } : {}) };
    case 'ramfb': return { driver: 'ramfb' };
    case 'qxl': {
      const ram = modelAttr(v, 'ram') ?? 65536;
      const vgamem = modelAttr(v, 'vgamem') ?? 16384;
      return {
        driver: primary ? 'qxl-vga' : 'qxl', max_outputs: heads, ram_size: ram * 1024, vram_size: (vram || 65536) * 1024,
        vram64_size_mb: Math.floor((modelAttr(v, 'vram64') ?? 0) / 1024), vgamem_mb: Math.floor(vgamem / 1024),
      };
    }
    case 'vga': case undefined: return vram > 0 ? { driver: 'VGA', vgamem_mb: Math.floor(vram / 1024) } : { driver: 'VGA' };
    default: throw unsupportedConfig(`video model '${v.model}' is not supported`);
  }
}

export function videoArgs(def: DomainDef, q35: boolean): string[] {
  const videos = def.devices.filter((d): d is VideoDef => d.kind === 'video' && d.model !== 'none');
  return videos.flatMap((v, i) => {
    const primary = v.modelExtra.attrs.some((a) => a.name === 'primary' && a.value === 'yes') || (i === 0 && !videos.some((x) => x.modelExtra.attrs.some((a) => a.name === 'primary')));
    const dev = videoDevice(v, primary);
    const placement = dev.driver === 'ramfb' ? {} : pciPlacement(v.address, q35, `video ${i}`);
    return ['-device', jsonArg({ ...dev, id: v.alias ?? `video${i}`, ...placement })];
  });
}

/** Sound cards: an HDA controller gets its codec (hda-duplex unless the XML names codecs). */
export function soundArgs(def: DomainDef, q35: boolean): string[] {
  const audiodev = firstAudio(def);
  return raws(def, 'sound').flatMap((s, i) => {
    const model = attr(s.element, 'model') ?? '';
    const driver = SOUND_MODELS[model];
    if (!driver) throw unsupportedConfig(`sound model '${model}' is not supported`);
    const id = attr(child(s.element, 'alias') ?? s.element, 'name') ?? `sound${i}`;
    const placement = pciPlacement(addressOf(s), q35, `sound ${i}`);
    const hda = model === 'ich6' || model === 'ich9';
    if (!hda) return ['-device', jsonArg({ driver, id, audiodev, ...placement })];
    const codecs = elementChildren(s.element).filter((c) => c.name === 'codec');
    const types = codecs.length > 0 ? codecs.map((c) => attr(c, 'type') ?? 'duplex') : ['duplex'];
    return [
      '-device', jsonArg({ driver, id, ...placement }),
      ...types.flatMap((t, cad) => ['-device', jsonArg({ driver: `hda-${t}`, id: `${id}-codec${cad}`, bus: `${id}.0`, cad, audiodev })]),
    ];
  });
}

const usbBus = (def: DomainDef, d: DeviceDef): string => {
  const a = addressOf(d);
  const bus = Number(addressField(a, 'bus') ?? 0);
  const ctrl = def.devices.find((c): c is ControllerDef => c.kind === 'controller' && c.type === 'usb' && (c.index ?? 0) === bus && c.model !== 'none');
  if (!ctrl) throw unsupportedConfig("a USB device needs a USB controller (<controller type='usb'>)");
  return `${ctrl.alias ?? (bus === 0 ? 'usb' : `usb${bus}`)}.0`;
};
const usbPort = (d: DeviceDef): string | undefined => {
  const a = addressOf(d);
  return a?.type === 'usb' ? addressField(a, 'port') : undefined;
};

const INPUT_DRIVERS: Readonly<Record<string, string>> = {
  'usb:tablet': 'usb-tablet', 'usb:mouse': 'usb-mouse', 'usb:keyboard': 'usb-kbd',
  'virtio:tablet': 'virtio-tablet-pci', 'virtio:mouse': 'virtio-mouse-pci', 'virtio:keyboard': 'virtio-keyboard-pci',
};

/** USB and virtio input devices (PS/2 ones are the machine's own). */
export function inputArgs(def: DomainDef, q35: boolean): string[] {
  const argv: string[] = [];
  def.devices.forEach((d) => {
    if (d.kind !== 'input' || d.bus === 'ps2') return;
    const driver = INPUT_DRIVERS[`${d.bus ?? 'ps2'}:${d.type}`];
    if (!driver) throw unsupportedConfig(`input device type '${d.type}' on bus '${d.bus}' is not supported`);
    const n = def.devices.filter((x) => x.kind === 'input').indexOf(d);
    const id = d.alias ?? `input${n}`;
    argv.push('-device', jsonArg(d.bus === 'usb' ? { driver, id, bus: usbBus(def, d), port: usbPort(d) } : { driver, id, ...pciPlacement(d.address, q35, `input ${id}`) }));
  });
  return argv;
}

/** SPICE's USB redirection: a spicevmc chardev and a usb-redir per `<redirdev>`. */
export function redirdevArgs(def: DomainDef): string[] {
  return raws(def, 'redirdev').flatMap((r, i) => {
    const id = attr(child(r.element, 'alias') ?? r.element, 'name') ?? `redir${i}`;
    return [
      '-chardev', optList([['', 'spicevmc'], ['id', `char${id}`], ['name', 'usbredir']]),
      '-device', jsonArg({ driver: 'usb-redir', chardev: `char${id}`, id, bus: usbBus(def, r), port: usbPort(r) }),
    ];
  });
}

/** Watchdogs: i6300esb (PCI), ib700 (ISA); the action for all. */
export function watchdogArgs(def: DomainDef, q35: boolean): string[] {
  const argv: string[] = [];
  const dogs = raws(def, 'watchdog');
  dogs.forEach((w, i) => {
    const model = attr(w.element, 'model');
    const id = attr(child(w.element, 'alias') ?? w.element, 'name') ?? `watchdog${i}`;
    if (model === 'i6300esb') argv.push('-device', jsonArg({ driver: 'i6300esb', id, ...pciPlacement(addressOf(w), q35, `watchdog ${i}`) }));
    else if (model === 'ib700') argv.push('-device', jsonArg({ driver: 'ib700', id }));
    else throw unsupportedConfig(`watchdog model '${model}' is not supported`);
  });
  const action = dogs[0] ? attr(dogs[0].element, 'action') ?? 'reset' : undefined;
  if (action !== undefined && action !== 'reset') argv.push('-watchdog-action', action);
  return argv;
}
