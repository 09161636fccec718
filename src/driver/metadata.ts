/**
 * `virDomainSetMetadata` / `virDomainGetMetadata` on the typed model, with
 * libvirt 9.0's semantics (virDomainDefSetMetadata, virXMLInjectNamespace,
 * virXMLExtractNamespaceXML) and libxml2's output format:
 *
 * - ELEMENT set: the user's XML is parsed, every element without a namespace
 *   is put into `uri` with the prefix `key` (declared on the root element),
 *   any `<metadata>` child already in `uri` is removed and the new element is
 *   appended. `null` only removes.
 * - ELEMENT get: the first `<metadata>` child in `uri`, with that namespace
 *   (prefixes and its declaration) stripped, printed like libxml2's
 *   xmlNodeDump(format=1).
 * - DESCRIPTION / TITLE: plain strings; null or "" removes the element.
 *
 * Pure functions: which definition changes, validation of our own namespace
 * and persistence are the driver's business.
 */
import { MpvirtError } from '../errors.js';
import { domainToElement } from '../domainxml/format.js';
import { MPQ_NS, type DomainDef, type MetadataDef } from '../domainxml/model.js';
import { serializeDocument, verbatim } from '../domainxml/serialize.js';
import { parseXmlDocument, type XAttr, type XElement, type XNode } from '../domainxml/xmltree.js';

/** virDomainMetadataType */
export const MetadataType = { DESCRIPTION: 0, TITLE: 1, ELEMENT: 2 } as const;
export type MetadataTypeNumber = (typeof MetadataType)[keyof typeof MetadataType];

/** libvirt writes `<metadata>` children at this libxml2 indentation level (inside `<domain><metadata>`). */
const STORED_LEVEL = 2;

// ------------------------------------------------------------------ libxml2's formatting

const ws = (level: number): XNode => ({ kind: 'text', value: `\n${'  '.repeat(level)}` });
const isTextLike = (n: XNode): boolean => n.kind === 'text' || n.kind === 'cdata';

/**
 * What xmlNodeDump(format=1) does with an element at `level`: children go on
 * their own indented lines unless one of them is text (or CDATA), which turns
 * formatting off for that whole subtree.
 */
export function libxmlFormat(el: XElement, level: number): XElement {
  if (el.children.length === 0 || el.children.some(isTextLike)) return el;
  const children: XNode[] = [];
  for (const c of el.children) children.push(ws(level + 1), c.kind === 'element' ? libxmlFormat(c, level + 1) : c);
  children.push(ws(level));
  return { ...el, children };
}

/** The inverse of libxmlFormat at `level`: removes exactly the whitespace it would have added, nothing else. */
export function libxmlUnformat(el: XElement, level: number): XElement {
  const k = el.children;
  const blank = (n: XNode | undefined, l: number): boolean => n?.kind === 'text' && n.value === `\n${'  '.repeat(l)}`;
  if (k.length < 3 || k.length % 2 === 0 || !blank(k[k.length - 1], level)) return el;
  const kept: XNode[] = [];
  for (let i = 0; i < k.length - 1; i += 2) {
    const c = k[i + 1]!;
    if (!blank(k[i], level + 1) || isTextLike(c)) return el;
    kept.push(c.kind === 'element' ? libxmlUnformat(c, level + 1) : c);
  }
  return { ...el, children: kept };
}

// ------------------------------------------------------------------ namespaces

/** libxml2's xmlValidateNCName, for the prefixes users type. */
const NCNAME = /^[\p{L}_][\p{L}\p{N}\p{M}._\-\u00B7]*$/u;

const isDecl = (a: XAttr): boolean => a.name === 'xmlns' || a.name.startsWith('xmlns:');

/** virXMLInjectNamespace: declare `key` → `uri` on the root, and put every element without a namespace into it. */
function injectNamespace(root: XElement, uri: string, key: string): XElement {
  if (!NCNAME.test(key)) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'failed to validate prefix for a new XML namespace');
  // xmlNewNs refuses the reserved prefix and a prefix the element already declares
  if (key === 'xml' || root.attrs.some((a) => a.name === `xmlns:${key}`)) {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'failed to create a new XML namespace');
  }
  const put = (el: XElement): XElement => ({
    ...el,
    ...(el.ns === null ? { name: `${key}:${el.local}`, ns: uri } : {}),
    children: el.children.map((c) => (c.kind === 'element' ? put(c) : c)),
  });
  const withNs = put(root);
  // libxml2 writes namespace declarations before the attributes
  const attrs = [...root.attrs.filter(isDecl), { name: `xmlns:${key}`, ns: null, value: uri }, ...root.attrs.filter((a) => !isDecl(a))];
  return { ...withNs, attrs };
}

/** virXMLExtractNamespaceXML's copy: elements in `uri` lose their prefix, the first declaration of `uri` goes. */
function stripNamespace(root: XElement, uri: string): XElement {
  const strip = (el: XElement): XElement => ({
    ...el,
    ...(el.ns === uri ? { name: el.local, ns: null } : {}),
    children: el.children.map((c) => (c.kind === 'element' ? strip(c) : c)),
  });
  const out = strip(root);
  const i = out.attrs.findIndex((a) => isDecl(a) && a.value === uri);
  return i < 0 ? out : { ...out, attrs: out.attrs.filter((_, j) => j !== i) };
}

// ------------------------------------------------------------------ the operations

/** The `<metadata>` children of a definition in document order, as the formatter writes them. */
function metadataChildren(def: DomainDef): XElement[] {
  if (!def.metadata) return [];
  const md = domainToElement({ ...def, devices: [], extraTop: [] }).children.find(
    (c): c is XElement => c.kind === 'element' && c.local === 'metadata' && c.ns === null,
  );
  return md ? md.children.filter((c): c is XElement => c.kind === 'element') : [];
}

/** `virsh metadata DOM URI`: the element in `uri`, printed as libvirt prints it; undefined when there is none. */
export function getMetadataElement(def: DomainDef, uri: string): string | undefined {
  const el = metadataChildren(def).find((c) => c.ns === uri);
  if (!el) return undefined;
  const plain = libxmlFormat(stripNamespace(libxmlUnformat(el, STORED_LEVEL), uri), 0);
  return serializeDocument(verbatim(plain, '"')).replace(/\n$/, '');
}

/** The element `virsh metadata --key KEY --set XML` stores, formatted for `<metadata>`. */
export function parseMetadataElement(xml: string, uri: string, key: string): XElement {
  const root = parseXmlDocument(xml);
  return libxmlFormat(injectNamespace(root, uri, key), STORED_LEVEL);
}

/**
 * The metadata with every child in `uri` removed and `added` appended. For
 * our own namespace the result holds the new `<mpq:remote>` among the foreign
 * children: the driver formats and re-parses such a definition, which moves
 * it back into `remote` through every rule of define. `<metadata>` stays,
 * possibly empty, once it exists (libvirt keeps the node).
 */
export function replaceMetadata(def: DomainDef, uri: string, added: XElement | undefined): MetadataDef {
  const others = (def.metadata?.others ?? []).filter((o) => o.ns !== uri);
  if (added) others.push(added);
  const remote = uri === MPQ_NS ? undefined : def.metadata?.remote;
  return { ...(remote ? { remote } : {}), others };
}

/** The definition with a new title or description; null or "" removes it. */
export function withText(def: DomainDef, type: typeof MetadataType.TITLE | typeof MetadataType.DESCRIPTION, value: string | null): DomainDef {
  const out: DomainDef = { ...def };
  const field = type === MetadataType.TITLE ? 'title' : 'description';
  if (value === null || value === '') delete out[field];
  else out[field] = value;
  return out;
}
