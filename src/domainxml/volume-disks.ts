/**
 * `<disk type='volume'>` at start: each volume disk gets the volume's path and real type (file or
 * block), as libvirt's virDomainDiskTranslateSourcePool does, while the XML keeps showing the pool
 * and volume. Pure: the caller looks the volumes up (the storage driver) and passes the answers.
 */
import type { DiskDef, DomainDef } from './model.js';

export interface ResolvedVolume {
  path: string;
  type: 'file' | 'block';
}

/** The volume disks a definition has, resolved or not, by target. */
export function volumeDisks(def: DomainDef): DiskDef[] {
  return def.devices.filter((d): d is DiskDef => d.kind === 'disk' && d.volume !== undefined);
}

/**
 * The definition with each named volume disk resolved. A running disk's node index read back from
 * a live XML sits on the volume's `<source>`: it moves to the path's, where the argv builders and
 * the live-XML code keep it.
 */
export function withResolvedVolumes(def: DomainDef, resolved: ReadonlyMap<string, ResolvedVolume>): DomainDef {
  if (resolved.size === 0) return def;
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (d.kind !== 'disk' || !d.volume) return d;
      const r = resolved.get(d.target.dev);
      if (!r) return d;
      const index = d.volume.extra.attrs.filter((a) => a.name === 'index');
      const volume = { ...d.volume, extra: { attrs: d.volume.extra.attrs.filter((a) => a.name !== 'index'), children: d.volume.extra.children } };
      const sourceAttrs = [...(d.source?.extra.attrs.filter((a) => a.name !== 'index') ?? []), ...(d.source?.extra.attrs.filter((a) => a.name === 'index') ?? index)];
      return { ...d, type: r.type, volume, source: { path: r.path, extra: { attrs: sourceAttrs, children: d.source?.extra.children ?? [] } } };
    }),
  };
}

/** What a running definition's volume disks were resolved to (kept in the status file). */
export function resolvedVolumes(def: DomainDef): Map<string, ResolvedVolume> {
  const out = new Map<string, ResolvedVolume>();
  for (const d of volumeDisks(def)) if (d.source && d.type !== 'volume') out.set(d.target.dev, { path: d.source.path, type: d.type });
  return out;
}
