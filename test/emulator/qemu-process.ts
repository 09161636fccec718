/**
 * Test helper: start real QEMU processes (no shell) and kill every one of them by pid,
 * checking that the pid is really gone.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { QmpClient } from '../../src/emulator/qmp.js';

export const QEMU = '/usr/bin/qemu-system-x86_64';

export interface QemuProcess {
  proc: ChildProcess;
  pid: number;
  dir: string;
  /** the `-qmp unix:` socket path (absent when the monitor is given through extraArgs) */
  qmpPath: string;
  /** ms timestamp (performance.now()) right after spawn() returned */
  spawnedAt: number;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<QemuProcess>();

export function startQemu(opts: { machine?: string; args?: string[]; qmpSocket?: boolean; stdio?: StdioOptions } = {}): QemuProcess {
  const dir = mkdtempSync(join(tmpdir(), 'mpvirt-qmp-'));
  const qmpPath = join(dir, 'qmp.sock');
  const args = ['-machine', opts.machine ?? 'none', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-S'];
  if (opts.qmpSocket !== false) args.push('-qmp', `unix:${qmpPath},server=on,wait=off`);
  args.push(...(opts.args ?? []));
  const proc = spawn(QEMU, args, { stdio: opts.stdio ?? ['ignore', 'ignore', 'pipe'] });
  const spawnedAt = performance.now();
  if (proc.pid === undefined) throw new Error(`could not spawn ${QEMU}`);
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const q: QemuProcess = { proc, pid: proc.pid, dir, qmpPath, spawnedAt, stderr: () => err, exited };
  running.add(q);
  return q;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/** SIGKILL by pid (works on a SIGSTOPped process too), wait until reaped, return whether it is gone. */
export async function killQemu(q: QemuProcess): Promise<boolean> {
  if (q.proc.exitCode === null && q.proc.signalCode === null) {
    try {
      process.kill(q.pid, 'SIGKILL');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
  await q.exited;
  running.delete(q);
  rmSync(q.dir, { recursive: true, force: true });
  return !pidAlive(q.pid);
}

/** Kill every QEMU still running; returns the pids that survived (should be none). */
export async function killAllQemu(): Promise<number[]> {
  const survivors: number[] = [];
  for (const q of [...running]) if (!(await killQemu(q))) survivors.push(q.pid);
  return survivors;
}

/** Register an afterEach that kills every QEMU still running and expects none to survive. */
export function killAllQemuAfterEach(): void {
  afterEach(async () => {
    expect(await killAllQemu()).toEqual([]);
  });
}

/** startQemu(), then connect a QmpClient to its `-qmp unix:` socket. */
export async function startQemuWithQmp(opts: Parameters<typeof startQemu>[0] = {}): Promise<{ q: QemuProcess; qmp: QmpClient }> {
  const q = startQemu(opts);
  return { q, qmp: await QmpClient.connect(q.qmpPath) };
}
