#!/usr/bin/env node
/**
 * mpvirtd: the mpvirt daemon, in the foreground. Starts the driver (reattaching
 * running domains) and the libvirt RPC server on its sockets, logs JSON lines to
 * stderr, and on SIGTERM/SIGINT closes its sockets, detaches and exits 0,
 * leaving every domain running.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Daemon } from '../daemon/daemon.js';

const USAGE = `Usage: mpvirtd [OPTION]...

The mpvirt daemon: manages multi-process QEMU domains for mpqemu:///system
(or mpqemu:///session). Runs in the foreground; SIGTERM leaves domains running.

  --system             system instance (default when run as root)
  --session            per-user instance (default otherwise)
  --socket PATH        read-write socket (default: /run/libvirt/virtmpqemud-sock,
                       session: $XDG_RUNTIME_DIR/libvirt/virtmpqemud-sock)
  --socket-ro PATH     read-only socket (system: /run/libvirt/virtmpqemud-sock-ro)
  --config-dir DIR     persistent definitions (/etc/mpvirt/qemu,
                       session: $XDG_CONFIG_HOME/mpvirt/qemu)
  --state-dir DIR      runtime state (/run/mpvirt/qemu,
                       session: $XDG_RUNTIME_DIR/mpvirt/qemu)
  --log-dir DIR        per-domain logs (/var/log/mpvirt/qemu,
                       session: $XDG_STATE_HOME/mpvirt/log/qemu)
  --config FILE        configuration file (/etc/mpvirt/mpvirtd.conf,
                       session: $XDG_CONFIG_HOME/mpvirt/mpvirtd.conf)
  --log-level LEVEL    trace, debug, info (default), warn, error, fatal, silent,
                       or libvirt's 1-4
  --timeout SECONDS    exit after SECONDS idle (never while a domain runs);
                       also --timeout=SECONDS; 0 means never
  --drop-in            drop-in mode (also drop_in = 1 in the configuration
                       file): on a host without libvirt's QEMU daemon, also
                       answer plain qemu:///system at libvirt's sockets
                       /run/libvirt/libvirt-sock (legacy mode) and
                       /run/libvirt/virtqemud-sock (direct mode), and their
                       -ro twins. System instance only. Refused if
                       /usr/sbin/libvirtd or /usr/sbin/virtqemud is installed
                       (an executable file) or anything accepts connections
                       on one of those paths
  -h, --help           show this help and exit
  -V, --version        show the version and exit

Clients: virsh -c mpqemu:///system (or mpqemu+unix:///system?socket=PATH for
--socket), python3-libvirt and any libvirt-based tool.

Installed as a service (npm install -g puts mpvirtd, virtmpqemud and mpvirsh on
PATH): copy virtmpqemud.service, virtmpqemud.socket and virtmpqemud-ro.socket
from the package's systemd/ directory to /etc/systemd/system, then
  systemctl daemon-reload && systemctl enable --now virtmpqemud.socket
systemd then starts mpvirtd on the first connection (socket activation:
LISTEN_FDS) and it exits after 120 idle seconds (--timeout 120). For drop-in
mode, also enable virtmpqemud-libvirtd.socket, virtmpqemud-libvirtd-ro.socket,
virtmpqemud-virtqemud.socket and virtmpqemud-virtqemud-ro.socket, and set
drop_in = 1 in /etc/mpvirt/mpvirtd.conf.
`;

const options = {
  system: { type: 'boolean' },
  session: { type: 'boolean' },
  socket: { type: 'string' },
  'socket-ro': { type: 'string' },
  'config-dir': { type: 'string' },
  'state-dir': { type: 'string' },
  'log-dir': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  timeout: { type: 'string' },
  'drop-in': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

function die(message: string, hint = false): never {
  process.stderr.write(`mpvirtd: ${message}${hint ? " (see 'mpvirtd --help')" : ''}\n`);
  process.exit(1);
}

function parse(): ReturnType<typeof parseArgs<{ options: typeof options }>>['values'] {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    const err = e as Error & { code?: string };
    const unknown = /^Unknown option '([^']+)'/.exec(err.message);
    if (unknown) die(`unrecognized option '${unknown[1]}'`, true);
    const missing = /^Option '(-\S*)[^']*' argument missing/.exec(err.message);
    if (missing) die(`option '${missing[1]}' requires an argument`, true);
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') die(`unexpected argument '${/'([^']*)'/.exec(err.message)?.[1] ?? ''}'`, true);
    die(err.message.split('\n')[0]!, true);
  }
}

const values = parse();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (values.version) {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stdout.write(`mpvirtd (mpvirt) ${pkg.version}\n`);
  process.exit(0);
}
if (values.system && values.session) die("options '--system' and '--session' are mutually exclusive", true);
let timeout = 0;
if (values.timeout !== undefined) {
  if (!/^\d+$/.test(values.timeout)) die(`invalid timeout '${values.timeout}': expected a number of seconds`, true);
  timeout = Number(values.timeout);
}
const mode = values.system ? 'system' : values.session ? 'session' : process.getuid?.() === 0 ? 'system' : 'session';

let daemon: Daemon | undefined;
let exiting = false;
let pendingSignal: NodeJS.Signals | undefined;
const keepAlive = setInterval(() => {}, 1 << 30); // nothing else holds the loop open without domains

async function shutdown(why: string): Promise<void> {
  if (exiting) return;
  exiting = true;
  const d = daemon!;
  d.logger.info({ why, running: d.driver.runningCount() }, 'mpvirtd shutting down');
  const guard = setTimeout(() => {
    process.stderr.write('mpvirtd: shutdown did not finish within 15 s\n');
    process.exit(1);
  }, 15_000);
  try {
    await d.stop();
  } catch (e) {
    process.stderr.write(`mpvirtd: ${(e as Error).message}\n`);
    process.exit(1);
  }
  clearTimeout(guard);
  clearInterval(keepAlive);
  process.exit(0);
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (daemon) void shutdown(sig);
    else pendingSignal = sig; // still starting: stop once started
  });
}
process.on('SIGHUP', () => daemon?.logger.info({ signal: 'SIGHUP' }, 'SIGHUP received; nothing to reload in this version'));

try {
  const { startDaemon } = await import('../daemon/daemon.js'); // --help and bad flags need none of it
  const { takeActivatedSockets } = await import('../daemon/socket-activation.js');
  const activatedSockets = takeActivatedSockets();
  daemon = await startDaemon({
    ...(activatedSockets && { activatedSockets }),
    mode,
    ...(values.socket !== undefined && { socket: values.socket }),
    ...(values['socket-ro'] !== undefined && { socketRo: values['socket-ro'] }),
    ...(values['config-dir'] !== undefined && { configDir: values['config-dir'] }),
    ...(values['state-dir'] !== undefined && { stateDir: values['state-dir'] }),
    ...(values['log-dir'] !== undefined && { logDir: values['log-dir'] }),
    ...(values.config !== undefined && { config: values.config }),
    ...(values['log-level'] !== undefined && { logLevel: values['log-level'] }),
    ...(values['drop-in'] === true && { dropIn: true }),
    timeout,
    onIdleTimeout: () => void shutdown('idle timeout'),
  });
} catch (e) {
  die(e instanceof Error ? e.message : String(e));
}

const { paths, driver } = daemon;
daemon.logger.info(
  {
    mode: paths.mode,
    socket: paths.socket,
    socketRo: paths.socketRo,
    ...(daemon.dropInSockets.length > 0 && { dropIn: daemon.dropInSockets }),
    configDir: paths.configDir,
    stateDir: paths.stateDir,
    logDir: paths.logDir,
    configFile: paths.configFile,
    capsCacheDir: paths.capsCacheDir,
    timeout,
    domains: driver.domains.all().length,
    running: driver.runningCount(),
  },
  'mpvirtd ready',
);
if (pendingSignal) void shutdown(pendingSignal);
