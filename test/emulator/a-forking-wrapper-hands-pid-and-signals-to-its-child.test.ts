// A wrapper that runs QEMU as its one child (unshare --fork, for a pid namespace): once the child
// is found, pid, start time and signals are the child's, and the exit status comes through the
// wrapper (mapped where the wrapper reports it imperfectly: util-linux 2.38's unshare and SIGKILL).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { unshareExitStatus } from '../../src/driver/jail.js';
import { startTimeOf } from '../../src/emulator/process.js';
import { pidIsGone, readIfExists, useSpawner, waitFor } from './spawn-helpers.js';

describe('a forking wrapper', () => {
  const sp = useSpawner();

  it('hands its child pid, start time and signals over, and exits as the child did', async () => {
    // sh forks sleep and waits for it (a command follows), exiting 128 + the signal that ended it
    const q = sp.spawn({ binary: '/bin/sh', argv: ['-c', 'echo started; sleep 30; exit $?'], forks: true });
    const wrapper = q.pid;
    await waitFor(() => readIfExists(q.logFile).includes('started') && q.findForkedChild(), 10_000);
    expect(q.pid).not.toBe(wrapper);
    expect(q.spawnedPid).toBe(wrapper);
    expect(q.startTime).toBe(startTimeOf(q.pid));
    expect(readIfExists(`/proc/${q.pid}/comm`).trim()).toBe('sleep');
    const child = q.pid;
    expect(q.kill('SIGTERM')).toBe(true);
    expect(await q.waitExit(5000)).toEqual({ code: 128 + 15, signal: null });
    expect(pidIsGone(child)).toBe(true);
    expect(pidIsGone(wrapper)).toBe(true);
  });

  it('without a child (yet) keeps the wrapper pid, and a program that does not fork never looks', async () => {
    const q = sp.spawn({ binary: '/bin/sleep', argv: ['30'], forks: true });
    expect(q.findForkedChild()).toBe(false);
    expect(q.pid).toBe(q.spawnedPid);
    const plain = sp.spawn({ binary: '/bin/sh', argv: ['-c', 'sleep 30; exit $?'] });
    await new Promise((r) => setTimeout(r, 200));
    expect(plain.findForkedChild()).toBe(false);
    expect(plain.pid).toBe(plain.spawnedPid);
  });

  it("reads unshare's report of a SIGKILLed child as a SIGKILL, and nothing else", () => {
    const said = (t: string) => () => t;
    expect(unshareExitStatus({ code: 1, signal: null }, said('unshare: sigprocmask unblock failed: Invalid argument\n'))).toEqual({ code: null, signal: 'SIGKILL' });
    expect(unshareExitStatus({ code: 1, signal: null }, said('unshare: sigprocmask unblock failed: Invalid argument\nqemu: main flood\n'))).toEqual({ code: null, signal: 'SIGKILL' });
    expect(unshareExitStatus({ code: 1, signal: null }, said('qemu-system-x86_64: cannot open disk\n'))).toEqual({ code: 1, signal: null });
    expect(unshareExitStatus({ code: 0, signal: null }, said('unshare: sigprocmask unblock failed: Invalid argument\n'))).toEqual({ code: 0, signal: null });
    expect(unshareExitStatus({ code: null, signal: 'SIGSEGV' }, said(''))).toEqual({ code: null, signal: 'SIGSEGV' });
  });

  const notRoot = process.getuid?.() !== 0;
  it.skipIf(notRoot)(`a SIGKILL of unshare's child is reported as SIGKILL (real unshare, pid namespace)${notRoot ? ' (skipped: a pid namespace needs root)' : ''}`, async () => {
    const q = sp.spawn({ binary: '/usr/bin/unshare', argv: ['--pid', '--fork', '--kill-child', '--', '/bin/sh', '-c', 'echo started; exec sleep 30'], forks: true, exitStatus: unshareExitStatus });
    await waitFor(() => readIfExists(q.logFile).includes('started') && q.findForkedChild(), 10_000);
    expect(/^NSpid:\s+\d+\s+1$/m.test(readIfExists(`/proc/${q.pid}/status`))).toBe(true);
    spawnSync('/bin/kill', ['-KILL', String(q.pid)]);
    expect(await q.waitExit(5000)).toEqual({ code: null, signal: 'SIGKILL' });
  });
});
