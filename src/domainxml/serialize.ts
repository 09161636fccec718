/**
 * libvirt-style XML serializer.
 *
 * libvirt writes its own elements with two-space indentation and single-quoted
 * attributes, escaping both quote characters everywhere (virBufferEscapeString);
 * foreign content in <metadata> is written by libxml2 with double quotes. Both
 * styles are reproduced here so `dumpxml` output looks like libvirt's.
 *
 * The serializer is namespace-correct by construction: it tracks the prefixes in
 * scope, drops declarations that are already in scope and adds the ones an
 * element needs, so a subtree lifted out of one document and written into
 * another keeps its meaning.
 */
import type { XAttr, XElement, XNode } from './xmltree.js';

export type QuoteStyle = "'" | '"';

/** An output-only marker: this element (and its subtree) is written exactly as parsed. */
export interface VerbatimElement extends XElement {
  readonly verbatim: QuoteStyle;
}

export function verbatim(el: XElement, quote: QuoteStyle): VerbatimElement {
  return { ...el, verbatim: quote };
}

function isVerbatim(el: XElement): el is VerbatimElement {
  return (el as Partial<VerbatimElement>).verbatim !== undefined;
}

/** An output-only marker: pretty-print this subtree with the given quote style. */
export interface QuotedElement extends XElement {
  readonly quote: QuoteStyle;
}

export function quoted(el: XElement, quote: QuoteStyle): QuotedElement {
  return { ...el, quote };
}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

function escapeAttr(v: string, quote: QuoteStyle): string {
  let out = '';
  for (const ch of v) {
    switch (ch) {
      case '&': out += '&amp;'; break;
      case '<': out += '&lt;'; break;
      case '>': out += '&gt;'; break;
      case '"': out += '&quot;'; break;
      case "'": out += quote === "'" ? '&apos;' : "'"; break;
      // attribute-value normalisation would turn these into spaces
      case '\t': out += '&#9;'; break;
      case '\n': out += '&#10;'; break;
      case '\r': out += '&#13;'; break;
      default: out += ch;
    }
  }
  return out;
}

function escapeText(v: string, quote: QuoteStyle): string {
  let out = '';
  for (const ch of v) {
    switch (ch) {
      case '&': out += '&amp;'; break;
      case '<': out += '&lt;'; break;
      // also keeps `]]>` from ever appearing in text
      case '>': out += '&gt;'; break;
      case '"': out += quote === "'" ? '&quot;' : '"'; break;
      case "'": out += quote === "'" ? '&apos;' : "'"; break;
      // line-end normalisation would turn a raw CR into LF
      case '\r': out += '&#13;'; break;
      default: out += ch;
    }
  }
  return out;
}

type Scope = ReadonlyMap<string, string>; // prefix ('' = default) -> URI ('' = none)

function prefixOf(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? '' : qname.slice(0, i);
}

/** Attributes to write, with namespace declarations fixed up for the scope. */
function attrsInScope(el: XElement, scope: Scope): { attrs: XAttr[]; scope: Scope } {
  const next = new Map(scope);
  const declared = new Set<string>();
  const out: XAttr[] = [];
  for (const a of el.attrs) {
    if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) {
      const p = a.name === 'xmlns' ? '' : a.name.slice(6);
      declared.add(p);
      if ((scope.get(p) ?? '') === a.value) continue; // already in scope
      next.set(p, a.value);
    }
    out.push(a);
  }
  const need = (p: string, uri: string): void => {
    if (p === 'xml' || declared.has(p) || (next.get(p) ?? '') === uri) return;
    next.set(p, uri);
    declared.add(p);
    out.push({ name: p === '' ? 'xmlns' : `xmlns:${p}`, ns: null, value: uri });
  };
  need(prefixOf(el.name), el.ns ?? '');
  for (const a of el.attrs) if (a.ns !== null && a.ns !== XML_NS) need(prefixOf(a.name), a.ns);
  return { attrs: out, scope: next };
}

function openTag(el: XElement, attrs: readonly XAttr[], quote: QuoteStyle): string {
  let s = `<${el.name}`;
  for (const a of attrs) s += ` ${a.name}=${quote}${escapeAttr(a.value, quote)}${quote}`;
  return s;
}

function writeVerbatimNode(n: XNode, quote: QuoteStyle, scope: Scope, out: string[]): void {
  switch (n.kind) {
    case 'text': out.push(escapeText(n.value, quote)); return;
    case 'cdata': out.push(`<![CDATA[${n.value}]]>`); return;
    case 'comment': out.push(`<!--${n.value}-->`); return;
    case 'pi': out.push(`<?${n.target}${n.value ? ' ' + n.value : ''}?>`); return;
    case 'element': {
      const { attrs, scope: inner } = attrsInScope(n, scope);
      out.push(openTag(n, attrs, quote));
      if (n.children.length === 0) {
        out.push('/>');
        return;
      }
      out.push('>');
      for (const c of n.children) writeVerbatimNode(c, quote, inner, out);
      out.push(`</${n.name}>`);
    }
  }
}

function isBlank(n: XNode): boolean {
  return n.kind === 'text' && /^[ \t\r\n]*$/.test(n.value);
}

function writePretty(el: XElement, depth: number, scope: Scope, out: string[], inherited: QuoteStyle = "'"): void {
  const pad = '  '.repeat(depth);
  const quote = (el as Partial<QuotedElement>).quote ?? inherited;
  if (isVerbatim(el)) {
    out.push(pad);
    writeVerbatimNode(el, el.verbatim, scope, out);
    out.push('\n');
    return;
  }
  const { attrs, scope: inner } = attrsInScope(el, scope);
  out.push(pad + openTag(el, attrs, quote));
  const children = el.children.filter((c) => !isBlank(c));
  if (el.children.length === 0) {
    out.push('/>\n');
    return;
  }
  if (children.length > 0 && children.every((c) => c.kind === 'element')) {
    out.push('>\n');
    for (const c of children) writePretty(c as XElement, depth + 1, inner, out, quote);
    out.push(`${pad}</${el.name}>\n`);
    return;
  }
  // Text content (or mixed content, which typed elements never produce):
  // written inline so the value survives byte for byte.
  out.push('>');
  for (const c of el.children) writeVerbatimNode(c, quote, inner, out);
  out.push(`</${el.name}>\n`);
}

/** Serialize a document element libvirt-style, ending with a newline. */
export function serializeDocument(root: XElement): string {
  const out: string[] = [];
  writePretty(root, 0, new Map([['', '']]), out);
  return out.join('');
}
