// Real QEMU (accel=tcg): after a daemon restart the remote is no longer known as a child, only
// by pid, /proc start time and its monitor path. A supervisor built that way (no `proc`, a fresh
// QMP connection) watches it with a pidfd and reports its SIGKILL as a crash with unknown
// status; a start time that does not match (pid reused) is never trusted nor signalled.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { QmpClient } from '../../src/emulator/qmp.js';
import { launchPlan, type Launched } from '../../src/remote/launch.js';
import { remoteEventData, RemoteSupervisor, type RemoteTransition } from '../../src/remote/supervisor.js';

const caps: QemuCaps = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'emulator', 'caps-qemu-7.2.json'), 'utf8'),
);
const work = mkdtempSync(join(tmpdir(), 'mpvirt-sv-adopt-'));
const disk = join(work, 'disk.img');
writeFileSync(disk, '');
truncateSync(disk, 64 * 1024 * 1024);
const xml = `<domain type='qemu'>
  <name>sv</name><memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'>
    <mpq:process rid='8'><mpq:device alias='ua-lsi0'/></mpq:process></mpq:remote></metadata>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/>
      <target dev='sda' bus='scsi'/></disk>
  </devices></domain>`;

const launches: Launched[] = [];
const supervisors: RemoteSupervisor[] = [];
let runs = 0;
const qmpPaths = new Map<Launched, string>();

const pidGone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

async function launch(): Promise<Launched> {
  const runDir = join(work, `run${runs++}`);
  const plan = buildLaunchPlan(parseDomainXml(xml), caps, { runDir });
  const l = await launchPlan(plan, runDir, { logFile: join(work, 'qemu.log') });
  qmpPaths.set(l, plan.remotes[0]!.qmpPath);
  launches.push(l);
  return l;
}

afterEach(async () => {
  for (const s of supervisors.splice(0)) s.dispose();
  const pids: number[] = [];
  for (const l of launches.splice(0)) {
    for (const p of [l.main, ...l.remotes]) {
      p.qmp.close();
      pids.push(p.proc.pid);
      p.proc.kill('SIGKILL'); // by pid; refused once reaped, so a reused pid is never hit
      await p.proc.waitExit(5000);
    }
  }
  expect(pids.filter((pid) => !pidGone(pid))).toEqual([]);
});

const until = (sv: RemoteSupervisor, to: string, timeoutMs: number): Promise<RemoteTransition> =>
  new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no transition to '${to}' within ${timeoutMs} ms (state ${sv.state})`)), timeoutMs);
    sv.on('transition', (t) => {
      if (t.to !== to) return;
      clearTimeout(timer);
      res(t);
    });
  });

const fresh: QmpClient[] = [];
afterEach(() => {
  for (const q of fresh.splice(0)) q.close();
});

/** launch, then forget the child: only pid, start time and the monitor path are kept */
async function launchAndForget(): Promise<{ pid: number; startTime: bigint; qmpPath: string; l: Launched }> {
  const l = await launch();
  const r = l.remotes[0]!;
  r.qmp.close(); // a QEMU monitor serves one client at a time: the "old daemon" lets go
  return { pid: r.proc.pid, startTime: r.proc.startTime!, qmpPath: qmpPaths.get(l)!, l };
}

describe('a re-adopted remote (no child handle)', () => {
  it('is watched by a pidfd and the monitor: SIGKILL is reported crashed with status null', async () => {
    const { pid, startTime, qmpPath, l } = await launchAndForget();
    const qmp = await QmpClient.connect(qmpPath);
    fresh.push(qmp);
    const sv = new RemoteSupervisor({ rid: '8', alias: 'ua-lsi0', pid, startTime, qmp, heartbeatIntervalMs: 100 });
    supervisors.push(sv);
    const seen: RemoteTransition[] = [];
    sv.on('transition', (t) => seen.push(t));
    sv.begin();
    await new Promise((res) => setTimeout(res, 250));
    expect(sv.state).toBe('running');

    const crashed = until(sv, 'crashed', 2000);
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const t = await crashed;
    console.log(`re-adopted remote: SIGKILL → 'crashed' in ${(t.at - t0).toFixed(2)} ms, noticed by ${t.reason}`);
    expect(t).toMatchObject({ from: 'running', to: 'crashed', pid, status: { code: null, signal: null } });
    expect(remoteEventData(t)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'crashed', pid, status: null });
    await l.remotes[0]!.proc.exited;
    await new Promise((res) => setTimeout(res, 50));
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→crashed']);
  });

  it('notices the death through the pidfd alone once its monitor connection was closed by us', async () => {
    const { pid, startTime, qmpPath, l } = await launchAndForget();
    const qmp = await QmpClient.connect(qmpPath);
    fresh.push(qmp);
    const sv = new RemoteSupervisor({ rid: '8', alias: 'ua-lsi0', pid, startTime, qmp });
    supervisors.push(sv);
    sv.begin();
    qmp.close(); // our own close: not a death, only the end of the heartbeat
    await new Promise((res) => setTimeout(res, 50));
    expect(sv.state).toBe('running');

    const crashed = until(sv, 'crashed', 2000);
    process.kill(pid, 'SIGKILL');
    const t = await crashed;
    expect(t).toMatchObject({ reason: 'process exited (pidfd)', status: { code: null, signal: null } });
  });

  it('refuses a pid whose start time differs (pid reuse): crashed at once, and kill() sends nothing', async () => {
    const { pid, startTime, qmpPath, l } = await launchAndForget();
    const qmp = await QmpClient.connect(qmpPath);
    fresh.push(qmp);
    const sv = new RemoteSupervisor({ rid: '8', alias: 'ua-lsi0', pid, startTime: startTime - 1n, qmp });
    supervisors.push(sv);
    const seen: RemoteTransition[] = [];
    sv.on('transition', (t) => seen.push(t));
    sv.begin();
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→crashed']);
    expect(seen[0]!.reason).toMatch(/another process/);
    expect(sv.kill()).toBe(false);
    await new Promise((res) => setTimeout(res, 50));
    expect(pidGone(pid)).toBe(false); // the (supposed) stranger was left alone
  });
});
