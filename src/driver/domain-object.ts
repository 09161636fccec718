/**
 * A domain as the driver holds it: definitions, state, id, job lock and, while
 * it runs, its processes. Plus the list of domains with libvirt's uniqueness
 * rules for names and UUIDs.
 */
import { MpvirtError } from '../errors.js';
import type { DomainDef } from '../domainxml/model.js';
import type { Credentials } from './jail-ids.js';
import type { LaunchPlan } from '../emulator/launch-plan.js';
import type { QmpClient } from '../emulator/qmp.js';
import type { ProcessHandle } from '../remote/handle.js';
import type { RemoteSupervisor } from '../remote/supervisor.js';
import type { DomainRef } from './events.js';
import { DomainJobLock } from './jobs.js';
import { DomainState, isActive, nextState, ShutoffReason, type StateAndReason } from './state.js';
import type { RemoteStandIn } from '../remote/stand-in.js';

export interface RemoteRuntime {
  rid: string;
  alias: string;
  onCrash: 'destroy' | 'preserve' | 'restart';
  handle: ProcessHandle;
  qmp: QmpClient;
  qmpPath: string;
  supervisor: RemoteSupervisor;
  /** the uid/gid it runs as (jail-ids.ts); absent when it runs as the daemon's user */
  credentials?: Credentials;
  /** the namespaces of its own it runs in (jail.ts) */
  jail?: string[];
  /** answers the main QEMU's proxy in its place once it died (absent after a daemon restart) */
  standIn?: RemoteStandIn;
  /** on-crash restart: how often it was restarted in this run (the live XML shows it) */
  restarts: number;
  /** performance.now() of each restart, for the limit per time window */
  restartTimes: number[];
  /** a replacement waits for the guest to release the old device: this ends the wait and kills it */
  pendingReplacement?: () => void;
}

export interface DomainRuntime {
  runDir: string;
  plan?: LaunchPlan;
  main: { handle: ProcessHandle; qmp: QmpClient; qmpPath: string; credentials?: Credentials };
  remotes: RemoteRuntime[];
  /** set once a stop of any kind began: exits after this are expected */
  stopping: boolean;
  /** `virsh reboot`: the next guest shutdown becomes a reset (libvirt's fake reboot) */
  fakeReboot: boolean;
  /** QEMU's SHUTDOWN event was turned into a lifecycle event already */
  shutdownEventSent: boolean;
  startedAt: string;
}

export class DomainObject {
  /** the definition used for the next start (persistent or transient) */
  def: DomainDef;
  /** a definition saved while running: it replaces `def` when the domain stops */
  pendingDef: DomainDef | undefined;
  /** the definition the running domain was started with */
  liveDef: DomainDef | undefined;
  persistent: boolean;
  autostart = false;
  id = -1;
  private current: StateAndReason = { state: DomainState.SHUTOFF, reason: ShutoffReason.UNKNOWN };
  readonly jobs = new DomainJobLock();
  runtime: DomainRuntime | undefined;
  /** removed from the list (undefined while running, or transient and stopped) */
  removed = false;

  constructor(def: DomainDef, persistent: boolean) {
    this.def = def;
    this.persistent = persistent;
  }

  get name(): string {
    return this.def.name;
  }

  get uuid(): string {
    return this.def.uuid;
  }

  get state(): StateAndReason {
    return this.current;
  }

  /** Checked state change (see state.ts). */
  setState(state: StateAndReason['state'], reason: number): void {
    this.current = nextState(this.current, { state, reason }, this.name);
  }

  /** Restores a state read from a status file after a daemon restart. */
  restoreState(s: StateAndReason): void {
    this.current = s;
  }

  get active(): boolean {
    return isActive(this.current);
  }

  ref(): DomainRef {
    return { name: this.name, uuid: this.uuid, id: this.active ? this.id : -1 };
  }
}

export class DomainList {
  private readonly byUuid = new Map<string, DomainObject>();
  private readonly byName = new Map<string, DomainObject>();

  all(): DomainObject[] {
    return [...this.byUuid.values()];
  }

  findByName(name: string): DomainObject | undefined {
    return this.byName.get(name);
  }

  findByUuid(uuid: string): DomainObject | undefined {
    return this.byUuid.get(uuid.toLowerCase());
  }

  findById(id: number): DomainObject | undefined {
    return this.all().find((d) => d.active && d.id === id);
  }

  /**
   * The domain a new definition would replace, or a libvirt error if the
   * definition clashes with another domain (virDomainObjListAddLocked).
   */
  checkClash(def: DomainDef): DomainObject | undefined {
    const sameUuid = this.byUuid.get(def.uuid);
    if (sameUuid && sameUuid.name !== def.name) {
      throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `domain '${sameUuid.name}' is already defined with uuid ${def.uuid}`);
    }
    const sameName = this.byName.get(def.name);
    if (sameName && sameName.uuid !== def.uuid) {
      throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `domain '${def.name}' already exists with uuid ${sameName.uuid}`);
    }
    return sameUuid;
  }

  add(obj: DomainObject): void {
    this.checkClash(obj.def);
    this.byUuid.set(obj.uuid, obj);
    this.byName.set(obj.name, obj);
  }

  /** A shut-off domain under a new name (virDomainObjListRename): the caller checked the name is free. */
  rename(obj: DomainObject, def: DomainDef): void {
    if (this.byName.get(obj.name) === obj) this.byName.delete(obj.name);
    obj.def = def;
    this.byName.set(def.name, obj);
  }

  remove(obj: DomainObject): void {
    if (this.byUuid.get(obj.uuid) === obj) this.byUuid.delete(obj.uuid);
    if (this.byName.get(obj.name) === obj) this.byName.delete(obj.name);
    obj.removed = true;
  }
}
