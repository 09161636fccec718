/**
 * A domain's log file (libvirt's /var/log/libvirt/qemu/NAME.log): the daemon's own timestamped
 * lines, QEMU's output appended by the processes themselves, its cap and its rotation at start.
 */
import { appendFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LogCap } from '../emulator/log-cap.js';
import type { DriverCore } from './core.js';

const LOG_ROTATE_BYTES = 8 * 1024 * 1024;

export function domainLogFile(core: DriverCore, name: string): string {
  return join(core.dirs.logDir, `${name}.log`);
}

/** One timestamped line in the domain's log, libvirt's `YYYY-MM-DD hh:mm:ss.sss+0000: …` style. */
export function logLine(core: DriverCore, name: string, text: string): void {
  const ts = new Date().toISOString().replace('T', ' ').replace('Z', '+0000');
  try {
    appendFileSync(domainLogFile(core, name), `${ts}: ${text}\n`, { mode: 0o600 });
  } catch (e) {
    core.log.warn({ err: e, domain: name }, 'cannot write the domain log');
  }
}

/**
 * Starts the size cap of a domain's log for `processes` QEMU processes, measured from the log's
 * current size: `core.tuning.logLimitBytes` per process.
 */
export function startLogCap(core: DriverCore, name: string, processes: number): LogCap {
  return LogCap.fromCurrentSize(domainLogFile(core, name), core.tuning.logLimitBytes * processes).begin();
}

export function rotateLog(core: DriverCore, name: string): void {
  const file = domainLogFile(core, name);
  try {
    if (statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
}
