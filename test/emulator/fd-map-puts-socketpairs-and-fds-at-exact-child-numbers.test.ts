import { closeSync, openSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isMpvirtError } from '../../src/errors.js';
import { spawnQemu } from '../../src/emulator/process.js';
import { readIfExists, useSpawner } from './spawn-helpers.js';

// Reports, as JSON through fd 5: whether fds 3 and 5 are sockets, whether their inodes are listed
// in /proc/net/unix (AF_UNIX), what fd 7 (a file of the parent) contains, and what the parent sent
// through fd 3 (a blocking read).
const CHILD = `
const fs = require('fs');
const unix = new Set(fs.readFileSync('/proc/net/unix', 'utf8').trim().split('\\n').slice(1)
  .map((l) => l.trim().split(/\\s+/)[6]));
const inode = (fd) => /^socket:\\[(\\d+)\\]$/.exec(fs.readlinkSync('/proc/self/fd/' + fd))?.[1];
const b = Buffer.alloc(64);
const file = b.subarray(0, fs.readSync(7, b, 0, 64, 0)).toString();
const got = b.subarray(0, fs.readSync(3, b)).toString();
fs.writeSync(5, JSON.stringify({
  socket3: fs.fstatSync(3).isSocket(), socket5: fs.fstatSync(5).isSocket(),
  unix3: unix.has(inode(3)), unix5: unix.has(inode(5)), file, got,
}) + '\\n');
`;

function readLine(s: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
    s.on('error', reject);
    s.on('end', () => reject(new Error(`EOF after ${JSON.stringify(buf)}`)));
  });
}

describe('fdMap', () => {
  const sp = useSpawner();
  const openFds: number[] = [];
  afterEach(() => {
    for (const fd of openFds.splice(0)) closeSync(fd);
  });

  it('places AF_UNIX socketpairs at fds 3 and 5 and a parent fd at 7; the parent ends work', async () => {
    const file = join(sp.dir(), 'seven.txt');
    writeFileSync(file, 'content-of-fd-7');
    const fd = openSync(file, 'r');
    openFds.push(fd);
    const q = sp.node(CHILD, {
      fdMap: [{ childFd: 3, source: 'socketpair' }, { childFd: 5, source: 'socketpair' }, { childFd: 7, source: fd }],
    });
    const s3 = q.takeSocket(3);
    const s5 = q.takeSocket(5);
    const line = readLine(s5);
    s3.write('ping');
    const report: unknown = JSON.parse(await line);
    expect(report).toEqual({ socket3: true, socket5: true, unix3: true, unix5: true, file: 'content-of-fd-7', got: 'ping' });
    expect(await q.waitExit(10_000)).toEqual({ code: 0, signal: null });
    expect(() => q.takeSocket(3)).toThrow(/no untaken socketpair at fd 3/);
    s3.destroy();
    s5.destroy();
  });

  it('leaves the gaps between mapped fds closed', async () => {
    // dash opens nothing of its own, so /proc/$$/fd shows exactly what the child inherited
    const q = sp.spawn({
      binary: '/bin/sh',
      argv: ['-c', 'for f in 3 4 5 6 7 8; do [ -e /proc/$$/fd/$f ] && echo "$f $(readlink /proc/$$/fd/$f)"; done; exit 0'],
      fdMap: [{ childFd: 5, source: 'socketpair' }, { childFd: 7, source: 'socketpair' }],
    });
    expect(await q.waitExit(10_000)).toEqual({ code: 0, signal: null });
    const lines = readIfExists(q.logFile).trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['5', '7']);
    expect(lines.every((l) => /^\d socket:\[\d+\]$/.test(l))).toBe(true);
  });

  it('rejects fds below 3 and duplicates, and a missing binary, with MpvirtError', () => {
    const logFile = join(sp.dir(), 'x.log');
    expect(() => spawnQemu({ binary: '/bin/true', argv: [], logFile, fdMap: [{ childFd: 2, source: 'socketpair' }] }))
      .toThrow(/child fd 2 must be an integer >= 3/);
    expect(() => spawnQemu({
      binary: '/bin/true', argv: [], logFile,
      fdMap: [{ childFd: 4, source: 'socketpair' }, { childFd: 4, source: 'socketpair' }],
    })).toThrow(/child fd 4 is mapped twice/);
    let err: unknown;
    try {
      spawnQemu({ binary: join(sp.dir(), 'no-such-qemu'), argv: [], logFile });
    } catch (e) {
      err = e;
    }
    expect(isMpvirtError(err, 'VIR_ERR_INTERNAL_ERROR')).toBe(true);
    expect((err as Error).message).toBe(`internal error: cannot execute '${join(sp.dir(), 'no-such-qemu')}': ENOENT`);
  });
});
