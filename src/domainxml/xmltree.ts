/**
 * A small, immutable-by-convention XML tree: the lossless substrate of the
 * domain model. Anything the typed model does not understand is kept as an
 * XElement and written back verbatim.
 *
 * Parsing goes through @xmldom/xmldom with every warning treated as fatal,
 * and with the hostile-input rules applied before and during conversion:
 * no DOCTYPE (so no entity can ever be declared or expanded), a size cap,
 * a depth cap, and only characters XML 1.0 allows.
 */
import { DOMParser } from '@xmldom/xmldom';
import { xmlError } from '../errors.js';
import { prescanXml } from './prescan.js';

export interface XAttr {
  /** qualified name as written, e.g. `unit` or `xmlns:mpq` */
  readonly name: string;
  /** namespace URI of a prefixed attribute; null for unprefixed ones */
  readonly ns: string | null;
  readonly value: string;
}

export interface XElement {
  readonly kind: 'element';
  /** qualified name as written, e.g. `mpq:process` */
  readonly name: string;
  /** local part of the name */
  readonly local: string;
  /** namespace URI, null when none */
  readonly ns: string | null;
  readonly attrs: readonly XAttr[];
  readonly children: readonly XNode[];
  /** position in the source document, for error messages (not part of equality) */
  readonly line?: number;
}

export interface XText {
  readonly kind: 'text' | 'cdata' | 'comment';
  readonly value: string;
}

export interface XProcessingInstruction {
  readonly kind: 'pi';
  readonly target: string;
  readonly value: string;
}

export type XNode = XElement | XText | XProcessingInstruction;

export interface ParseLimits {
  /** refuse documents larger than this many bytes (UTF-8); default 10 MiB */
  maxBytes?: number;
  /** refuse element nesting deeper than this; default 128 */
  maxDepth?: number;
  /** refuse documents with more elements than this; default 100,000 */
  maxElements?: number;
}

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 128;
export const DEFAULT_MAX_ELEMENTS = 100_000;

// Characters XML 1.0 allows (§2.2); everything else is refused, whether raw or
// written as a character reference (xmldom accepts `&#1;`, libxml2 does not).
const INVALID_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export function findInvalidXmlChar(s: string): number {
  const m = INVALID_XML_CHAR.exec(s);
  return m ? m.index : -1;
}

function lineColumnAt(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < index; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: index - lineStart + 1 };
}

/** Parse a document into an XElement tree, refusing anything hostile or malformed. */
export function parseXmlDocument(input: string, limits: ParseLimits = {}): XElement {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  // a byte-order mark is not part of the document (libxml2 skips it too)
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  // Cheap upper bound first so a huge string is never walked twice.
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) {
    throw xmlError(`document is larger than the limit of ${maxBytes} bytes`);
  }
  const bad = findInvalidXmlChar(text);
  if (bad >= 0) {
    const at = lineColumnAt(text, bad);
    throw xmlError(
      `malformed XML at line ${at.line}, column ${at.column}: character U+${(text.codePointAt(bad) ?? 0).toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`,
      at,
    );
  }
  if (text.trim() === '') throw xmlError('malformed XML at line 1, column 1: Document is empty', { line: 1, column: 1 });
  // bounded depth/size, no DOCTYPE, well-formed references: before any tree is built
  prescanXml(text, { maxDepth, maxElements: limits.maxElements ?? DEFAULT_MAX_ELEMENTS });

  let firstProblem: { message: string; line?: number; column?: number } | undefined;
  const parser = new DOMParser({
    locator: true,
    // XML 1.0 line ends only; xmldom's default also folds U+0085/U+2028 (XML 1.1 rules)
    normalizeLineEndings: (s: string) => s.replace(/\r\n?/g, '\n'),
    onError: (level: string, message: string, context?: { locator?: { lineNumber?: number; columnNumber?: number } }) => {
      // U+FFFD is a valid character; xmldom only warns that it might be a decoding accident
      if (level === 'warning' && /replacement character/i.test(message)) return;
      // xmldom recovers from many errors (undefined entities, unquoted
      // attributes); libvirt's libxml2 does not, and neither do we.
      const loc = context?.locator;
      firstProblem ??= { message, ...(loc?.lineNumber ? { line: loc.lineNumber } : {}), ...(loc?.columnNumber ? { column: loc.columnNumber } : {}) };
    },
  });
  let doc: ReturnType<DOMParser['parseFromString']>;
  try {
    doc = parser.parseFromString(text, 'text/xml');
  } catch (e) {
    const loc = (e as { locator?: { lineNumber?: number; columnNumber?: number } }).locator;
    const line = loc?.lineNumber ?? 0;
    const column = loc?.columnNumber ?? 0;
    const msg = (e as Error).message.split('\n')[0] ?? String(e);
    throw xmlError(`malformed XML at line ${line}, column ${column}: ${msg}`, { line, column, cause: e });
  }
  const root = doc.documentElement;
  if (firstProblem !== undefined || !root) {
    const line = firstProblem?.line ?? 1;
    const column = firstProblem?.column ?? 1;
    throw xmlError(`malformed XML at line ${line}, column ${column}: ${firstProblem?.message ?? 'missing root element'}`, { line, column });
  }
  return convertElement(root as unknown as DomElementLike, maxDepth);
}

// The subset of the DOM interface the converter reads; keeps xmldom's loose
// typings out of the rest of the module.
interface DomNodeLike {
  nodeType: number;
  nodeValue: string | null;
  childNodes: ArrayLike<DomNodeLike>;
}
interface DomElementLike extends DomNodeLike {
  tagName: string;
  localName: string | null;
  namespaceURI: string | null;
  lineNumber?: number;
  columnNumber?: number;
  attributes: ArrayLike<{ name: string; namespaceURI: string | null; value: string; prefix: string | null }>;
}
interface DomPILike extends DomNodeLike {
  target: string;
  data: string;
}

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_NODE = 4;
const PI_NODE = 7;
const COMMENT_NODE = 8;

/**
 * The raw text was checked before parsing; this catches characters that only
 * appear after decoding, i.e. character references such as `&#1;` (which
 * xmldom accepts and libxml2 refuses).
 */
function checkDecoded(value: string, node: { lineNumber?: number; columnNumber?: number }): void {
  const bad = findInvalidXmlChar(value);
  if (bad < 0) return;
  const cp = (value.codePointAt(bad) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  const line = node.lineNumber ?? 1;
  const column = node.columnNumber ?? 1;
  throw xmlError(`malformed XML at line ${line}, column ${column}: character reference to U+${cp} is not allowed in XML`, { line, column });
}

/** Iterative conversion: deep input cannot overflow the stack. */
function convertElement(rootDom: DomElementLike, maxDepth: number): XElement {
  interface Frame {
    dom: DomElementLike;
    children: XNode[];
    next: number;
  }
  const mk = (dom: DomElementLike): Frame => ({ dom, children: [], next: 0 });
  const finish = (f: Frame): XElement => {
    const attrs: XAttr[] = [];
    for (let i = 0; i < f.dom.attributes.length; i++) {
      const a = f.dom.attributes[i]!;
      // xmlns declarations carry the namespace URI in `value`; keep them as
      // plain attributes so prefixes survive a verbatim round trip.
      const isDecl = a.name === 'xmlns' || a.name.startsWith('xmlns:');
      checkDecoded(a.value, f.dom);
      attrs.push({ name: a.name, ns: isDecl || !a.prefix ? null : a.namespaceURI, value: a.value });
    }
    const el: XElement = {
      kind: 'element',
      name: f.dom.tagName,
      local: f.dom.localName ?? f.dom.tagName,
      ns: f.dom.namespaceURI ?? null,
      attrs,
      children: f.children,
      ...(f.dom.lineNumber !== undefined ? { line: f.dom.lineNumber } : {}),
    };
    return el;
  };
  const stack: Frame[] = [mk(rootDom)];
  for (;;) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.dom.childNodes.length) {
      stack.pop();
      const el = finish(top);
      const parent = stack[stack.length - 1];
      if (!parent) return el;
      parent.children.push(el);
      continue;
    }
    const child = top.dom.childNodes[top.next++]!;
    switch (child.nodeType) {
      case ELEMENT_NODE:
        if (stack.length >= maxDepth) {
          const line = (child as DomElementLike).lineNumber ?? 0;
          throw xmlError(`elements are nested deeper than the limit of ${maxDepth} (line ${line})`, { line });
        }
        stack.push(mk(child as DomElementLike));
        break;
      case TEXT_NODE:
        checkDecoded(child.nodeValue ?? '', child as DomNodeLike & { lineNumber?: number; columnNumber?: number });
        top.children.push({ kind: 'text', value: child.nodeValue ?? '' });
        break;
      case CDATA_NODE:
        top.children.push({ kind: 'cdata', value: child.nodeValue ?? '' });
        break;
      case COMMENT_NODE:
        top.children.push({ kind: 'comment', value: child.nodeValue ?? '' });
        break;
      case PI_NODE:
        top.children.push({ kind: 'pi', target: (child as DomPILike).target, value: (child as DomPILike).data });
        break;
      default:
        // entity references and the like cannot occur: DOCTYPE is refused
        break;
    }
  }
}

// ---------------------------------------------------------------- helpers

export function attr(el: XElement, name: string): string | undefined {
  for (const a of el.attrs) if (a.name === name && a.ns === null) return a.value;
  return undefined;
}

export function elementChildren(el: XElement): XElement[] {
  const out: XElement[] = [];
  for (const c of el.children) if (c.kind === 'element') out.push(c);
  return out;
}

/** Concatenated text and CDATA content (libvirt reads element text this way). */
export function textOf(el: XElement): string {
  let s = '';
  for (const c of el.children) if (c.kind === 'text' || c.kind === 'cdata') s += c.value;
  return s;
}

export function makeElement(
  name: string,
  attrs: ReadonlyArray<readonly [string, string | number | undefined]> = [],
  children: XNode[] = [],
  ns: string | null = null,
): XElement {
  const list: XAttr[] = [];
  for (const [n, v] of attrs) if (v !== undefined) list.push({ name: n, ns: null, value: String(v) });
  const colon = name.indexOf(':');
  return { kind: 'element', name, local: colon >= 0 ? name.slice(colon + 1) : name, ns, attrs: list, children };
}

export function textNode(value: string): XText {
  return { kind: 'text', value };
}

/** Structural equality of trees, ignoring source positions. */
export function nodesEqual(a: XNode, b: XNode): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'element' && b.kind === 'element') {
    if (a.name !== b.name || a.ns !== b.ns || a.attrs.length !== b.attrs.length) return false;
    for (let i = 0; i < a.attrs.length; i++) {
      const x = a.attrs[i]!;
      const y = b.attrs[i]!;
      if (x.name !== y.name || x.ns !== y.ns || x.value !== y.value) return false;
    }
    if (a.children.length !== b.children.length) return false;
    for (let i = 0; i < a.children.length; i++) if (!nodesEqual(a.children[i]!, b.children[i]!)) return false;
    return true;
  }
  if (a.kind === 'pi' && b.kind === 'pi') return a.target === b.target && a.value === b.value;
  return (a as XText).value === (b as XText).value;
}
