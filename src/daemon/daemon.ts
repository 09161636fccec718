/**
 * The daemon around the driver: where things live (interfaces.md §2/§3), the
 * configuration file (read by daemon-config.ts), the lock that keeps two
 * daemons off one state directory, the logger, and the idle timeout. The CLI
 * (src/cli/mpvirtd.ts) and in-process tests both start the daemon through
 * startDaemon().
 */
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { pino } from 'pino';
import { MpvirtError } from '../errors.js';
import { failed, normalizeLogLevel, readDaemonConfig, type DaemonConfig } from './config.js';
import type { DriverTuning, Logger } from '../driver/core.js';
import { startRpcServer, type RpcServer } from '../rpc/server.js';
import { QemuDriver } from '../driver/driver.js';
import { StorageDriver } from '../storage/storage-driver.js';
import { hostSecondaryDrivers, type SecondaryUris } from './secondary-drivers.js';
import { hostNetworkPorts } from './host-networks.js';
import type { ActivatedSockets } from './socket-activation.js';
import { tryLockExclusive, unlock } from './flock.js';
import { prepareDropIn, refuseStrayDropInSockets } from './drop-in.js';

export { normalizeLogLevel, parseDaemonConfig, readDaemonConfig, type DaemonConfig } from './config.js';

export type DaemonMode = 'system' | 'session';

export interface PathOptions {
  mode: DaemonMode;
  socket?: string;
  socketRo?: string;
  configDir?: string;
  stateDir?: string;
  logDir?: string;
  /** the configuration file; when given, it must exist */
  config?: string;
  capsCacheDir?: string;
}

export interface DaemonPaths {
  mode: DaemonMode;
  socket: string;
  /** system mode only (or --socket-ro) */
  socketRo: string | undefined;
  configDir: string;
  stateDir: string;
  /** storage pool definitions, beside the domains' (`/etc/mpvirt/storage`; with --config-dir DIR, DIR/storage) */
  storageConfigDir: string;
  /** state of active pools (`/run/mpvirt/storage`; with --state-dir DIR, DIR/.storage: no domain is named so) */
  storageStateDir: string;
  logDir: string;
  capsCacheDir: string;
  configFile: string;
  /** true when the configuration file was named explicitly (then it must exist) */
  configFileExplicit: boolean;
  /** `<stateDir>/.mpvirtd.lock`, holds the daemon's pid while it is locked */
  lockFile: string;
}

/** An XDG base directory: the variable when it holds an absolute path (XDG spec), else `$HOME/<fallback>`. */
function xdg(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const v = env[name];
  return v && isAbsolute(v) ? v : join(env.HOME || homedir(), fallback);
}

export function resolveDaemonPaths(opts: PathOptions, env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  let d: Omit<DaemonPaths, 'configFileExplicit' | 'lockFile' | 'storageConfigDir' | 'storageStateDir'>;
  if (opts.mode === 'system') {
    d = {
      mode: 'system',
      socket: '/run/libvirt/virtmpqemud-sock',
      socketRo: '/run/libvirt/virtmpqemud-sock-ro',
      configDir: '/etc/mpvirt/qemu',
      stateDir: '/run/mpvirt/qemu',
      logDir: '/var/log/mpvirt/qemu',
      capsCacheDir: '/var/cache/mpvirt/qemu/capabilities',
      configFile: '/etc/mpvirt/mpvirtd.conf',
    };
  } else {
    const config = xdg(env, 'XDG_CONFIG_HOME', '.config');
    const cache = xdg(env, 'XDG_CACHE_HOME', '.cache');
    // GLib's g_get_user_runtime_dir(), which libvirt's client uses: the cache dir when XDG_RUNTIME_DIR is unset
    const runtime = env.XDG_RUNTIME_DIR && isAbsolute(env.XDG_RUNTIME_DIR) ? env.XDG_RUNTIME_DIR : cache;
    d = {
      mode: 'session',
      socket: join(runtime, 'libvirt', 'virtmpqemud-sock'),
      socketRo: undefined,
      configDir: join(config, 'mpvirt', 'qemu'),
      stateDir: join(runtime, 'mpvirt', 'qemu'),
      logDir: join(xdg(env, 'XDG_STATE_HOME', '.local/state'), 'mpvirt', 'log', 'qemu'),
      capsCacheDir: join(cache, 'mpvirt', 'qemu', 'capabilities'),
      configFile: join(config, 'mpvirt', 'mpvirtd.conf'),
    };
  }
  const stateDir = opts.stateDir ?? d.stateDir;
  return {
    ...d,
    socket: opts.socket ?? d.socket,
    socketRo: opts.socketRo ?? d.socketRo,
    configDir: opts.configDir ?? d.configDir,
    stateDir,
    storageConfigDir: opts.configDir !== undefined ? join(opts.configDir, 'storage') : join(dirname(d.configDir), 'storage'),
    storageStateDir: opts.stateDir !== undefined ? join(opts.stateDir, '.storage') : join(dirname(d.stateDir), 'storage'),
    logDir: opts.logDir ?? d.logDir,
    capsCacheDir: opts.capsCacheDir ?? d.capsCacheDir,
    configFile: opts.config ?? d.configFile,
    configFileExplicit: opts.config !== undefined,
    lockFile: join(stateDir, '.mpvirtd.lock'),
  };
}

// ------------------------------------------------------------------ lock file

/**
 * flock(LOCK_EX|LOCK_NB) on `path`, then our pid into it (libvirt's
 * virPidFileAcquire). The file is unlinked before it is unlocked on release,
 * so a locker checks that the file it locked is still the one at `path`.
 */
function acquireLock(path: string, stateDir: string): () => void {
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600); // libuv adds O_CLOEXEC
    } catch (e) {
      throw failed(`cannot open lock file '${path}'`, e);
    }
    let locked: boolean;
    try {
      locked = tryLockExclusive(fd);
    } catch (e) {
      closeSync(fd);
      throw failed(`cannot lock '${path}'`, e);
    }
    if (!locked) {
      const holder = (() => { try { return readFileSync(path, 'utf8').trim(); } catch { return ''; } })();
      closeSync(fd);
      throw new MpvirtError('VIR_ERR_OPERATION_FAILED',
        `another mpvirtd is already managing ${stateDir} (pid ${/^\d+$/.test(holder) ? holder : 'unknown'})`);
    }
    const mine = fstatSync(fd);
    const there = (() => { try { return statSync(path); } catch { return undefined; } })();
    if (there?.ino !== mine.ino || there.dev !== mine.dev) {
      closeSync(fd); // the previous holder removed it between our open and our lock
      if (attempt < 10) continue;
      throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `lock file '${path}' keeps changing`);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return () => {
      try { unlinkSync(path); } catch { /* already gone */ }
      unlock(fd);
      closeSync(fd);
    };
  }
}

// ------------------------------------------------------------------ the daemon

export interface DaemonOptions extends PathOptions {
  env?: NodeJS.ProcessEnv;
  /** pino level name or libvirt number 1-4; beats the configuration file; default info */
  logLevel?: string;
  /** where JSON log lines go: an fd (default 2, stderr) or a stream (tests) */
  logDestination?: number | NodeJS.WritableStream;
  driverTuning?: Partial<DriverTuning>;
  defaultEmulator?: string;
  /** systemd socket activation (socket-activation.ts): accept on these instead of binding */
  activatedSockets?: ActivatedSockets;
  /** `--drop-in`: also answer at libvirt's qemu:///system sockets (drop-in.ts); beats `drop_in` in the file */
  dropIn?: boolean;
  /** `--timeout N`: after N idle seconds, onIdleTimeout (default: stop()). 0 or absent: never. */
  timeout?: number;
  /** extra idle condition (the RPC layer: no clients); idle also needs no running domain and no job */
  isIdle?: () => boolean;
  onIdleTimeout?: () => void;
}

export interface Daemon {
  driver: QemuDriver;
  storage: StorageDriver;
  paths: DaemonPaths;
  config: DaemonConfig;
  /** drop-in mode's socket paths, empty when it is off */
  dropInSockets: readonly string[];
  logger: pino.Logger;
  /** one more condition for being idle (all must hold) */
  addIdleCheck(check: () => boolean): void;
  /** detach from the domains (they keep running), release the lock, flush the log; idempotent */
  stop(): Promise<void>;
}

/** mpvirtd.conf's `*_uri` settings, by driver */
function secondaryUris(c: DaemonConfig): SecondaryUris {
  return {
    ...(c.networkUri !== undefined && { network: c.networkUri }),
    ...(c.nodedevUri !== undefined && { nodedev: c.nodedevUri }),
    ...(c.nwfilterUri !== undefined && { nwfilter: c.nwfilterUri }),
    ...(c.secretUri !== undefined && { secret: c.secretUri }),
    ...(c.interfaceUri !== undefined && { interface: c.interfaceUri }),
  };
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const paths = resolveDaemonPaths(opts, opts.env);
  const config = await readDaemonConfig(paths.configFile, paths.configFileExplicit);
  // before the lock and the driver: a refused drop-in mode leaves nothing behind
  const dropIn = opts.dropIn ?? config.dropIn ?? false;
  if (!dropIn) refuseStrayDropInSockets(opts.activatedSockets);
  const extraSockets = dropIn ? await prepareDropIn(paths.mode, opts.activatedSockets) : [];
  const level = normalizeLogLevel(opts.logLevel ?? config.logLevel ?? 'info');
  if (!level) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unknown log level '${opts.logLevel}'`);
  const dest = opts.logDestination;
  const logger = pino(
    {
      name: 'mpvirtd',
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['password', 'secret', 'token', '*.password', '*.secret', '*.token', 'auth.*'], censor: '[REDACTED]' },
    },
    typeof dest === 'object' ? dest : pino.destination({ dest: dest ?? 2, sync: true }),
  );

  const socketDir = dirname(paths.socket);
  const dirs: Array<[string, number]> = [
    [paths.configDir, 0o700], [paths.stateDir, 0o700], [paths.logDir, 0o700],
    [socketDir, paths.mode === 'system' ? 0o755 : 0o700],
  ];
  for (const [dir, mode] of dirs) {
    try {
      mkdirSync(dir, { recursive: true, mode });
    } catch (e) {
      throw failed(`cannot create directory '${dir}'`, e);
    }
  }
  const release = acquireLock(paths.lockFile, paths.stateDir);

  const log: Logger = {
    debug: (o, m) => logger.debug(o, m),
    info: (o, m) => logger.info(o, m),
    warn: (o, m) => logger.warn(o, m),
    error: (o, m) => logger.error(o, m),
  };
  const tuning: Partial<DriverTuning> = {
    ...(config.remoteHeartbeatMs !== undefined && { heartbeatMs: config.remoteHeartbeatMs }),
    ...(config.remoteHangDeadlineMs !== undefined && { hangDeadlineMs: config.remoteHangDeadlineMs }),
    ...(config.remoteRestartLimit !== undefined && { restartLimit: config.remoteRestartLimit }),
    ...(config.remoteRestartWindowMs !== undefined && { restartWindowMs: config.remoteRestartWindowMs }),
    ...(config.jobTimeoutMs !== undefined && { jobTimeoutMs: config.jobTimeoutMs }),
    ...(config.logLimitBytes !== undefined && { logLimitBytes: config.logLimitBytes }),
    ...opts.driverTuning,
  };
  const driver = new QemuDriver({
    configDir: paths.configDir,
    stateDir: paths.stateDir,
    logDir: paths.logDir,
    capsCacheDir: paths.capsCacheDir,
    ...(opts.defaultEmulator !== undefined && { defaultEmulator: opts.defaultEmulator }),
    ...(config.autoIsolate !== undefined && { autoIsolate: config.autoIsolate }),
    ...(config.autoIsolateOnCrash !== undefined && { autoIsolateOnCrash: config.autoIsolateOnCrash }),
    ...(config.jailIds !== undefined && { jailIds: config.jailIds }),
    tuning,
    log,
  });
  const storage = new StorageDriver({ configDir: paths.storageConfigDir, stateDir: paths.storageStateDir, log });
  // volume disks resolve through the storage driver: its pools (autostart ones started) come
  // first, so an autostarted domain on a volume finds it, as libvirt orders its drivers
  driver.volumes = (pool, volume) => storage.resolveDiskVolume(pool, volume);
  // <interface type='network'> gets a port on the host's network at start, as in libvirt
  const networks = hostNetworkPorts(secondaryUris(config));
  driver.networks = networks;
  try {
    await storage.init();
    await driver.init();
  } catch (e) {
    await driver.detach().catch(() => {});
    release();
    throw e;
  }

  // The RPC server listens once the driver is ready, so the first call sees every domain.
  let server: RpcServer;
  try {
    const activated = opts.activatedSockets;
    server = await startRpcServer({
      driver, storage, secondary: hostSecondaryDrivers(secondaryUris(config), undefined, [paths.socket, ...(paths.socketRo !== undefined ? [paths.socketRo] : []), ...extraSockets.map((x) => x.path)]), socketPath: paths.socket, ...(paths.socketRo !== undefined && { socketRoPath: paths.socketRo }), log,
      ...(activated && { socketFd: activated.rw, ...(activated.ro !== undefined && { socketRoFd: activated.ro }) }),
      ...(extraSockets.length > 0 && { extraSockets }),
    });
  } catch (e) {
    await driver.detach().catch(() => {});
    release();
    throw e;
  }

  const checks: Array<() => boolean> = opts.isIdle ? [opts.isIdle] : [];
  // idle also means no client is connected (a session daemon exits after its last client)
  checks.push(() => server.clientCount() === 0);
  const idle = (): boolean =>
    driver.runningCount() === 0 && driver.domains.all().every((d) => d.jobs.holder === undefined) && checks.every((c) => c());
  let idleTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(idleTimer);
      const leftRunning = driver.runningCount();
      try {
        await server.close();
        await driver.detach();
        networks.close();
      } finally {
        release();
        logger.info({ leftRunning }, 'mpvirtd stopped');
        await new Promise<void>((r) => {
          const t = setTimeout(r, 1000);
          logger.flush(() => (clearTimeout(t), r()));
        });
      }
    })());

  const timeoutMs = (opts.timeout ?? 0) * 1000;
  if (timeoutMs > 0) {
    let idleSince = Date.now();
    idleTimer = setInterval(() => {
      if (!idle()) {
        idleSince = Date.now();
      } else if (Date.now() - idleSince >= timeoutMs) {
        clearInterval(idleTimer);
        logger.info({ timeout: opts.timeout }, 'idle timeout reached');
        if (opts.onIdleTimeout) opts.onIdleTimeout();
        else void stop();
      }
    }, Math.min(1000, Math.max(50, timeoutMs / 4)));
    idleTimer.unref();
  }

  return { driver, storage, paths, config, dropInSockets: extraSockets.map((s) => s.path), logger, stop, addIdleCheck: (c) => void checks.push(c) };
}
