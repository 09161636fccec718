// Two daemons must never manage one state directory (they would both supervise
// and reattach the same QEMUs). The first holds an flock on
// <stateDir>/.mpvirtd.lock with its pid in it; a second one, in another process
// or the same one, is refused with that pid and exits 1, and the first is
// unaffected. Once the first is gone, the directory can be taken again.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js';
import { pidAlive } from '../driver/harness.js';
import { buildMpvirtd, logSink, MpvirtdProcess, xdgEnv } from './mpvirtd-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'mpvirt-daemon-lock-'));
let build: ReturnType<typeof buildMpvirtd>;
const procs: MpvirtdProcess[] = [];
const daemons: Daemon[] = [];

beforeAll(() => {
  build = buildMpvirtd();
});
afterAll(async () => {
  for (const p of procs) await p.kill();
  for (const d of daemons) await d.stop();
  build?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function dirs(name: string): { stateDir: string; args: string[] } {
  const base = join(tmp, name);
  const stateDir = join(base, 'run');
  return {
    stateDir,
    args: ['--session', '--state-dir', stateDir, '--config-dir', join(base, 'etc'), '--log-dir', join(base, 'log'), '--socket', join(base, 'sock')],
  };
}

function spawnDaemon(args: string[]): MpvirtdProcess {
  const p = new MpvirtdProcess(build.cli, args, xdgEnv(tmp));
  procs.push(p);
  return p;
}

describe('a second mpvirtd on the same state directory', () => {
  it('is refused while a real mpvirtd process holds it, and the first keeps running', async () => {
    const { stateDir, args } = dirs('real');
    const first = spawnDaemon(args);
    await first.waitForLog('mpvirtd ready');
    expect(readFileSync(join(stateDir, '.mpvirtd.lock'), 'utf8')).toBe(`${first.pid}\n`);

    const second = spawnDaemon(args);
    expect(await second.exitWithin(10_000)).toEqual({ code: 1, signal: null });
    expect(second.stderr).toBe(`mpvirtd: operation failed: another mpvirtd is already managing ${stateDir} (pid ${first.pid})\n`);

    // the first is untouched: alive, still ready, still holding the lock
    await new Promise((r) => setTimeout(r, 300));
    expect(first.exit).toBeUndefined();
    expect(pidAlive(first.pid)).toBe(true);
    expect(readFileSync(join(stateDir, '.mpvirtd.lock'), 'utf8')).toBe(`${first.pid}\n`);
    // a shell's `flock -n` sees the lock too (it is a real flock, not a convention)
    const sh = spawnSync('flock', ['-n', join(stateDir, '.mpvirtd.lock'), 'true']);
    if (!sh.error) expect(sh.status).toBe(1);
  });

  it('is refused while an in-process daemon holds it; a second in-process start is refused too', async () => {
    const { stateDir, args } = dirs('inproc');
    const base = join(tmp, 'inproc');
    const opts = { mode: 'session' as const, stateDir, configDir: join(base, 'etc'), logDir: join(base, 'log'), socket: join(base, 'sock') };
    const a = await startDaemon({ ...opts, logDestination: logSink().stream });
    daemons.push(a);

    const second = spawnDaemon(args);
    expect(await second.exitWithin(10_000)).toEqual({ code: 1, signal: null });
    expect(second.stderr).toBe(`mpvirtd: operation failed: another mpvirtd is already managing ${stateDir} (pid ${process.pid})\n`);

    const err = await startDaemon({ ...opts, logDestination: logSink().stream }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'VIR_ERR_OPERATION_FAILED',
      message: `operation failed: another mpvirtd is already managing ${stateDir} (pid ${process.pid})`,
    });
    expect(a.driver.runningCount()).toBe(0); // the holder's driver is unaffected

    // once the holder stops, the directory is free again
    await a.stop();
    const third = spawnDaemon(args);
    await third.waitForLog('mpvirtd ready');
    third.child.kill('SIGTERM');
    expect(await third.exitWithin(5000)).toEqual({ code: 0, signal: null });
  });

  it('a killed daemon leaves no lock behind (the kernel drops it), even with its pid still in the file', async () => {
    const { stateDir, args } = dirs('killed');
    const first = spawnDaemon(args);
    await first.waitForLog('mpvirtd ready');
    await first.kill(); // SIGKILL: no cleanup at all
    expect(readFileSync(join(stateDir, '.mpvirtd.lock'), 'utf8')).toBe(`${first.pid}\n`);
    const next = spawnDaemon(args);
    await next.waitForLog('mpvirtd ready');
    expect(readFileSync(join(stateDir, '.mpvirtd.lock'), 'utf8')).toBe(`${next.pid}\n`);
    next.child.kill('SIGTERM');
    expect(await next.exitWithin(5000)).toEqual({ code: 0, signal: null });
  });
});
