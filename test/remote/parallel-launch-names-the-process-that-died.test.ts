// With real QEMU 7.2 (TCG): launchPlan spawns the remote and the main QEMU in the same tick (no
// wait for the remote's monitor first), and still runs a working pair. When one of them dies at
// start, the error names that process (the main QEMU in libvirt's own words, a remote by rid and
// device) with its stderr, or with its signal when it printed nothing; and the other process is
// stopped too: nothing survives a failed launch.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { parseDomainXml } from '../../src/domainxml/index.js';
import { buildLaunchPlan, type LaunchPlan } from '../../src/emulator/launch-plan.js';
import { diedAtStartError, launchPlan, stopLaunched, type LaunchOptions } from '../../src/remote/launch.js';
import { caps, createLaunchFixture, pidGone } from './launch-fixture.js';

const fx = createLaunchFixture({ name: 'mpvirt-par-launch-' });
afterAll(async () => {
  await fx.cleanup();
  fx.removeWork();
});

let runs = 0;
function plan(): { plan: LaunchPlan; runDir: string } {
  const runDir = join(fx.work, `p${runs++}`);
  return { plan: buildLaunchPlan(applyDefineDefaults(parseDomainXml(fx.xml), caps, { newDomain: true }), caps, { runDir }), runDir };
}

/** Launch, recording every spawned pid; resolves with the error the launch failed with. */
async function failedLaunch(p: LaunchPlan, runDir: string, onSpawn?: (rid: string | undefined, pid: number) => void): Promise<{ err: Error; pids: number[] }> {
  const pids: number[] = [];
  const opts: LaunchOptions = {
    logFile: join(fx.work, `${runs}.log`),
    onSpawn: (rid, pid) => {
      pids.push(pid);
      onSpawn?.(rid, pid);
    },
  };
  const err = await launchPlan(p, runDir, opts).then(() => new Error('the launch succeeded'), (e: unknown) => e as Error);
  return { err, pids };
}

const waitGone = async (pids: number[]): Promise<boolean> => {
  for (let i = 0; i < 100 && !pids.every(pidGone); i++) await new Promise((r) => setTimeout(r, 50));
  return pids.every(pidGone);
};

describe('launchPlan starts every process at once', () => {
  it('spawns the main QEMU in the same tick as its remote, and the pair works', async () => {
    const { plan: p, runDir } = plan();
    const spawned: Array<{ rid: string | undefined; turnsSinceFirst: boolean }> = [];
    let turned = false;
    const l = await launchPlan(p, runDir, {
      logFile: join(fx.work, 'ok.log'),
      onSpawn: (rid) => {
        if (spawned.length === 0) setImmediate(() => (turned = true));
        spawned.push({ rid, turnsSinceFirst: turned });
      },
    });
    try {
      // no event-loop turn between the two spawns: nothing waited for the remote's monitor
      expect(spawned).toEqual([{ rid: '8', turnsSinceFirst: false }, { rid: undefined, turnsSinceFirst: false }]);
      const blocks = await l.remotes[0]!.qmp.execute<Array<{ inserted?: { file: string } }>>('query-block');
      expect(blocks.some((b) => b.inserted !== undefined)).toBe(true);
      await l.main.qmp.execute('cont');
      expect(await l.main.qmp.execute<{ status: string }>('query-status')).toMatchObject({ status: 'running' });
    } finally {
      await stopLaunched(l, 2000);
    }
  });

  it("names a remote that failed, with its stderr, and stops the main QEMU", async () => {
    const { plan: p, runDir } = plan();
    p.remotes[0]!.argv.push('-device', 'no-such-model,id=bogus');
    const { err, pids } = await failedLaunch(p, runDir);
    expect(err.message).toMatch(/^internal error: remote process '8' \(device 'ua-lsi0'\) exited while connecting to monitor: .*'no-such-model' is not a valid device model name/s);
    expect(pids).toHaveLength(2);
    expect(await waitGone(pids)).toBe(true);
  });

  it("names the main QEMU in libvirt's words when it failed, and stops its remote", async () => {
    const { plan: p, runDir } = plan();
    p.main.argv.push('-device', 'no-such-model,id=bogus');
    const { err, pids } = await failedLaunch(p, runDir);
    expect(err.message).toMatch(/^internal error: process exited while connecting to monitor: .*'no-such-model' is not a valid device model name/s);
    expect(err.message).not.toMatch(/remote process/);
    expect(await waitGone(pids)).toBe(true);
  });

  it('says the signal of a main QEMU that crashed without a word (nothing after a colon)', async () => {
    const { plan: p, runDir } = plan();
    const { err, pids } = await failedLaunch(p, runDir, (rid, pid) => {
      if (rid === undefined) process.kill(pid, 'SIGSEGV');
    });
    expect(err.message).toBe('internal error: process exited while connecting to monitor (signal SIGSEGV)');
    expect(await waitGone(pids)).toBe(true);
  });

  it('says the signal and the remote of a remote that crashed without a word', async () => {
    const { plan: p, runDir } = plan();
    const { err, pids } = await failedLaunch(p, runDir, (rid, pid) => {
      if (rid === '8') process.kill(pid, 'SIGSEGV');
    });
    expect(err.message).toBe("internal error: remote process '8' (device 'ua-lsi0') exited while connecting to monitor (signal SIGSEGV)");
    expect(await waitGone(pids)).toBe(true);
  });
});

describe("a start error's wording (libvirt's qemuProcessReportLogError shape)", () => {
  it('is PREFIX: LOG, or PREFIX alone for an empty log, with the process and any signal in the prefix', () => {
    const main = { rid: undefined };
    const remote = { rid: 'r1', alias: 'ua-lsi1' };
    expect(diedAtStartError(main, { code: 1, signal: null }, 'qemu: oops\n').message).toBe('internal error: process exited while connecting to monitor: qemu: oops');
    expect(diedAtStartError(main, { code: 1, signal: null }, '  \n').message).toBe('internal error: process exited while connecting to monitor');
    expect(diedAtStartError(main, { code: null, signal: 'SIGABRT' }, 'assertion failed').message).toBe('internal error: process exited while connecting to monitor (signal SIGABRT): assertion failed');
    expect(diedAtStartError(remote, { code: null, signal: 'SIGSEGV' }, '').message).toBe("internal error: remote process 'r1' (device 'ua-lsi1') exited while connecting to monitor (signal SIGSEGV)");
    const e = diedAtStartError(remote, { code: 1, signal: null }, 'x');
    expect([e.code, e.number, e.domain]).toEqual(['VIR_ERR_INTERNAL_ERROR', 1, 10]);
  });
});
