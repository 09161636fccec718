/**
 * The isolation policy for XML that knows nothing of mpvirt (interfaces.md §4):
 * each controller of a configured model that no `<mpq:process>` names gets a
 * user alias (if it has none) and its own remote process, written into the
 * definition like the defaults libvirt fills in at define.
 */
import type { ControllerDef, DomainDef, OnCrashAction, RemoteProcessDef } from './model.js';
import { MPQ_PREFIX } from './model.js';
import { deviceAlias } from './parse-devices.js';

export interface AutoIsolatePolicy {
  /** controller models placed in a remote process by default, e.g. ['lsilogic'] */
  models: readonly string[];
  onCrash: OnCrashAction;
}

export function applyAutoIsolation(def: DomainDef, policy: AutoIsolatePolicy): DomainDef {
  if (policy.models.length === 0 || def.metadata?.remote?.auto === 'off') return def;
  const placed = new Set((def.metadata?.remote?.processes ?? []).flatMap((p) => p.devices));
  const aliases = new Set(def.devices.map(deviceAlias).filter((a): a is string => a !== undefined));
  const rids = new Set((def.metadata?.remote?.processes ?? []).map((p) => p.rid));
  const added: RemoteProcessDef[] = [];
  const devices = def.devices.map((d) => {
    if (d.kind !== 'controller' || d.type !== 'scsi' || d.model === undefined || !policy.models.includes(d.model)) return d;
    if (d.alias !== undefined && placed.has(d.alias)) return d;
    let alias = d.alias;
    if (alias === undefined || !alias.startsWith('ua-')) {
      const base = `ua-scsi${d.index ?? 0}`;
      alias = base;
      for (let n = 1; aliases.has(alias); n++) alias = `${base}-${n}`;
      aliases.add(alias);
    }
    let rid = `scsi${d.index ?? 0}`;
    for (let n = 1; rids.has(rid); n++) rid = `scsi${d.index ?? 0}-${n}`;
    rids.add(rid);
    added.push({ rid, devices: [alias], onCrash: policy.onCrash });
    const c: ControllerDef = { ...d, alias };
    return c;
  });
  if (added.length === 0) return def;
  const remote = def.metadata?.remote ?? { prefix: MPQ_PREFIX, processes: [] };
  return {
    ...def,
    devices,
    metadata: { others: def.metadata?.others ?? [], remote: { ...remote, processes: [...remote.processes, ...added] } },
  };
}
