// `npm run demo` (scripts/demo.mjs), run as CI runs it: no terminal, no stdin. It must tell its
// whole story through a private session-mode mpvirtd: the nine numbered steps, the guest reading
// the host's markers on the boot disk and on the hot-plugged one, the remote process killed and
// restarted (MPVIRT_REMOTE crashed → restarting → restarted, the controller unplugged and plugged
// again) with the guest reading both disks again, the shutdown, the host-side check of what the
// guest wrote; exit 0 in under a minute; and afterwards nothing it started is alive and its
// temporary directory is gone. Interrupted halfway (Ctrl-C), or failing halfway (its guest's
// QEMU killed), it cleans up just the same.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the demo with stdin on /dev/null and pipes for output (so no tty); `onOutput` sees stdout as it grows. */
function runDemo(onOutput: (stdout: string, pid: number) => void = () => {}): Promise<Run> {
  const child = spawn(process.execPath, [join(projectRoot, 'scripts', 'demo.mjs')], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    onOutput(stdout, child.pid!);
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** The process's command line, or null when it is gone (or a zombie, which has none). */
function cmdline(pid: number): string | null {
  try {
    const c = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return c === '' ? null : c.replace(/\0/g, ' ');
  } catch {
    return null;
  }
}

/** Every live process that refers to `dir` by its command line, working directory or an open file (a remote QEMU gets its disks as fds). */
function processesUnder(dir: string): string[] {
  const inside = (path: string): boolean => path === dir || path.startsWith(`${dir}/`);
  const link = (path: string): string => {
    try {
      return readlinkSync(path);
    } catch {
      return '';
    }
  };
  const fds = (pid: string): string[] => {
    try {
      return readdirSync(`/proc/${pid}/fd`).map((fd) => link(`/proc/${pid}/fd/${fd}`));
    } catch {
      return [];
    }
  };
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid).flatMap((n) => {
    const c = cmdline(Number(n));
    if (c === null) return [];
    return c.includes(dir) || inside(link(`/proc/${n}/cwd`)) || fds(n).some(inside) ? [`${n}: ${c}`] : [];
  });
}

/** The demo's temporary directory and every pid it printed (mpvirtd, the QEMUs, the killed remote). */
function printed(stdout: string): { dir: string; pids: number[] } {
  const dir = /temporary directory: (\/\S+)/.exec(stdout)?.[1] ?? '';
  const pids = [...stdout.matchAll(/\bpid (\d+)\b/g), ...stdout.matchAll(/kill -KILL (\d+)/g)].map((m) => Number(m[1]));
  return { dir, pids: [...new Set(pids)] };
}

/** None of the printed pids is still the process it was (pids may be reused by then), none runs under the directory, and the directory is gone. */
function expectNothingLeft(stdout: string): void {
  const { dir, pids } = printed(stdout);
  expect(dir).toMatch(/mpvirt-demo-/);
  expect(pids.length).toBeGreaterThanOrEqual(3);
  const stillThere = pids.map((pid) => [pid, cmdline(pid)] as const).filter(([, c]) => c !== null && (c.includes(dir) || c.includes('mpvirtd') || c.includes('qemu-system')));
  expect(stillThere).toEqual([]);
  expect(processesUnder(dir)).toEqual([]);
  expect(existsSync(dir)).toBe(false);
}

describe('npm run demo', () => {
  it('tells the whole story through the daemon, exits 0 in under a minute and leaves nothing behind', async () => {
    const r = await runDemo();
    const o = r.stdout;
    expect({ code: r.code, signal: r.signal }, `${o}\n${r.stderr}`).toEqual({ code: 0, signal: null });
    for (let n = 1; n <= 9; n++) expect(o).toContain(`\n[${n}/9] `);

    // the guest read the host's marker on its boot disk, then on the hot-plugged one
    const marker = /disk data\.img carries (E2E-HOST-MARKER-[0-9a-f]{16})/.exec(o)?.[1];
    expect(marker).toBeDefined();
    expect(o).toContain(`guest| E2E-READ: ${marker}`);
    const hotplug = /guest\| E2E-HOTPLUG-READ: (E2E-HOTPLUG-MARKER-[0-9a-f]{16})/.exec(o)?.[1];
    expect(hotplug).toBeDefined();
    expect(o).toMatch(/event {2}'device-added' for domain 'demo': scsi0-0-1/);

    // the restart: the remote killed, MPVIRT_REMOTE crashed → restarting → restarted, the
    // controller unplugged and plugged again, the guest reading both disks again
    const killed = Number(/kill -KILL (\d+)/.exec(o)?.[1]);
    const states = [...o.matchAll(/'MPVIRT_REMOTE' for domain 'demo': (\{.*\})/g)].map((m) => JSON.parse(m[1]!) as { state: string; pid?: number });
    const crash = states.findIndex((s) => s.state === 'crashed');
    expect(states.slice(crash, crash + 3).map((s) => s.state)).toEqual(['crashed', 'restarting', 'restarted']);
    expect(states[crash]!.pid).toBe(killed);
    const afterKill = o.slice(o.indexOf('kill -KILL'));
    expect(afterKill).toMatch(/'device-removed' for domain 'demo': ua-scsi0[\s\S]*'device-added' for domain 'demo': ua-scsi0/);
    expect(afterKill).toContain(`guest| E2E-REPLUG-READ sda`);
    expect(afterKill).toMatch(new RegExp(`guest\\| E2E-REPLUG-READ sda \\d+: ${marker}`));
    expect(afterKill).toMatch(new RegExp(`guest\\| E2E-REPLUG-READ sdb \\d+: ${hotplug}`));
    expect(afterKill).toMatch(/remote QEMU: pid \d+ \(new\), both disks back/);

    // shut down by the power button; the host finds both of the guest's writes on the images
    expect(o).toContain('$ mpvirsh shutdown demo');
    expect(o).toContain('guest| E2E-ACPI-POWER');
    expect(o).toMatch(/'lifecycle' for domain 'demo': stopped shutdown/);
    expect(o).toContain(`data.img  sector 4096: E2E-GUEST-WROTE:${marker}`);
    expect(o).toContain(`extra.img sector 4096: E2E-GUEST-WROTE-AFTER-RESTART:${hotplug}`);
    const ok = /\nDEMO OK: .*\(demo ([\d.]+) s, after ([\d.]+) s of setup\)\.\n/.exec(o);
    expect(ok, o).not.toBeNull();
    console.log(`npm run demo: ${ok![1]} s for the demo itself, ${ok![2]} s of setup before it (install check, build)`);
    expect(Number(ok![1])).toBeLessThan(60);
    expect(o).not.toContain('DEMO FAILED');
    expectNothingLeft(o);
  }, 300_000);

  it('interrupted (Ctrl-C) while the guest runs, kills everything it started and removes its directory', async () => {
    let sent = false;
    let sentAt = 0;
    const r = await runDemo((stdout, pid) => {
      // SIGINT as soon as the guest has read its disk: both QEMUs and the daemon are up
      if (!sent && stdout.includes('guest| E2E-WRITTEN sda')) {
        sent = true;
        sentAt = performance.now();
        process.kill(pid, 'SIGINT');
      }
    });
    expect(sent, r.stdout).toBe(true);
    console.log(`npm run demo, interrupted: exited ${((performance.now() - sentAt) / 1000).toFixed(1)} s after SIGINT`);
    expect(r.code, r.stdout).toBe(130);
    expect(r.stdout).toContain('DEMO FAILED: interrupted (SIGINT)');
    expect(r.stdout).toMatch(/cleaned up: killed .*; removed \/\S+mpvirt-demo-/);
    expectNothingLeft(r.stdout);
  }, 300_000);

  it('failing halfway (the guest\'s main QEMU killed under it), reports the failure and leaves nothing behind', async () => {
    let killed = 0;
    const r = await runDemo((stdout) => {
      const main = Number(/main QEMU: +pid (\d+)/.exec(stdout)?.[1]);
      if (!killed && main && stdout.includes('guest| E2E-WRITTEN sda') && cmdline(main)?.includes('qemu-system')) {
        killed = main;
        process.kill(main, 'SIGKILL');
      }
    });
    expect(killed, r.stdout).toBeGreaterThan(0);
    expect(r.code, r.stdout).toBe(1);
    // which step notices first depends on timing: the console's end, or a command on a dead domain
    expect(r.stdout).toMatch(/\nDEMO FAILED: (while waiting for .*: the console ended \(the guest is gone\)|mpvirsh .* exited 1)\n/);
    expect(r.stdout).toContain("--- the domain's log (last lines) ---");
    expect(r.stdout).not.toContain('DEMO OK');
    expectNothingLeft(r.stdout);
  }, 300_000);
});
