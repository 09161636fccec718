// The cap logic on its own (no processes): what a capped write lets into the file.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CappedLog, LineJoiner, LOG_CUT_WINDOW, logCapMarker } from '../../src/emulator/log-cap.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mpvirt-logcap-'));
  file = join(dir, 'x.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (c: string, n = 99): string => `${c.repeat(n)}\n`;

describe('a capped log', () => {
  it('appends output below the limit whole and measures the budget from the size it began at', () => {
    writeFileSync(file, 'earlier run\n'.repeat(100)); // 1200 bytes that are not counted
    const log = CappedLog.open(file, 1000);
    expect(log.start).toBe(1200);
    expect(log.write(Buffer.from(line('a').repeat(10)))).toBe(1000);
    expect(log.reached).toBe(false);
    expect(statSync(file).size).toBe(2200);
    log.close();
  });

  it('cuts the crossing write after its last complete line, writes one marker, then discards everything', () => {
    const log = CappedLog.open(file, 1000);
    log.write(Buffer.from('head\n'));
    expect(log.write(Buffer.from(line('x').repeat(50)))).toBe(900); // 905 of 1000 used: 9 whole lines
    expect(log.reached).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(`head\n${line('x').repeat(9)}${logCapMarker(1000)}`);
    expect(log.write(Buffer.from('more output\n'))).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(log.discarded).toBe(50 * 100 - 900 + 'more output\n'.length);
    expect(statSync(file).size).toBeLessThanOrEqual(log.maxSize);
    log.close();
  });

  it('starts the marker on a new line when no line ends near the limit', () => {
    const log = CappedLog.open(file, 100);
    log.write(Buffer.from('y'.repeat(5000)));
    expect(readFileSync(file, 'utf8')).toBe(`${'y'.repeat(99)}\n${logCapMarker(100)}`);
    expect(statSync(file).size).toBe(log.maxSize - 1);
    log.close();
  });

  it('looks for a line end only within the last 4 KiB below the limit', () => {
    const budget = 3 * LOG_CUT_WINDOW;
    const log = CappedLog.open(file, budget);
    // one short line, then a line longer than the window across the limit
    log.write(Buffer.from(`short\n${'z'.repeat(2 * budget)}\n`));
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('short\nzzz')).toBe(true);
    expect(text.endsWith(`z\n${logCapMarker(budget)}`)).toBe(true);
    expect(statSync(file).size).toBe(log.maxSize - 1);
    log.close();
  });

  it("counts the daemon's own lines, and writes the marker on a line of its own when they used the budget", () => {
    const log = CappedLog.open(file, 100);
    log.write(Buffer.from(line('q', 49)));
    appendFileSync(file, `2026-01-01 00:00:00.000+0000: ${'d'.repeat(70)}\n`); // the daemon's line, 101 bytes
    expect(log.write(Buffer.from('late\n'))).toBe(0);
    expect(log.reached).toBe(true);
    expect(readFileSync(file, 'utf8').endsWith(`d\n${logCapMarker(100)}`)).toBe(true);
    log.close();
  });

  it('gives up a log it cannot write, never throwing', () => {
    const log = CappedLog.open(file, 100);
    log.close();
    expect(log.write(Buffer.from('after close\n'))).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('');
  });
});

describe('joining a stream into lines', () => {
  it('holds back a partial line until its end arrives, and gives it out at the end of the stream', () => {
    const j = new LineJoiner();
    expect(j.push(Buffer.from('one\ntw')).toString()).toBe('one\n');
    expect(j.held).toBe(2);
    expect(j.push(Buffer.from('o\nthr')).toString()).toBe('two\n');
    expect(j.push(Buffer.from('ee')).toString()).toBe('');
    expect(j.flush().toString()).toBe('three');
    expect(j.flush().length).toBe(0);
  });

  it('lets a line longer than its window out as it is', () => {
    const j = new LineJoiner(10);
    expect(j.push(Buffer.from('a'.repeat(8))).length).toBe(0);
    expect(j.push(Buffer.from('a'.repeat(8))).toString()).toBe('a'.repeat(16));
    expect(j.held).toBe(0);
  });
});
