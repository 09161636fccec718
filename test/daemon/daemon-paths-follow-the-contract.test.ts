// Where the daemon puts things (interfaces.md §2/§3) in system and session
// mode, how XDG variables and flags override that, and the configuration file:
// libvirt's `key = value` syntax, refused with file and line when wrong.
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDaemonConfig, readDaemonConfig, resolveDaemonPaths, startDaemon } from '../../src/daemon/daemon.js';
import { MpvirtError } from '../../src/errors.js';
import { logSink } from './mpvirtd-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'mpvirt-daemon-paths-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const XDG = {
  HOME: '/home/u',
  XDG_RUNTIME_DIR: '/run/user/1000',
  XDG_CONFIG_HOME: '/home/u/cfg',
  XDG_STATE_HOME: '/home/u/st',
  XDG_CACHE_HOME: '/home/u/cache',
};

describe('daemon paths', () => {
  it('system mode uses the fixed system locations', () => {
    expect(resolveDaemonPaths({ mode: 'system' }, XDG)).toEqual({
      mode: 'system',
      socket: '/run/libvirt/virtmpqemud-sock',
      socketRo: '/run/libvirt/virtmpqemud-sock-ro',
      configDir: '/etc/mpvirt/qemu',
      stateDir: '/run/mpvirt/qemu',
      // storage pools beside the domains (interfaces.md §3)
      storageConfigDir: '/etc/mpvirt/storage',
      storageStateDir: '/run/mpvirt/storage',
      logDir: '/var/log/mpvirt/qemu',
      capsCacheDir: '/var/cache/mpvirt/qemu/capabilities',
      configFile: '/etc/mpvirt/mpvirtd.conf',
      configFileExplicit: false,
      lockFile: '/run/mpvirt/qemu/.mpvirtd.lock',
    });
  });

  it('session mode follows the XDG variables and has no read-only socket', () => {
    expect(resolveDaemonPaths({ mode: 'session' }, XDG)).toEqual({
      mode: 'session',
      socket: '/run/user/1000/libvirt/virtmpqemud-sock',
      socketRo: undefined,
      configDir: '/home/u/cfg/mpvirt/qemu',
      stateDir: '/run/user/1000/mpvirt/qemu',
      storageConfigDir: '/home/u/cfg/mpvirt/storage',
      storageStateDir: '/run/user/1000/mpvirt/storage',
      logDir: '/home/u/st/mpvirt/log/qemu',
      capsCacheDir: '/home/u/cache/mpvirt/qemu/capabilities',
      configFile: '/home/u/cfg/mpvirt/mpvirtd.conf',
      configFileExplicit: false,
      lockFile: '/run/user/1000/mpvirt/qemu/.mpvirtd.lock',
    });
  });

  it('session mode falls back to ~/.config, ~/.local/state and ~/.cache; relative XDG values are ignored', () => {
    const p = resolveDaemonPaths({ mode: 'session' }, { HOME: '/home/u', XDG_CONFIG_HOME: 'relative', XDG_RUNTIME_DIR: '/run/user/7' });
    expect(p.configDir).toBe('/home/u/.config/mpvirt/qemu');
    expect(p.configFile).toBe('/home/u/.config/mpvirt/mpvirtd.conf');
    expect(p.logDir).toBe('/home/u/.local/state/mpvirt/log/qemu');
    expect(p.capsCacheDir).toBe('/home/u/.cache/mpvirt/qemu/capabilities');
    expect(p.stateDir).toBe('/run/user/7/mpvirt/qemu');
  });

  it('without XDG_RUNTIME_DIR the runtime directory is the cache directory (GLib, as libvirt clients do)', () => {
    const p = resolveDaemonPaths({ mode: 'session' }, { HOME: '/home/u' });
    expect(p.socket).toBe('/home/u/.cache/libvirt/virtmpqemud-sock');
    expect(p.stateDir).toBe('/home/u/.cache/mpvirt/qemu');
  });

  it('flags override every location, in both modes', () => {
    const flags = {
      socket: '/t/s',
      socketRo: '/t/s-ro',
      configDir: '/t/etc',
      stateDir: '/t/run',
      logDir: '/t/log',
      config: '/t/d.conf',
      capsCacheDir: '/t/caps',
    };
    for (const mode of ['system', 'session'] as const) {
      const { config, ...dirs } = flags;
      expect(resolveDaemonPaths({ mode, ...flags }, XDG)).toEqual({
        mode,
        ...dirs,
        // inside the given directories, never beside them: a test's tree holds everything
        storageConfigDir: '/t/etc/storage',
        storageStateDir: '/t/run/.storage',
        configFile: config,
        configFileExplicit: true,
        lockFile: '/t/run/.mpvirtd.lock',
      });
    }
  });
});

describe('configuration file', () => {
  it('reads every supported setting in libvirt syntax', () => {
    const text = `# mpvirtd.conf
auto_isolate = [ "lsilogic",   # a comment inside a list
                 'virtio-scsi', ]
auto_isolate_on_crash = "preserve"
log_level = "debug"   # trailing comment
remote_heartbeat_ms = 250; remote_hang_deadline_ms = 2000
job_timeout_ms=0
log_limit_bytes = 65536
`;
    expect(parseDaemonConfig(text)).toEqual({
      autoIsolate: ['lsilogic', 'virtio-scsi'],
      autoIsolateOnCrash: 'preserve',
      logLevel: 'debug',
      remoteHeartbeatMs: 250,
      remoteHangDeadlineMs: 2000,
      jobTimeoutMs: 0,
      logLimitBytes: 65536,
    });
  });

  it('accepts an empty list, libvirt numeric log levels, and an empty file', () => {
    expect(parseDaemonConfig('auto_isolate = []\nlog_level = 3\n')).toEqual({ autoIsolate: [], logLevel: 'warn' });
    expect(parseDaemonConfig('# nothing\n\n')).toEqual({});
    expect(parseDaemonConfig('auto_isolate_on_crash = "restart"\n')).toEqual({ autoIsolateOnCrash: 'restart' });
  });

  const refused: Array<[string, string, string, number]> = [
    ['unknown key', 'log_level = "info"\n\nlisten_tcp = 1\n', "unsupported configuration: f.conf:3: unknown setting 'listen_tcp'", 3],
    ['wrong type', 'remote_heartbeat_ms = "fast"\n', "unsupported configuration: f.conf:1: setting 'remote_heartbeat_ms' must be an integer >= 1", 1],
    ['negative number', '\njob_timeout_ms = -5\n', "unsupported configuration: f.conf:2: setting 'job_timeout_ms' must be an integer >= 0", 2],
    ['bad on-crash action', 'auto_isolate_on_crash = "reboot"\n', 'f.conf:1: setting \'auto_isolate_on_crash\' must be "destroy", "preserve" or "restart"', 1],
    ['list of non-strings', 'auto_isolate = ["a", 1]\n', "f.conf:1: setting 'auto_isolate' must be a list of strings", 1],
    ['bad log level', 'log_level = "loud"\n', "f.conf:1: setting 'log_level' must be one of", 1],
    ['missing =', '# c\nlog_level "info"\n', "configuration file syntax error: f.conf:2: expecting '=' after 'log_level'", 2],
    ['unterminated string', 'log_level = "info\n', 'configuration file syntax error: f.conf:1: unterminated string', 1],
    ['unterminated list', 'auto_isolate = ["a",\n"b"\n', "configuration file syntax error: f.conf:3: expecting ',' or ']' in a list", 3],
    ['bare word', 'log_level = info\n', "configuration file syntax error: f.conf:1: unexpected 'i' where a value should be", 1],
    ['missing value', 'log_level =\n', 'configuration file syntax error: f.conf:1: expecting a value', 1],
    ['junk after value', 'log_level = "info" "debug"\n', `configuration file syntax error: f.conf:1: unexpected '"' after the value of 'log_level'`, 1],
  ];
  it.each(refused)('refuses %s with the file and line', (_what, text, message, line) => {
    let err: unknown;
    try {
      parseDaemonConfig(text, 'f.conf');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MpvirtError);
    expect((err as MpvirtError).message).toContain(message);
    expect((err as MpvirtError).line).toBe(line);
    expect(['VIR_ERR_CONFIG_UNSUPPORTED', 'VIR_ERR_CONF_SYNTAX']).toContain((err as MpvirtError).code);
  });

  it('a missing default file is an empty configuration; a missing explicit one is an error', async () => {
    expect(await readDaemonConfig(join(tmp, 'absent.conf'))).toEqual({});
    await expect(readDaemonConfig(join(tmp, 'absent.conf'), true)).rejects.toThrow(
      `operation failed: cannot read configuration file '${join(tmp, 'absent.conf')}': no such file or directory`,
    );
  });
});

describe('startDaemon applies paths and configuration', () => {
  it('creates the directories 0700, takes the lock, applies the settings and redacts secrets', async () => {
    const dir = join(tmp, 'd1');
    const conf = join(tmp, 'd1.conf');
    writeFileSync(conf, 'job_timeout_ms = 1234\nlog_limit_bytes = 4096\nremote_heartbeat_ms = 300\nlog_level = "debug"\n');
    const sink = logSink();
    const d = await startDaemon({
      mode: 'session',
      socket: join(dir, 'sock', 'virtmpqemud-sock'),
      configDir: join(dir, 'etc'),
      stateDir: join(dir, 'run'),
      logDir: join(dir, 'log'),
      capsCacheDir: join(dir, 'caps'),
      config: conf,
      logDestination: sink.stream,
    });
    try {
      for (const sub of ['etc', 'run', 'log', 'sock']) expect(statSync(join(dir, sub)).mode & 0o777).toBe(0o700);
      expect(existsSync(join(dir, 'sock', 'virtmpqemud-sock'))).toBe(true); // the RPC server listens while the daemon runs
      expect(d.driver.tuning).toMatchObject({ jobTimeoutMs: 1234, logLimitBytes: 4096, heartbeatMs: 300 });
      expect(d.logger.level).toBe('debug');
      d.logger.info({ auth: { user: 'x' }, vnc: { password: 'hunter2' }, token: 't0k' }, 'secret stuff');
      const line = sink.lines().find((l) => l.msg === 'secret stuff')!;
      expect(JSON.stringify(line)).not.toMatch(/hunter2|t0k|"user":"x"/);
      expect(line).toMatchObject({ vnc: { password: '[REDACTED]' }, token: '[REDACTED]', auth: { user: '[REDACTED]' } });
    } finally {
      await d.stop();
      await d.stop(); // idempotent
    }
    expect(existsSync(join(dir, 'run', '.mpvirtd.lock'))).toBe(false);
    expect(existsSync(join(dir, 'sock', 'virtmpqemud-sock'))).toBe(false); // removed on stop
  });

  it('refuses to start with a bad configuration file or log level', async () => {
    const conf = join(tmp, 'bad.conf');
    writeFileSync(conf, 'log_level = "info"\nmax_clients = 5\n');
    const base = { mode: 'session' as const, stateDir: join(tmp, 'd2', 'run'), configDir: join(tmp, 'd2', 'etc'), logDir: join(tmp, 'd2', 'log'), socket: join(tmp, 'd2', 's') };
    await expect(startDaemon({ ...base, config: conf })).rejects.toThrow(`${conf}:2: unknown setting 'max_clients'`);
    await expect(startDaemon({ ...base, config: join(tmp, 'nope.conf') })).rejects.toThrow('cannot read configuration file');
    await expect(startDaemon({ ...base, config: join(tmp, 'd1.conf'), logLevel: 'chatty' })).rejects.toThrow("unknown log level 'chatty'");
    expect(existsSync(join(tmp, 'd2', 'run', '.mpvirtd.lock'))).toBe(false);
  });
});
