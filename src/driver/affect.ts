/**
 * The VIR_DOMAIN_AFFECT_* rules every API that changes a definition shares: which of the live
 * and persistent definitions a call changes, and which one is the persistent one.
 */
import { formatDomainXml } from '../domainxml/index.js';
import type { DomainDef } from '../domainxml/model.js';
import type { DriverCore } from './core.js';
import { MpvirtError } from '../errors.js';
import type { DomainObject } from './domain-object.js';
import { notRunning } from './stop.js';

export const Affect = { CURRENT: 0, LIVE: 1 << 0, CONFIG: 1 << 1 } as const;

/**
 * libvirt's virDomainObjUpdateModificationImpact: CURRENT means the live
 * definition of a running domain and the persistent one otherwise.
 */
export function affected(obj: DomainObject, flags: number): { live: boolean; config: boolean } {
  let live = (flags & Affect.LIVE) !== 0;
  let config = (flags & Affect.CONFIG) !== 0;
  if (!live && !config) {
    if (obj.active) live = true;
    else config = true;
  }
  if (live && !obj.active) throw notRunning();
  if (config && !obj.persistent) {
    throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'transient domains do not have any persistent config');
  }
  return { live, config };
}

/** The persistent definition: the one saved while running, else the one the next start uses. */
export function persistentDef(obj: DomainObject): DomainDef {
  return obj.pendingDef ?? obj.def;
}


/** Stores a changed persistent definition: it replaces the next start's now, or when a running domain stops. */
export async function savePersistentDef(core: DriverCore, obj: DomainObject, def: DomainDef): Promise<void> {
  await core.defs.save(obj.name, formatDomainXml(def));
  if (obj.active) obj.pendingDef = def;
  else obj.def = def;
}

/**
 * libvirt's virDomainObjGetOneDefState for a query: the live or the persistent definition the
 * flags name (CURRENT: live when running), with libvirt's refusals, and which one it is.
 */
export function oneDefinition(obj: DomainObject, flags: number): { def: DomainDef; live: boolean } {
  if ((flags & Affect.LIVE) && (flags & Affect.CONFIG)) throw new MpvirtError('VIR_ERR_INVALID_ARG', "Flags 'live' and 'config' are mutually exclusive");
  const live = (flags & Affect.LIVE) !== 0 || ((flags & Affect.CONFIG) === 0 && obj.active);
  if (live && !obj.active) throw notRunning();
  if (!live && !obj.persistent) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'transient domains do not have any persistent config');
  return { def: live ? obj.liveDef ?? obj.def : persistentDef(obj), live };
}
