import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STDERR_TAIL_BYTES } from '../../src/emulator/process.js';
import { useSpawner } from './spawn-helpers.js';

// 5 MiB of 100-byte lines to stderr through a *blocking* fd. A spawn without `output` (the
// capability probe's) appends straight to the log file; QEMU processes of a domain write through
// the log keeper instead (test/logd/).
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

  it('appending straight to its log (a short-lived helper), exits normally with all its output there', async () => {
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
    console.log(`5 MiB flood into the file: spawn to exit ${ms.toFixed(0)} ms`);
  });

  it('leaves output below the limit untouched and keeps short stderr whole in the tail', async () => {
    const q = sp.node(`process.stdout.write('out\\n'); process.stderr.write('qemu-system-x86_64: some error\\n'); process.exitCode = 3`);
    expect(await q.waitExit(10_000)).toEqual({ code: 3, signal: null });
    expect(readFileSync(q.logFile, 'utf8').split('\n').sort()).toEqual(['', 'out', 'qemu-system-x86_64: some error']);
    expect(q.stderrTail().split('\n').sort()).toEqual(['', 'out', 'qemu-system-x86_64: some error']);
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
