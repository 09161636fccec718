// The log keeper with real processes writing through its pipes (node children standing in for
// QEMU; the QEMU-level case is test/daemon/log-stays-capped-while-mpvirtd-is-dead.test.ts).
// The keeper program is the build's (dist/logd/main.js): build first.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logCapMarker } from '../../src/emulator/log-cap.js';
import { spawnQemu, type SpawnedQemu } from '../../src/emulator/process.js';
import { keeperScript, LogKeeperClient } from '../../src/logd/client.js';
import { waitFor } from '../emulator/spawn-helpers.js';

let dir: string;
let file: string;
const clients: LogKeeperClient[] = [];
const procs: SpawnedQemu[] = [];
const keepers = new Set<number>();

beforeEach(() => {
  if (!existsSync(keeperScript())) throw new Error(`${keeperScript()} is missing: run npm run build first`);
  dir = mkdtempSync(join(tmpdir(), 'mpvirt-logd-'));
  file = join(dir, 'dom.log');
});
afterEach(async () => {
  for (const q of procs.splice(0)) {
    q.kill('SIGKILL');
    await q.waitExit(5000);
  }
  for (const c of clients.splice(0)) c.close();
  // with no pipe and no client left, every keeper exits by itself
  await waitFor(() => [...keepers].every((p) => !alive(p)), 5000);
  keepers.clear();
  rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function client(): LogKeeperClient {
  const c = new LogKeeperClient(join(dir, '.logd.sock'));
  clients.push(c);
  return c;
}

async function run(c: LogKeeperClient, script: string, opts: { budget: number; fresh?: boolean; fifo?: string }): Promise<{ q: SpawnedQemu; keeper: number }> {
  const out = await c.output({ fifo: opts.fifo ?? join(dir, `p${procs.length}.fifo`), file, budget: opts.budget, fresh: opts.fresh ?? true });
  keepers.add(out.session.keeper);
  const q = spawnQemu({ binary: process.execPath, argv: ['-e', script], logFile: file, output: { fd: out.fd, drained: out.drained } });
  procs.push(q);
  return { q, keeper: out.session.keeper };
}

const markers = (): number => readFileSync(file, 'utf8').split('log limit of').length - 1;

// 5 MiB of 100-byte lines through a blocking fd, as fast as the process can write
const FLOOD = `
const fs = require('fs');
fs.writeSync(1, 'stdout-hello\\n');
const chunk = Buffer.from(('x'.repeat(99) + '\\n').repeat(10486));
for (let i = 0; i < 5; i++) fs.writeSync(2, chunk);
fs.writeSync(2, 'THE-END-MARKER\\n');
`;

describe('the log keeper', () => {
  it('drains a flooding process without blocking it: the log keeps its head and one marker line', async () => {
    const c = client();
    const t0 = performance.now();
    const { q } = await run(c, FLOOD, { budget: 1 << 20 });
    expect(await q.waitExit(20_000)).toEqual({ code: 0, signal: null });
    const ms = performance.now() - t0;
    const log = readFileSync(file, 'utf8');
    expect(log.startsWith('stdout-hello\n')).toBe(true);
    expect(log.endsWith(`x\n${logCapMarker(1 << 20)}`)).toBe(true);
    expect(log.length).toBeLessThanOrEqual((1 << 20) + logCapMarker(1 << 20).length);
    expect(markers()).toBe(1);
    expect(await c.status(file)).toBeUndefined(); // the run's cap ended with its last pipe
    console.log(`5 MiB flood through the keeper: spawn to exit ${ms.toFixed(0)} ms`);
  });

  it("has a process's last words in the log when its exit is reported", async () => {
    const c = client();
    const { q } = await run(c, `process.stderr.write('qemu-system-x86_64: some error\\n'); process.exitCode = 3`, { budget: 4096 });
    expect(await q.waitExit(10_000)).toEqual({ code: 3, signal: null });
    expect(readFileSync(file, 'utf8')).toBe('qemu-system-x86_64: some error\n');
    expect(q.stderrTail()).toBe('qemu-system-x86_64: some error\n');
  });

  it('keeps capping with no daemon connected; a new daemon finds the same keeper and the run it caps', async () => {
    const c1 = client();
    const budget = 64 * 1024;
    // writes a line at once, more after the daemon is gone, then 2 MiB, then lives on quietly
    const { q, keeper } = await run(c1, `
      const fs = require('fs');
      fs.writeSync(2, 'early line\\n');
      setTimeout(() => {
        fs.writeSync(2, 'written while no daemon runs\\n');
        const chunk = Buffer.from(('w'.repeat(99) + '\\n').repeat(1000));
        for (let i = 0; i < 21; i++) fs.writeSync(2, chunk);
        setInterval(() => {}, 1 << 30);
      }, 300);
    `, { budget });
    c1.close(); // the daemon goes away
    await waitFor(() => markers() === 1 || undefined, 10_000);
    const log = readFileSync(file, 'utf8');
    expect(log.startsWith('early line\nwritten while no daemon runs\n')).toBe(true);
    expect(statSync(file).size).toBeLessThanOrEqual(budget + 1 + logCapMarker(budget).length);
    expect(alive(keeper)).toBe(true);

    const c2 = client(); // the restarted daemon
    const s = await c2.status(file);
    expect(s).toMatchObject({ keeper, reached: true, pipes: 1, start: 0, budget });
    // a process joining the run (a hot-plugged remote) is capped within the same budget
    const joined = await run(c2, `require('fs').writeSync(2, 'joined late\\n')`, { budget, fresh: false });
    expect(await joined.q.waitExit(10_000)).toEqual({ code: 0, signal: null });
    expect(readFileSync(file, 'utf8')).toBe(log);
    expect((await c2.status(file))!.discarded).toBeGreaterThan(1 << 20);
    q.kill('SIGKILL');
    await q.waitExit(5000);
    expect(await c2.status(file)).toBeUndefined();
  });

  it("supersedes a run's cap when the next run starts, so the old one never writes into the new run", async () => {
    const c = client();
    const old = await run(c, `setInterval(() => require('fs').writeSync(2, 'old run\\n'), 20)`, { budget: 1 << 20 });
    await waitFor(() => readFileSync(file, 'utf8').includes('old run') || undefined, 5000);
    await run(c, `require('fs').writeSync(2, 'new run\\n'); setInterval(() => {}, 1 << 30)`, { budget: 1 << 20 });
    await waitFor(() => readFileSync(file, 'utf8').includes('new run') || undefined, 5000);
    const at = readFileSync(file, 'utf8').indexOf('new run');
    await new Promise((r) => setTimeout(r, 200));
    expect(readFileSync(file, 'utf8').slice(at)).toBe('new run\n');
    old.q.kill('SIGKILL');
  });

  it('after the keeper itself was killed, a new one takes over the named pipe the process still writes to', async () => {
    const c1 = client();
    const fifo = join(dir, 'main.log.fifo');
    // a line every 20 ms; EPIPE while no keeper reads is ignored, as QEMU ignores SIGPIPE
    const { q, keeper } = await run(c1, `let n = 0; setInterval(() => { try { require('fs').writeSync(2, 'tick ' + n++ + '\\n'); } catch {} }, 20)`, { budget: 1 << 20, fifo });
    await waitFor(() => readFileSync(file, 'utf8').includes('tick 1\n') || undefined, 5000);
    process.kill(keeper, 'SIGKILL');
    await waitFor(() => !alive(keeper) || undefined, 5000);
    c1.close();
    const c2 = client();
    const s = await c2.adopt({ fifo, file, budget: 1 << 20, fresh: true });
    keepers.add(s.keeper);
    expect(s.keeper).not.toBe(keeper);
    const size = statSync(file).size;
    await waitFor(() => statSync(file).size > size + 20 || undefined, 5000);
    expect(readFileSync(file, 'utf8').slice(size)).toMatch(/^tick \d+\n/);
    expect(q.reaped).toBe(false);
  });
});
