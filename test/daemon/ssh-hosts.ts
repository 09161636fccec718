/**
 * Several libvirt "hosts" on one machine, for the ssh transport tests. Each host is a private
 * mount namespace with a temp directory bind-mounted over /run, in which its own mpvirtd holds
 * the standard socket /run/libvirt/virtmpqemud-sock and its own sshd (127.0.0.1 only, a free
 * port, its own host key, one client key) runs; virt-ssh-helper, started by that sshd for a
 * session, therefore finds that host's daemon and no other. The client side (SshClient) keeps
 * its key, known_hosts and ssh options in a temp directory: neither the machine's sshd
 * configuration nor root's ~/.ssh is read or written.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { MpvirtdProcess, type Exit } from './mpvirtd-process.js';

export const SSHD = '/usr/sbin/sshd';

function keygen(file: string, comment: string): void {
  execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
}

/** A port nobody listens on at this moment (sshd may still lose it to a race: start() retries). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The local addresses of every TCP socket listening on `port` (any network namespace view we share). */
export function listeningAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue; // 0A: LISTEN
      const [addr, p] = f[1]!.split(':') as [string, string];
      if (parseInt(p, 16) !== port) continue;
      // /proc/net/tcp prints IPv4 addresses as one little-endian word
      out.push(addr.length === 8 ? (addr.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join('.') : `[${addr}]`);
    }
  }
  return out;
}

/** Pids of every process whose mount namespace is `ns` (a `/proc/PID/ns/mnt` link text). */
export function processesInNamespace(ns: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/mnt`) === ns) out.push(Number(e));
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return out;
}

/** The ssh client every host is reached with: libvirt's `command=` runs `command`, a wrapper of ssh. */
export class SshClient {
  readonly key: string;
  readonly knownHosts: string;
  readonly command: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.key = join(dir, 'id_ed25519');
    keygen(this.key, 'mpvirt-test-client');
    this.knownHosts = join(dir, 'known_hosts');
    writeFileSync(this.knownHosts, '');
    this.command = join(dir, 'ssh');
    // -F /dev/null: no ~/.ssh/config or /etc/ssh/ssh_config, and ssh then does not create ~/.ssh.
    // The host keys are checked against our own known_hosts (libvirt's known_hosts= parameter is
    // for its libssh/libssh2 transports only; its ssh transport just runs this command).
    writeFileSync(this.command, [
      '#!/bin/sh',
      `exec /usr/bin/ssh -F /dev/null -o UserKnownHostsFile=${this.knownHosts} -o GlobalKnownHostsFile=/dev/null \\`,
      '  -o IdentitiesOnly=yes -o BatchMode=yes "$@"',
      '',
    ].join('\n'), { mode: 0o755 });
  }

  trust(port: number, hostKeyPub: string): void {
    appendFileSync(this.knownHosts, `[127.0.0.1]:${port} ${readFileSync(hostKeyPub, 'utf8').trim()}\n`);
  }

  /** `driver` is the URI scheme's driver part, which virt-ssh-helper on the host is told to connect to. */
  uri(driver: 'mpqemu' | 'qemu', port: number): string {
    return `${driver}+ssh://root@127.0.0.1:${port}/system?keyfile=${this.key}&command=${this.command}`;
  }
}

export interface SshHostOptions {
  name: string;
  /** the host's own directory (created; its run/ becomes the namespace's /run) */
  dir: string;
  /** mpvirtd's CLI (buildMpvirtd) */
  cli: string;
  /** mpvirtd.conf's jail_ids: hosts given disjoint ranges never run QEMU as the same uid */
  jailIds: readonly [number, number];
  client: SshClient;
  /**
   * mpvirtd --drop-in: also libvirt's own qemu:///system sockets, which virt-ssh-helper looks
   * for when the client's URI is qemu+ssh. libvirt's daemon is installed on this machine (the
   * reference tests need it), so its binaries are hidden inside the namespace, as drop-in mode
   * refuses to run beside them.
   */
  dropIn?: boolean;
}

export class SshHost {
  readonly name: string;
  readonly dir: string;
  readonly stateDir: string;
  daemon: MpvirtdProcess | undefined;
  sshd: ChildProcess | undefined;
  sshdStderr = '';
  sshdExit: Promise<Exit> | undefined;
  port = 0;
  /** the namespace's `/proc/PID/ns/mnt` text, for the leftover checks */
  mntNs = '';

  constructor(readonly opts: SshHostOptions) {
    this.name = opts.name;
    this.dir = opts.dir;
    this.stateDir = join(this.dir, 'state');
  }

  uri(driver: 'mpqemu' | 'qemu' = 'mpqemu'): string {
    return this.opts.client.uri(driver, this.port);
  }

  async start(): Promise<void> {
    const { dir } = this;
    // passable by the jailed QEMUs, as /run is in production
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o711);
    // neither /run/libvirt nor sshd's privilege separation directory /run/sshd exists on the
    // machine: a whole private /run gives both without creating anything outside the temp dir
    for (const d of ['run/libvirt', 'run/sshd', 'etc', 'state', 'log']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
    chmodSync(join(dir, 'run'), 0o755);
    const conf = join(dir, 'mpvirtd.conf');
    writeFileSync(conf, `jail_ids = [${this.opts.jailIds[0]}, ${this.opts.jailIds[1]}]\n`);
    // unshare and bash exec (no fork), so the spawned pid is mpvirtd's, which holds the namespace
    const blank = join(dir, 'blank'); // not executable: drop-in mode does not count it as a daemon
    writeFileSync(blank, '', { mode: 0o644 });
    const hide = this.opts.dropIn
      ? 'for b in /usr/sbin/libvirtd /usr/sbin/virtqemud; do [ ! -e "$b" ] || mount --bind -- "$2" "$b" || exit 1; done && '
      : '';
    const launcher = ['/usr/bin/unshare', '-m', '--propagation', 'private', '--',
      '/bin/bash', '-c', `mount --bind -- "$1" /run && ${hide}shift 2 && exec "$@"`, 'bash', join(dir, 'run'), blank];
    this.daemon = new MpvirtdProcess(this.opts.cli, ['--system', '--config', conf, '--config-dir', join(dir, 'etc'),
      '--state-dir', this.stateDir, '--log-dir', join(dir, 'log'), ...(this.opts.dropIn ? ['--drop-in'] : [])], {}, launcher);
    const ready = await this.daemon.waitForLog('mpvirtd ready', 60_000);
    if (ready.socket !== '/run/libvirt/virtmpqemud-sock') throw new Error(`${this.name}: mpvirtd on ${String(ready.socket)}`);
    this.mntNs = readlinkSync(`/proc/${this.daemon.pid}/ns/mnt`);
    if (this.mntNs === readlinkSync('/proc/self/ns/mnt')) throw new Error(`${this.name}: mpvirtd is not in a namespace of its own`);

    const hostKey = join(dir, 'ssh_host_ed25519_key');
    keygen(hostKey, `mpvirt-test-${this.name}`);
    const authorized = join(dir, 'authorized_keys');
    writeFileSync(authorized, readFileSync(`${this.opts.client.key}.pub`));
    for (let attempt = 0; ; attempt++) {
      this.port = await freePort();
      const cfg = join(dir, 'sshd_config');
      writeFileSync(cfg, [
        `Port ${this.port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorized}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        // the temp dir is not root-only all the way up, which StrictModes would refuse
        'StrictModes no',
        'UsePAM no',
        'PrintMotd no',
        'PrintLastLog no',
        `PidFile ${join(dir, 'sshd.pid')}`,
        '',
      ].join('\n'));
      if (await this.startSshd(cfg)) break;
      if (attempt === 2 || !/Address already in use/.test(this.sshdStderr)) throw new Error(`${this.name}: sshd did not start:\n${this.sshdStderr}`);
    }
    this.opts.client.trust(this.port, `${hostKey}.pub`);
  }

  /** sshd in the host's namespace (nsenter execs it: its pid is the one spawned); false if it exited. */
  private async startSshd(cfg: string): Promise<boolean> {
    this.sshdStderr = '';
    const child = spawn('/usr/bin/nsenter', ['-t', String(this.daemon!.pid), '-m', '--', SSHD, '-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (this.sshdStderr += s));
    let exited: Exit | undefined;
    const exit = new Promise<Exit>((res) => child.on('exit', (code, signal) => res((exited = { code, signal }))));
    const end = Date.now() + 15_000;
    while (!exited && !this.sshdStderr.includes(`Server listening on 127.0.0.1 port ${this.port}.`)) {
      if (Date.now() > end) throw new Error(`${this.name}: sshd not listening within 15 s:\n${this.sshdStderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    if (exited) return false;
    this.sshd = child;
    this.sshdExit = exit;
    return true;
  }

  get sshdPid(): number {
    return this.sshd?.pid ?? 0;
  }

  /** SIGTERM to mpvirtd (which leaves domains running: destroy them first) and to sshd, by pid. */
  async stop(): Promise<{ daemon: Exit | undefined; sshd: Exit | undefined }> {
    const out: { daemon: Exit | undefined; sshd: Exit | undefined } = { daemon: undefined, sshd: undefined };
    if (this.daemon && !this.daemon.exit) {
      process.kill(this.daemon.pid, 'SIGTERM');
      out.daemon = await this.daemon.exitWithin(20_000);
    }
    if (this.sshd && this.sshd.exitCode === null && this.sshd.signalCode === null) {
      process.kill(this.sshdPid, 'SIGTERM');
      let t: NodeJS.Timeout | undefined;
      out.sshd = await Promise.race([this.sshdExit!, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), 10_000)))]);
      clearTimeout(t);
    }
    return out;
  }

  /** afterAll: SIGKILL, by pid, whatever of ours still runs. */
  async kill(): Promise<void> {
    await this.daemon?.kill();
    if (this.sshd && this.sshd.exitCode === null && this.sshd.signalCode === null) {
      try {
        process.kill(this.sshdPid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await this.sshdExit;
    }
  }
}
