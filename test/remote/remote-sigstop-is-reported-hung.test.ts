// Real QEMU (accel=tcg): a SIGSTOPped remote never answers its heartbeat (query-status) and is
// reported hung within about a second, while the event loop keeps running; kill() then ends it
// and the death is reported as a crash. A stopped remote that is continued answers again.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { launchPlan, type Launched } from '../../src/remote/launch.js';
import { remoteEventData, RemoteSupervisor, type RemoteTransition } from '../../src/remote/supervisor.js';

const caps: QemuCaps = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'emulator', 'caps-qemu-7.2.json'), 'utf8'),
);
const work = mkdtempSync(join(tmpdir(), 'mpvirt-sv-stop-'));
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

async function superviseRemote(): Promise<{ l: Launched; sv: RemoteSupervisor; seen: RemoteTransition[] }> {
  const l = await launch();
  const r = l.remotes[0]!;
  const sv = new RemoteSupervisor({
    rid: r.rid!, alias: 'ua-lsi0', pid: r.proc.pid, proc: r.proc, qmp: r.qmp, heartbeatIntervalMs: 200, hangDeadlineMs: 500,
  });
  supervisors.push(sv);
  const seen: RemoteTransition[] = [];
  sv.on('transition', (t) => seen.push(t));
  sv.begin();
  await new Promise((res) => setTimeout(res, 450)); // a couple of answered heartbeats first
  expect(sv.state).toBe('running');
  return { l, sv, seen };
}

describe('a SIGSTOPped remote', () => {
  it('is reported hung within 2 s without blocking the event loop; kill() makes it crashed and gone', async () => {
    const { l, sv, seen } = await superviseRemote();
    const pid = l.remotes[0]!.proc.pid;
    const ticks: number[] = [];
    const ticker = setInterval(() => ticks.push(performance.now()), 20);
    try {
      const hung = until(sv, 'hung', 2000);
      const t0 = performance.now();
      process.kill(pid, 'SIGSTOP');
      const t = await hung;
      ticks.push(performance.now());
      console.log(`SIGSTOP → 'hung' after ${(t.at - t0).toFixed(0)} ms (heartbeat 200 ms, deadline 500 ms)`);
      expect(t).toMatchObject({ from: 'running', to: 'hung', pid });
      expect(t.reason).toMatch(/query-status not answered within 500 ms/);
      expect(remoteEventData(t)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'hung', pid, status: null });
      // the loop never stalled while the heartbeat waited for the frozen monitor
      const gaps = ticks.slice(1).map((x, i) => x - ticks[i]!);
      expect(ticks.length).toBeGreaterThan(15);
      expect(Math.max(...gaps)).toBeLessThan(250);
    } finally {
      clearInterval(ticker);
    }

    // still hung while stopped: a further missed deadline changes nothing
    await new Promise((res) => setTimeout(res, 800));
    expect(sv.state).toBe('hung');

    const crashed = until(sv, 'crashed', 2000);
    expect(sv.kill()).toBe(true);
    const c = await crashed;
    expect(c).toMatchObject({ from: 'hung', to: 'crashed', pid, status: { code: null, signal: 'SIGKILL' } });
    expect(c.reason).toMatch(/after kill\(\)/);
    expect(remoteEventData(c)).toMatchObject({ state: 'crashed', pid, status: 137 });
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→hung', 'hung→crashed']);
    await l.remotes[0]!.proc.exited;
    expect(pidGone(pid)).toBe(true);
    expect(sv.kill()).toBe(false); // reaped: the pid is never signalled again
  });

  it('is running again once continued (hung → running has no public event name)', async () => {
    const { l, sv, seen } = await superviseRemote();
    const pid = l.remotes[0]!.proc.pid;
    const hung = until(sv, 'hung', 2000);
    process.kill(pid, 'SIGSTOP');
    await hung;
    const running = until(sv, 'running', 2000);
    process.kill(pid, 'SIGCONT');
    const t = await running;
    expect(t).toMatchObject({ from: 'hung', to: 'running', reason: 'monitor answers again' });
    expect(remoteEventData(t)).toBeUndefined();
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→hung', 'hung→running']);
  });
});
