/**
 * Reads one element of the typed model: whatever is read is "consumed", and
 * `rest()` returns the attributes and child elements nobody consumed, so the
 * parser can never forget to preserve something.
 */
import { xmlError } from '../errors.js';
import type { Extra } from './model.js';
import type { XAttr, XElement } from './xmltree.js';
import { textOf } from './xmltree.js';
import { parseUnsigned } from './values.js';

export class ElementReader {
  private readonly usedAttrs = new Set<string>();
  private readonly usedChildren = new Set<XElement>();

  constructor(
    readonly el: XElement,
    /** path for error messages, e.g. `/domain/devices/disk` */
    readonly path: string,
  ) {}

  attr(name: string): string | undefined {
    for (const a of this.el.attrs) {
      if (a.name === name && a.ns === null) {
        this.usedAttrs.add(name);
        return a.value;
      }
    }
    return undefined;
  }

  requiredAttr(name: string): string {
    const v = this.attr(name);
    if (v === undefined) {
      throw xmlError(`missing required attribute '${name}' in element '${this.el.name}'`, {
        where: `${this.path}/@${name}`,
        ...(this.el.line !== undefined ? { line: this.el.line } : {}),
      });
    }
    return v;
  }

  unsignedAttr(name: string, min = 0, max = 0xffffffff): number | undefined {
    const v = this.attr(name);
    return v === undefined ? undefined : parseUnsigned(v, { attr: name, element: this.el.name }, min, max);
  }

  /** The first un-consumed child in no namespace with this local name. */
  child(local: string): XElement | undefined {
    for (const c of this.el.children) {
      if (c.kind === 'element' && c.ns === null && c.local === local && !this.usedChildren.has(c)) {
        this.usedChildren.add(c);
        return c;
      }
    }
    return undefined;
  }

  /** Every un-consumed child in the given namespace (null: none) with this local name. */
  children(local: string, ns: string | null = null): XElement[] {
    const out: XElement[] = [];
    for (const c of this.el.children) {
      if (c.kind === 'element' && c.ns === ns && c.local === local && !this.usedChildren.has(c)) {
        this.usedChildren.add(c);
        out.push(c);
      }
    }
    return out;
  }

  /** Text of the first child with this name, consumed along with the child. */
  childText(local: string): string | undefined {
    const c = this.child(local);
    return c === undefined ? undefined : textOf(c);
  }

  sub(el: XElement): ElementReader {
    return new ElementReader(el, `${this.path}/${el.name}`);
  }

  rest(): Extra {
    const attrs: XAttr[] = this.el.attrs.filter((a) => a.ns !== null || !this.usedAttrs.has(a.name));
    const children: XElement[] = [];
    for (const c of this.el.children) {
      if (c.kind === 'element' && !this.usedChildren.has(c)) children.push(c);
    }
    return { attrs, children };
  }
}

/** Attributes of an element as ordered pairs, minus the ones named in `skip`. */
export function attrPairs(r: ElementReader, skip: readonly string[] = []): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  for (const a of r.el.attrs) {
    if (a.ns !== null || skip.includes(a.name)) continue;
    out.push([a.name, r.attr(a.name)!]);
  }
  return out;
}
