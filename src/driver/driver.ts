/**
 * The mpqemu driver: domain objects, define/undefine, lookups, and the
 * state-changing APIs, each run as a serialized per-domain job. The RPC layer
 * calls these methods; tests call them in-process.
 */
import { mkdirSync } from 'node:fs';
import { MpvirtError } from '../errors.js';
import { formatDomainXml, parseDomainXml, withLiveState } from '../domainxml/index.js';
import type { DomainDef, OnCrashAction } from '../domainxml/model.js';
import { CapsCache } from '../emulator/caps-probe.js';
import { buildLaunchPlan } from '../emulator/launch-plan.js';
import { renderNativeArgv } from '../emulator/native.js';
import { readProcStat } from '../emulator/process.js';
import type { DriverCore, DriverDirs, DriverTuning, Logger } from './core.js';
import { diskByPath, readBlockInfo, readBlockInfoLive, type BlockInfo } from './block-info.js';
import { prepareDefinition, withLoadDefaults } from './definition.js';
import { DisplayPorts } from './display-ports.js';
import { DEFAULT_JAIL_IDS, JailIds, kvmGroupId } from './jail-ids.js';
import { namespacesFor, probeJailRoot, probeNamespaces } from './jail.js';
import { monitorForDisk, updateDeviceFlags } from './media.js';
import { DomainList, DomainObject } from './domain-object.js';
import { Detail, DriverEventBus, LifecycleEvent } from './events.js';
import { notRunning, startDomain, stopDomain, writeStatus } from './lifecycle.js';
import { DefinitionStore, StatusStore } from './persistence.js';
import { reconnectAll } from './reconnect.js';
import { monitorCommand } from './monitor-command.js';
import { DomainState, PausedReason, RunningReason, ShutoffReason } from './state.js';
import { buildCapabilitiesXml, maxVcpusFor, readHost } from './capabilities.js';
import { getDomainMetadata, setDomainMetadata, type SetMetadataRequest } from './metadata-api.js';
import { probeCgroups, type CgroupLayout } from '../remote/cgroup.js';

export interface DriverOptions extends DriverDirs {
  /** where probed QEMU capabilities are cached */
  capsCacheDir: string;
  defaultEmulator?: string;
  /** controller models isolated in a remote process by default (interfaces.md §4) */
  autoIsolate?: string[];
  autoIsolateOnCrash?: OnCrashAction;
  tuning?: Partial<DriverTuning>;
  log?: Logger;
  /**
   * the id range QEMU processes run in, one id each (jail-ids.ts); null runs them as the daemon's
   * user. Default: DEFAULT_JAIL_IDS when the daemon runs as root, else null (session mode).
   */
  jailIds?: readonly [number, number] | null;
  /** a cgroup per domain (remote/cgroup.ts); default: when the daemon runs as root (system mode) */
  cgroups?: boolean;
}

/** CPU time of a process (utime + stime in /proc/PID/stat, clock ticks of 10 ms), as libvirt reports it. */
function cpuTimeNs(pid: number): bigint {
  const st = readProcStat(pid);
  return st ? (st.utime + st.stime) * 10_000_000n : 0n;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export const DEFAULT_TUNING: DriverTuning = {
  heartbeatMs: 1000,
  hangDeadlineMs: 5000,
  stopGraceMs: 5000,
  monitorTimeoutMs: 10_000,
  logLimitBytes: 1024 * 1024,
  jobTimeoutMs: 30_000,
  firmwareLog: false,
};

export { Affect } from './affect.js';
export type { SetMetadataRequest } from './metadata-api.js';

export interface DomainInfo {
  state: number;
  maxMemKiB: number;
  memoryKiB: number;
  vcpus: number;
  cpuTimeNs: bigint;
}

export class QemuDriver implements DriverCore {
  readonly dirs: DriverDirs;
  readonly tuning: DriverTuning;
  readonly events = new DriverEventBus();
  readonly caps: CapsCache;
  readonly defs: DefinitionStore;
  readonly status: StatusStore;
  readonly domains = new DomainList();
  readonly displayPorts = new DisplayPorts();
  readonly jail: JailIds | undefined;
  readonly kvmGid = kvmGroupId();
  namespaces = false;
  jailRoot = false;
  cgroups: CgroupLayout | undefined;
  readonly #wantCgroups: boolean;
  readonly log: Logger;
  readonly defaultEmulator: string;
  private readonly autoIsolate: { models: string[]; onCrash: OnCrashAction };
  private lastId = 0;

  constructor(opts: DriverOptions) {
    this.dirs = { configDir: opts.configDir, stateDir: opts.stateDir, logDir: opts.logDir };
    this.tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    this.caps = new CapsCache(opts.capsCacheDir);
    this.defs = new DefinitionStore(opts.configDir);
    this.status = new StatusStore(opts.stateDir);
    this.log = opts.log ?? silent;
    this.defaultEmulator = opts.defaultEmulator ?? '/usr/bin/qemu-system-x86_64';
    this.autoIsolate = { models: opts.autoIsolate ?? ['lsilogic'], onCrash: opts.autoIsolateOnCrash ?? 'destroy' };
    const ids = opts.jailIds === undefined ? (process.getuid?.() === 0 ? DEFAULT_JAIL_IDS : null) : opts.jailIds;
    this.jail = ids ? new JailIds(ids[0], ids[1]) : undefined;
    this.#wantCgroups = opts.cgroups ?? process.getuid?.() === 0;
  }

  allocateId(): number {
    return ++this.lastId;
  }

  /** Load definitions, reattach running domains, then start autostart domains. */
  async init(): Promise<void> {
    for (const d of [this.dirs.configDir, this.dirs.stateDir, this.dirs.logDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    if (this.jail) {
      this.namespaces = await probeNamespaces();
      if (!this.namespaces) this.log.warn({}, 'jailed QEMU processes get no namespaces of their own: unshare(1) cannot create them here');
      this.jailRoot = this.namespaces && (await probeJailRoot(this.dirs.stateDir, namespacesFor(true)));
      if (this.namespaces && !this.jailRoot) this.log.warn({}, 'jailed QEMU processes keep the host\'s root: a private mount namespace cannot be set up here');
    }
    if (this.#wantCgroups) {
      this.cgroups = probeCgroups();
      if (!this.cgroups) this.log.warn({}, 'domains get no cgroup of their own: no cgroup hierarchy is writable here');
    }
    const domains = await this.defs.loadAll((p) =>
      this.log.error({ file: p.path, err: p.error }, 'cannot load a persistent definition; left in place'),
    );
    for (const d of domains) {
      try {
        const obj = new DomainObject(await withLoadDefaults(this, parseDomainXml(d.xml)), true);
        obj.autostart = d.autostart;
        this.domains.add(obj);
      } catch (e) {
        this.log.error({ name: d.name, err: e }, 'invalid persistent definition; left in place');
      }
    }
    this.lastId = await reconnectAll(this);
    for (const obj of this.domains.all()) {
      if (!obj.autostart || obj.active) continue;
      await this.start(obj).catch((e: unknown) => this.log.error({ domain: obj.name, err: e }, 'autostart failed'));
    }
  }

  /** Detach from every domain without touching the guests (daemon stop). */
  async detach(): Promise<void> {
    for (const obj of this.domains.all()) {
      const rt = obj.runtime;
      if (!rt) continue;
      await writeStatus(this, obj).catch(() => {});
      rt.stopping = true; // ignore the EOFs closing our monitors causes
      for (const r of rt.remotes) {
        r.supervisor.dispose();
        r.qmp.close();
        r.handle.dispose();
      }
      rt.main.qmp.close();
      rt.main.handle.dispose();
      rt.logCap?.stop(); // the next daemon caps the log from where it finds it
      obj.runtime = undefined;
    }
  }

  runningCount(): number {
    return this.domains.all().filter((d) => d.active).length;
  }

  // ------------------------------------------------------------ lookups

  lookupByName(name: string): DomainObject {
    const d = this.domains.findByName(name);
    if (!d) throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching name '${name}'`, { domain: 'QEMU' });
    return d;
  }

  lookupByUuid(uuid: string): DomainObject {
    const d = this.domains.findByUuid(uuid);
    if (!d) throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching uuid '${uuid}'`, { domain: 'QEMU' });
    return d;
  }

  lookupById(id: number): DomainObject {
    const d = this.domains.findById(id);
    if (!d) throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching id ${id}`, { domain: 'QEMU' });
    return d;
  }

  /** Every domain, active or not (virConnectListAllDomains filters on top). */
  listDomains(): DomainObject[] {
    return this.domains.all();
  }

  /** `virDomainGetOSType`: the `<os><type>` of the definition in use. */
  getOSType(obj: DomainObject): string {
    return (obj.liveDef ?? obj.def).os.type;
  }

  /** `virConnectGetVersion`: the default emulator's version as major*1e6 + minor*1e3 + micro. */
  async hypervisorVersion(): Promise<number> {
    const { major, minor, micro } = (await this.caps.get(this.defaultEmulator)).version;
    return major * 1_000_000 + minor * 1_000 + micro;
  }

  getXMLDesc(obj: DomainObject, opts: { inactive?: boolean } = {}): string {
    if (opts.inactive || !obj.active) return formatDomainXml(obj.pendingDef ?? obj.def);
    return formatDomainXml(this.liveDefinition(obj));
  }

  /** The running definition as dumpxml shows it: the id, and each remote's pid, state and monitor. */
  liveDefinition(obj: DomainObject): DomainDef {
    const live = new Map(
      (obj.runtime?.remotes ?? []).map((r) => [r.rid, { pid: r.handle.pid, state: r.supervisor.state, monitor: r.qmpPath, ...(r.credentials ?? {}), ...(r.jail ? { jail: r.jail.join(',') } : {}) }] as const),
    );
    return withLiveState(obj.liveDef ?? obj.def, obj.id, live);
  }

  getInfo(obj: DomainObject): DomainInfo {
    const def = obj.liveDef ?? obj.def;
    return {
      state: obj.state.state,
      maxMemKiB: def.memory.kib,
      memoryKiB: def.currentMemory?.kib ?? def.memory.kib,
      vcpus: def.vcpu.current ?? def.vcpu.count,
      cpuTimeNs: obj.runtime ? cpuTimeNs(obj.runtime.main.handle.pid) : 0n,
    };
  }

  // ------------------------------------------------------------ definitions

  /** Parse, apply the isolation policy, validate and check what can run (definition.ts). */
  prepareDefinition(xml: string, validate: boolean): Promise<DomainDef> {
    return prepareDefinition(this, this.autoIsolate, xml, validate);
  }

  async defineXML(xml: string, opts: { validate?: boolean } = {}): Promise<DomainObject> {
    const def = await this.prepareDefinition(xml, opts.validate ?? false);
    const existing = this.domains.checkClash(def);
    if (existing) {
      return existing.jobs.run({ owner: 'remoteDispatchDomainDefineXMLFlags', timeoutMs: this.tuning.jobTimeoutMs }, async () => {
        this.domains.checkClash(def);
        await this.defs.save(def.name, formatDomainXml(def));
        if (existing.active) existing.pendingDef = def;
        else existing.def = def;
        existing.persistent = true;
        this.events.lifecycle(existing.ref(), LifecycleEvent.DEFINED, Detail.DEFINED_UPDATED);
        return existing;
      });
    }
    const obj = new DomainObject(def, true);
    this.domains.add(obj); // synchronous with the clash check: no other define can slip in
    try {
      await this.defs.save(def.name, formatDomainXml(def));
    } catch (e) {
      this.domains.remove(obj);
      throw e;
    }
    this.events.lifecycle(obj.ref(), LifecycleEvent.DEFINED, Detail.DEFINED_ADDED);
    return obj;
  }

  async undefine(obj: DomainObject): Promise<void> {
    await obj.jobs.run({ owner: 'remoteDispatchDomainUndefineFlags', timeoutMs: this.tuning.jobTimeoutMs }, async () => {
      if (!obj.persistent) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot undefine transient domain');
      await this.defs.remove(obj.name);
      obj.autostart = false;
      this.events.lifecycle(obj.ref(), LifecycleEvent.UNDEFINED, Detail.UNDEFINED_REMOVED);
      // libvirt's rule: a running domain becomes transient and goes away when it stops
      if (obj.active) {
        obj.persistent = false;
        obj.pendingDef = undefined;
        await writeStatus(this, obj);
      } else {
        this.domains.remove(obj);
      }
    });
  }

  async setAutostart(obj: DomainObject, on: boolean): Promise<void> {
    if (!obj.persistent) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot set autostart for transient domain');
    await this.defs.setAutostart(obj.name, on);
    obj.autostart = on;
  }

  // ------------------------------------------------------------ lifecycle

  /** Run `fn` as a job of `obj` (the state change lock), refusing a domain that was removed meanwhile. */
  job<T>(obj: DomainObject, owner: string, fn: (signal: AbortSignal) => Promise<T>, interrupting = false): Promise<T> {
    return obj.jobs.run({ owner, timeoutMs: this.tuning.jobTimeoutMs, interrupting }, (job) => {
      if (obj.removed) throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching uuid '${obj.uuid}' (${obj.name})`, { domain: 'QEMU' });
      return fn(job.signal);
    });
  }

  start(obj: DomainObject, opts: { paused?: boolean } = {}): Promise<void> {
    return this.job(obj, 'remoteDispatchDomainCreateWithFlags', (signal) => startDomain(this, obj, { ...opts, signal }));
  }

  /** `virsh create`: define a transient domain and start it. */
  async createXML(xml: string, opts: { paused?: boolean; validate?: boolean } = {}): Promise<DomainObject> {
    const def = await this.prepareDefinition(xml, opts.validate ?? false);
    const existing = this.domains.checkClash(def);
    if (existing?.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `domain '${def.name}' is already active`);
    const obj = existing ?? new DomainObject(def, false);
    if (existing) existing.def = def;
    else this.domains.add(obj);
    await this.start(obj, opts);
    return obj;
  }

  destroy(obj: DomainObject, opts: { graceful?: boolean } = {}): Promise<void> {
    const interrupted = obj.jobs.holder?.includes('Create') === true;
    return this.job(obj, 'remoteDispatchDomainDestroyFlags', async () => {
      if (!obj.active) {
        if (interrupted) return; // the start we interrupted already cleaned up
        throw notRunning();
      }
      await stopDomain(this, obj, {
        reason: ShutoffReason.DESTROYED,
        detail: Detail.STOPPED_DESTROYED,
        // --graceful: SIGTERM only, given plenty of time
        graceMs: opts.graceful ? 60_000 : this.tuning.stopGraceMs,
      });
    }, true);
  }

  /** ACPI power button; the domain stops when the guest powers off. */
  shutdown(obj: DomainObject): Promise<void> {
    return this.job(obj, 'remoteDispatchDomainShutdownFlags', async () => {
      if (!obj.active || !obj.runtime) throw notRunning();
      await obj.runtime.main.qmp.execute('system_powerdown');
    });
  }

  /** ACPI power button, then a reset instead of a stop (libvirt's fake reboot). */
  reboot(obj: DomainObject): Promise<void> {
    return this.job(obj, 'remoteDispatchDomainReboot', async () => {
      if (!obj.active || !obj.runtime) throw notRunning();
      obj.runtime.fakeReboot = true;
      await obj.runtime.main.qmp.execute('system_powerdown');
    });
  }

  reset(obj: DomainObject): Promise<void> {
    return this.job(obj, 'remoteDispatchDomainReset', async () => {
      if (!obj.active || !obj.runtime) throw notRunning();
      await obj.runtime.main.qmp.execute('system_reset');
    });
  }

  suspend(obj: DomainObject): Promise<void> {
    return this.job(obj, 'remoteDispatchDomainSuspend', async () => {
      if (!obj.active || !obj.runtime) throw notRunning();
      if (obj.state.state === DomainState.PAUSED) return;
      await obj.runtime.main.qmp.execute('stop');
      obj.setState(DomainState.PAUSED, PausedReason.USER);
      this.events.lifecycle(obj.ref(), LifecycleEvent.SUSPENDED, Detail.SUSPENDED_PAUSED);
      await writeStatus(this, obj);
    });
  }

  resume(obj: DomainObject): Promise<void> {
    return this.job(obj, 'remoteDispatchDomainResume', async () => {
      if (!obj.active || !obj.runtime) throw notRunning();
      if (obj.state.state !== DomainState.PAUSED) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is already running');
      await obj.runtime.main.qmp.execute('cont');
      obj.setState(DomainState.RUNNING, RunningReason.UNPAUSED);
      this.events.lifecycle(obj.ref(), LifecycleEvent.RESUMED, Detail.RESUMED_UNPAUSED);
      await writeStatus(this, obj);
    });
  }

  // ------------------------------------------------------------ capabilities

  /** `virConnectGetCapabilities` (capabilities.ts): the host plus the default emulator's hvm x86_64 guest. */
  async getCapabilities(): Promise<string> {
    const caps = await this.caps.get(this.defaultEmulator);
    return buildCapabilitiesXml(readHost(), { emulator: this.defaultEmulator, caps });
  }

  /** `virConnectGetMaxVcpus`: the default machine's cpu-max; libvirt's error for a type it does not know. */
  async getMaxVcpus(type: string | null): Promise<number> {
    const caps = await this.caps.get(this.defaultEmulator);
    const n = maxVcpusFor(type, { emulator: this.defaultEmulator, caps });
    if (n === undefined) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unknown type '${type}'`);
    return n;
  }

  // ------------------------------------------------------------ devices (media.ts, block-info.ts)

  /** virDomainUpdateDeviceFlags: a removable drive's medium, live and/or persistent. */
  updateDeviceFlags(obj: DomainObject, xml: string, flags: number): Promise<void> {
    return this.job(obj, 'remoteDispatchDomainUpdateDeviceFlags', () => updateDeviceFlags(this, obj, xml, flags));
  }

  /** virDomainGetBlockInfo, from the image the running (or next) guest uses. */
  async blockInfo(obj: DomainObject, path: string): Promise<BlockInfo> {
    const def = obj.liveDef ?? obj.def;
    const disk = diskByPath(def, path);
    const index = Number(disk.source?.extra.attrs.find((a) => a.name === 'index')?.value);
    if (!obj.active || !obj.runtime || !Number.isInteger(index)) return readBlockInfo(def, path);
    return readBlockInfoLive(monitorForDisk(obj, def, disk), disk, index);
  }

  // ------------------------------------------------------------ metadata (metadata-api.ts)

  setMetadata(obj: DomainObject, req: SetMetadataRequest): Promise<void> {
    return setDomainMetadata(this, obj, req);
  }

  getMetadata(obj: DomainObject, type: number, uri: string | null, flags: number): string {
    return getDomainMetadata(this, obj, type, uri, flags);
  }

  /** `virsh qemu-monitor-command`: the main QEMU, or a remote through the x-mpvirt-remote wrapper. */
  qemuMonitorCommand(obj: DomainObject, cmd: string): Promise<string> {
    return this.job(obj, 'remoteDispatchDomainQemuMonitorCommand', async () => monitorCommand(obj, cmd));
  }

  /** `virsh domxml-to-native qemu-argv`. */
  async domxmlToNative(xml: string): Promise<string> {
    const def = await this.prepareDefinition(xml, false);
    const caps = await this.caps.get(def.emulator ?? this.defaultEmulator);
    return renderNativeArgv(buildLaunchPlan(def, caps, { runDir: `${this.dirs.stateDir}/${def.name}` }));
  }
}
