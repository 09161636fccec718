/**
 * Domain states and reasons with libvirt's numbers (virDomainState and the
 * per-state reason enums), and the explicit table of legal transitions: the
 * driver asks this module before it changes a domain's state, and an illegal
 * change is a bug reported as an internal error, never silently applied.
 */
import { MpvirtError } from '../errors.js';

export const DomainState = {
  NOSTATE: 0,
  RUNNING: 1,
  BLOCKED: 2,
  PAUSED: 3,
  SHUTDOWN: 4,
  SHUTOFF: 5,
  CRASHED: 6,
  PMSUSPENDED: 7,
} as const;
export type DomainStateNumber = (typeof DomainState)[keyof typeof DomainState];

export const RunningReason = { UNKNOWN: 0, BOOTED: 1, UNPAUSED: 5, CRASHED: 9 } as const;
export const PausedReason = { UNKNOWN: 0, USER: 1, IOERROR: 5, SHUTTING_DOWN: 8, CRASHED: 10, STARTING_UP: 11 } as const;
export const ShutdownReason = { UNKNOWN: 0, USER: 1 } as const;
export const ShutoffReason = { UNKNOWN: 0, SHUTDOWN: 1, DESTROYED: 2, CRASHED: 3, MIGRATED: 4, SAVED: 5, FAILED: 6, FROM_SNAPSHOT: 7, DAEMON: 8 } as const;

/** virsh's strings, indexed by state (virshDomainStateToString). */
export const STATE_NAMES = ['no state', 'running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'] as const;

/** virsh's reason strings per state (virshDomainStateReasonToString), indexed by reason. */
export const REASON_NAMES: Readonly<Record<number, readonly string[]>> = {
  [DomainState.NOSTATE]: ['unknown'],
  [DomainState.RUNNING]: ['unknown', 'booted', 'migrated', 'restored', 'from snapshot', 'unpaused', 'migration canceled', 'save canceled', 'event wakeup', 'crashed', 'post-copy', 'post-copy failed'],
  [DomainState.BLOCKED]: ['unknown'],
  [DomainState.PAUSED]: ['unknown', 'user', 'migrating', 'saving', 'dumping', 'I/O error', 'watchdog', 'from snapshot', 'shutting down', 'creating snapshot', 'crashed', 'starting up', 'post-copy', 'post-copy failed'],
  [DomainState.SHUTDOWN]: ['unknown', 'user'],
  [DomainState.SHUTOFF]: ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from snapshot', 'daemon'],
  [DomainState.CRASHED]: ['unknown', 'panicked'],
  [DomainState.PMSUSPENDED]: ['unknown'],
};

export function stateName(state: number): string {
  return STATE_NAMES[state] ?? 'no state';
}

export function reasonName(state: number, reason: number): string {
  return REASON_NAMES[state]?.[reason] ?? 'unknown';
}

/** Which state may follow which (reasons are free within a legal state change). */
const LEGAL: Readonly<Record<number, readonly number[]>> = {
  [DomainState.SHUTOFF]: [DomainState.PAUSED], // start: paused (starting up) first
  [DomainState.PAUSED]: [DomainState.RUNNING, DomainState.SHUTOFF, DomainState.PAUSED],
  [DomainState.RUNNING]: [DomainState.PAUSED, DomainState.SHUTDOWN, DomainState.SHUTOFF, DomainState.RUNNING],
  [DomainState.SHUTDOWN]: [DomainState.SHUTOFF, DomainState.RUNNING],
};

export function canTransition(from: number, to: number): boolean {
  return LEGAL[from]?.includes(to) ?? false;
}

export interface StateAndReason {
  state: DomainStateNumber;
  reason: number;
}

/** Checked state change: throws for an illegal one. */
export function nextState(current: StateAndReason, to: StateAndReason, domain: string): StateAndReason {
  if (!canTransition(current.state, to.state)) {
    throw new MpvirtError(
      'VIR_ERR_INTERNAL_ERROR',
      `illegal state change of domain '${domain}': ${stateName(current.state)} (${reasonName(current.state, current.reason)}) → ${stateName(to.state)} (${reasonName(to.state, to.reason)})`,
    );
  }
  return to;
}

export function isActive(s: StateAndReason): boolean {
  return s.state !== DomainState.SHUTOFF && s.state !== DomainState.NOSTATE;
}
