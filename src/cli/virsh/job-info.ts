/**
 * domjobinfo's report, as tools/virsh-domain.c cmdDomjobinfo prints a job: its type and
 * operation, then (for a running job, or with --completed / --anystats) times, data, memory and
 * disk progress, page and compression counters, downtimes and the error message, each line only
 * when libvirt reported that statistic.
 */
import { TypedParameterType as T } from '../../libvirt/enums-misc.js';
import type { JobInfo } from '../../libvirt/domain-vcpus.js';
import type { TypedParam } from '../../libvirt/typed-param-list.js';
import { fixed, prettyCapacity } from './format-values.js';

const JOB_TYPES = ['None', 'Bounded', 'Unbounded', 'Completed', 'Failed', 'Cancelled'];
const JOB_OPERATIONS = ['Unknown', 'Start', 'Save', 'Restore', 'Incoming migration', 'Outgoing migration', 'Snapshot', 'Snapshot revert', 'Dump', 'Backup', 'Snapshot delete'];
const BOUNDED = 1;
const UNBOUNDED = 2;
const COMPLETED = 3;

/** "%-17s %-.3lf %s" of a size */
const sized = (label: string, v: number | bigint, suffix = ''): string => {
  const { value, unit } = prettyCapacity(v);
  return `${label.padEnd(17)} ${fixed(value, 3)} ${unit}${suffix}\n`;
};
const counted = (label: string, v: number | bigint, width: number, suffix = ''): string => `${label.padEnd(17)} ${String(v).padEnd(width)}${suffix}\n`;

export function printJob(info: JobInfo, params: readonly TypedParam[], completedFlag: boolean, anystats: boolean): string {
  const get = (field: string, type: number = T.ULLONG): number | bigint | undefined => {
    const p = params.find((x) => x.field === field);
    return p && p.type === type ? (p.value as number | bigint) : undefined;
  };
  let out = `${'Job type:'.padEnd(17)} ${(JOB_TYPES[info.type] ?? 'unknown').padEnd(12)}\n`;
  if (info.type === 0) return out;
  const op = Number(get('operation', T.INT) ?? 0);
  out += `${'Operation:'.padEnd(17)} ${(JOB_OPERATIONS[op] ?? 'unknown').padEnd(12)}\n`;
  if (!anystats && info.type !== BOUNDED && info.type !== UNBOUNDED && (!completedFlag || info.type !== COMPLETED)) return out;
  const nz = (...v: Array<number | bigint>): boolean => v.some((x) => Number(x) !== 0);
  const opt = (field: string, f: (v: number | bigint) => string, when: (v: number | bigint) => boolean = () => true): void => {
    const v = get(field);
    if (v !== undefined && when(v)) out += f(v);
  };
  out += counted('Time elapsed:', info.timeElapsed, 12, ' ms');
  opt('time_elapsed_net', (v) => counted('Time elapsed w/o network:', v, 12, ' ms'));
  if (info.type === BOUNDED) out += counted('Time remaining:', info.timeRemaining, 12, ' ms');
  if (nz(info.dataTotal, info.dataRemaining, info.dataProcessed)) {
    out += sized('Data processed:', info.dataProcessed) + sized('Data remaining:', info.dataRemaining) + sized('Data total:', info.dataTotal);
  }
  if (nz(info.memTotal, info.memRemaining, info.memProcessed)) {
    out += sized('Memory processed:', info.memProcessed) + sized('Memory remaining:', info.memRemaining) + sized('Memory total:', info.memTotal);
    opt('memory_bps', (v) => sized('Memory bandwidth:', v, '/s'), (v) => Number(v) !== 0);
    opt('memory_dirty_rate', (v) => counted('Dirty rate:', v, 12, ' pages/s'));
    opt('memory_page_size', (v) => counted('Page size:', v, 12, ' bytes'));
    opt('memory_iteration', (v) => counted('Iteration:', v, 12));
    opt('memory_postcopy_requests', (v) => counted('Postcopy requests:', v, 12));
  }
  if (nz(info.fileTotal, info.fileRemaining, info.fileProcessed)) {
    out += sized('File processed:', info.fileProcessed) + sized('File remaining:', info.fileRemaining) + sized('File total:', info.fileTotal);
    opt('disk_bps', (v) => sized('File bandwidth:', v, '/s'), (v) => Number(v) !== 0);
  }
  opt('memory_constant', (v) => counted('Constant pages:', v, 12));
  opt('memory_normal', (v) => counted('Normal pages:', v, 12));
  opt('memory_normal_bytes', (v) => sized('Normal data:', v));
  opt('downtime', (v) => counted(info.type === COMPLETED ? 'Total downtime:' : 'Expected downtime:', v, 12, ' ms'));
  opt('downtime_net', (v) => counted('Downtime w/o network:', v, 12, ' ms'));
  opt('setup_time', (v) => counted('Setup time:', v, 12, ' ms'));
  opt('compression_cache', (v) => sized('Compression cache:', v));
  opt('compression_bytes', (v) => sized('Compressed data:', v));
  opt('compression_pages', (v) => counted('Compressed pages:', v, 13));
  opt('compression_cache_misses', (v) => counted('Compression cache misses:', v, 13));
  opt('compression_overflow', (v) => counted('Compression overflows:', v, 13));
  const throttle = get('auto_converge_throttle', T.INT);
  if (throttle !== undefined) out += counted('Auto converge throttle:', throttle, 13);
  opt('disk_temp_used', (v) => sized('Temporary disk space use:', v));
  opt('disk_temp_total', (v) => sized('Temporary disk space total:', v));
  const err = params.find((p) => p.field === 'errmsg' && p.type === T.STRING);
  if (err) out += `${'Error message:'.padEnd(17)} ${String(err.value)}\n`;
  return out;
}
