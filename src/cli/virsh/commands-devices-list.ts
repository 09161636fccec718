/**
 * Device listings virsh reads from the domain XML (tools/virsh-domain-monitor.c cmdDomblklist,
 * cmdDomiflist): tables of what `<devices>` holds, with virsh's XPath choices (the first source
 * attribute in document order, `-` for none).
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import { commonOpt, type CmdDef } from '../vsh/command-def.js';
import { optBool, VshError } from '../vsh/options.js';
import { emitTable, type Cell } from './json-output.js';
import { attempt, type Ctl } from './ctl.js';
import { withDomain } from './commands-lifecycle.js';

type Cmd = CmdDef<Ctl>;

const inactiveOpt = { name: 'inactive', type: 'bool', help: 'get inactive rather than running configuration' } as const;

/** virshDomainGetXML: the document's `<devices>` children named `local`. */
function devices(ctl: Ctl, xml: string | undefined, local: string): Element[] {
  if (xml === undefined) throw new VshError('Failed to get domain description xml');
  let doc;
  try {
    doc = new DOMParser({ onError: () => { throw new Error('parse'); } }).parseFromString(xml, 'text/xml');
  } catch {
    throw new VshError('Failed to parse domain description xml');
  }
  const root = doc.documentElement;
  const devs = root ? [...children(root)].find((c) => c.localName === 'devices') : undefined;
  return devs ? [...children(devs)].filter((c) => c.localName === local) : [];
}

function* children(e: Element): Generator<Element> {
  for (let n = e.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) yield n as Element;
}

const child = (e: Element, local: string): Element | undefined => [...children(e)].find((c) => c.localName === local);

/** virXPathString("string(./x/@a|./x/@b…)"): the first of those attributes in document order, undefined if empty. */
function firstAttr(e: Element | undefined, names: readonly string[]): string | undefined {
  if (!e) return undefined;
  for (let i = 0; i < e.attributes.length; i++) {
    const a = e.attributes.item(i)!;
    if (names.includes(a.name)) return a.value === '' ? undefined : a.value;
  }
  return undefined;
}
const attr = (e: Element | undefined, name: string): string | undefined => firstAttr(e, [name]);

export const deviceListCommands: Cmd[] = [
  {
    name: 'domblklist', help: 'list all domain blocks', desc: 'Get the summary of block devices for a domain.',
    opts: [commonOpt.domain(), inactiveOpt, { name: 'details', type: 'bool', help: 'additionally display the type and device value' }],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
      const details = optBool(cmd, 'details');
      const rows: Cell[][] = [];
      for (const d of devices(ctl, attempt(ctl, undefined, () => dom.xml(optBool(cmd, 'inactive') ? 2 : 0)), 'disk')) {
        const type = attr(d, 'type');
        const device = attr(d, 'device');
        if (details && (!type || !device)) {
          ctl.print('unable to query block list details');
          return false;
        }
        const target = attr(child(d, 'target'), 'dev');
        if (!target) throw new VshError('unable to query block list');
        let source: string | undefined;
        if (type === 'nvme') {
          const src = child(d, 'source');
          const ns = attr(src, 'namespace');
          const a = src ? child(src, 'address') : undefined;
          if (!ns || !a) throw new VshError('Unable to query NVMe disk address');
          const n = (k: string): number => Number.parseInt(attr(a, k) ?? '0', attr(a, k)?.startsWith('0x') ? 16 : 10);
          source = `nvme://${n('domain').toString(16).padStart(4, '0')}:${n('bus').toString(16).padStart(2, '0')}:${n('slot').toString(16).padStart(2, '0')}.${n('function')}/${ns}`;
        } else source = firstAttr(child(d, 'source'), ['file', 'dev', 'dir', 'name', 'volume', 'path']);
        rows.push(details ? [type!, device!, target, source ?? null] : [target, source ?? null]);
      }
      const col = (header: string): { header: string; key: string } => ({ header, key: header.toLowerCase() });
      emitTable(ctl, cmd, (details ? ['Type', 'Device', 'Target', 'Source'] : ['Target', 'Source']).map(col), rows);
      return true;
    }),
  },
  {
    name: 'domiflist', help: 'list all domain virtual interfaces', desc: 'Get the summary of virtual interfaces for a domain.',
    opts: [commonOpt.domain(), inactiveOpt],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
      const rows: Cell[][] = devices(ctl, attempt(ctl, undefined, () => dom.xml(optBool(cmd, 'inactive') ? 2 : 0)), 'interface').map((n) => [
        attr(child(n, 'target'), 'dev') ?? null, attr(n, 'type') ?? '',
        firstAttr(child(n, 'source'), ['bridge', 'dev', 'network', 'name', 'path']) ?? null,
        attr(child(n, 'model'), 'type') ?? null, attr(child(n, 'mac'), 'address') ?? null,
      ]);
      emitTable(ctl, cmd, ['Interface', 'Type', 'Source', 'Model', 'MAC'].map((header) => ({ header, key: header.toLowerCase() })), rows);
      return true;
    }),
  },
];
