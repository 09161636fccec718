import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProcStat, readProcStat, startTimeOf } from '../../src/emulator/process.js';
import { useSpawner, waitFor } from './spawn-helpers.js';

describe('startTimeOf / readProcStat', () => {
  const sp = useSpawner();

  it('gives a stable bigint for a live pid and undefined for a reaped one', async () => {
    const mine = startTimeOf(process.pid);
    expect(typeof mine).toBe('bigint');
    expect(mine! > 0n).toBe(true);
    expect(startTimeOf(process.pid)).toBe(mine);
    const q = sp.node('');
    expect(q.startTime).toBe(startTimeOf(q.pid));
    expect(q.startTime! >= mine!).toBe(true);
    await q.waitExit(10_000);
    expect(startTimeOf(q.pid)).toBeUndefined();
    expect(startTimeOf(0)).toBeUndefined();
    expect(startTimeOf(-1)).toBeUndefined();
  });

  it('parses after the last ")" when comm has spaces and parentheses', async () => {
    // comm is the basename of the exec'ed path: a symlink named "a) b (c" to sleep
    const bin = join(sp.dir(), 'bin');
    mkdirSync(bin);
    symlinkSync('/bin/sleep', join(bin, 'a) b (c'));
    const q = sp.spawn({ binary: join(bin, 'a) b (c'), argv: ['30'] });
    const stat = await waitFor(() => readProcStat(q.pid), 5000);
    expect(stat).toMatchObject({ pid: q.pid, comm: 'a) b (c', ppid: process.pid, pgrp: q.pid, session: q.pid });
    expect(stat.startTime).toBe(q.startTime);

    const text = '4242 (x) 1 2 (y) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654321012 1 2 3\n';
    expect(parseProcStat(text)).toEqual({
      pid: 4242, comm: 'x) 1 2 (y', state: 'S', ppid: 1, pgrp: 4242, session: 4242, startTime: 987654321012n, utime: 0n, stime: 0n,
    });
    expect(parseProcStat('4242 (short) S 1 2')).toBeUndefined();
    expect(parseProcStat('garbage')).toBeUndefined();
  });
});

describe('a spawned process', () => {
  const sp = useSpawner();

  it('is detached: the leader of its own session and process group', async () => {
    const q = sp.node('setInterval(() => {}, 1000)');
    const ours = readProcStat(process.pid)!;
    const stat = readProcStat(q.pid)!;
    expect(stat.session).not.toBe(ours.session);
    expect(stat.session).toBe(q.pid);
    expect(stat.pgrp).toBe(q.pid);
    expect(stat.ppid).toBe(process.pid);
    expect(await q.terminate({ graceMs: 2000 })).toEqual({ code: null, signal: 'SIGTERM' });
  });
});
