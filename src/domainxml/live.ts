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
  const def = withoutGeneratedAliases(input);
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
