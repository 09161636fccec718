// SIGTERM stops the daemon, not the guests (interfaces.md §3): a domain started
// by one daemon is reattached by a real `mpvirtd` process on the same
// directories, which, sent SIGTERM, exits 0 and leaves both QEMUs running.
// `--timeout` never fires while a domain runs. Real QEMU (tcg).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon } from '../../src/daemon/daemon.js';
import { Harness, pidAlive, waitFor } from '../driver/harness.js';
import { buildMpvirtd, logSink, MpvirtdProcess, xdgEnv } from './mpvirtd-process.js';

const h = new Harness();
const env = xdgEnv(h.dir);
const capsCacheDir = join(env.XDG_CACHE_HOME!, 'mpvirt', 'qemu', 'capabilities'); // what the session default gives
let build: ReturnType<typeof buildMpvirtd>;
let proc: MpvirtdProcess | undefined;

beforeAll(() => {
  build = buildMpvirtd();
});
afterAll(async () => {
  await proc?.kill();
  await h.cleanup(); // SIGKILLs every tracked QEMU pid and waits for it
  build?.cleanup();
});

/** Alive and not a zombie (the QEMUs are children of this test process: a dead one lingers as Z until reaped). */
const running = (pid: number): boolean => {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

const openFiles = (pid: number): string[] =>
  readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });

describe('SIGTERM', () => {
  it('makes a real mpvirtd exit 0 and leaves the domain it reattached running', async () => {
    // daemon A (in-process) starts a domain and goes away without touching it
    const sinkA = logSink();
    const a = await startDaemon({
      mode: 'session',
      configDir: h.configDir,
      stateDir: h.stateDir,
      logDir: h.logDir,
      capsCacheDir,
      socket: join(h.dir, 'sock', 'virtmpqemud-sock'),
      logDestination: sinkA.stream,
      driverTuning: { heartbeatMs: 200, hangDeadlineMs: 1000, stopGraceMs: 2000 },
    });
    const obj = await a.driver.defineXML(h.xml('keep'));
    await a.driver.start(obj);
    const pids = h.track(obj);
    const all = [pids.main, ...pids.remotes];
    await a.stop();
    expect(all.every(running)).toBe(true);
    expect(sinkA.lines().at(-1)).toMatchObject({ msg: 'mpvirtd stopped', leftRunning: 1 });

    // daemon B, a real process on the same directories, reattaches it
    proc = new MpvirtdProcess(
      build.cli,
      ['--session', '--config-dir', h.configDir, '--state-dir', h.stateDir, '--log-dir', h.logDir, '--socket', join(h.dir, 'sock', 'virtmpqemud-sock'), '--timeout', '1'],
      env,
    );
    const ready = await proc.waitForLog('mpvirtd ready');
    expect(ready).toMatchObject({ stateDir: h.stateDir, configDir: h.configDir, logDir: h.logDir, domains: 1, running: 1 });
    expect(ready.msg).toBe('mpvirtd ready');
    // the QEMUs never inherited the daemon's lock file (else a dead daemon's lock would outlive it)
    for (const pid of all) expect(openFiles(pid).some((f) => f.includes('.mpvirtd.lock'))).toBe(false);

    // --timeout 1 does not fire while the domain runs
    expect(await proc.exitWithin(2500)).toBeUndefined();

    proc.child.kill('SIGTERM');
    expect(await proc.exitWithin(5000)).toEqual({ code: 0, signal: null });
    const msgs = proc.logLines().map((l) => l.msg);
    expect(msgs).toEqual(expect.arrayContaining(['mpvirtd shutting down', 'mpvirtd stopped']));
    expect(msgs).not.toContain('idle timeout reached');
    expect(proc.stderr).not.toMatch(/"level":[56]0/); // no error or fatal line

    // the guests outlived the daemon; their runtime state is there for the next one
    await new Promise((r) => setTimeout(r, 300));
    expect(all.every(running)).toBe(true);
    expect(readdirSync(h.stateDir)).toContain('keep');
    // and still a working guest: a third daemon reattaches and its monitor says running
    const c = await startDaemon({
      mode: 'session', configDir: h.configDir, stateDir: h.stateDir, logDir: h.logDir, capsCacheDir,
      socket: join(h.dir, 'sock', 'virtmpqemud-sock'), logDestination: logSink().stream,
    });
    try {
      const keep = c.driver.lookupByName('keep');
      expect(h.stateOf(keep)).toBe('running (booted)');
      expect(keep.runtime?.main.handle.pid).toBe(pids.main);
      const reply = JSON.parse(await c.driver.qemuMonitorCommand(keep, '{"execute":"query-status"}')) as { return: { status: string } };
      expect(reply.return.status).toBe('running');
    } finally {
      await c.stop();
    }

    for (const pid of all) process.kill(pid, 'SIGKILL');
    expect(await waitFor(() => !all.some(pidAlive), 5000)).toBe(true);
  });
});
