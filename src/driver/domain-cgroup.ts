/**
 * Which cgroup a domain's processes run in (remote/cgroup.ts): the partition the definition names
 * or libvirt's `/machine`, a group per domain, a leaf per process (`main`, `remote-RID`).
 */
import { resourcePartition, type DomainDef } from '../domainxml/index.js';
import { DEFAULT_PARTITION, DomainCgroup } from '../remote/cgroup.js';
import type { DriverCore } from './core.js';

export const cgroupLeaf = (rid: string | undefined): string => (rid === undefined ? 'main' : `remote-${rid}`);

/** The domain's cgroup, or undefined where the daemon makes none (session mode, no writable hierarchy). */
export function domainCgroup(core: DriverCore, def: DomainDef): DomainCgroup | undefined {
  if (!core.cgroups) return undefined;
  return new DomainCgroup(core.cgroups, resourcePartition(def) ?? DEFAULT_PARTITION, def.name);
}

/** Removes a stopped domain's cgroup; never fails (a busy group stays, and says so in the log). */
export function removeDomainCgroup(core: DriverCore, def: DomainDef | undefined): void {
  if (!def) return;
  try {
    domainCgroup(core, def)?.remove();
  } catch (e) {
    core.log.warn({ err: e, domain: def.name }, 'cannot remove the domain cgroup');
  }
}
