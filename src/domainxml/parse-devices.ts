/**
 * `<devices>` children → typed device definitions. A device whose shape the
 * model does not cover (a network disk, a hostdev, …) becomes a RawDevice and
 * is written back verbatim.
 */
import { MpvirtError, xmlError } from '../errors.js';
import type {
  AddressDef,
  CharDeviceDef,
  ControllerDef,
  DeviceDef,
  DiskDef,
  GraphicsDef,
  InputDef,
  InterfaceDef,
  MemballoonDef,
  VideoDef,
} from './model.js';
import { ElementReader, attrPairs } from './reader.js';
import { attr, textOf, type XElement } from './xmltree.js';
import { parseMacAddress, parseUnsigned } from './values.js';

interface Common {
  alias?: string;
  address?: AddressDef;
  bootOrder?: number;
}

/** Reads the children every device may have: alias, address, boot order. */
function readCommon(r: ElementReader, withBoot: boolean): Common {
  const out: Common = {};
  const alias = r.child('alias');
  if (alias) {
    const a = r.sub(alias);
    const name = a.requiredAttr('name');
    const rest = a.rest();
    if (rest.attrs.length || rest.children.length) {
      throw xmlError(`unexpected content in element 'alias' of ${r.path}`, { where: `${r.path}/alias` });
    }
    out.alias = name;
  }
  const address = r.child('address');
  if (address) {
    const a = r.sub(address);
    const type = a.requiredAttr('type');
    out.address = { type, fields: attrPairs(a, ['type']), extra: a.rest() };
  }
  if (withBoot) {
    const boot = r.child('boot');
    if (boot) {
      const b = r.sub(boot);
      const order = b.unsignedAttr('order', 1);
      if (order === undefined) throw xmlError(`missing boot order attribute in ${r.path}`, { where: `${r.path}/boot` });
      const rest = b.rest();
      if (rest.attrs.length || rest.children.length) {
        // loadparm and friends: keep the element whole rather than half-typed
        throw new NotTyped();
      }
      out.bootOrder = order;
    }
  }
  return out;
}

/** Thrown inside a device parser to say "keep this device verbatim". */
class NotTyped extends Error {}

/** Helper for optional fields: spreads `{k: v}` only when v is defined. */
function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

function parseDisk(r: ElementReader): DiskDef {
  const type = r.attr('type') ?? 'file';
  if (type !== 'file' && type !== 'block' && type !== 'volume') throw new NotTyped();
  const device = r.attr('device') ?? 'disk';
  const common = readCommon(r, true);

  const driverEl = r.child('driver');
  let driver: DiskDef['driver'];
  if (driverEl) {
    const d = r.sub(driverEl);
    const name = d.attr('name');
    const format = d.attr('type');
    driver = { ...opt('name', name), ...opt('format', format), extra: d.rest() };
  }

  // A source without the path attribute (e.g. only startupPolicy) is not ours to type.
  const pathAttr = type === 'file' ? 'file' : 'dev';
  const srcEl = r.el.children.find((c): c is XElement => c.kind === 'element' && c.ns === null && c.local === 'source');
  let source: DiskDef['source'];
  let emptySourceIndex: number | undefined;
  let volume: DiskDef['volume'];
  if (type === 'volume') {
    // <source pool= volume=/>: both or it is not ours to type
    if (!srcEl || attr(srcEl, 'pool') === undefined || attr(srcEl, 'volume') === undefined) throw new NotTyped();
    const s = r.sub(r.child('source')!);
    volume = { pool: s.attr('pool')!, name: s.attr('volume')!, extra: s.rest() };
  } else if (srcEl && attr(srcEl, pathAttr) !== undefined) {
    const s = r.sub(r.child('source')!);
    source = { path: s.attr(pathAttr)!, extra: s.rest() };
  } else if (srcEl && srcEl.attrs.length === 1 && srcEl.attrs[0]!.name === 'index' && !srcEl.children.some((c) => c.kind === 'element')) {
    // a running empty drive as libvirt shows it: no medium, only the node number
    const s = r.sub(r.child('source')!);
    emptySourceIndex = s.unsignedAttr('index');
    s.rest();
  } else if (srcEl) {
    throw new NotTyped();
  }

  const targetEl = r.child('target');
  if (!targetEl) {
    throw new MpvirtError('VIR_ERR_NO_TARGET', `device ${source?.path ?? ''}`.trimEnd(), { where: `${r.path}/target` });
  }
  const t = r.sub(targetEl);
  const target = { dev: t.requiredAttr('dev'), ...opt('bus', t.attr('bus')), extra: t.rest() };

  const flag = (name: string): boolean => {
    const el = r.child(name);
    if (!el) return false;
    if (el.attrs.length || el.children.some((c) => c.kind === 'element')) throw new NotTyped();
    return true;
  };
  const readonly = flag('readonly');
  const shareable = flag('shareable');
  const serial = r.childText('serial');

  return {
    kind: 'disk',
    type,
    device,
    ...opt('driver', driver),
    ...opt('source', source),
    ...opt('volume', volume),
    ...opt('emptySourceIndex', emptySourceIndex),
    target,
    readonly,
    shareable,
    ...opt('serial', serial),
    ...common,
    extra: r.rest(),
  };
}

function parseController(r: ElementReader): ControllerDef {
  const type = r.attr('type');
  if (type === undefined) throw new NotTyped();
  const index = r.unsignedAttr('index');
  const model = r.attr('model');
  const common = readCommon(r, false);
  return { kind: 'controller', type, ...opt('index', index), ...opt('model', model), ...common, extra: r.rest() };
}

function sourceFields(r: ElementReader): { fields: Array<readonly [string, string]>; extra: ReturnType<ElementReader['rest']> } | undefined {
  const el = r.child('source');
  if (!el) return undefined;
  const s = r.sub(el);
  return { fields: attrPairs(s), extra: s.rest() };
}

function parseInterface(r: ElementReader): InterfaceDef {
  const type = r.requiredAttr('type');
  const common = readCommon(r, true);
  let mac: string | undefined;
  const macEl = r.child('mac');
  if (macEl) {
    const m = r.sub(macEl);
    mac = parseMacAddress(m.requiredAttr('address'));
    const rest = m.rest();
    if (rest.attrs.length || rest.children.length) throw new NotTyped();
  }
  const source = sourceFields(r);
  let target: InterfaceDef['target'];
  const targetEl = r.child('target');
  if (targetEl) {
    const t = r.sub(targetEl);
    target = { ...opt('dev', t.attr('dev')), extra: t.rest() };
  }
  let model: string | undefined;
  const modelEl = r.child('model');
  if (modelEl) {
    const m = r.sub(modelEl);
    model = m.requiredAttr('type');
    const rest = m.rest();
    if (rest.attrs.length || rest.children.length) throw new NotTyped();
  }
  return { kind: 'interface', type, ...opt('mac', mac), ...opt('source', source), ...opt('target', target), ...opt('model', model), ...common, extra: r.rest() };
}

function parseCharDevice(r: ElementReader, kind: 'serial' | 'console'): CharDeviceDef {
  const type = r.attr('type') ?? 'pty';
  const tty = r.attr('tty');
  const common = readCommon(r, false);
  const source = sourceFields(r);
  let target: CharDeviceDef['target'];
  const targetEl = r.child('target');
  if (targetEl) {
    const t = r.sub(targetEl);
    target = { ...opt('type', t.attr('type')), ...opt('port', t.unsignedAttr('port')), extra: t.rest() };
  }
  return { kind, type, ...opt('tty', tty), ...opt('source', source), ...opt('target', target), ...common, extra: r.rest() };
}

function parseGraphics(r: ElementReader): GraphicsDef {
  const type = r.requiredAttr('type');
  const portText = r.attr('port');
  let port: number | undefined;
  if (portText !== undefined) {
    port = portText.trim() === '-1' ? -1 : parseUnsigned(portText, { attr: 'port', element: 'graphics' }, 0, 65535);
  }
  const autoport = r.attr('autoport');
  const listen = r.attr('listen');
  const common = readCommon(r, false);
  return { kind: 'graphics', type, ...opt('port', port), ...opt('autoport', autoport), ...opt('listen', listen), ...common, extra: r.rest() };
}

function parseVideo(r: ElementReader): VideoDef {
  const common = readCommon(r, false);
  const modelEl = r.child('model');
  let model: string | undefined;
  let modelExtra: VideoDef['modelExtra'] = { attrs: [], children: [] };
  if (modelEl) {
    const m = r.sub(modelEl);
    model = m.attr('type');
    modelExtra = m.rest();
  }
  return { kind: 'video', ...opt('model', model), modelExtra, ...common, extra: r.rest() };
}

function parseMemballoon(r: ElementReader): MemballoonDef {
  const model = r.requiredAttr('model');
  const common = readCommon(r, false);
  return { kind: 'memballoon', model, ...common, extra: r.rest() };
}

function parseInput(r: ElementReader): InputDef {
  const type = r.requiredAttr('type');
  const bus = r.attr('bus');
  const common = readCommon(r, false);
  return { kind: 'input', type, ...opt('bus', bus), ...common, extra: r.rest() };
}

const PARSERS: Readonly<Record<string, (r: ElementReader) => DeviceDef>> = {
  disk: parseDisk,
  controller: parseController,
  interface: parseInterface,
  serial: (r) => parseCharDevice(r, 'serial'),
  console: (r) => parseCharDevice(r, 'console'),
  graphics: parseGraphics,
  video: parseVideo,
  memballoon: parseMemballoon,
  input: parseInput,
};

export interface DevicesResult {
  emulator?: string;
  devices: DeviceDef[];
}

/** Parse `<devices>`: the first `<emulator>` is typed, every other child becomes a device. */
export function parseDevices(devices: XElement): DevicesResult {
  const out: DevicesResult = { devices: [] };
  for (const c of devices.children) {
    if (c.kind !== 'element') continue;
    if (c.ns === null && c.local === 'emulator' && out.emulator === undefined && c.attrs.length === 0) {
      out.emulator = textOf(c);
      continue;
    }
    const parser = c.ns === null ? PARSERS[c.local] : undefined;
    if (!parser) {
      out.devices.push({ kind: 'raw', element: c });
      continue;
    }
    try {
      out.devices.push(parser(new ElementReader(c, `/domain/devices/${c.name}`)));
    } catch (e) {
      if (!(e instanceof NotTyped)) throw e;
      out.devices.push({ kind: 'raw', element: c });
    }
  }
  return out;
}

/** The alias a device carries, typed or raw (raw devices are looked into). */
export function deviceAlias(d: DeviceDef): string | undefined {
  if (d.kind !== 'raw') return d.alias;
  for (const c of d.element.children) {
    if (c.kind === 'element' && c.ns === null && c.local === 'alias') return attr(c, 'name');
  }
  return undefined;
}
