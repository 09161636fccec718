// The mpvirtd command line (interfaces.md §2/§3): --help lists every flag and
// exits 0, a bad flag is one line on stderr and exit 1 with no stack trace,
// startup errors are libvirt-style one-liners, session defaults follow the XDG
// variables, and `--timeout N` / `--timeout=N` exit by themselves when idle.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMpvirtd, MpvirtdProcess, xdgEnv } from './mpvirtd-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'mpvirt-daemon-cli-'));
const env = xdgEnv(tmp);
let build: ReturnType<typeof buildMpvirtd>;
const procs: MpvirtdProcess[] = [];

beforeAll(() => {
  build = buildMpvirtd();
});
afterAll(async () => {
  for (const p of procs) await p.kill();
  build?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function run(args: string[]): MpvirtdProcess {
  const p = new MpvirtdProcess(build.cli, args, env);
  procs.push(p);
  return p;
}

function isolated(name: string): string[] {
  const base = join(tmp, name);
  return ['--session', '--state-dir', join(base, 'run'), '--config-dir', join(base, 'etc'), '--log-dir', join(base, 'log'), '--socket', join(base, 'sock')];
}

describe('mpvirtd command line', () => {
  it('--help exits 0 and lists every flag', async () => {
    const p = run(['--help']);
    expect(await p.exitWithin(10_000)).toEqual({ code: 0, signal: null });
    for (const flag of ['--system', '--session', '--socket', '--socket-ro', '--config-dir', '--state-dir', '--log-dir', '--config', '--log-level', '--timeout', '--help', '--version']) {
      expect(p.stdout).toMatch(new RegExp(`(^|\\s)${flag}(\\s|=|,|$)`, 'm'));
    }
    expect(p.stderr).toBe('');
  });

  it('--version prints the package version', async () => {
    const p = run(['--version']);
    expect(await p.exitWithin(10_000)).toEqual({ code: 0, signal: null });
    expect(p.stdout).toMatch(/^mpvirtd \(mpvirt\) \d+\.\d+\.\d+\n$/);
  });

  it.each([
    [['--bogus'], "mpvirtd: unrecognized option '--bogus' (see 'mpvirtd --help')"],
    [['--timeout'], "mpvirtd: option '--timeout' requires an argument (see 'mpvirtd --help')"],
    [['--timeout', 'soon'], "mpvirtd: invalid timeout 'soon': expected a number of seconds (see 'mpvirtd --help')"],
    [['--system', '--session'], "mpvirtd: options '--system' and '--session' are mutually exclusive (see 'mpvirtd --help')"],
    [['stray'], "mpvirtd: unexpected argument 'stray' (see 'mpvirtd --help')"],
  ])('%j exits 1 with one line on stderr', async (args, line) => {
    const p = run(args);
    expect(await p.exitWithin(10_000)).toEqual({ code: 1, signal: null });
    expect(p.stderr).toBe(`${line}\n`);
    expect(p.stdout).toBe('');
  });

  it('startup errors are one libvirt-style line and exit 1', async () => {
    const conf = join(tmp, 'bad.conf');
    writeFileSync(conf, '# comment\nauto_isolate = "lsilogic"\n');
    const bad = run([...isolated('badconf'), '--config', conf]);
    expect(await bad.exitWithin(10_000)).toEqual({ code: 1, signal: null });
    expect(bad.stderr).toBe(`mpvirtd: unsupported configuration: ${conf}:2: setting 'auto_isolate' must be a list of strings\n`);

    const level = run([...isolated('badlevel'), '--log-level', 'chatty']);
    expect(await level.exitWithin(10_000)).toEqual({ code: 1, signal: null });
    expect(level.stderr).toBe("mpvirtd: invalid argument: unknown log level 'chatty'\n");

    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    const nodir = run(['--session', '--state-dir', join(file, 'run'), '--config-dir', join(tmp, 'x', 'etc'), '--log-dir', join(tmp, 'x', 'log'), '--socket', join(tmp, 'x', 's')]);
    expect(await nodir.exitWithin(10_000)).toEqual({ code: 1, signal: null });
    expect(nodir.stderr).toBe(`mpvirtd: operation failed: cannot create directory '${join(file, 'run')}': not a directory\n`);
  });

  it('session defaults follow the XDG variables', async () => {
    const p = run(['--session', '--timeout=1']);
    const ready = await p.waitForLog('mpvirtd ready');
    expect(ready).toMatchObject({
      mode: 'session',
      socket: join(env.XDG_RUNTIME_DIR!, 'libvirt', 'virtmpqemud-sock'),
      configDir: join(env.XDG_CONFIG_HOME!, 'mpvirt', 'qemu'),
      stateDir: join(env.XDG_RUNTIME_DIR!, 'mpvirt', 'qemu'),
      logDir: join(env.XDG_STATE_HOME!, 'mpvirt', 'log', 'qemu'),
      configFile: join(env.XDG_CONFIG_HOME!, 'mpvirt', 'mpvirtd.conf'),
      capsCacheDir: join(env.XDG_CACHE_HOME!, 'mpvirt', 'qemu', 'capabilities'),
    });
    expect(await p.exitWithin(5000)).toEqual({ code: 0, signal: null });
    expect(existsSync(join(env.XDG_RUNTIME_DIR!, 'libvirt'))).toBe(true); // the socket's directory, made ready
    expect(existsSync(join(env.XDG_RUNTIME_DIR!, 'libvirt', 'virtmpqemud-sock'))).toBe(false); // no fake socket
  });

  it.each([[['--timeout', '1']], [['--timeout=1']]])('%j with no running domain exits 0 by itself within 3 s', async (flag) => {
    const p = run([...isolated(`idle-${flag.length}`), ...flag]);
    await p.waitForLog('mpvirtd ready');
    const t0 = Date.now();
    expect(await p.exitWithin(3000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect(p.logLines().map((l) => l.msg)).toEqual(expect.arrayContaining(['idle timeout reached', 'mpvirtd stopped']));
  });

  it('without --timeout it stays up until SIGINT, and SIGHUP is only logged', async () => {
    const p = run(isolated('stay'));
    await p.waitForLog('mpvirtd ready');
    p.child.kill('SIGHUP');
    await p.waitForLog('SIGHUP received');
    expect(await p.exitWithin(1500)).toBeUndefined();
    p.child.kill('SIGINT');
    expect(await p.exitWithin(5000)).toEqual({ code: 0, signal: null });
    expect(existsSync(join(tmp, 'stay', 'run', '.mpvirtd.lock'))).toBe(false);
  });
});
