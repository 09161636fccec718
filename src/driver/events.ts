/**
 * The driver's typed event bus. Lifecycle events carry libvirt's event and
 * detail numbers (virDomainEventType and its detail enums), so the wire
 * protocol layer forwards them unchanged and `virsh event` prints exactly
 * what it prints for libvirt's own QEMU driver.
 */
import { EventEmitter } from 'node:events';

export const LifecycleEvent = {
  DEFINED: 0,
  UNDEFINED: 1,
  STARTED: 2,
  SUSPENDED: 3,
  RESUMED: 4,
  STOPPED: 5,
  SHUTDOWN: 6,
  PMSUSPENDED: 7,
  CRASHED: 8,
} as const;

export const Detail = {
  DEFINED_ADDED: 0,
  DEFINED_UPDATED: 1,
  UNDEFINED_REMOVED: 0,
  STARTED_BOOTED: 0,
  SUSPENDED_PAUSED: 0,
  RESUMED_UNPAUSED: 0,
  STOPPED_SHUTDOWN: 0,
  STOPPED_DESTROYED: 1,
  STOPPED_CRASHED: 2,
  STOPPED_FAILED: 5,
  SHUTDOWN_FINISHED: 0,
  SHUTDOWN_GUEST: 1,
  SHUTDOWN_HOST: 2,
} as const;

/** Identity of a domain as events carry it (libvirt's remote_nonnull_domain). */
export interface DomainRef {
  name: string;
  uuid: string;
  /** -1 when inactive */
  id: number;
}

export interface LifecycleEventData {
  dom: DomainRef;
  event: number;
  detail: number;
}

export interface DeviceEventData {
  dom: DomainRef;
  alias: string;
}

export interface MonitorEventData {
  dom: DomainRef;
  /** QMP event name, e.g. MPVIRT_REMOTE or a QEMU event */
  event: string;
  seconds: number;
  micros: number;
  /** JSON object text, as QEMU would send it */
  details?: string;
}

export interface MetadataChangeData {
  dom: DomainRef;
  type: number;
  nsuri?: string;
}

export interface DriverEvents {
  lifecycle: [LifecycleEventData];
  reboot: [{ dom: DomainRef }];
  'device-added': [DeviceEventData];
  'device-removed': [DeviceEventData];
  'metadata-change': [MetadataChangeData];
  /** QEMU monitor events of any process of a domain, including MPVIRT_REMOTE */
  monitor: [MonitorEventData];
}

export class DriverEventBus extends EventEmitter<DriverEvents> {
  constructor() {
    super();
    // every RPC client registers listeners; the bound is the client limit, not 10
    this.setMaxListeners(0);
  }

  lifecycle(dom: DomainRef, event: number, detail: number): void {
    this.emit('lifecycle', { dom, event, detail });
  }

  monitorEvent(dom: DomainRef, event: string, details: object | undefined): void {
    const now = Date.now();
    this.emit('monitor', {
      dom,
      event,
      seconds: Math.floor(now / 1000),
      micros: (now % 1000) * 1000,
      ...(details === undefined ? {} : { details: JSON.stringify(details) }),
    });
  }
}

/** virsh's names for lifecycle events and details (virshDomainEvent*ToString). */
const EVENT_TEXT: Readonly<Record<number, readonly [string, readonly string[]]>> = {
  0: ['Defined', ['Added', 'Updated', 'Renamed', 'Snapshot']],
  1: ['Undefined', ['Removed', 'Renamed']],
  2: ['Started', ['Booted', 'Migrated', 'Restored', 'Snapshot', 'Event wakeup']],
  3: ['Suspended', ['Paused', 'Migrated', 'I/O Error', 'Watchdog', 'Restored', 'Snapshot', 'API error', 'Post-copy', 'Post-copy Error']],
  4: ['Resumed', ['Unpaused', 'Migrated', 'Snapshot', 'Post-copy', 'Post-copy Error']],
  5: ['Stopped', ['Shutdown', 'Destroyed', 'Crashed', 'Migrated', 'Saved', 'Failed', 'Snapshot']],
  6: ['Shutdown', ['Finished', 'Finished after guest request', 'Finished after host request']],
  7: ['PMSuspended', ['Memory', 'Disk']],
  8: ['Crashed', ['Panicked', 'Crashloaded']],
};

/** e.g. `Stopped Destroyed`, as `virsh event` prints it. */
export function lifecycleText(event: number, detail: number): string {
  const [name, details] = EVENT_TEXT[event] ?? ['Unknown', []];
  return `${name} ${details[detail] ?? 'Unknown'}`;
}
