/**
 * Session autostart as libvirt's own client library does it (libvirt-rpc.md
 * §7, interfaces.md §2): an unprivileged user runs
 * `virsh -c 'mpqemu:///session?mode=direct' list --all` with no daemon
 * listening; the client runs `$VIRTD_PATH/virtmpqemud --timeout=120`
 * daemonized, as that user, and retries until the socket answers. Here
 * `virtmpqemud` is a wrapper script exec'ing a private build of mpvirtd, the
 * user is `nobody` with its own HOME and XDG_RUNTIME_DIR.
 *
 * As root the client never autostarts anything (it checks geteuid() > 0) and
 * sends `mpqemu:///session` to the system socket: the system daemon serves
 * root's session URI, as libvirt's virtqemud does.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive, waitFor } from '../driver/harness.js';
import { buildMpvirtd } from './mpvirtd-process.js';

const NOBODY = { uid: 65534, gid: 65534 };
const VIRSH = '/usr/bin/virsh';
const URI = 'mpqemu:///session?mode=direct';

/** Why this cannot run here, or undefined. Printed, never silently skipped. */
function blocker(): string | undefined {
  if (process.getuid?.() !== 0) return `the test must switch to the unprivileged user nobody, which needs root; it runs as uid ${process.getuid?.()}`;
  if (!existsSync(VIRSH)) return `${VIRSH} is not installed`;
  const passwd = existsSync('/etc/passwd') ? readFileSync('/etc/passwd', 'utf8') : '';
  if (!/^nobody:[^:]*:65534:65534:/m.test(passwd)) return 'there is no user nobody with uid/gid 65534';
  return undefined;
}
const why = blocker();
if (why) console.warn(`session autostart test NOT RUN: ${why}`);

let root = '';
let build: ReturnType<typeof buildMpvirtd> | undefined;
const started: number[] = [];
const dirs = { bin: '', home: '', run: '', spawnLog: '' };

beforeAll(() => {
  if (why) return;
  build = buildMpvirtd();
  // the private build lives in a 0700 mkdtemp directory: nobody must be able to read it
  chmodSync(dirname(dirname(dirname(build.cli))), 0o755);
  root = mkdtempSync(join(tmpdir(), 'mpvirt-autostart-'));
  chmodSync(root, 0o755);
  dirs.bin = join(root, 'bin');
  dirs.home = join(root, 'home');
  dirs.run = join(root, 'run');
  dirs.spawnLog = join(dirs.home, 'spawned.log');
  mkdirSync(dirs.bin, { mode: 0o755 });
  for (const d of [dirs.home, dirs.run]) {
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, NOBODY.uid, NOBODY.gid);
  }
  // what the client runs: $VIRTD_PATH/virtmpqemud --timeout=120; exec keeps the pid it records
  writeFileSync(join(dirs.bin, 'virtmpqemud'), [
    '#!/bin/sh',
    `echo "$$ $(id -u) $*" >> '${dirs.spawnLog}'`,
    `exec '${process.execPath}' '${build.cli}' "$@" 2>> '${join(dirs.home, 'daemon.log')}'`,
    '',
  ].join('\n'), { mode: 0o755 });
});

afterAll(async () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  await waitFor(() => started.every((p) => !pidAlive(p)), 10_000);
  for (const pid of started) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  if (root) rmSync(root, { recursive: true, force: true });
  build?.cleanup();
});

interface Run { code: number; stdout: string; stderr: string; ms: number }
function virsh(args: string[], as: 'nobody' | 'root', env: Record<string, string>): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(VIRSH, ['-c', URI, ...args], {
      cwd: '/',
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', ...env },
      timeout: 30_000,
      ...(as === 'nobody' ? NOBODY : {}),
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, ms: performance.now() - t0 }));
  });
}
const spawned = (): string[] => (existsSync(dirs.spawnLog) ? readFileSync(dirs.spawnLog, 'utf8').trim().split('\n').filter(Boolean) : []);
const userEnv = (): Record<string, string> => ({ HOME: dirs.home, XDG_RUNTIME_DIR: dirs.run, VIRTD_PATH: dirs.bin, USER: 'nobody', LOGNAME: 'nobody' });

describe.skipIf(why !== undefined)(`session autostart${why ? ` (not possible here: ${why})` : ''}`, () => {
  it("an unprivileged user's first virsh starts virtmpqemud --timeout=120 as that user, and gets its answer", async () => {
    const res = await virsh(['list', '--all'], 'nobody', userEnv());
    const log = join(dirs.home, 'daemon.log');
    expect(res, `${JSON.stringify(res)}\n${existsSync(log) ? readFileSync(log, 'utf8') : ''}`).toMatchObject({ code: 0, stdout: ' Id   Name   State\n--------------------\n\n', stderr: '' });
    const lines = spawned();
    expect(lines).toHaveLength(1);
    const [pid, uid, ...argv] = lines[0]!.split(' ');
    started.push(Number(pid));
    expect(uid).toBe(String(NOBODY.uid));
    expect(argv).toEqual(['--timeout=120']);
    // still running on its own (daemonized: the client has exited), as nobody, in session mode, on the session socket
    expect(pidAlive(Number(pid))).toBe(true);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(NOBODY.uid));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual([process.execPath, build!.cli, '--timeout=120', '']);
    const sock = join(dirs.run, 'libvirt', 'virtmpqemud-sock');
    expect(existsSync(sock)).toBe(true);
    const ready = readFileSync(join(dirs.home, 'daemon.log'), 'utf8').split('\n').filter((l) => l.includes('"mpvirtd ready"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ready).toHaveLength(1);
    expect(ready[0]).toMatchObject({
      mode: 'session', socket: sock, timeout: 120,
      configDir: join(dirs.home, '.config', 'mpvirt', 'qemu'), stateDir: join(dirs.run, 'mpvirt', 'qemu'),
    });
    console.log(`autostarted list --all: ${res.ms.toFixed(0)} ms (daemon pid ${pid})`);
  });

  it('the next virsh reuses the running daemon', async () => {
    const res = await virsh(['list', '--all'], 'nobody', userEnv());
    expect(res).toMatchObject({ code: 0, stdout: ' Id   Name   State\n--------------------\n\n', stderr: '' });
    expect(spawned()).toHaveLength(1);
    expect((await virsh(['uri'], 'nobody', userEnv())).stdout).toBe(`${URI}\n\n`);
  });

  it('root is never autostarted for: the client goes to the system socket', async () => {
    const rootRun = join(root, 'root-run');
    mkdirSync(rootRun, { mode: 0o700 });
    const res = await virsh(['list', '--all'], 'root', { HOME: root, XDG_RUNTIME_DIR: rootRun, VIRTD_PATH: dirs.bin });
    expect(spawned()).toHaveLength(1);
    if (!existsSync('/var/run/libvirt/virtmpqemud-sock')) {
      expect(res).toMatchObject({
        code: 1,
        stderr: "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/virtmpqemud-sock': No such file or directory\n",
      });
    }
  });

  it('stops by pid when asked (SIGTERM), removing its socket', async () => {
    const pid = started[0]!;
    process.kill(pid, 'SIGTERM');
    expect(await waitFor(() => !pidAlive(pid), 10_000)).toBe(true);
    expect(existsSync(join(dirs.run, 'libvirt', 'virtmpqemud-sock'))).toBe(false);
  });
});
