/**
 * DomainDef → XML text, in libvirt's element order and style.
 * Preserved content (extras, raw devices, foreign metadata) is written verbatim.
 */
import {
  MPQ_NS,
  MPQ_PREFIX,
  TOP_LEVEL_ORDER,
  type AddressDef,
  type DeviceDef,
  type DomainDef,
  type Extra,
  type MemorySize,
  type RemoteDef,
  type TopLevelName,
} from './model.js';
import { quoted, serializeDocument, verbatim } from './serialize.js';
import { makeElement, textNode, type XElement, type XNode } from './xmltree.js';

type AttrList = ReadonlyArray<readonly [string, string | number | undefined]>;

/** An element with typed attributes/children followed by its preserved extras. */
function el(name: string, attrs: AttrList, children: XNode[] = [], extra?: Extra): XElement {
  const base = makeElement(name, attrs, children);
  if (!extra || (extra.attrs.length === 0 && extra.children.length === 0)) return base;
  return {
    ...base,
    attrs: [...base.attrs, ...extra.attrs],
    children: [...children, ...extra.children.map((c) => verbatim(c, "'"))],
  };
}

function textEl(name: string, text: string, attrs: AttrList = []): XElement {
  return makeElement(name, attrs, text === '' ? [] : [textNode(text)]);
}

function memoryEl(name: string, m: MemorySize): XElement {
  return {
    ...textEl(name, String(m.kib), [['unit', 'KiB']]),
    attrs: [{ name: 'unit', ns: null, value: 'KiB' }, ...m.extra.attrs],
  };
}

function addressEl(a: AddressDef): XElement {
  return el('address', [['type', a.type], ...a.fields], [], a.extra);
}

/** alias, then address: the tail libvirt writes on every device. */
function tail(d: { alias?: string; address?: AddressDef }): XElement[] {
  const out: XElement[] = [];
  if (d.alias !== undefined) out.push(makeElement('alias', [['name', d.alias]]));
  if (d.address) out.push(addressEl(d.address));
  return out;
}

function fieldsEl(name: string, s: { fields: Array<readonly [string, string]>; extra: Extra }): XElement {
  return el(name, s.fields, [], s.extra);
}

function bootEl(order: number | undefined): XElement[] {
  return order === undefined ? [] : [makeElement('boot', [['order', order]])];
}

/** Extras go before alias/address so those stay last, as libvirt writes them. */
function device(name: string, attrs: AttrList, children: XElement[], d: { alias?: string; address?: AddressDef; extra: Extra }): XElement {
  const extraChildren = d.extra.children.map((c) => verbatim(c, "'"));
  const base = makeElement(name, attrs, [...children, ...extraChildren, ...tail(d)]);
  return { ...base, attrs: [...base.attrs, ...d.extra.attrs] };
}

/** The element without whitespace-only text between child elements (recursively). */
function withoutLayout(el: XElement): XElement {
  const hasElements = el.children.some((c) => c.kind === 'element');
  const children = el.children
    .filter((c) => !(hasElements && c.kind === 'text' && c.value.trim() === ''))
    .map((c) => (c.kind === 'element' ? withoutLayout(c) : c));
  return { ...el, children };
}

function formatDevice(d: DeviceDef): XElement {
  switch (d.kind) {
    case 'raw':
      // libvirt re-writes every device it parsed in its own layout: indentation between
      // elements is not content (text such as an rng backend's path is)
      return d.element.ns === null ? quoted(withoutLayout(d.element), "'") : verbatim(d.element, "'");
    case 'disk': {
      const ch: XElement[] = [];
      if (d.driver) ch.push(el('driver', [['name', d.driver.name], ['type', d.driver.format]], [], d.driver.extra));
      if (d.volume) {
        // a volume stays a volume in the XML, resolved or not; a running disk's node index follows it
        const extra = { attrs: [...d.volume.extra.attrs, ...(d.source?.extra.attrs ?? [])], children: [...d.volume.extra.children, ...(d.source?.extra.children ?? [])] };
        ch.push(el('source', [['pool', d.volume.pool], ['volume', d.volume.name]], [], extra));
      } else if (d.source) ch.push(el('source', [[d.type === 'file' ? 'file' : 'dev', d.source.path]], [], d.source.extra));
      else if (d.emptySourceIndex !== undefined) ch.push(makeElement('source', [['index', d.emptySourceIndex]]));
      // libvirt writes the backing chain right after the source it belongs to
      const backing = d.extra.children.filter((c) => c.ns === null && c.local === 'backingStore');
      ch.push(...backing.map((c) => verbatim(c, "'")));
      ch.push(el('target', [['dev', d.target.dev], ['bus', d.target.bus]], [], d.target.extra));
      ch.push(...bootEl(d.bootOrder));
      if (d.readonly) ch.push(makeElement('readonly'));
      if (d.shareable) ch.push(makeElement('shareable'));
      if (d.serial !== undefined) ch.push(textEl('serial', d.serial));
      const rest = { ...d, extra: { ...d.extra, children: d.extra.children.filter((c) => !backing.includes(c)) } };
      return device('disk', [['type', d.volume ? 'volume' : d.type], ['device', d.device]], ch, rest);
    }
    case 'controller':
      return device('controller', [['type', d.type], ['index', d.index], ['model', d.model]], [], d);
    case 'interface': {
      const ch: XElement[] = [];
      if (d.mac !== undefined) ch.push(makeElement('mac', [['address', d.mac]]));
      if (d.source) ch.push(fieldsEl('source', d.source));
      // libvirt writes no empty <target/> (virXMLFormatElement)
      if (d.target && (d.target.dev !== undefined || d.target.extra.attrs.length > 0 || d.target.extra.children.length > 0)) {
        ch.push(el('target', [['dev', d.target.dev]], [], d.target.extra));
      }
      if (d.model !== undefined) ch.push(makeElement('model', [['type', d.model]]));
      ch.push(...bootEl(d.bootOrder));
      return device('interface', [['type', d.type]], ch, d);
    }
    case 'serial':
    case 'console': {
      const ch: XElement[] = [];
      if (d.source) ch.push(fieldsEl('source', d.source));
      if (d.target) ch.push(el('target', [['type', d.target.type], ['port', d.target.port]], [], d.target.extra));
      return device(d.kind, [['type', d.type], ['tty', d.tty]], ch, d);
    }
    case 'graphics': {
      // libvirt's attribute order: SPICE's tlsPort sits between port and autoport
      const tls = d.extra.attrs.find((a) => a.name === 'tlsPort')?.value;
      const rest = { ...d, extra: { ...d.extra, attrs: d.extra.attrs.filter((a) => a.name !== 'tlsPort') } };
      return device('graphics', [['type', d.type], ['port', d.port], ['tlsPort', tls], ['autoport', d.autoport], ['listen', d.listen]], [], rest);
    }
    case 'video': {
      const ch = d.model !== undefined || d.modelExtra.attrs.length || d.modelExtra.children.length
        ? [el('model', [['type', d.model]], [], d.modelExtra)]
        : [];
      return device('video', [], ch, d);
    }
    case 'memballoon':
      return device('memballoon', [['model', d.model]], [], d);
    case 'input':
      return device('input', [['type', d.type], ['bus', d.bus]], [], d);
  }
}

function remoteEl(r: RemoteDef): XElement {
  const prefix = r.prefix || MPQ_PREFIX;
  const q = (local: string, attrs: AttrList, children: XNode[] = []): XElement => ({
    ...makeElement(`${prefix}:${local}`, attrs, children, MPQ_NS),
  });
  const processes = r.processes.map((p) =>
    q('process', [['rid', p.rid], ['pid', p.live?.pid], ['state', p.live?.state], ['monitor', p.live?.monitor], ['uid', p.live?.uid], ['gid', p.live?.gid], ['jail', p.live?.jail], ['restarts', p.live?.restarts]], [
      ...p.devices.map((alias) => q('device', [['alias', alias]])),
      ...(p.emulator !== undefined ? [q('emulator', [], p.emulator === '' ? [] : [textNode(p.emulator)])] : []),
      ...(p.onCrash !== undefined ? [q('on-crash', [['action', p.onCrash]])] : []),
      ...(p.sandbox !== undefined ? [q('sandbox', [['mode', p.sandbox]])] : []),
    ]),
  );
  const root = q('remote', [[`xmlns:${prefix}`, MPQ_NS], ['auto', r.auto]], processes);
  return quoted(root, '"');
}

function topLevel(def: DomainDef, name: TopLevelName): XElement | undefined {
  switch (name) {
    case 'name': return textEl('name', def.name);
    case 'uuid': return textEl('uuid', def.uuid);
    case 'title': return def.title === undefined ? undefined : textEl('title', def.title);
    case 'description': return def.description === undefined ? undefined : textEl('description', def.description);
    case 'metadata': {
      const md = def.metadata;
      if (!md) return undefined;
      const children: XElement[] = [];
      if (md.remote) children.push(remoteEl(md.remote));
      // libvirt hands foreign metadata to libxml2, which writes double quotes
      for (const o of md.others) children.push(verbatim(o, '"'));
      return makeElement('metadata', [], children);
    }
    case 'memory': return memoryEl('memory', def.memory);
    case 'currentMemory': return def.currentMemory ? memoryEl('currentMemory', def.currentMemory) : undefined;
    case 'memoryBacking': {
      const mb = def.memoryBacking;
      if (!mb) return undefined;
      // libvirt's child order: hugepages, nosharepages, locked, source, access, allocation, discard
      const before = new Set(['hugepages', 'nosharepages', 'locked']);
      const head = mb.extra.children.filter((c) => c.ns === null && before.has(c.local)).map((c) => verbatim(c, "'"));
      const ch: XElement[] = [...head];
      if (mb.source !== undefined) ch.push(makeElement('source', [['type', mb.source]]));
      if (mb.access !== undefined) ch.push(makeElement('access', [['mode', mb.access]]));
      const rest = { attrs: mb.extra.attrs, children: mb.extra.children.filter((c) => !(c.ns === null && before.has(c.local))) };
      return el('memoryBacking', [], ch, rest);
    }
    case 'vcpu': {
      const v = def.vcpu;
      return el('vcpu', [['placement', v.placement], ['cpuset', v.cpuset], ['current', v.current]], [textNode(String(v.count))], v.extra);
    }
    case 'os': {
      const os = def.os;
      const ch: XElement[] = [el('type', [['arch', os.arch], ['machine', os.machine]], [textNode(os.type)], os.typeExtra)];
      if (os.kernel !== undefined) ch.push(textEl('kernel', os.kernel));
      if (os.initrd !== undefined) ch.push(textEl('initrd', os.initrd));
      if (os.cmdline !== undefined) ch.push(textEl('cmdline', os.cmdline));
      for (const b of os.boot) ch.push(makeElement('boot', [['dev', b]]));
      return el('os', [], ch, os.extra);
    }
    case 'features':
      // re-indented as libvirt writes them (layout whitespace is not content)
      return def.features ? makeElement('features', [], def.features.map((f) => (f.ns === null ? quoted(withoutLayout(f), "'") : verbatim(f, "'")))) : undefined;
    case 'cpu': {
      const c = def.cpu;
      if (!c) return undefined;
      const ch: XElement[] = [];
      if (c.model) ch.push(el('model', [['fallback', c.model.fallback]], c.model.name === '' ? [] : [textNode(c.model.name)], c.model.extra));
      return el('cpu', [['mode', c.mode], ['match', c.match], ['check', c.check]], ch, c.extra);
    }
    case 'clock': return def.clock ? el('clock', [['offset', def.clock.offset]], [], def.clock.extra) : undefined;
    case 'on_poweroff': return def.onPoweroff === undefined ? undefined : textEl('on_poweroff', def.onPoweroff);
    case 'on_reboot': return def.onReboot === undefined ? undefined : textEl('on_reboot', def.onReboot);
    case 'on_crash': return def.onCrash === undefined ? undefined : textEl('on_crash', def.onCrash);
    case 'devices': {
      const ch: XElement[] = [];
      if (def.emulator !== undefined) ch.push(textEl('emulator', def.emulator));
      for (const d of def.devices) ch.push(formatDevice(d));
      return makeElement('devices', [], ch);
    }
  }
}

/** The `<domain>` element tree, ready for serialization. */
export function domainToElement(def: DomainDef): XElement {
  const children: XElement[] = [];
  const pending = [...def.extraTop];
  const flush = (after: string | null): void => {
    for (let i = 0; i < pending.length; ) {
      if (pending[i]!.after === after) children.push(verbatim(pending.splice(i, 1)[0]!.element, "'"));
      else i++;
    }
  };
  flush(null);
  for (const name of TOP_LEVEL_ORDER) {
    const e = topLevel(def, name);
    if (!e) continue;
    children.push(e);
    flush(name);
  }
  // anything anchored to an element that is no longer written goes last
  for (const p of pending) children.push(verbatim(p.element, "'"));
  const base = makeElement('domain', [['type', def.type], ['id', def.id]], children);
  return { ...base, attrs: [...base.attrs, ...def.rootAttrs] };
}

/** Format a domain definition the way `virsh dumpxml` prints it. */
export function formatDomainXml(def: DomainDef): string {
  return serializeDocument(domainToElement(def));
}
