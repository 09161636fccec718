/**
 * A domain's job: the state change lock (jobs.ts) with the driver's timeout, refusing a domain
 * that was removed while the caller waited for it. Every slow or side-effecting API runs in one.
 */
import { MpvirtError } from '../errors.js';
import type { DriverCore } from './core.js';
import type { DomainObject } from './domain-object.js';

export function runJob<T>(core: DriverCore, obj: DomainObject, owner: string, fn: (signal: AbortSignal) => Promise<T>, interrupting = false): Promise<T> {
  return obj.jobs.run({ owner, timeoutMs: core.tuning.jobTimeoutMs, interrupting }, (job) => {
    if (obj.removed) throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching uuid '${obj.uuid}' (${obj.name})`, { domain: 'QEMU' });
    return fn(job.signal);
  });
}
