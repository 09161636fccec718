/**
 * Test helper for the real-QEMU remote tests: the recorded QEMU 7.2 capabilities, a temp work
 * dir with a 64 MiB raw disk, a two-process domain (remote rid 8 serving lsi53c895a 'ua-lsi0'
 * with that disk), launch() through buildLaunchPlan + launchPlan, and a cleanup that disposes
 * the tracked supervisors and SIGKILLs every launched process through its child handle.
 * useLaunchFixture() also registers that cleanup after each test (expecting no survivor) and
 * the removal of the work dir after all.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, expect } from 'vitest';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan, type LaunchPlan } from '../../src/emulator/launch-plan.js';
import { launchPlan, type Launched, type LaunchedProcess } from '../../src/remote/launch.js';
import { RemoteSupervisor, type RemoteSupervisorOptions, type RemoteTransition } from '../../src/remote/supervisor.js';

export const caps: QemuCaps = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'emulator', 'caps-qemu-7.2.json'), 'utf8'),
);

/** The default domain: 'sv', remote rid 8 with the lsilogic controller 'ua-lsi0' and the raw disk. */
export const remoteDiskXml = (disk: string): string => `<domain type='qemu'>
  <name>sv</name><memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'>
    <mpq:process rid='8'><mpq:device alias='ua-lsi0'/></mpq:process></mpq:remote></metadata>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/>
      <target dev='sda' bus='scsi'/></disk>
  </devices></domain>`;

export const pidGone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

/** Resolves with the supervisor's next transition to `to`; rejects after timeoutMs. */
export const until = (sv: RemoteSupervisor, to: string, timeoutMs: number): Promise<RemoteTransition> =>
  new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no transition to '${to}' within ${timeoutMs} ms (state ${sv.state})`)), timeoutMs);
    sv.on('transition', (t) => {
      if (t.to !== to) return;
      clearTimeout(timer);
      res(t);
    });
  });

export interface LaunchFixtureOptions {
  /** prefix of the temp work dir, e.g. 'mpvirt-sv-exit-' */
  name: string;
  /** the raw disk's file name inside the work dir; default 'disk.img' */
  diskName?: string;
  /** domain XML for the disk's path; default remoteDiskXml */
  xml?: (disk: string) => string;
}

export interface Supervised {
  l: Launched;
  /** l.remotes[0] */
  r: LaunchedProcess;
  sv: RemoteSupervisor;
  /** every transition of sv, in order */
  seen: RemoteTransition[];
}

export interface LaunchFixture {
  work: string;
  /** 64 MiB raw file (131072 sectors of 512 bytes) */
  disk: string;
  xml: string;
  /** launch the domain in a fresh run dir under work; every process is killed by cleanup() */
  launch(paths?: { firmwareLog?: string }): Promise<Launched>;
  /** the launch plan a launch() result was started from */
  planOf(l: Launched): LaunchPlan;
  /** dispose the supervisor in cleanup(); returns it */
  track(sv: RemoteSupervisor): RemoteSupervisor;
  /**
   * launch(), then supervise the remote as our child (rid 8, alias 'ua-lsi0', its proc and
   * monitor, plus `extra` options), record its transitions in `seen`, and begin()
   */
  launchSupervised(extra?: Partial<RemoteSupervisorOptions>): Promise<Supervised>;
  /** dispose the tracked supervisors, SIGKILL every launched process; returns the pids still alive */
  cleanup(): Promise<number[]>;
  /** remove the work dir */
  removeWork(): void;
}

export function createLaunchFixture(opts: LaunchFixtureOptions): LaunchFixture {
  const work = mkdtempSync(join(tmpdir(), opts.name));
  const disk = join(work, opts.diskName ?? 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, 64 * 1024 * 1024);
  const xml = (opts.xml ?? remoteDiskXml)(disk);
  const launches: Launched[] = [];
  const plans = new Map<Launched, LaunchPlan>();
  const supervisors: RemoteSupervisor[] = [];
  let runs = 0;

  async function launch(paths: { firmwareLog?: string } = {}): Promise<Launched> {
    const runDir = join(work, `run${runs++}`);
    // as define stores it: libvirt's defaults give every device its address
    const plan = buildLaunchPlan(applyDefineDefaults(parseDomainXml(xml), caps, { newDomain: true }), caps, { ...paths, runDir });
    const l = await launchPlan(plan, runDir, { logFile: join(work, 'qemu.log') });
    plans.set(l, plan);
    launches.push(l);
    return l;
  }

  function track(sv: RemoteSupervisor): RemoteSupervisor {
    supervisors.push(sv);
    return sv;
  }

  return {
    work,
    disk,
    xml,
    launch,
    track,
    planOf(l) {
      const plan = plans.get(l);
      if (!plan) throw new Error('not launched by this fixture');
      return plan;
    },
    async launchSupervised(extra = {}) {
      const l = await launch();
      const r = l.remotes[0]!;
      const sv = track(new RemoteSupervisor({ rid: r.rid!, alias: 'ua-lsi0', pid: r.proc.pid, proc: r.proc, qmp: r.qmp, ...extra }));
      const seen: RemoteTransition[] = [];
      sv.on('transition', (t) => seen.push(t));
      sv.begin();
      return { l, r, sv, seen };
    },
    async cleanup() {
      for (const s of supervisors.splice(0)) s.dispose();
      const pids: number[] = [];
      for (const l of launches.splice(0)) {
        plans.delete(l);
        for (const p of [l.main, ...l.remotes]) {
          p.qmp.close();
          pids.push(p.proc.pid);
          p.proc.kill('SIGKILL'); // by pid; refused once reaped, so a reused pid is never hit
          await p.proc.waitExit(5000);
        }
      }
      return pids.filter((pid) => !pidGone(pid));
    },
    removeWork() {
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** createLaunchFixture(), plus: after each test cleanup() must leave no process; after all, the work dir goes. */
export function useLaunchFixture(opts: LaunchFixtureOptions): LaunchFixture {
  const fx = createLaunchFixture(opts);
  afterEach(async () => {
    expect(await fx.cleanup()).toEqual([]);
  });
  afterAll(() => fx.removeWork());
  return fx;
}
