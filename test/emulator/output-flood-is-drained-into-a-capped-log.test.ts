import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_LIMIT_BYTES, STDERR_TAIL_BYTES } from '../../src/emulator/process.js';
import { useSpawner } from './spawn-helpers.js';

// 5 MiB of 100-byte lines to stderr through a *blocking* fd: the child finishes only if the
// parent drains the pipe the whole time, also after the log limit is reached.
const FLOOD = `
const fs = require('fs');
fs.writeSync(1, 'stdout-hello\\n');
const chunk = Buffer.from(('x'.repeat(99) + '\\n').repeat(10486)); // 1,048,600 bytes
for (let i = 0; i < 5; i++) fs.writeSync(2, chunk);
fs.writeSync(2, 'THE-END-MARKER\\n');
`;
const FLOOD_BYTES = 'stdout-hello\n'.length + 5 * 1_048_600 + 'THE-END-MARKER\n'.length;
const truncationLine = (limit: number): string =>
  `mpvirt: log limit of ${limit} bytes reached; further output of this process is discarded\n`;

describe('a process flooding its output', () => {
  const sp = useSpawner();

  it('exits normally while the log stops at the default 1 MiB plus one truncation line', async () => {
    const t0 = performance.now();
    const q = sp.node(FLOOD);
    const status = await q.waitExit(20_000);
    const ms = performance.now() - t0;
    expect(status).toEqual({ code: 0, signal: null });
    const log = readFileSync(q.logFile, 'utf8');
    // the limit, plus the truncation line (and the newline that ends the cut line before it)
    expect(statSync(q.logFile).size).toBeLessThanOrEqual(DEFAULT_LOG_LIMIT_BYTES + 1 + truncationLine(DEFAULT_LOG_LIMIT_BYTES).length);
    expect(log.endsWith(truncationLine(DEFAULT_LOG_LIMIT_BYTES))).toBe(true);
    expect(log.split('log limit of').length).toBe(2); // exactly one truncation line
    expect(log).toContain('stdout-hello\n');
    expect(q.log.seenBytes).toBe(FLOOD_BYTES); // everything was read, most of it discarded
    expect(q.log.writtenBytes).toBe(DEFAULT_LOG_LIMIT_BYTES);
    expect(q.log.truncated).toBe(true);
    const tail = q.stderrTail();
    expect(tail.length).toBe(STDERR_TAIL_BYTES);
    expect(tail.endsWith(`${'x'.repeat(99)}\nTHE-END-MARKER\n`)).toBe(true);
    console.log(`5 MiB flood: spawn to drained exit ${ms.toFixed(0)} ms`);
  });

  it('starts the truncation line on a new line when the limit cuts a line', async () => {
    const q = sp.node(FLOOD, { logLimitBytes: 1000, logFile: join(sp.dir(), 'small.log') });
    expect(await q.waitExit(20_000)).toEqual({ code: 0, signal: null });
    const log = readFileSync(q.logFile, 'utf8');
    expect(log.length).toBe(1000 + 1 + truncationLine(1000).length);
    expect(log.endsWith(`x\n${truncationLine(1000)}`)).toBe(true);
  });

  it('leaves output below the limit untouched and keeps short stderr whole in the tail', async () => {
    const q = sp.node(`process.stdout.write('out\\n'); process.stderr.write('qemu-system-x86_64: some error\\n'); process.exitCode = 3`);
    expect(await q.waitExit(10_000)).toEqual({ code: 3, signal: null });
    expect(readFileSync(q.logFile, 'utf8').split('\n').sort()).toEqual(['', 'out', 'qemu-system-x86_64: some error']);
    expect(q.stderrTail()).toBe('qemu-system-x86_64: some error\n');
    expect(q.log.truncated).toBe(false);
    expect(q.exitStatus).toEqual({ code: 3, signal: null });
  });
});
