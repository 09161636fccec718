/**
 * Domain and QEMU monitor events as typed records: one table (DOMAIN_EVENT_SHAPES) says, for each
 * virDomainEventID the binding subscribes to, the C argument types of its callback after
 * (conn, dom) and the field names they become; the worker builds its callbacks from the same table.
 * VIR_DOMAIN_EVENT_ID_GRAPHICS, TUNABLE and JOB_COMPLETED (struct and typed-parameter arguments)
 * are not offered.
 */
import * as E from './enums-domain.js';
import type { ArgType, WorkerMessage } from './event-worker.js';

/** The domain an event is about, copied while libvirt's callback ran. */
export interface EventDomain {
  name: string;
  uuid: string;
  /** -1 when the domain is not running */
  id: number;
}

export const DOMAIN_EVENT_SHAPES = {
  lifecycle: { id: E.DomainEventID.LIFECYCLE, args: ['int', 'int'], fields: ['eventNumber', 'detailNumber'] },
  reboot: { id: E.DomainEventID.REBOOT, args: [], fields: [] },
  'rtc-change': { id: E.DomainEventID.RTC_CHANGE, args: ['int64'], fields: ['utcOffset'] },
  watchdog: { id: E.DomainEventID.WATCHDOG, args: ['int'], fields: ['action'] },
  'io-error': { id: E.DomainEventID.IO_ERROR, args: ['str', 'str', 'int'], fields: ['srcPath', 'devAlias', 'action'] },
  'io-error-reason': { id: E.DomainEventID.IO_ERROR_REASON, args: ['str', 'str', 'int', 'str'], fields: ['srcPath', 'devAlias', 'action', 'reason'] },
  'control-error': { id: E.DomainEventID.CONTROL_ERROR, args: [], fields: [] },
  'block-job': { id: E.DomainEventID.BLOCK_JOB, args: ['str', 'int', 'int'], fields: ['disk', 'type', 'status'] },
  'disk-change': { id: E.DomainEventID.DISK_CHANGE, args: ['str', 'str', 'str', 'int'], fields: ['oldSrcPath', 'newSrcPath', 'devAlias', 'reason'] },
  'tray-change': { id: E.DomainEventID.TRAY_CHANGE, args: ['str', 'int'], fields: ['devAlias', 'reason'] },
  'pm-wakeup': { id: E.DomainEventID.PMWAKEUP, args: ['int'], fields: ['reason'] },
  'pm-suspend': { id: E.DomainEventID.PMSUSPEND, args: ['int'], fields: ['reason'] },
  'balloon-change': { id: E.DomainEventID.BALLOON_CHANGE, args: ['uint64'], fields: ['actual'] },
  'pm-suspend-disk': { id: E.DomainEventID.PMSUSPEND_DISK, args: ['int'], fields: ['reason'] },
  'device-removed': { id: E.DomainEventID.DEVICE_REMOVED, args: ['str'], fields: ['devAlias'] },
  'block-job-2': { id: E.DomainEventID.BLOCK_JOB_2, args: ['str', 'int', 'int'], fields: ['disk', 'type', 'status'] },
  'agent-lifecycle': { id: E.DomainEventID.AGENT_LIFECYCLE, args: ['int', 'int'], fields: ['state', 'reason'] },
  'device-added': { id: E.DomainEventID.DEVICE_ADDED, args: ['str'], fields: ['devAlias'] },
  'migration-iteration': { id: E.DomainEventID.MIGRATION_ITERATION, args: ['int'], fields: ['iteration'] },
  'device-removal-failed': { id: E.DomainEventID.DEVICE_REMOVAL_FAILED, args: ['str'], fields: ['devAlias'] },
  'metadata-change': { id: E.DomainEventID.METADATA_CHANGE, args: ['int', 'str'], fields: ['type', 'nsuri'] },
  'block-threshold': { id: E.DomainEventID.BLOCK_THRESHOLD, args: ['str', 'str', 'uint64', 'uint64'], fields: ['dev', 'path', 'threshold', 'excess'] },
  'memory-failure': { id: E.DomainEventID.MEMORY_FAILURE, args: ['int', 'int', 'uint'], fields: ['recipient', 'action', 'flags'] },
  'memory-device-size-change': { id: E.DomainEventID.MEMORY_DEVICE_SIZE_CHANGE, args: ['str', 'uint64'], fields: ['alias', 'size'] },
} as const satisfies Record<string, { id: number; args: readonly ArgType[]; fields: readonly string[] }>;

export type DomainEventKind = keyof typeof DOMAIN_EVENT_SHAPES;

/** Lowercase names of virDomainEventType (`defined`, `started`, …). */
export type LifecycleEventName = Lowercase<keyof typeof E.DomainEventType>;

interface Base {
  domain: EventDomain;
}
/** A 64-bit value beyond 2^53 arrives as a bigint. */
type U64 = number | bigint;

/** VIR_DOMAIN_EVENT_ID_LIFECYCLE: `event` and `detail` are virDomainEventType and its *DetailType, lowercased. */
export interface LifecycleEvent extends Base {
  event: LifecycleEventName;
  /** e.g. `added` for defined, `booted` for started, `destroyed` for stopped; `unknown` for a newer value */
  detail: string;
  eventNumber: number;
  detailNumber: number;
}

export interface DomainEventMap {
  lifecycle: LifecycleEvent;
  reboot: Base;
  'rtc-change': Base & { utcOffset: U64 };
  watchdog: Base & { action: number };
  'io-error': Base & { srcPath: string | null; devAlias: string | null; action: number };
  'io-error-reason': Base & { srcPath: string | null; devAlias: string | null; action: number; reason: string | null };
  'control-error': Base;
  'block-job': Base & { disk: string | null; type: number; status: number };
  'disk-change': Base & { oldSrcPath: string | null; newSrcPath: string | null; devAlias: string | null; reason: number };
  'tray-change': Base & { devAlias: string | null; reason: number };
  'pm-wakeup': Base & { reason: number };
  'pm-suspend': Base & { reason: number };
  'balloon-change': Base & { actual: U64 };
  'pm-suspend-disk': Base & { reason: number };
  'device-removed': Base & { devAlias: string | null };
  'block-job-2': Base & { disk: string | null; type: number; status: number };
  'agent-lifecycle': Base & { state: number; reason: number };
  'device-added': Base & { devAlias: string | null };
  'migration-iteration': Base & { iteration: number };
  'device-removal-failed': Base & { devAlias: string | null };
  'metadata-change': Base & { type: number; nsuri: string | null };
  'block-threshold': Base & { dev: string | null; path: string | null; threshold: U64; excess: U64 };
  'memory-failure': Base & { recipient: number; action: number; flags: number };
  'memory-device-size-change': Base & { alias: string | null; size: U64 };
}

/** A QEMU monitor event (virConnectDomainQemuMonitorEventRegister): QMP's event name and data. */
export interface QemuMonitorEvent extends Base {
  event: string;
  seconds: U64;
  micros: number;
  /** the event's `data` member as JSON text, or null */
  details: string | null;
}

const lifecycleNames = Object.keys(E.DomainEventType).map((k) => k.toLowerCase() as LifecycleEventName);
const detailTables: ReadonlyArray<Record<string, number>> = [
  E.DomainEventDefinedDetailType, E.DomainEventUndefinedDetailType, E.DomainEventStartedDetailType,
  E.DomainEventSuspendedDetailType, E.DomainEventResumedDetailType, E.DomainEventStoppedDetailType,
  E.DomainEventShutdownDetailType, E.DomainEventPMSuspendedDetailType, E.DomainEventCrashedDetailType,
];

/** libvirt's names for a lifecycle event and detail, lowercased (`stopped`, `destroyed`). */
export function lifecycleNamesOf(event: number, detail: number): { event: LifecycleEventName; detail: string } {
  const table = detailTables[event];
  const d = table && Object.entries(table).find(([, v]) => v === detail)?.[0];
  return { event: lifecycleNames[event] ?? ('unknown' as LifecycleEventName), detail: d ? d.toLowerCase() : 'unknown' };
}

function eventDomain(m: WorkerMessage): EventDomain {
  const [name, uuid, id] = m.d ?? ['', '', -1];
  return { name, uuid, id };
}

/** The typed record of a worker message for a domain event of kind `k`. */
export function decodeDomainEvent<K extends DomainEventKind>(k: K, m: WorkerMessage): DomainEventMap[K] {
  const rec: Record<string, unknown> = { domain: eventDomain(m) };
  DOMAIN_EVENT_SHAPES[k].fields.forEach((f: string, i: number) => (rec[f] = m.a[i] ?? null));
  if (k === 'lifecycle') Object.assign(rec, lifecycleNamesOf(m.a[0] as number, m.a[1] as number));
  return rec as unknown as DomainEventMap[K];
}

export function decodeQemuMonitorEvent(m: WorkerMessage): QemuMonitorEvent {
  const [event, seconds, micros, details] = m.a as [string, U64, number, string | null];
  return { domain: eventDomain(m), event, seconds, micros, details };
}
