/**
 * `remote-list DOMAIN`, mpvirsh's own command (virsh has no remote processes): one row per remote
 * QEMU process of the domain, read from the `<mpq:remote>` element of the domain XML's metadata
 * (matched by namespace URI, never by prefix; ../shared/design/interfaces.md §4). The live XML of a
 * running domain carries what the daemon knows at run time (pid, state, restarts) as attributes of
 * each `<mpq:process>`; an inactive domain's XML has none of them, so those cells are `-`.
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import { commonOpt, type CmdDef } from '../vsh/command-def.js';
import { optBool, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { withDomain } from './commands-lifecycle.js';
import { emitTable, withJson, type Cell } from './json-output.js';

export const MPQ_NS = 'http://mpvirt.org/schemas/domain/mpqemu/1.0';

function* children(e: Element): Generator<Element> {
  for (let n = e.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) yield n as Element;
}

/** One `<mpq:process>` as remote-list shows it. */
export interface RemoteRow {
  rid: string;
  /** the user aliases of the devices it runs (`ua-lsi0`), comma-separated in the table */
  aliases: string[];
  pid: number | null;
  state: string | null;
  restarts: number | null;
}

/** The remote processes a domain XML declares, in document order. */
export function remoteRows(xml: string): RemoteRow[] {
  let doc;
  try {
    doc = new DOMParser({ onError: () => { throw new Error('parse'); } }).parseFromString(xml, 'text/xml');
  } catch {
    throw new VshError('Failed to parse domain description xml');
  }
  const root = doc.documentElement;
  const metadata = root ? [...children(root)].find((c) => c.localName === 'metadata' && !c.namespaceURI) : undefined;
  const remote = metadata ? [...children(metadata)].find((c) => c.namespaceURI === MPQ_NS && c.localName === 'remote') : undefined;
  if (!remote) return [];
  const num = (v: string | null): number | null => (v !== null && /^\d+$/.test(v) ? Number(v) : null);
  return [...children(remote)].filter((p) => p.namespaceURI === MPQ_NS && p.localName === 'process').map((p) => ({
    rid: p.getAttribute('rid') ?? '',
    aliases: [...children(p)].filter((d) => d.namespaceURI === MPQ_NS && d.localName === 'device').map((d) => d.getAttribute('alias') ?? '').filter((a) => a !== ''),
    pid: num(p.getAttribute('pid')),
    state: p.getAttribute('state') || null,
    restarts: num(p.getAttribute('restarts')),
  }));
}

const remoteListCmd: CmdDef<Ctl> = withJson({
  name: 'remote-list', help: 'list the remote processes of a domain (mpvirsh only)',
  desc: "Show each remote QEMU process of the domain: its rid, the alias of the device\n    it serves, and, while the domain runs, its pid, state and restart count.",
  opts: [commonOpt.domain(), { name: 'inactive', type: 'bool', help: 'get inactive rather than running configuration' }],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const xml = attempt(ctl, undefined, () => dom.xml(optBool(cmd, 'inactive') ? 2 : 0));
    if (xml === undefined) throw new VshError('Failed to get domain description xml');
    const rows: Cell[][] = remoteRows(xml).map((r) => [
      r.rid, r.aliases.length ? r.aliases.join(',') : null,
      r.pid, r.state, r.restarts,
    ]);
    emitTable(ctl, cmd, [
      { header: 'Rid', key: 'rid' }, { header: 'Alias', key: 'alias' }, { header: 'PID', key: 'pid' },
      { header: 'State', key: 'state' }, { header: 'Restarts', key: 'restarts' },
    ], rows);
    return true;
  }),
}, true);

export const remoteCommands: CmdDef<Ctl>[] = [remoteListCmd];
