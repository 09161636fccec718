/**
 * The few XPath reads virsh's monitoring and host commands make on an XML document (domain,
 * capabilities, domain capabilities, a CPU file), as element walks: children by name, the
 * string value of an element or attribute (XPath's string(): '' when absent), virXPathInt.
 */
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';

/** Parses `text`; undefined when it is not well-formed XML. */
export function parseXml(text: string): Document | undefined {
  try {
    const doc = new DOMParser({ onError: (level) => { if (level !== 'warning') throw new Error('parse'); } }).parseFromString(text, 'text/xml');
    return doc.documentElement ? doc : undefined;
  } catch {
    return undefined;
  }
}

export function* children(e: Element, local?: string): Generator<Element> {
  for (let n = e.firstChild; n; n = n.nextSibling) if (n.nodeType === 1 && (local === undefined || (n as Element).localName === local)) yield n as Element;
}

export const child = (e: Element | undefined, local: string): Element | undefined => (e ? children(e, local).next().value ?? undefined : undefined);

/** `a/b/c` below `e`: every element the path reaches, in document order. */
export function select(e: Element | undefined, path: string): Element[] {
  let set: Element[] = e ? [e] : [];
  for (const step of path.split('/')) set = set.flatMap((x) => [...children(x, step)]);
  return set;
}

/** The attribute's value, undefined when absent. */
export const attr = (e: Element | undefined, name: string): string | undefined => (e && e.hasAttribute(name) ? e.getAttribute(name) ?? '' : undefined);

/** XPath string() of an element: its text content, '' when absent. */
export const text = (e: Element | undefined): string => e?.textContent ?? '';

/** virXPathInt / virXPathUInt of a string: strtol base 10 of the whole string, undefined when not a number. */
export function xpathInt(s: string | undefined, unsigned = false): number | undefined {
  if (s === undefined || !/^\s*[-+]?\d+$/.test(s)) return undefined;
  const v = Number(s);
  if (unsigned && (v < 0 || v > 0xffffffff)) return undefined;
  if (!unsigned && (v < -(2 ** 31) || v >= 2 ** 31)) return undefined;
  return v;
}
