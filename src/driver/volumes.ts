/**
 * The driver's side of `<disk type='volume'>`: who resolves a pool's volume (the storage driver,
 * wired by the daemon; the driver does not import it) and the resolution of a definition at
 * start, with libvirt's errors when there is no storage driver, pool or volume.
 */
import { volumeDisks, withResolvedVolumes, type DomainDef, type ResolvedVolume } from '../domainxml/index.js';
import { MpvirtError } from '../errors.js';

/** Looks a volume up; throws libvirt's storage errors (no pool, pool not active, no volume). */
export type VolumeResolver = (pool: string, volume: string) => ResolvedVolume;

/** The definition with every volume disk resolved (virDomainDiskTranslateSourcePool). */
export function resolveVolumes(def: DomainDef, resolver: VolumeResolver | undefined): DomainDef {
  const disks = volumeDisks(def).filter((d) => d.type === 'volume');
  if (disks.length === 0) return def;
  if (!resolver) throw new MpvirtError('VIR_ERR_NO_SUPPORT', 'storage pools are not available: cannot resolve a disk of type volume');
  const out = new Map<string, ResolvedVolume>();
  for (const d of disks) {
    if (d.volume!.extra.attrs.some((a) => a.name === 'mode')) throw new MpvirtError('VIR_ERR_XML_ERROR', 'disk source mode is only valid when storage pool is of iscsi type');
    out.set(d.target.dev, resolver(d.volume!.pool, d.volume!.name));
  }
  return withResolvedVolumes(def, out);
}

/**
 * For the define-time check of the launch plan only: a stand-in path per volume (define does not
 * need the pool to exist, as libvirt's does not; start resolves it).
 */
export function placeholderVolumes(def: DomainDef): DomainDef {
  const disks = volumeDisks(def).filter((d) => d.type === 'volume');
  return withResolvedVolumes(def, new Map(disks.map((d) => [d.target.dev, { path: `/${d.volume!.pool}/${d.volume!.name}`, type: 'file' as const }])));
}
