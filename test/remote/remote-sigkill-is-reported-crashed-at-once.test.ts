// Real QEMU (accel=tcg), launched through src/remote/launch.ts: a supervised remote that is
// SIGKILLed is reported running → crashed at once (process exit or monitor EOF, no polling),
// with the child's exit status, and the MPVIRT_REMOTE event data names the crash and the pid.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { launchPlan, type Launched } from '../../src/remote/launch.js';
import { MPVIRT_REMOTE_EVENT, remoteEventData, RemoteSupervisor, type RemoteTransition } from '../../src/remote/supervisor.js';

const caps: QemuCaps = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'emulator', 'caps-qemu-7.2.json'), 'utf8'),
);
const work = mkdtempSync(join(tmpdir(), 'mpvirt-sv-kill-'));
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

describe('a SIGKILLed remote', () => {
  it('is reported running → crashed within milliseconds, with its status and pid', async () => {
    const latencies: number[] = [];
    const reasons: string[] = [];
    for (let i = 0; i < 10; i++) {
      const l = await launch();
      const r = l.remotes[0]!;
      const sv = new RemoteSupervisor({ rid: r.rid!, alias: 'ua-lsi0', pid: r.proc.pid, proc: r.proc, qmp: r.qmp });
      supervisors.push(sv);
      const seen: RemoteTransition[] = [];
      sv.on('transition', (t) => seen.push(t));
      sv.begin();
      expect(sv.state).toBe('running');
      const crashed = new Promise<RemoteTransition>((res) => sv.on('transition', (t) => t.to === 'crashed' && res(t)));

      const t0 = performance.now();
      process.kill(r.proc.pid, 'SIGKILL');
      const t = await crashed;
      latencies.push(t.at - t0);
      reasons.push(t.reason);

      expect(t).toMatchObject({ rid: '8', alias: 'ua-lsi0', from: 'running', to: 'crashed', pid: r.proc.pid });
      expect(t.status).toEqual({ code: null, signal: 'SIGKILL' });
      expect(t.at - t0).toBeLessThan(2000);
      expect(sv.state).toBe('crashed');
      expect(seen.map((s) => `${s.from}→${s.to}`)).toEqual(['starting→running', 'running→crashed']);
      expect(remoteEventData(seen[0]!)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'started', pid: r.proc.pid, status: null });
      expect(remoteEventData(t)).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'crashed', pid: r.proc.pid, status: 137 });
      expect(MPVIRT_REMOTE_EVENT).toBe('MPVIRT_REMOTE');

      // the later signal (exit after EOF, or EOF after exit) is ignored: still one crash
      await r.proc.exited;
      await new Promise((res) => setTimeout(res, 20));
      expect(seen).toHaveLength(2);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      `SIGKILL → 'crashed' over ${latencies.length} runs: median ${sorted[sorted.length >> 1]!.toFixed(2)} ms, ` +
        `min ${sorted[0]!.toFixed(2)}, max ${sorted[sorted.length - 1]!.toFixed(2)}; first noticed by: ${[...new Set(reasons)].join(', ')}`,
    );
  });
});

afterAll(() => rmSync(work, { recursive: true, force: true }));
