import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcStat, startTimeOf } from '../../src/emulator/process.js';
import { pidIsGone, readIfExists, useSpawner, waitFor } from './spawn-helpers.js';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** process.ts and errors.ts transpiled to plain ESM under `dir`, for a separate node process. */
function transpile(dir: string): string {
  for (const f of ['errors.ts', 'emulator/process.ts']) {
    const out = ts.transpileModule(readFileSync(join(src, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f.replace(/\.ts$/, '.mjs')), out.replace(/from '(\.\.?\/[^']+)\.js'/g, "from '$1.mjs'"));
  }
  return join(dir, 'emulator', 'process.mjs');
}

describe('unref', () => {
  const sp = useSpawner();
  // the grandchild is not our child: kill it by pid, and only if its start time still matches
  const orphans: Array<{ pid: number; startTime: bigint }> = [];
  afterEach(() => {
    for (const o of orphans.splice(0)) if (startTimeOf(o.pid) === o.startTime) process.kill(o.pid, 'SIGKILL');
  });

  it('lets a "daemon" exit at once; its detached child lives on and its later output still reaches the log', async () => {
    const mod = transpile(join(sp.dir(), 'lib'));
    const logFile = join(sp.dir(), 'grandchild.log');
    const marker = join(sp.dir(), 'late-write.txt');
    // the child's stderr is the log file itself (O_APPEND), not a pipe to the daemon: a write after
    // the daemon is gone still succeeds and lands in the log
    const grandchild = `const fs = require('fs'); setInterval(() => {}, 1000); setTimeout(() => {
      let r = 'written'; try { fs.writeSync(2, 'late\\n'); } catch (e) { r = e.code; } fs.writeFileSync(${JSON.stringify(marker)}, r); }, 300)`;
    const daemon = `
      import { spawnQemu } from ${JSON.stringify(mod)};
      const q = spawnQemu({
        binary: process.execPath, argv: ['-e', ${JSON.stringify(grandchild)}],
        fdMap: [{ childFd: 3, source: 'socketpair' }], logFile: ${JSON.stringify(logFile)}, unref: true,
      });
      console.log(JSON.stringify({ pid: q.pid, startTime: String(q.startTime) }));
    `;
    const t0 = performance.now();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', daemon], { encoding: 'utf8', timeout: 10_000 });
    const ms = performance.now() - t0;
    const child = JSON.parse(out) as { pid: number; startTime: string };
    orphans.push({ pid: child.pid, startTime: BigInt(child.startTime) });
    expect(ms).toBeLessThan(5000); // execFileSync returned: nothing kept the daemon's loop alive
    expect(pidIsGone(child.pid)).toBe(false);
    expect(startTimeOf(child.pid)).toBe(BigInt(child.startTime));
    expect(readProcStat(child.pid)?.session).toBe(child.pid);
    expect(await waitFor(() => readIfExists(marker) || undefined, 5000)).toBe('written');
    expect(pidIsGone(child.pid)).toBe(false);
    expect(readIfExists(logFile)).toBe('late\n');
    console.log(`daemon with an unref'ed child exited after ${ms.toFixed(0)} ms`);
  });
});
