import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogCap, logCapMarker } from '../../src/emulator/log-cap.js';
import { DEFAULT_LOG_LIMIT_BYTES, STDERR_TAIL_BYTES } from '../../src/emulator/process.js';
import { useSpawner, waitFor } from './spawn-helpers.js';

// 5 MiB of 100-byte lines to stderr through a *blocking* fd: the child writes straight into the
// log file (O_APPEND), so it can never block on the daemon, whatever the daemon does.
const FLOOD = `
const fs = require('fs');
fs.writeSync(1, 'stdout-hello\\n');
const chunk = Buffer.from(('x'.repeat(99) + '\\n').repeat(10486)); // 1,048,600 bytes
for (let i = 0; i < 5; i++) fs.writeSync(2, chunk);
fs.writeSync(2, 'THE-END-MARKER\\n');
`;
const FLOOD_BYTES = 'stdout-hello\n'.length + 5 * 1_048_600 + 'THE-END-MARKER\n'.length;

describe('a process flooding its output', () => {
  const sp = useSpawner();

  it('exits normally with all its output in the log; the cap then keeps the head plus one marker line', async () => {
    const t0 = performance.now();
    const q = sp.node(FLOOD);
    const status = await q.waitExit(20_000);
    const ms = performance.now() - t0;
    expect(status).toEqual({ code: 0, signal: null });
    expect(q.logStart).toBe(0);
    expect(statSync(q.logFile).size).toBe(FLOOD_BYTES); // nothing lost, nothing blocked
    // the tail is read from the log: the last 4 KiB appended since the spawn
    const tail = q.stderrTail();
    expect(tail.length).toBe(STDERR_TAIL_BYTES);
    expect(tail.endsWith(`${'x'.repeat(99)}\nTHE-END-MARKER\n`)).toBe(true);

    const cap = new LogCap(q.logFile, DEFAULT_LOG_LIMIT_BYTES, q.logStart);
    expect(cap.enforce()).toBe(true);
    const marker = logCapMarker(DEFAULT_LOG_LIMIT_BYTES);
    const log = readFileSync(q.logFile, 'utf8');
    expect(log.length).toBeLessThanOrEqual(DEFAULT_LOG_LIMIT_BYTES + marker.length);
    expect(log.startsWith('stdout-hello\n')).toBe(true); // the head is kept
    expect(log.endsWith(`x\n${marker}`)).toBe(true); // cut after a complete line
    expect(log.split('log limit of').length).toBe(2); // exactly one marker line
    expect(cap.reached).toBe(true);
    // later output past the marker is cut back to it; the marker is not written again
    appendFileSync(q.logFile, 'more output\n');
    expect(cap.enforce()).toBe(true);
    expect(readFileSync(q.logFile, 'utf8')).toBe(log);
    expect(cap.enforce()).toBe(false);
    console.log(`5 MiB flood: spawn to exit ${ms.toFixed(0)} ms`);
  });

  it('measures the budget from where the log was when the cap began', async () => {
    const logFile = join(sp.dir(), 'small.log');
    writeFileSync(logFile, 'earlier run\n'.repeat(100)); // 1200 bytes that are not counted
    const cap = LogCap.fromCurrentSize(logFile, 1000);
    expect(cap.start).toBe(1200);
    const q = sp.node(FLOOD, { logFile });
    expect(q.logStart).toBe(1200);
    expect(await q.waitExit(20_000)).toEqual({ code: 0, signal: null });
    cap.enforce();
    const log = readFileSync(logFile, 'utf8');
    expect(log.startsWith('earlier run\n'.repeat(100) + 'stdout-hello\n')).toBe(true);
    expect(log.length).toBeLessThanOrEqual(1200 + 1000 + logCapMarker(1000).length);
    expect(log.endsWith(`x\n${logCapMarker(1000)}`)).toBe(true);
  });

  it('starts the marker on a new line when no line ends near the limit', () => {
    const logFile = join(sp.dir(), 'noline.log');
    writeFileSync(logFile, 'y'.repeat(5000));
    const cap = new LogCap(logFile, 100, 0);
    expect(cap.enforce()).toBe(true);
    expect(readFileSync(logFile, 'utf8')).toBe(`${'y'.repeat(99)}\n${logCapMarker(100)}`);
    expect(statSync(logFile).size).toBe(cap.maxSize);
  });

  it('a stopped cap never cuts the file again: the next owner caps it from its own offset', () => {
    const logFile = join(sp.dir(), 'handover.log');
    writeFileSync(logFile, 'z'.repeat(50) + '\n');
    const old = new LogCap(logFile, 100, 0).begin();
    old.stop();
    expect(old.running).toBe(false);
    expect(old.stopped).toBe(true);
    const next = LogCap.fromCurrentSize(logFile, 100);
    appendFileSync(logFile, `${'w'.repeat(99)}\n`); // past the old limit, within the new one
    const before = readFileSync(logFile, 'utf8');
    expect(old.enforce()).toBe(false);
    expect(old.begin().running).toBe(false);
    expect(next.enforce()).toBe(false);
    expect(readFileSync(logFile, 'utf8')).toBe(before);
  });

  it('enforces on its interval while a process keeps appending, and never blocks it', async () => {
    const logFile = join(sp.dir(), 'live.log');
    const cap = LogCap.fromCurrentSize(logFile, 64 * 1024, { intervalMs: 50 }).begin();
    try {
      // ~10 MiB over ~1 s, in 100-byte lines
      const q = sp.node(`
        const fs = require('fs');
        const chunk = Buffer.from(('z'.repeat(99) + '\\n').repeat(1000));
        const end = Date.now() + 1000;
        while (Date.now() < end) { fs.writeSync(2, chunk); const t = Date.now() + 10; while (Date.now() < t); }
      `, { logFile });
      expect(await q.waitExit(20_000)).toEqual({ code: 0, signal: null });
      expect(await waitFor(() => statSync(logFile).size <= cap.maxSize || undefined, 2000)).toBe(true);
      const log = readFileSync(logFile, 'utf8');
      expect(log.endsWith(logCapMarker(64 * 1024))).toBe(true);
      expect(log.split('log limit of').length).toBe(2);
    } finally {
      cap.stop();
    }
  });

  it('leaves output below the limit untouched and keeps short stderr whole in the tail', async () => {
    const q = sp.node(`process.stdout.write('out\\n'); process.stderr.write('qemu-system-x86_64: some error\\n'); process.exitCode = 3`);
    expect(await q.waitExit(10_000)).toEqual({ code: 3, signal: null });
    const cap = new LogCap(q.logFile, DEFAULT_LOG_LIMIT_BYTES, q.logStart);
    expect(cap.enforce()).toBe(false);
    expect(readFileSync(q.logFile, 'utf8').split('\n').sort()).toEqual(['', 'out', 'qemu-system-x86_64: some error']);
    expect(q.stderrTail().split('\n').sort()).toEqual(['', 'out', 'qemu-system-x86_64: some error']);
    expect(cap.reached).toBe(false);
    expect(q.exitStatus).toEqual({ code: 3, signal: null });
  });

  it('the tail covers only what was appended since the spawn, cut to a UTF-8 boundary', async () => {
    const logFile = join(sp.dir(), 'utf8.log');
    writeFileSync(logFile, 'before the spawn\n');
    // 6001 bytes: the last 4096 start in the middle of an 'é'
    const q = sp.node(`process.stderr.write('é'.repeat(3000) + 'a')`, { logFile });
    expect(await q.waitExit(10_000)).toEqual({ code: 0, signal: null });
    expect(q.stderrTail()).toBe(`${'é'.repeat(2047)}a`);
    const q2 = sp.node(`process.stderr.write('only me\\n')`, { logFile });
    expect(await q2.waitExit(10_000)).toEqual({ code: 0, signal: null });
    expect(q2.stderrTail()).toBe('only me\n');
  });
});
