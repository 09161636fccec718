// A domain's log never grows past its cap, even while no mpvirtd runs (issue 16 item 3): the
// QEMUs write into pipes held by the log keeper, which outlives the daemon. A real mpvirtd is
// SIGKILLed; then the domain's remote is killed and the main QEMU made to flood its stderr
// (libvirt-style reset: SeaBIOS re-scans the dead proxy's BARs, one error line per access),
// straight over its monitor, as no daemon is there. What the QEMU wrote meanwhile is in the log,
// capped; a restarted mpvirtd reattaches and the same keeper goes on capping. Real QEMU (tcg).
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logCapMarker } from '../../src/emulator/log-cap.js';
import { LogKeeperClient } from '../../src/logd/client.js';
import { Harness, pidAlive, waitFor } from '../driver/harness.js';
import { buildMpvirtd, MpvirtdProcess, xdgEnv } from './mpvirtd-process.js';

const LIMIT = 2048; // per process: a budget of 4 KiB for the main QEMU and its remote
const h = new Harness();
const env = xdgEnv(h.dir);
const socket = join(h.dir, 'virtmpqemud-sock');
const conf = join(h.dir, 'mpvirtd.conf');
const file = join(h.logDir, 'capped.log');
let build: ReturnType<typeof buildMpvirtd>;
let daemon: MpvirtdProcess | undefined;

function virsh(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/virsh', ['-c', `mpqemu+unix:///session?socket=${socket}`, ...args], { env: { PATH: '/usr/bin:/bin', HOME: h.dir, LC_ALL: 'C' }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 }));
  });
}

async function startMpvirtd(): Promise<MpvirtdProcess> {
  daemon = new MpvirtdProcess(build.cli, ['--session', '--config', conf, '--socket', socket, '--config-dir', h.configDir, '--state-dir', h.stateDir, '--log-dir', h.logDir, '--timeout', '0'], env);
  await daemon.waitForLog('mpvirtd ready');
  return daemon;
}

/** One QMP command on a monitor socket nobody else is connected to (the daemon is dead). */
function qmp(path: string, command: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let buf = '';
    let step = 0;
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: unknown; event?: unknown };
        buf = buf.slice(nl + 1);
        if (msg.event) continue;
        if (step === 0) s.write('{"execute":"qmp_capabilities"}\n');
        else if (step === 1) s.write(`{"execute":"${command}"}\n`);
        else {
          s.destroy();
          return msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.return);
        }
        step++;
      }
    });
    s.on('error', reject);
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

const markerCount = (): number => readFileSync(file, 'utf8').split('log limit of').length - 1;
/** after the marker, only the daemon's own timestamped lines: nothing of the processes' */
const onlyDaemonLinesAfterMarker = (): boolean => {
  const text = readFileSync(file, 'utf8');
  const rest = text.slice(text.indexOf(logCapMarker(2 * LIMIT)) + logCapMarker(2 * LIMIT).length);
  return rest.split('\n').slice(0, -1).every((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: /.test(l));
};

beforeAll(() => {
  build = buildMpvirtd();
  writeFileSync(conf, `log_limit_bytes = ${LIMIT}\n`);
});
afterAll(async () => {
  await daemon?.kill();
  await h.cleanup();
  build?.cleanup();
});

describe('the domain log with no daemon', () => {
  it('stays capped while mpvirtd is dead, keeps what QEMU wrote meanwhile, and a restarted mpvirtd finds the same keeper', async () => {
    const a = await startMpvirtd();
    const xml = join(h.dir, 'capped.xml');
    writeFileSync(xml, h.xml('capped', { onCrash: 'preserve' }));
    expect((await virsh('define', xml)).code).toBe(0);
    expect((await virsh('start', 'capped')).code).toBe(0);
    const status = JSON.parse(readFileSync(join(h.stateDir, 'capped', 'status.json'), 'utf8')) as { main: { pid: number; qmpPath: string }; remotes: Array<{ pid: number }> };
    const main = status.main.pid;
    const remote = status.remotes[0]!.pid;
    for (const p of [main, remote]) h.pids.add(p);

    process.kill(a.pid, 'SIGKILL');
    await a.exited;
    const sizeAtKill = statSync(file).size;
    expect(readFileSync(file, 'utf8')).not.toContain('Unable to');

    // no daemon: the remote dies, and every reset makes the main QEMU complain about its device
    process.kill(remote, 'SIGKILL');
    for (let i = 0; i < 20 && markerCount() === 0; i++) {
      await qmp(status.main.qmpPath, 'system_reset');
      await new Promise((r) => setTimeout(r, 300));
    }
    const keeper = new LogKeeperClient(join(h.stateDir, '.logd.sock'), '/nonexistent: the test never starts a keeper');
    try {
      const cap = (await keeper.status(file))!;
      expect(cap).toMatchObject({ budget: 2 * LIMIT, reached: true });
      expect(cap.start).toBeLessThanOrEqual(sizeAtKill);
      const text = readFileSync(file, 'utf8');
      // what the main QEMU printed while no daemon ran is there, and the log is capped
      expect(text.indexOf('Unable to', sizeAtKill)).toBeGreaterThan(0);
      expect(markerCount()).toBe(1);
      expect(statSync(file).size).toBeLessThanOrEqual(cap.maxSize);
      expect(onlyDaemonLinesAfterMarker()).toBe(true);
      // more output while the daemon is still away is discarded
      const size = statSync(file).size;
      await qmp(status.main.qmpPath, 'system_reset');
      expect(await until(async () => (await keeper.status(file))!.discarded > cap.discarded, 5000)).toBe(true);
      expect(statSync(file).size).toBe(size);
      expect(pidAlive(main)).toBe(true);

      // the restarted daemon reattaches; the run's cap is the same one, at the same keeper
      await startMpvirtd();
      expect((await virsh('domstate', 'capped')).stdout).toBe('running\n\n');
      expect(readFileSync(file, 'utf8').slice(size)).toContain('reconnected after a daemon restart');
      expect(await keeper.status(file)).toMatchObject({ keeper: cap.keeper, start: cap.start, budget: cap.budget, reached: true });
      // and it goes on capping what QEMU writes now
      const before = (await keeper.status(file))!.discarded;
      expect((await virsh('reset', 'capped')).code).toBe(0);
      expect(await until(async () => (await keeper.status(file))!.discarded > before, 5000)).toBe(true);
      expect(markerCount()).toBe(1);
      expect(onlyDaemonLinesAfterMarker()).toBe(true);

      expect((await virsh('destroy', 'capped')).code).toBe(0);
      // no process and no daemon left: the keeper exits by itself
      daemon!.child.kill('SIGTERM');
      expect(await daemon!.exitWithin(5000)).toEqual({ code: 0, signal: null });
      keeper.close();
      expect(await waitFor(() => !pidAlive(cap.keeper), 5000)).toBe(true);
    } finally {
      keeper.close();
    }
  });
});
