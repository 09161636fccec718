/**
 * A domain's log file (libvirt's /var/log/libvirt/qemu/NAME.log): the daemon's own timestamped
 * lines, QEMU's output written by the log keeper (src/logd/) within this run's cap, and its
 * rotation at start.
 */
import { appendFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { OutputFd } from '../remote/launch.js';
import type { SessionStatus } from '../logd/client.js';
import type { DriverCore } from './core.js';

const LOG_ROTATE_BYTES = 8 * 1024 * 1024;
const FIFO_SUFFIX = '.log.fifo';

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

/** What a run's processes may add to the log: `core.tuning.logLimitBytes` per process, head kept. */
export function logBudget(core: DriverCore, processes: number): number {
  return core.tuning.logLimitBytes * processes;
}

/**
 * LaunchOptions.output for a domain's processes: each gets its own pipe into the log keeper,
 * named `<runDir>/main.log.fifo` or `remote-RID.log.fifo` (kept while the domain runs, so a
 * restarted keeper can take them over). `fresh`: the first process begins this run's cap (at
 * start); otherwise they join the run's cap (a remote hot-plugged or restarted).
 */
export function processOutputs(core: DriverCore, name: string, runDir: string, budget: number, fresh: boolean): (rid: string | undefined) => Promise<OutputFd> {
  let first = fresh;
  return async (rid) => {
    const f = first;
    first = false;
    const o = await core.logd.output({ fifo: join(runDir, fifoName(rid)), file: domainLogFile(core, name), budget, fresh: f });
    return { fd: o.fd, drained: o.drained };
  };
}

/** This run's cap as the log keeper holds it (undefined: no process of the domain writes to the log). */
export function logCapStatus(core: DriverCore, name: string): Promise<SessionStatus | undefined> {
  return core.logd.status(domainLogFile(core, name));
}

/**
 * After a daemon restart: the keeper normally still holds the domain's pipes and nothing is to be
 * done. When it does not (the keeper itself was killed), a new keeper takes over the named pipes
 * the processes still write to, with a new cap from the log's current size.
 */
export async function checkLogKeeper(core: DriverCore, name: string, runDir: string, processes: number): Promise<void> {
  try {
    if (await logCapStatus(core, name)) return;
    let fifos: string[];
    try {
      fifos = readdirSync(runDir).filter((f) => f.endsWith(FIFO_SUFFIX)).sort();
    } catch {
      fifos = [];
    }
    let fresh = true;
    for (const f of fifos) {
      await core.logd.adopt({ fifo: join(runDir, f), file: domainLogFile(core, name), budget: logBudget(core, processes), fresh });
      fresh = false;
    }
    logLine(core, name, `the log keeper had lost this run's output: ${fifos.length} pipe(s) taken over, capped again from here`);
  } catch (e) {
    core.log.warn({ err: e, domain: name }, 'cannot reach the log keeper: QEMU output of this run may not be logged');
  }
}

export function rotateLog(core: DriverCore, name: string): void {
  const file = domainLogFile(core, name);
  try {
    if (statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
}

function fifoName(rid: string | undefined): string {
  return rid === undefined ? `main${FIFO_SUFFIX}` : `remote-${rid.replace(/[^A-Za-z0-9_-]/g, '_')}${FIFO_SUFFIX}`;
}
