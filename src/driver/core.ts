/**
 * What the driver's parts share: directories, tuning, stores, the event bus
 * and the domain list. Kept as an interface so lifecycle code can be read
 * without the whole driver class.
 */
import type { VolumeResolver } from './volumes.js';
import type { NetworkPorts } from './networks.js';
import type { CapsCache } from '../emulator/caps-probe.js';
import type { DisplayPorts } from './display-ports.js';
import type { JailIds } from './jail-ids.js';
import type { DomainList } from './domain-object.js';
import type { DriverEventBus } from './events.js';
import type { DefinitionStore, StatusStore } from './persistence.js';
import type { CgroupLayout } from '../remote/cgroup.js';
import type { AutoIsolatePolicy } from '../domainxml/auto-isolate.js';
import type { LogKeeperClient } from '../logd/client.js';

export interface DriverDirs {
  /** persistent definitions NAME.xml (+ autostart/) */
  configDir: string;
  /** runtime state: one directory per running domain */
  stateDir: string;
  /** per-domain logs NAME.log */
  logDir: string;
}

export interface DriverTuning {
  /** remote heartbeat interval (query-status) */
  heartbeatMs: number;
  /** a remote that does not answer within this is hung */
  hangDeadlineMs: number;
  /** SIGTERM → SIGKILL grace when stopping a process */
  stopGraceMs: number;
  /** deadline for a monitor to answer after spawn */
  monitorTimeoutMs: number;
  /** per process: a running domain's log may grow by this times its number of processes (head kept, see src/emulator/log-cap.ts) */
  logLimitBytes: number;
  /** on-crash restart: at most this many restarts of one remote within restartWindowMs, then destroy */
  restartLimit: number;
  restartWindowMs: number;
  /** the wait before a repeated restart doubles from this (the first one is at once), up to 5 s */
  restartBackoffMs: number;
  /** how long a restart waits for the guest to release the dead remote's device */
  unplugTimeoutMs: number;
  /** bounded wait for a domain's state change lock */
  jobTimeoutMs: number;
  /**
   * Record the firmware's debug console (isa-debugcon, port 0x402) in
   * NAME.firmware.log beside the domain log. Adds a guest-visible ISA device,
   * so it is off by default; tests and diagnostics turn it on.
   */
  firmwareLog: boolean;
}

/** Minimal logger interface (pino's shape), so tests can pass a silent one. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DriverCore {
  readonly dirs: DriverDirs;
  readonly tuning: DriverTuning;
  readonly events: DriverEventBus;
  readonly caps: CapsCache;
  readonly defs: DefinitionStore;
  readonly status: StatusStore;
  readonly domains: DomainList;
  readonly log: Logger;
  /** the log keeper that caps the domain logs (src/logd/), started on first use */
  readonly logd: LogKeeperClient;
  readonly defaultEmulator: string;
  /** VNC/SPICE ports held by running domains */
  readonly displayPorts: DisplayPorts;
  /** the ids QEMU processes run as; undefined: they run as the daemon's user (session mode) */
  readonly jail: JailIds | undefined;
  /** the host's kvm group, the gid of a KVM domain's main QEMU */
  readonly kvmGid: number | undefined;
  /** jailed processes also get their own namespaces (probed at init: jail.ts probeNamespaces) */
  readonly namespaces: boolean;
  /** and an empty root in their own mount namespace (probed at init: jail.ts probeJailRoot) */
  readonly jailRoot: boolean;
  /** the cgroup hierarchies domains get a group in (probed at init: remote/cgroup.ts); undefined: none */
  readonly cgroups: CgroupLayout | undefined;
  /** which controllers define puts in a remote process by default (interfaces.md §4) */
  readonly autoIsolate: AutoIsolatePolicy;
  /** resolves `<disk type='volume'>` at start (the storage driver, wired by the daemon) */
  readonly volumes: VolumeResolver | undefined;
  /** plugs `<interface type='network'>` into the host's network at start (wired by the daemon) */
  readonly networks: NetworkPorts | undefined;
  allocateId(): number;
}
