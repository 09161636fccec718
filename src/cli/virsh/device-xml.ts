/**
 * The domain XML surgery virsh does with libxml2 before a device call (tools/virsh-domain.c
 * virshFindDisk, virshUpdateDiskXML, virshDomainDetachInterface, cmdDomIfSetLink): find a
 * device in the domain's XML, change it, and write it back out as libxml2's xmlNodeDump does
 * (virXMLNodeToString) — the daemon gets, and --print-xml shows, exactly what virsh sends.
 */
import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { VshError } from '../vsh/options.js';

const ELEMENT = 1;
const TEXT = 3;
const CDATA = 4;
const PI = 7;
const COMMENT = 8;

/** virXMLParseStringCtxt: the document, or undefined when it is not well-formed XML. */
export function parseXml(xml: string): Document | undefined {
  try {
    const doc = new DOMParser({ onError: () => { throw new Error('not well-formed'); } }).parseFromString(xml, 'text/xml');
    return doc.documentElement ? doc : undefined;
  } catch {
    return undefined;
  }
}

export function* childElements(e: Element): Generator<Element> {
  for (let n = e.firstChild; n; n = n.nextSibling) if (n.nodeType === ELEMENT) yield n as Element;
}

/** The first child element named `name` (virXMLNodeGetSubelement, XPath `./name[1]`). */
export const childElement = (e: Element, name: string): Element | undefined => {
  for (const c of childElements(e)) if (c.nodeName === name) return c;
  return undefined;
};

/** virXPathString("string(./child/@attr)"): undefined for a missing or empty value, as libvirt returns NULL for "". */
export function childAttr(e: Element, child: string, name: string): string | undefined {
  const c = childElement(e, child);
  const v = c?.getAttribute(name);
  return v ? v : undefined;
}

/** virXMLPropString: the attribute, empty or not; undefined when absent. */
export const prop = (e: Element, name: string): string | undefined => (e.hasAttribute(name) ? e.getAttribute(name)! : undefined);

/** `/domain/devices/<local>` */
export function domainDevices(doc: Document, local: string): Element[] {
  const root = doc.documentElement!;
  if (root.nodeName !== 'domain') return [];
  const out: Element[] = [];
  for (const devs of childElements(root)) if (devs.nodeName === 'devices') for (const d of childElements(devs)) if (d.nodeName === local) out.push(d);
  return out;
}

// libxml2 without an output encoding writes every non-ASCII character as a character reference
const charRef = (c: string): string => `&#x${c.codePointAt(0)!.toString(16).toUpperCase()};`;
const escapeText = (s: string): string =>
  s.replace(/[&<>\r]|[^\x00-\x7f]/gu, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' })[c] ?? charRef(c));
const escapeAttr = (s: string): string =>
  s.replace(/[&<>"\n\r\t]|[^\x00-\x7f]/gu, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' })[c] ?? charRef(c));

/** xmlNodeDump(buf, doc, node, level, format=1): libxml2's serialization of one node. */
export function nodeToString(node: Node, level = 0): string {
  switch (node.nodeType) {
    case TEXT: return escapeText(node.nodeValue ?? '');
    case CDATA: return `<![CDATA[${node.nodeValue ?? ''}]]>`;
    case COMMENT: return `<!--${node.nodeValue ?? ''}-->`;
    case PI: return `<?${node.nodeName} ${node.nodeValue ?? ''}?>`;
    case ELEMENT: break;
    default: return '';
  }
  const e = node as Element;
  // namespace declarations first, then the attributes, as libxml2 keeps them apart
  const attrs = Array.from({ length: e.attributes.length }, (_, i) => e.attributes.item(i)!);
  const isNs = (n: string): boolean => n === 'xmlns' || n.startsWith('xmlns:');
  const ordered = [...attrs.filter((a) => isNs(a.name)), ...attrs.filter((a) => !isNs(a.name))];
  let out = `<${e.nodeName}${ordered.map((a) => ` ${a.name}="${escapeAttr(a.value)}"`).join('')}`;
  if (!e.firstChild) return `${out}/>`;
  out += '>';
  const kids: Node[] = [];
  for (let n: Node | null = e.firstChild; n; n = n.nextSibling) kids.push(n);
  // format=1 indents only an element whose children include no text
  const format = !kids.some((k) => k.nodeType === TEXT || k.nodeType === CDATA);
  if (format) {
    out += '\n';
    for (const k of kids) out += `${'  '.repeat(level + 1)}${nodeToString(k, level + 1)}\n`;
    out += '  '.repeat(level);
  } else {
    for (const k of kids) out += nodeToString(k, level + 1);
  }
  return `${out}</${e.nodeName}>`;
}

/** virshFindDisk: the disk whose target or source is `path`, copied, its backing store dropped. */
export function findDisk(xml: string, path: string, changeable: boolean): Element {
  const doc = parseXml(xml);
  const disks = doc ? domainDevices(doc, 'disk') : [];
  if (disks.length === 0) throw new VshError('Failed to get disk information');
  for (const disk of disks) {
    if (changeable) {
      const device = prop(disk, 'device');
      if (device !== undefined && device !== 'cdrom' && device !== 'floppy') continue;
    }
    const source = childElement(disk, 'source');
    const names = source ? (['file', 'dev', 'dir', 'name'] as const).map((a) => prop(source, a)) : [];
    if (childAttr(disk, 'target', 'dev') === path || names.includes(path)) {
      const copy = disk.cloneNode(true) as Element;
      const backing = childElement(copy, 'backingStore');
      if (backing) copy.removeChild(backing);
      return copy;
    }
  }
  throw new VshError(`No disk found whose source path or target is ${path}`);
}

export type DiskUpdate = 'eject' | 'insert' | 'update';

/** virshUpdateDiskXML: the disk with its media ejected, inserted or replaced, as libxml2 writes it. */
export function updateDiskXml(disk: Element, newSource: string | undefined, sourceBlock: boolean, target: string, type: DiskUpdate): string {
  const deviceType = prop(disk, 'device');
  if (deviceType !== 'cdrom' && deviceType !== 'floppy') throw new VshError(`The disk device '${target}' is not removable`);
  let source: Element | undefined;
  let targetNode: Element | undefined;
  let textNode: Node | undefined;
  for (let n = disk.firstChild; n; n = n.nextSibling) {
    // the last text node before <target/>: its indentation is copied for the new <source/>
    if (!targetNode && n.nodeType === TEXT) textNode = n;
    if (n.nodeType !== ELEMENT) continue;
    if (!source && n.nodeName === 'source') source = n as Element;
    else if (!targetNode && n.nodeName === 'target') targetNode = n as Element;
    if (source && targetNode) break;
  }
  if (type === 'eject') {
    if (!source) throw new VshError(`The disk device '${target}' doesn't have media`);
    sourceBlock = false;
    newSource = undefined;
  } else if (newSource === undefined) {
    throw new VshError('New disk media source was not specified');
  }
  let startupPolicy: string | undefined;
  if (source) {
    const path = (['file', 'dev', 'dir', 'pool', 'name'] as const).map((a) => prop(source!, a)).find((v) => v !== undefined);
    if (path !== undefined && type === 'insert') throw new VshError(`The disk device '${target}' already has media`);
    startupPolicy = prop(source, 'startupPolicy');
    disk.removeChild(source);
  }
  disk.setAttribute('type', sourceBlock ? 'block' : 'file');
  if (newSource !== undefined) {
    const doc = disk.ownerDocument!;
    const el = doc.createElement('source');
    el.setAttribute(sourceBlock ? 'dev' : 'file', newSource);
    if (startupPolicy !== undefined) el.setAttribute('startupPolicy', startupPolicy);
    // xmlAddPrevSibling(NULL, …) adds nothing: a disk without <target/> gets no new source
    if (targetNode) {
      disk.insertBefore(el, targetNode);
      if (textNode) disk.insertBefore(textNode.cloneNode(false), targetNode);
    }
  }
  return nodeToString(disk);
}
