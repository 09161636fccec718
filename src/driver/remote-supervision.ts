/**
 * The supervisor of one remote process (remote/supervisor.ts) with the driver's heartbeat and
 * hang deadline: at start, after a reconnect, and for each replacement of an on-crash restart.
 */
import { RemoteSupervisor, type RemoteSupervisorOptions } from '../remote/supervisor.js';
import type { DriverCore } from './core.js';

export function superviseRemote(core: DriverCore, opts: Omit<RemoteSupervisorOptions, 'heartbeatIntervalMs' | 'hangDeadlineMs'>): RemoteSupervisor {
  return new RemoteSupervisor({ ...opts, heartbeatIntervalMs: core.tuning.heartbeatMs, hangDeadlineMs: core.tuning.hangDeadlineMs });
}
