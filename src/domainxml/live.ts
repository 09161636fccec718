/**
 * Live-only parts of a definition: the domain id and what the driver knows of
 * each remote process (pid, state, monitor). They appear in the live XML of a
 * running domain and never in a persistent definition (interfaces.md §4), so a
 * user can feed `dumpxml` output back to `define`.
 */
import { withoutGeneratedAliases } from './aliases.js';
import type { DomainDef, RemoteProcessLive } from './model.js';

/** The definition without anything live (what define stores): no id, no generated alias. */
export function withoutLiveState(input: DomainDef): DomainDef {
  const def = withoutPtyPaths(withoutGeneratedAliases(input));
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
