/**
 * Live-only parts of a definition: the domain id and what the driver knows of
 * each remote process (pid, state, monitor). They appear in the live XML of a
 * running domain and never in a persistent definition (interfaces.md §4), so a
 * user can feed `dumpxml` output back to `define`.
 */
import { withoutGeneratedAliases } from './aliases.js';
import { reanchorTopLevel } from './defaults/top-level.js';
import { withoutGeneratedTapNames, withoutNetworkPorts } from './net.js';
import type { DiskDef, DomainDef, RemoteProcessLive } from './model.js';
import { attr, makeElement, type XElement, type XNode } from './xmltree.js';

/** The definition without anything live (what define stores): no id, no generated alias. */
export function withoutLiveState(input: DomainDef): DomainDef {
  const def = withoutNetworkPorts(withoutGeneratedTapNames(withoutDiskIndexes(withoutPtyPaths(withoutGeneratedAliases(input)))));
  const { id: _id, ...rest } = def;
  const remote = def.metadata?.remote;
  if (!remote || !remote.processes.some((p) => p.live)) return rest;
  return {
    ...rest,
    metadata: {
      others: def.metadata!.others,
      remote: { ...remote, processes: remote.processes.map(({ live: _live, ...p }) => p) },
    },
  };
}

/** The definition with the domain id and each remote process's live state (what dumpxml shows). */
export function withLiveState(def: DomainDef, id: number, remotes: ReadonlyMap<string, RemoteProcessLive>): DomainDef {
  const remote = def.metadata?.remote;
  return {
    ...def,
    id,
    ...(remote
      ? {
          metadata: {
            others: def.metadata!.others,
            remote: { ...remote, processes: remote.processes.map((p) => (remotes.has(p.rid) ? { ...p, live: remotes.get(p.rid)! } : p)) },
          },
        }
      : {}),
  };
}

/**
 * The pty paths QEMU allocated (`query-chardev`: chardev id → `/dev/pts/N`), written where
 * libvirt writes them: `<source path>` of each pty serial port, and `tty=` plus `<source path>` of
 * the console that is that port. Serial port N is QEMU's chardev `charserialN`.
 */
export function withPtyPaths(def: DomainDef, ptys: ReadonlyMap<string, string>): DomainDef {
  const byPort = new Map<number, string>();
  let i = 0;
  const devices = def.devices.map((d) => {
    if (d.kind !== 'serial') return d;
    const port = d.target?.port ?? i;
    i++;
    const path = d.type === 'pty' ? ptys.get(`charserial${port}`) : undefined;
    if (path === undefined) return d;
    byPort.set(port, path);
    return { ...d, source: { fields: [['path', path] as const], extra: d.source?.extra ?? { attrs: [], children: [] } } };
  });
  return {
    ...def,
    devices: devices.map((d) => {
      if (d.kind !== 'console' || d.type !== 'pty' || (d.target?.type !== undefined && d.target.type !== 'serial')) return d;
      const path = byPort.get(d.target?.port ?? 0);
      if (path === undefined) return d;
      return { ...d, tty: path, source: { fields: [['path', path] as const], extra: d.source?.extra ?? { attrs: [], children: [] } } };
    }),
  };
}

/** `query-chardev`'s `pty:/dev/pts/N` filenames, by chardev id. */
export function ptyPathsOf(chardevs: ReadonlyArray<{ label: string; filename: string }>): Map<string, string> {
  return new Map(chardevs.filter((c) => c.filename.startsWith('pty:')).map((c) => [c.label, c.filename.slice(4)]));
}

/** A pty's path and tty exist only while the domain runs (libvirt drops them from a definition). */
function withoutPtyPaths(def: DomainDef): DomainDef {
  if (!def.devices.some((d) => (d.kind === 'serial' || d.kind === 'console') && d.type === 'pty' && (d.tty !== undefined || d.source))) return def;
  return {
    ...def,
    devices: def.devices.map((d) => {
      if ((d.kind !== 'serial' && d.kind !== 'console') || d.type !== 'pty') return d;
      const { tty: _tty, source, ...rest } = d;
      const fields = (source?.fields ?? []).filter(([k]) => k !== 'path');
      return fields.length > 0 || (source && (source.extra.attrs.length || source.extra.children.length)) ? { ...rest, source: { fields, extra: source!.extra } } : rest;
    }),
  };
}

const isBacking = (c: XElement): boolean => c.ns === null && c.local === 'backingStore';

/**
 * Disks as libvirt shows them running: each source with its `index` (the node number of its
 * -blockdev, see diskNodeNumbers), the chain of an image without a backing file (`hasNoBacking`,
 * which the caller finds out from the images) ended by `<backingStore/>`, and an empty
 * cdrom or floppy without a format (libvirt forgets it until media is inserted).
 */
export function withRunningDisks(def: DomainDef, numbers: ReadonlyMap<DiskDef, number>, hasNoBacking: (d: DiskDef) => boolean = (d) => (d.driver?.format ?? 'raw') === 'raw'): DomainDef {
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (d.kind !== 'disk') return d;
      if (!d.source) {
        if (!d.driver?.format) return d;
        const { format: _f, ...driver } = d.driver;
        return { ...d, driver };
      }
      const n = numbers.get(d);
      const attrs = d.source.extra.attrs.filter((a) => a.name !== 'index');
      const source = n === undefined ? d.source : { ...d.source, extra: { ...d.source.extra, attrs: [...attrs, { name: 'index', ns: null, value: String(n) }] } };
      const children = hasNoBacking(d) && !d.extra.children.some(isBacking) ? [...d.extra.children, makeElement('backingStore')] : d.extra.children;
      return { ...d, source, extra: { ...d.extra, children } };
    }),
  };
}

/** The node number a running disk has (`<source index='N'/>`), if it has one. */
export function diskSourceIndex(d: DiskDef): number | undefined {
  const v = d.source?.extra.attrs.find((a) => a.name === 'index')?.value;
  return v === undefined ? d.emptySourceIndex : Number(v);
}

/** A source index exists only while the domain runs (libvirt ignores it in a definition). */
function withoutDiskIndexes(def: DomainDef): DomainDef {
  const indexed = (d: DiskDef): boolean => d.emptySourceIndex !== undefined || (d.source?.extra.attrs.some((a) => a.name === 'index') ?? false);
  if (!def.devices.some((d) => d.kind === 'disk' && indexed(d))) return def;
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (d.kind !== 'disk' || !indexed(d)) return d;
      const { emptySourceIndex: _e, ...rest } = d;
      return d.source ? { ...rest, source: { ...d.source, extra: { ...d.source.extra, attrs: d.source.extra.attrs.filter((a) => a.name !== 'index') } } } : rest;
    }),
  };
}

const childEl = (el: XElement, name: string): XElement | undefined => el.children.find((c): c is XElement => c.kind === 'element' && c.name === name);
const setAttr = (el: XElement, name: string, value: string | undefined): XElement => {
  const attrs = el.attrs.filter((a) => a.name !== name);
  return { ...el, attrs: value === undefined ? attrs : [...attrs, { name, ns: null, value }] };
};

/**
 * Guest-agent channels as libvirt shows them running: the socket path the daemon chose in
 * `<source mode='bind' path=…>` and the agent's connection `state` on the target
 * (disconnected until the guest opens its port: VSERPORT_CHANGE).
 */
export function withChannelState(def: DomainDef, socketPath: (name: string | undefined, i: number) => string, connected: ReadonlySet<string> = new Set()): DomainDef {
  let i = 0;
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (d.kind !== 'raw' || d.element.name !== 'channel') return d;
      const n = i++;
      const target = childEl(d.element, 'target');
      if (!target || attr(target, 'type') !== 'virtio') return d;
      const name = attr(target, 'name');
      const type = attr(d.element, 'type');
      let children = d.element.children.map((c) =>
        c === target ? setAttr(target, 'state', connected.has(name ?? '') ? 'connected' : 'disconnected') : c);
      if (type === 'unix') {
        const source = childEl(d.element, 'source');
        const path = source ? attr(source, 'path') : undefined;
        if (path === undefined) {
          const el = makeElement('source', [['mode', source ? attr(source, 'mode') ?? 'bind' : 'bind'], ['path', socketPath(name, n)]]);
          children = source ? children.map((c) => (c === source ? el : c)) : [el, ...children];
        }
      }
      return { ...d, element: { ...d.element, children } };
    }),
  };
}

/** The daemon's own channel sockets and the agent state leave a definition (qemuDomainChrDefDropDefaultPath). */
export function withoutChannelState(def: DomainDef, runDirs: string): DomainDef {
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (d.kind !== 'raw' || d.element.name !== 'channel') return d;
      const children = d.element.children.flatMap((c): XNode[] => {
        if (c.kind !== 'element') return [c];
        if (c.name === 'target') return [setAttr(c, 'state', undefined)];
        const path = c.name === 'source' ? attr(c, 'path') : undefined;
        if (path !== undefined && path.startsWith(`${runDirs}/`)) return [setAttr(c, 'path', undefined)];
        return [c];
      });
      return { ...d, element: { ...d.element, children } };
    }),
  };
}

/** VSERPORT_CHANGE: the guest opened or closed the port of the channel with QEMU id `alias`. */
export function withChannelConnection(def: DomainDef, alias: string, open: boolean): DomainDef {
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (d.kind !== 'raw' || d.element.name !== 'channel') return d;
      const a = childEl(d.element, 'alias');
      const target = childEl(d.element, 'target');
      if (!a || attr(a, 'name') !== alias || !target) return d;
      const children = d.element.children.map((c) => (c === target ? setAttr(target, 'state', open ? 'connected' : 'disconnected') : c));
      return { ...d, element: { ...d.element, children } };
    }),
  };
}

/** The cgroup partition the domain names (`<resource><partition>`), if any. */
export function resourcePartition(def: DomainDef): string | undefined {
  const res = def.extraTop.find((t) => t.element.ns === null && t.element.local === 'resource')?.element;
  const part = res?.children.find((c): c is XElement => c.kind === 'element' && c.local === 'partition');
  if (!part) return undefined;
  return part.children.map((c) => (c.kind === 'text' ? c.value : '')).join('').trim();
}

/**
 * The definition with the cgroup partition its processes run in, as libvirt's live XML shows it
 * (`<resource><partition>/machine</partition></resource>`); one already named is left as it is.
 */
export function withResourcePartition(def: DomainDef, partition: string): DomainDef {
  if (resourcePartition(def) !== undefined) return def;
  // verbatim elements keep their layout: written as libvirt indents it at the top level
  const el = makeElement('resource', [], [{ kind: 'text', value: '\n    ' }, makeElement('partition', [], [{ kind: 'text', value: partition }]), { kind: 'text', value: '\n  ' }]);
  const withIt = { ...def, extraTop: [...def.extraTop, { after: null, element: el }] };
  return { ...withIt, extraTop: reanchorTopLevel(withIt) };
}
