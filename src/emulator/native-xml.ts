/**
 * Domain XML text for domxml-from-native's importers: elements built from names, attributes
 * and children, every value escaped. The text then goes through define's parser and defaults,
 * so layout is not a concern here.
 */
import { MpvirtError } from '../errors.js';

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

type AttrValue = string | number | undefined;

/** Marks a string as element content already written as XML. */
export interface XmlText { readonly xml: string }

/** An element; attributes with undefined values and children that are undefined/false are left out. */
export function el(name: string, attrs: Readonly<Record<string, AttrValue>> = {}, ...children: Array<XmlText | string | undefined | false>): XmlText {
  const a = Object.entries(attrs)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}='${escapeXml(String(v))}'`)
    .join('');
  const body = children.filter((c): c is XmlText | string => c !== undefined && c !== false).map((c) => (typeof c === 'string' ? escapeXml(c) : c.xml)).join('');
  return { xml: body === '' ? `<${name}${a}/>` : `<${name}${a}>${body}</${name}>` };
}

/** What a command line has that domain XML cannot say: refused, naming it, never dropped. */
export function cannotConvert(what: string): never {
  throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `cannot convert ${what} to domain XML`);
}
