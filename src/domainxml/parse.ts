/**
 * XElement tree of a `<domain>` document → DomainDef.
 * Only structure is read here; the semantic rules live in validate.ts.
 */
import { MpvirtError, xmlError } from '../errors.js';
import {
  MPQ_NS,
  TOP_LEVEL_ORDER,
  type ClockDef,
  type CpuDef,
  type DomainDef,
  type MemoryBackingDef,
  type MemorySize,
  type MetadataDef,
  type OnCrashAction,
  type OsDef,
  type RemoteDef,
  type RemoteProcessDef,
  type TopLevelExtra,
  type VcpuDef,
} from './model.js';
import { parseDevices } from './parse-devices.js';
import { ElementReader } from './reader.js';
import { elementChildren, textOf, type XElement } from './xmltree.js';
import { generateUuid, parseMemoryKiB, parseUnsigned, parseUuid } from './values.js';

function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

const KNOWN_TOP = new Set<string>(TOP_LEVEL_ORDER);

export function parseDomainElement(root: XElement): DomainDef {
  if (root.local !== 'domain' || root.ns !== null) {
    throw xmlError(`unexpected root element <${root.name}>, expecting <domain>`, { where: '/' });
  }
  const r = new ElementReader(root, '/domain');
  const type = r.attr('type');
  if (type === undefined || type === '') {
    throw xmlError(`missing domain type attribute`, { where: '/domain/@type' });
  }
  const idText = r.attr('id');
  const id = idText === undefined ? undefined : Number.parseInt(idText, 10);

  // Known top-level elements are read from the first occurrence; anything
  // else (including a repeated known element) is preserved in place.
  const seen = new Map<string, XElement>();
  const extraTop: TopLevelExtra[] = [];
  let lastKnown: string | null = null;
  for (const c of elementChildren(root)) {
    if (c.ns === null && KNOWN_TOP.has(c.local) && !seen.has(c.local)) {
      seen.set(c.local, c);
      lastKnown = c.local;
    } else {
      extraTop.push({ after: lastKnown, element: c });
    }
  }

  const nameEl = seen.get('name');
  const name = nameEl === undefined ? '' : textOf(nameEl);
  if (name === '') throw new MpvirtError('VIR_ERR_NO_NAME', '', { where: '/domain/name' });

  let uuid: string;
  const uuidEl = seen.get('uuid');
  if (uuidEl === undefined) {
    uuid = generateUuid();
  } else {
    const parsed = parseUuid(textOf(uuidEl));
    if (parsed === undefined) {
      throw xmlError(`malformed uuid element '${textOf(uuidEl)}'`, { where: '/domain/uuid' });
    }
    uuid = parsed;
  }

  const memEl = seen.get('memory');
  const memory = memEl ? readMemory(memEl, '/domain/memory') : numaMemory(seen.get('cpu'));
  const curEl = seen.get('currentMemory');
  const vcpuEl = seen.get('vcpu');
  const osEl = seen.get('os');
  if (osEl === undefined) throw xmlError('missing <os> element', { where: '/domain/os' });
  const devicesEl = seen.get('devices');
  const devices = devicesEl ? parseDevices(devicesEl) : { devices: [] };
  const featuresEl = seen.get('features');

  const def: DomainDef = {
    type,
    ...opt('id', Number.isSafeInteger(id) ? id : undefined),
    name,
    uuid,
    ...opt('title', seen.has('title') ? textOf(seen.get('title')!) : undefined),
    ...opt('description', seen.has('description') ? textOf(seen.get('description')!) : undefined),
    ...opt('metadata', seen.has('metadata') ? parseMetadata(seen.get('metadata')!) : undefined),
    memory,
    ...opt('currentMemory', curEl ? readMemory(curEl, '/domain/currentMemory') : undefined),
    ...opt('memoryBacking', seen.has('memoryBacking') ? parseMemoryBacking(seen.get('memoryBacking')!) : undefined),
    vcpu: vcpuEl ? parseVcpu(vcpuEl) : { count: 1, extra: { attrs: [], children: [] } },
    os: parseOs(osEl),
    ...opt('features', featuresEl ? elementChildren(featuresEl) : undefined),
    ...opt('cpu', seen.has('cpu') ? parseCpu(seen.get('cpu')!) : undefined),
    ...opt('clock', seen.has('clock') ? parseClock(seen.get('clock')!) : undefined),
    ...opt('onPoweroff', seen.has('on_poweroff') ? textOf(seen.get('on_poweroff')!).trim() : undefined),
    ...opt('onReboot', seen.has('on_reboot') ? textOf(seen.get('on_reboot')!).trim() : undefined),
    ...opt('onCrash', seen.has('on_crash') ? textOf(seen.get('on_crash')!).trim() : undefined),
    ...opt('emulator', devices.emulator),
    devices: devices.devices,
    rootAttrs: r.rest().attrs,
    extraTop,
  };
  // `<vcpu>` absent means one vCPU, as in libvirt; remember that it was absent
  // only through the model (the formatter always writes it).
  return def;
}

function readMemory(el: XElement, where: string): MemorySize {
  const r = new ElementReader(el, where);
  const unit = r.attr('unit');
  return { kib: parseMemoryKiB(textOf(el), unit, where), extra: r.rest() };
}

/** Without `<memory>`, libvirt sums the NUMA cells' memory. */
function numaMemory(cpu: XElement | undefined): MemorySize {
  const cells = cpu ? elementChildren(cpu).filter((c) => c.local === 'numa' && c.ns === null).flatMap(elementChildren) : [];
  let kib = 0;
  for (const cell of cells) {
    const mem = cell.attrs.find((a) => a.name === 'memory' && a.ns === null);
    if (cell.local !== 'cell' || !mem) continue;
    const unit = cell.attrs.find((a) => a.name === 'unit' && a.ns === null)?.value;
    kib += parseMemoryKiB(mem.value, unit, '/domain/cpu/numa/cell/@memory');
  }
  if (kib === 0) {
    throw xmlError('Memory size must be specified via <memory> or in the <numa> configuration', { where: '/domain/memory' });
  }
  return { kib, extra: { attrs: [], children: [] } };
}

function parseVcpu(el: XElement): VcpuDef {
  const r = new ElementReader(el, '/domain/vcpu');
  const count = parseUnsigned(textOf(el), { element: 'vcpu' }, 1, 16384);
  const placement = r.attr('placement');
  const cpuset = r.attr('cpuset');
  const current = r.unsignedAttr('current', 1, 16384);
  return { count, ...opt('placement', placement), ...opt('cpuset', cpuset), ...opt('current', current), extra: r.rest() };
}

function parseOs(el: XElement): OsDef {
  const r = new ElementReader(el, '/domain/os');
  const typeEl = r.child('type');
  if (!typeEl) throw xmlError('an os <type> must be specified', { where: '/domain/os/type' });
  const t = r.sub(typeEl);
  const arch = t.attr('arch');
  const machine = t.attr('machine');
  const kernel = r.childText('kernel');
  const initrd = r.childText('initrd');
  const cmdline = r.childText('cmdline');
  const boot: string[] = [];
  for (const b of r.children('boot')) {
    const br = r.sub(b);
    const dev = br.requiredAttr('dev');
    const rest = br.rest();
    if (rest.attrs.length || rest.children.length) throw xmlError(`unexpected content in <boot dev='${dev}'>`, { where: '/domain/os/boot' });
    boot.push(dev);
  }
  return {
    type: textOf(typeEl).trim(),
    ...opt('arch', arch),
    ...opt('machine', machine),
    typeExtra: t.rest(),
    ...opt('kernel', kernel),
    ...opt('initrd', initrd),
    ...opt('cmdline', cmdline),
    boot,
    extra: r.rest(),
  };
}

function parseCpu(el: XElement): CpuDef {
  const r = new ElementReader(el, '/domain/cpu');
  const mode = r.attr('mode');
  const match = r.attr('match');
  const check = r.attr('check');
  let model: CpuDef['model'];
  const modelEl = r.child('model');
  if (modelEl) {
    const m = r.sub(modelEl);
    model = { name: textOf(modelEl), ...opt('fallback', m.attr('fallback')), extra: m.rest() };
  }
  return { ...opt('mode', mode), ...opt('match', match), ...opt('check', check), ...opt('model', model), extra: r.rest() };
}

function parseClock(el: XElement): ClockDef {
  const r = new ElementReader(el, '/domain/clock');
  return { ...opt('offset', r.attr('offset')), extra: r.rest() };
}

function parseMemoryBacking(el: XElement): MemoryBackingDef {
  const r = new ElementReader(el, '/domain/memoryBacking');
  const simple = (name: string, attrName: string): string | undefined => {
    const c = r.el.children.find((x): x is XElement => x.kind === 'element' && x.ns === null && x.local === name);
    // only the plain one-attribute form is typed; anything richer stays verbatim
    if (!c || c.attrs.length !== 1 || c.attrs[0]!.name !== attrName || elementChildren(c).length) return undefined;
    r.child(name);
    return c.attrs[0]!.value;
  };
  const source = simple('source', 'type');
  const access = simple('access', 'mode');
  return { ...opt('source', source), ...opt('access', access), extra: r.rest() };
}

function parseMetadata(el: XElement): MetadataDef {
  const others: XElement[] = [];
  let remote: RemoteDef | undefined;
  for (const c of elementChildren(el)) {
    if (c.ns === MPQ_NS) {
      if (c.local !== 'remote') throw xmlError(`unknown element <${c.name}> in the mpvirt namespace`, { where: `/domain/metadata/${c.name}` });
      if (remote) throw xmlError('more than one <mpq:remote> element in <metadata>', { where: '/domain/metadata' });
      remote = parseRemote(c);
    } else {
      others.push(c);
    }
  }
  return { ...opt('remote', remote), others };
}

// Our own namespace is strict: an unknown element or attribute there is a
// mistake the user wants to hear about, not something to preserve.
function strictRest(r: ElementReader): void {
  const rest = r.rest();
  const bad = rest.attrs.find((a) => !a.name.startsWith('xmlns'));
  if (bad) throw xmlError(`unknown attribute '${bad.name}' in element <${r.el.name}>`, { where: `${r.path}/@${bad.name}` });
  const badChild = rest.children[0];
  if (badChild) throw xmlError(`unknown element <${badChild.name}> in <${r.el.name}>`, { where: `${r.path}/${badChild.name}` });
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], where: string): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw xmlError(`invalid value '${v}' for ${where}, expected one of: ${allowed.join(', ')}`, { where });
  }
  return v as T;
}

function parseRemote(el: XElement): RemoteDef {
  const r = new ElementReader(el, '/domain/metadata/mpq:remote');
  const auto = oneOf(r.attr('auto'), ['on', 'off'] as const, 'mpq:remote/@auto');
  const processes: RemoteProcessDef[] = [];
  for (const p of r.children('process', MPQ_NS)) processes.push(parseProcess(r.sub(p)));
  strictRest(r);
  const colon = el.name.indexOf(':');
  return { prefix: colon < 0 ? '' : el.name.slice(0, colon), ...opt('auto', auto), processes };
}

/**
 * One `<mpq:process>` outside `<metadata>`: the placement a hot-plugged controller brings along
 * (attach-device), which names no devices of its own — the controller is its device.
 */
export function parseRemoteProcess(el: XElement, path: string): RemoteProcessDef {
  return parseProcess(new ElementReader(el, path));
}

function parseProcess(r: ElementReader): RemoteProcessDef {
  const rid = r.attr('rid');
  // live-only attributes (dumpxml of a running domain); dropped again at define
  const pidText = r.attr('pid');
  const state = r.attr('state');
  const monitor = r.attr('monitor');
  const id = (name: string): number | undefined => {
    const v = r.attr(name);
    return v === undefined ? undefined : parseUnsigned(v, { attr: name, element: r.el.name }, 0, 0xfffffffe);
  };
  const live = {
    ...opt('pid', pidText === undefined ? undefined : parseUnsigned(pidText, { attr: 'pid', element: r.el.name }, 1, 0x7fffffff)),
    ...opt('state', state),
    ...opt('monitor', monitor),
    ...opt('uid', id('uid')),
    ...opt('gid', id('gid')),
    ...opt('jail', r.attr('jail')),
    ...opt('restarts', id('restarts')),
  };
  if (rid === undefined) throw xmlError(`missing attribute 'rid' in <${r.el.name}>`, { where: `${r.path}/@rid` });
  const devices: string[] = [];
  for (const d of r.children('device', MPQ_NS)) {
    const dr = r.sub(d);
    const alias = dr.attr('alias');
    if (alias === undefined || alias === '') {
      throw xmlError(`<${d.name}> in remote process '${rid}' names no device (missing 'alias')`, { where: `${r.path}/${d.name}/@alias` });
    }
    strictRest(dr);
    devices.push(alias);
  }
  const one = (local: string): ElementReader | undefined => {
    const found = r.children(local, MPQ_NS);
    if (found.length > 1) throw xmlError(`more than one <${found[1]!.name}> in remote process '${rid}'`, { where: `${r.path}/${found[1]!.name}` });
    return found[0] ? r.sub(found[0]) : undefined;
  };
  const emuR = one('emulator');
  let emulator: string | undefined;
  if (emuR) {
    emulator = textOf(emuR.el);
    strictRest(emuR);
  }
  const crashR = one('on-crash');
  let onCrash: OnCrashAction | undefined;
  if (crashR) {
    onCrash = oneOf(crashR.attr('action'), ['destroy', 'preserve', 'restart'] as const, `${crashR.path}/@action`);
    if (onCrash === undefined) throw xmlError(`missing attribute 'action' in <${crashR.el.name}>`, { where: `${crashR.path}/@action` });
    strictRest(crashR);
  }
  const sandR = one('sandbox');
  let sandbox: 'on' | 'off' | undefined;
  if (sandR) {
    sandbox = oneOf(sandR.attr('mode'), ['on', 'off'] as const, `${sandR.path}/@mode`);
    if (sandbox === undefined) throw xmlError(`missing attribute 'mode' in <${sandR.el.name}>`, { where: `${sandR.path}/@mode` });
    strictRest(sandR);
  }
  strictRest(r);
  return {
    rid,
    ...opt('live', Object.keys(live).length > 0 ? live : undefined),
    devices,
    ...opt('emulator', emulator),
    ...opt('onCrash', onCrash),
    ...opt('sandbox', sandbox),
  };
}
