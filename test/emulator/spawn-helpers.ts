import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { spawnQemu, type SpawnedQemu, type SpawnQemuOptions } from '../../src/emulator/process.js';

export type TestSpawnOptions = Omit<SpawnQemuOptions, 'logFile'> & { logFile?: string };

/**
 * Per-test temp directory and a spawn that registers every process; afterEach SIGKILLs each one
 * by pid (SpawnedQemu.kill, which never signals a pid after it was reaped) and waits for it.
 */
export function useSpawner(prefix = 'mpvirt-process-') {
  const started: SpawnedQemu[] = [];
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const q of started.splice(0)) {
      q.kill('SIGKILL');
      await q.waitExit(5000);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const spawn = (opts: TestSpawnOptions): SpawnedQemu => {
    const q = spawnQemu({ logFile: join(dir, 'process.log'), ...opts });
    started.push(q);
    return q;
  };
  return {
    dir: (): string => dir,
    spawn,
    /** a `node -e <script>` child */
    node: (script: string, opts: Omit<TestSpawnOptions, 'binary' | 'argv'> = {}): SpawnedQemu =>
      spawn({ binary: process.execPath, argv: ['-e', script], ...opts }),
  };
}

export async function waitFor<T>(probe: () => T | undefined | false, timeoutMs: number, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** true if no process has this pid (kill(pid, 0) fails with ESRCH) */
export function pidIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
