/**
 * What libvirt makes of a `<graphics>` element when it defines a domain (the VNC and SPICE
 * parsers with VIR_DOMAIN_DEF_PARSE_INACTIVE, virDomainGraphicsListensParseXML and
 * virDomainDefPostParseGraphics): `port='-1'` means autoport, an autoport display keeps no
 * port in the inactive definition, every display has a first `<listen>` (from the legacy
 * `listen=` attribute, else an address listen without an address), and a SPICE display with
 * neither ports nor autoport listens nowhere (`<listen type='none'/>`).
 */
import type { GraphicsDef } from '../model.js';
import { attr, makeElement, type XAttr, type XElement } from '../xmltree.js';

const isListen = (c: XElement): boolean => c.ns === null && c.local === 'listen';

/** The `<listen>` children in document order, with a default first one when there is none. */
function listens(g: GraphicsDef): XElement[] {
  const own = g.extra.children.filter(isListen);
  if (own.length > 0) return own;
  if (g.type === 'vnc') {
    const socket = g.extra.attrs.find((a) => a.name === 'socket')?.value;
    if (socket !== undefined) return [makeElement('listen', [['type', 'socket'], ['socket', socket]])];
  }
  return [makeElement('listen', [['type', 'address'], ['address', g.listen === '' ? undefined : g.listen]])];
}

/** libvirt writes listen's attributes as type, address, network, socket. */
function canonicalListen(l: XElement): XElement {
  const order = ['type', 'address', 'network', 'socket'];
  const rank = (n: string): number => (order.indexOf(n) < 0 ? order.length : order.indexOf(n));
  return { ...l, attrs: [...l.attrs].sort((a, b) => rank(a.name) - rank(b.name)) };
}

const without = (attrs: readonly XAttr[], ...names: string[]): XAttr[] => attrs.filter((a) => !names.includes(a.name));

export function graphicsDefaults(g: GraphicsDef): GraphicsDef {
  if (g.type !== 'vnc' && g.type !== 'spice') return g;
  let ls = listens(g).map(canonicalListen);
  const others = g.extra.children.filter((c) => !isListen(c));
  const first = ls[0]!;
  const firstType = attr(first, 'type');
  const firstAddress = firstType === 'address' ? attr(first, 'address') : undefined;
  let attrs = without(g.extra.attrs, 'socket');
  const out: GraphicsDef = { kind: 'graphics', type: g.type, ...(g.alias !== undefined ? { alias: g.alias } : {}), ...(g.address ? { address: g.address } : {}), extra: g.extra };
  if (g.type === 'vnc') {
    let auto = g.port === undefined || g.port === -1;
    if (g.autoport !== undefined) auto = g.autoport === 'yes';
    if (firstType === 'address' || firstType === 'network') {
      const port = auto ? -1 : g.port !== undefined && g.port > 0 ? g.port : undefined;
      if (port !== undefined) out.port = port;
      out.autoport = auto ? 'yes' : 'no';
      if (firstAddress !== undefined) out.listen = firstAddress;
    }
  } else {
    const tls = Number(g.extra.attrs.find((a) => a.name === 'tlsPort')?.value ?? 0);
    let auto = g.autoport === 'yes';
    if (g.port === -1 && tls === -1) auto = true;
    const port = auto ? 0 : g.port ?? 0;
    const tlsPort = auto ? 0 : tls;
    attrs = without(attrs, 'tlsPort');
    if (firstType === 'address' && port === 0 && tlsPort === 0 && !auto) {
      ls = [makeElement('listen', [['type', 'none']]), ...ls.slice(1)];
    } else if (firstType === 'address' || firstType === 'network') {
      if (port !== 0) out.port = port;
      if (tlsPort !== 0) attrs = [{ name: 'tlsPort', ns: null, value: String(tlsPort) }, ...attrs];
      out.autoport = auto ? 'yes' : 'no';
      if (firstAddress !== undefined) out.listen = firstAddress;
    }
  }
  out.extra = { attrs, children: [...ls, ...others] };
  return out;
}
