/**
 * The mpqemu driver: domain objects, define/undefine, lookups, and the
 * state-changing APIs, each run as a serialized per-domain job. The RPC layer
 * calls these methods; tests call them in-process.
 */
import * as stats from './api-stats.js';
import type { VolumeResolver } from './volumes.js';
import type { NetworkPorts } from './networks.js';
import * as tuning from './api-tuning.js';
import { screenshot as takeScreenshot, type Screenshot } from './screenshot.js';
import type { BlockCounters, InterfaceCounters, MemoryStat, VcpuInfo } from './domain-stats.js';
import type { TypedParam } from '../typed-params.js';
import { openConsole, type ConsoleSession } from './console.js';
import { openGraphicsFd } from './graphics-fd.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseDomainXml } from '../domainxml/index.js';
import type { DomainDef, OnCrashAction } from '../domainxml/model.js';
import { CapsCache } from '../emulator/caps-probe.js';
import type { DriverCore, DriverDirs, DriverTuning, Logger } from './core.js';
import { type BlockInfo } from './block-info.js';
import { prepareDefinition, withLoadDefaults } from './definition.js';
import { DisplayPorts } from './display-ports.js';
import { DEFAULT_JAIL_IDS, JailIds, kvmGroupId } from './jail-ids.js';
import { namespacesFor, probeJailRoot, probeNamespaces } from './jail.js';
import { DomainList, DomainObject } from './domain-object.js';
import { DriverEventBus } from './events.js';
import { writeStatus } from './stop.js';
import { DefinitionStore, StatusStore } from './persistence.js';
import { reconnectAll } from './reconnect.js';
import { LogKeeperClient } from '../logd/client.js';
import { getDomainMetadata, setDomainMetadata, type SetMetadataRequest } from './api-metadata.js';
import * as definitions from './api-definitions.js';
import type { DomainInfo } from './api-definitions.js';
import * as devices from './api-devices.js';
import * as host from './api-host.js';
import * as cpuCaps from './domain-capabilities.js';
import * as life from './api-lifecycle.js';
import { runJob } from './domain-job.js';
import type { AutoIsolatePolicy } from '../domainxml/auto-isolate.js';
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

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export const DEFAULT_TUNING: DriverTuning = {
  // a hang is caught within deadline + interval: 5-7 s. Beating every 2 s rather than every second
  // halves the one periodic cost a running domain has (bench/idle-daemon.mjs) for at most 1 s later
  heartbeatMs: 2000,
  hangDeadlineMs: 5000,
  stopGraceMs: 5000,
  monitorTimeoutMs: 10_000,
  logLimitBytes: 1024 * 1024,
  jobTimeoutMs: 30_000,
  restartLimit: 5,
  restartWindowMs: 60_000,
  restartBackoffMs: 100,
  unplugTimeoutMs: 10_000,
  firmwareLog: false,
};

export { Affect } from './affect.js';
export type { SetMetadataRequest } from './api-metadata.js';

export type { DomainInfo } from './api-definitions.js';

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
  readonly logd: LogKeeperClient;
  readonly defaultEmulator: string;
  readonly autoIsolate: AutoIsolatePolicy;
  /** set by the composition root once the storage driver exists */
  volumes: VolumeResolver | undefined;
  /** set by the composition root: the host's network driver, for `<interface type='network'>` */
  networks: NetworkPorts | undefined;
  private lastId = 0;

  constructor(opts: DriverOptions) {
    this.dirs = { configDir: opts.configDir, stateDir: opts.stateDir, logDir: opts.logDir };
    this.tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    this.caps = new CapsCache(opts.capsCacheDir);
    this.defs = new DefinitionStore(opts.configDir);
    this.status = new StatusStore(opts.stateDir);
    this.log = opts.log ?? silent;
    // a dot name: never taken for a domain's runtime directory
    this.logd = new LogKeeperClient(join(opts.stateDir, '.logd.sock'));
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
        r.standIn?.close();
      }
      rt.main.qmp.close();
      rt.main.handle.dispose();
      obj.runtime = undefined;
    }
    this.logd.close(); // the keeper goes on capping the logs; the next daemon finds it at its socket
  }

  runningCount(): number {
    return this.domains.all().filter((d) => d.active).length;
  }

  // The public API, by area (api-*.ts): each a function of the shared core, so no area needs
  // this class. These one-liners are the whole of what the RPC layer and tests call.

  // definitions and lookups (api-definitions.ts)
  lookupByName(name: string): DomainObject { return definitions.lookupByName(this, name); }
  lookupByUuid(uuid: string): DomainObject { return definitions.lookupByUuid(this, uuid); }
  lookupById(id: number): DomainObject { return definitions.lookupById(this, id); }
  /** Every domain, active or not (virConnectListAllDomains filters on top). */
  listDomains(): DomainObject[] { return this.domains.all(); }
  /** `virDomainGetOSType`: the `<os><type>` of the definition in use. */
  getOSType(obj: DomainObject): string { return (obj.liveDef ?? obj.def).os.type; }
  getXMLDesc(obj: DomainObject, opts: { inactive?: boolean } = {}): string { return definitions.getXMLDesc(obj, opts); }
  liveDefinition(obj: DomainObject): DomainDef { return definitions.liveDefinition(obj); }
  getInfo(obj: DomainObject): DomainInfo { return definitions.getInfo(obj); }
  /** Parse, apply the isolation policy, validate and check what can run (definition.ts). */
  prepareDefinition(xml: string, validate: boolean): Promise<DomainDef> { return prepareDefinition(this, xml, validate); }
  defineXML(xml: string, opts: { validate?: boolean } = {}): Promise<DomainObject> { return definitions.defineXML(this, xml, opts); }
  undefine(obj: DomainObject): Promise<void> { return definitions.undefine(this, obj); }
  setAutostart(obj: DomainObject, on: boolean): Promise<void> { return definitions.setAutostart(this, obj, on); }

  // lifecycle (api-lifecycle.ts)
  /** Run `fn` as a job of `obj` (the state change lock), refusing a domain that was removed meanwhile. */
  job<T>(obj: DomainObject, owner: string, fn: (signal: AbortSignal) => Promise<T>, interrupting = false): Promise<T> { return runJob(this, obj, owner, fn, interrupting); }
  start(obj: DomainObject, opts: { paused?: boolean } = {}): Promise<void> { return life.start(this, obj, opts); }
  /** `virsh create`: define a transient domain and start it. */
  createXML(xml: string, opts: { paused?: boolean; validate?: boolean } = {}): Promise<DomainObject> { return life.createXML(this, xml, opts); }
  destroy(obj: DomainObject, opts: { graceful?: boolean } = {}): Promise<void> { return life.destroy(this, obj, opts); }
  shutdown(obj: DomainObject): Promise<void> { return life.shutdown(this, obj); }
  reboot(obj: DomainObject): Promise<void> { return life.reboot(this, obj); }
  reset(obj: DomainObject): Promise<void> { return life.reset(this, obj); }
  suspend(obj: DomainObject): Promise<void> { return life.suspend(this, obj); }
  resume(obj: DomainObject): Promise<void> { return life.resume(this, obj); }

  // host (api-host.ts)
  hypervisorVersion(): Promise<number> { return host.hypervisorVersion(this); }
  getCapabilities(): Promise<string> { return host.getCapabilities(this); }
  getMaxVcpus(type: string | null): Promise<number> { return host.getMaxVcpus(this, type); }
  domxmlToNative(xml: string): Promise<string> { return host.domxmlToNative(this, xml); }
  domxmlFromNative(argv: string): Promise<string> { return host.domxmlFromNative(this, argv); }
  qemuMonitorCommand(obj: DomainObject, cmd: string, opts: { hmp?: boolean } = {}): Promise<string> { return host.qemuMonitorCommand(this, obj, cmd, opts); }
  /** `virsh console`: a session on the guest's pty serial (console.ts) */
  openConsole(obj: DomainObject, devName: string | null, flags: number): ConsoleSession { return openConsole(obj, devName, flags); }
  /** virt-manager's local graphical console: a socket to the display, for the client (graphics-fd.ts) */
  openGraphicsFd(obj: DomainObject, idx: number, flags: number): Promise<number> { return openGraphicsFd(this, obj, idx, flags); }

  // domain capabilities and host CPU APIs (domain-capabilities.ts)
  getDomainCapabilities(emulator: string | null, arch: string | null, machine: string | null, virttype: string | null, flags: number): Promise<string> { return cpuCaps.getDomainCapabilities(this, emulator, arch, machine, virttype, flags); }
  getCpuModelNames(arch: string, flags: number): string[] { return cpuCaps.getCpuModelNames(arch, flags); }
  compareCpu(xml: string, flags: number): number { return cpuCaps.compareCpu(xml, flags); }
  baselineCpu(xmls: string[], flags: number): string { return cpuCaps.baselineCpu(xmls, flags); }
  compareHypervisorCpu(emulator: string | null, arch: string | null, machine: string | null, virttype: string | null, xml: string, flags: number): Promise<number> { return cpuCaps.compareHypervisorCpu(this, emulator, arch, machine, virttype, xml, flags); }
  baselineHypervisorCpu(emulator: string | null, arch: string | null, machine: string | null, virttype: string | null, xmls: string[], flags: number): Promise<string> { return cpuCaps.baselineHypervisorCpu(this, emulator, arch, machine, virttype, xmls, flags); }

  // devices (api-devices.ts)
  updateDeviceFlags(obj: DomainObject, xml: string, flags: number): Promise<void> { return devices.updateDeviceFlags(this, obj, xml, flags); }
  attachDeviceFlags(obj: DomainObject, xml: string, flags: number): Promise<void> { return devices.attachDeviceFlags(this, obj, xml, flags); }
  detachDeviceFlags(obj: DomainObject, xml: string, flags: number): Promise<void> { return devices.detachDeviceFlags(this, obj, xml, flags); }
  blockInfo(obj: DomainObject, path: string): Promise<BlockInfo> { return devices.blockInfo(obj, path); }

  // statistics (api-stats.ts): reads only, never behind a job
  allDomainStats(objs: DomainObject[], groups: number): Promise<Array<{ obj: DomainObject; params: TypedParam[] }>> { return stats.allDomainStats(objs, groups); }
  blockStats(obj: DomainObject, path: string): Promise<BlockCounters> { return stats.blockStats(obj, path); }
  memoryStats(obj: DomainObject, max: number): Promise<MemoryStat[]> { return stats.domainMemoryStats(obj, max); }
  interfaceStats(obj: DomainObject, device: string): InterfaceCounters { return stats.interfaceStats(obj, device); }
  getVcpus(obj: DomainObject): Promise<VcpuInfo[]> { return stats.getVcpus(obj); }

  // changes (api-tuning.ts, screenshot.ts)
  setMemory(obj: DomainObject, kib: number, flags: number): Promise<void> { return tuning.setMemory(this, obj, kib, flags); }
  setVcpus(obj: DomainObject, n: number, flags: number): Promise<void> { return tuning.setVcpus(this, obj, n, flags); }
  setMemoryStatsPeriod(obj: DomainObject, period: number, flags: number): Promise<void> { return tuning.setMemoryStatsPeriod(this, obj, period, flags); }
  sendKey(obj: DomainObject, codeset: number, holdtime: number, keycodes: number[], flags: number): Promise<void> { return tuning.sendKey(this, obj, codeset, holdtime, keycodes, flags); }
  rename(obj: DomainObject, newName: string | null, flags: number): Promise<void> { return tuning.rename(this, obj, newName, flags); }
  pinVcpu(obj: DomainObject, vcpu: number, cpus: number[], flags: number): Promise<void> { return tuning.pinVcpu(this, obj, vcpu, cpus, flags); }
  pinEmulator(obj: DomainObject, cpus: number[], flags: number): Promise<void> { return tuning.pinEmulator(this, obj, cpus, flags); }
  screenshot(obj: DomainObject, screen: number, flags: number): Promise<Screenshot> { return takeScreenshot(this, obj, screen, flags); }

  // metadata (api-metadata.ts)
  setMetadata(obj: DomainObject, req: SetMetadataRequest): Promise<void> { return setDomainMetadata(this, obj, req); }
  getMetadata(obj: DomainObject, type: number, uri: string | null, flags: number): string { return getDomainMetadata(this, obj, type, uri, flags); }
}
