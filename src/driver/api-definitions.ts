/**
 * The driver's definition and lookup APIs: define (libvirt's redefine rules), undefine (a running
 * domain becomes transient), autostart, lookups, dumpxml and dominfo.
 */
import { MpvirtError } from '../errors.js';
import { formatDomainXml, withLiveState } from '../domainxml/index.js';
import type { DomainDef } from '../domainxml/model.js';
import { readProcStat } from '../emulator/process.js';
import type { DriverCore } from './core.js';
import { prepareDefinition } from './definition.js';
import { DomainObject } from './domain-object.js';
import { Detail, LifecycleEvent } from './events.js';
import { writeStatus } from './stop.js';

export interface DomainInfo {
  state: number;
  maxMemKiB: number;
  memoryKiB: number;
  vcpus: number;
  cpuTimeNs: bigint;
}

export function lookupByName(core: DriverCore, name: string): DomainObject {
  const d = core.domains.findByName(name);
  if (!d) throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching name '${name}'`, { domain: 'QEMU' });
  return d;
}

export function lookupByUuid(core: DriverCore, uuid: string): DomainObject {
  const d = core.domains.findByUuid(uuid);
  if (!d) throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching uuid '${uuid}'`, { domain: 'QEMU' });
  return d;
}

export function lookupById(core: DriverCore, id: number): DomainObject {
  const d = core.domains.findById(id);
  if (!d) throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching id ${id}`, { domain: 'QEMU' });
  return d;
}

/** The running definition as dumpxml shows it: the id, and each remote's pid, state and monitor. */
export function liveDefinition(obj: DomainObject): DomainDef {
  const live = new Map(
    (obj.runtime?.remotes ?? []).map((r) => [r.rid, { pid: r.handle.pid, state: r.supervisor.state, monitor: r.qmpPath, ...(r.credentials ?? {}), ...(r.jail ? { jail: r.jail.join(',') } : {}), ...(r.onCrash === 'restart' ? { restarts: r.restarts } : {}) }] as const),
  );
  return withLiveState(obj.liveDef ?? obj.def, obj.id, live);
}

export function getXMLDesc(obj: DomainObject, opts: { inactive?: boolean } = {}): string {
  if (opts.inactive || !obj.active) return formatDomainXml(obj.pendingDef ?? obj.def);
  return formatDomainXml(liveDefinition(obj));
}

/** CPU time of a process (utime + stime in /proc/PID/stat, clock ticks of 10 ms), as libvirt reports it. */
function cpuTimeNs(pid: number): bigint {
  const st = readProcStat(pid);
  return st ? (st.utime + st.stime) * 10_000_000n : 0n;
}

export function getInfo(obj: DomainObject): DomainInfo {
  const def = obj.liveDef ?? obj.def;
  return {
    state: obj.state.state,
    maxMemKiB: def.memory.kib,
    memoryKiB: def.currentMemory?.kib ?? def.memory.kib,
    vcpus: def.vcpu.current ?? def.vcpu.count,
    cpuTimeNs: obj.runtime ? cpuTimeNs(obj.runtime.main.handle.pid) : 0n,
  };
}

export async function defineXML(core: DriverCore, xml: string, opts: { validate?: boolean } = {}): Promise<DomainObject> {
  const def = await prepareDefinition(core, xml, opts.validate ?? false);
  const existing = core.domains.checkClash(def);
  if (existing) {
    return existing.jobs.run({ owner: 'remoteDispatchDomainDefineXMLFlags', timeoutMs: core.tuning.jobTimeoutMs }, async () => {
      core.domains.checkClash(def);
      await core.defs.save(def.name, formatDomainXml(def));
      if (existing.active) existing.pendingDef = def;
      else existing.def = def;
      existing.persistent = true;
      core.events.lifecycle(existing.ref(), LifecycleEvent.DEFINED, Detail.DEFINED_UPDATED);
      return existing;
    });
  }
  const obj = new DomainObject(def, true);
  core.domains.add(obj); // synchronous with the clash check: no other define can slip in
  try {
    await core.defs.save(def.name, formatDomainXml(def));
  } catch (e) {
    core.domains.remove(obj);
    throw e;
  }
  core.events.lifecycle(obj.ref(), LifecycleEvent.DEFINED, Detail.DEFINED_ADDED);
  return obj;
}

export async function undefine(core: DriverCore, obj: DomainObject): Promise<void> {
  await obj.jobs.run({ owner: 'remoteDispatchDomainUndefineFlags', timeoutMs: core.tuning.jobTimeoutMs }, async () => {
    if (!obj.persistent) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot undefine transient domain');
    await core.defs.remove(obj.name);
    obj.autostart = false;
    core.events.lifecycle(obj.ref(), LifecycleEvent.UNDEFINED, Detail.UNDEFINED_REMOVED);
    // libvirt's rule: a running domain becomes transient and goes away when it stops
    if (obj.active) {
      obj.persistent = false;
      obj.pendingDef = undefined;
      await writeStatus(core, obj);
    } else {
      core.domains.remove(obj);
    }
  });
}

export async function setAutostart(core: DriverCore, obj: DomainObject, on: boolean): Promise<void> {
  if (!obj.persistent) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot set autostart for transient domain');
  await core.defs.setAutostart(obj.name, on);
  obj.autostart = on;
}
