// Real QEMU (accel=tcg): when the driver stops the domain it first calls expectExit(); the
// remote then goes running → stopping, and its exit (by itself once the main QEMU is gone, or
// by SIGTERM/SIGKILL from stopLaunched) is reported as exited, never as crashed.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { launchPlan, stopLaunched, type Launched } from '../../src/remote/launch.js';
import { remoteEventData, RemoteSupervisor, type RemoteTransition } from '../../src/remote/supervisor.js';

const caps: QemuCaps = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'emulator', 'caps-qemu-7.2.json'), 'utf8'),
);
const work = mkdtempSync(join(tmpdir(), 'mpvirt-sv-exit-'));
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

describe('a remote stopped by the driver', () => {
  it('is reported stopping then exited, and no crash', async () => {
    const l = await launch();
    const r = l.remotes[0]!;
    const sv = new RemoteSupervisor({ rid: r.rid!, alias: 'ua-lsi0', pid: r.proc.pid, proc: r.proc, qmp: r.qmp, heartbeatIntervalMs: 100 });
    supervisors.push(sv);
    const seen: RemoteTransition[] = [];
    sv.on('transition', (t) => seen.push(t));
    sv.begin();
    await l.main.qmp.execute('cont');
    await new Promise((res) => setTimeout(res, 300));

    sv.expectExit();
    expect(sv.state).toBe('stopping');
    sv.expectExit(); // idempotent
    await stopLaunched(l, 2000);
    await new Promise((res) => setTimeout(res, 200)); // nothing else may follow

    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→stopping', 'stopping→exited']);
    const exited = seen[2]!;
    console.log(`expected stop: remote exit noticed by ${exited.reason}, status ${JSON.stringify(exited.status)}`);
    expect(exited.pid).toBe(r.proc.pid);
    expect(exited.status).toEqual(await r.proc.exited); // the remote exits by itself, rc 0
    expect(remoteEventData(seen[1]!)).toBeUndefined(); // 'stopping' has no public name
    expect(remoteEventData(exited)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'exited', pid: r.proc.pid, status: 0 });
    expect(pidGone(r.proc.pid) && pidGone(l.main.proc.pid)).toBe(true);
  });

  it('is reported exited even when it has to be SIGKILLed after expectExit()', async () => {
    const l = await launch();
    const r = l.remotes[0]!;
    const sv = new RemoteSupervisor({ rid: r.rid!, alias: 'ua-lsi0', pid: r.proc.pid, proc: r.proc, qmp: r.qmp });
    supervisors.push(sv);
    const seen: RemoteTransition[] = [];
    sv.on('transition', (t) => seen.push(t));
    sv.begin();
    sv.expectExit();
    expect(sv.kill()).toBe(true);
    await r.proc.exited;
    await new Promise((res) => setTimeout(res, 50));
    expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→stopping', 'stopping→exited']);
    expect(seen[2]!.status).toEqual({ code: null, signal: 'SIGKILL' });
    expect(remoteEventData(seen[2]!)).toMatchObject({ state: 'exited', status: 137 });
  });
});
