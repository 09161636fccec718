// The demo's private world: one temporary directory that holds everything (a session-mode
// mpvirtd's XDG directories, sockets, logs and QEMU state; the guest's disks and XML), the
// processes started for it, and the single way out, taken on success, on error and on Ctrl-C
// alike: every process still alive is killed by its pid and the directory is removed.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Every process that refers to `dir`: by its command line (the main QEMU's initrd), its working
 * directory (mpvirsh) or an open file (the remote QEMU gets its disks and sockets as file
 * descriptors, so its command line names none of them). That also finds a QEMU whose daemon died.
 */
export function processesUnder(dir) {
  const inside = (path) => path === dir || path.startsWith(`${dir}/`);
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0').filter(Boolean);
      if (argv.length === 0) continue; // a zombie (or a kernel thread): nothing left to kill
      const refers = argv.some((a) => a.includes(dir)) || inside(readlinkSync(`/proc/${name}/cwd`)) ||
        readdirSync(`/proc/${name}/fd`).some((fd) => {
          try {
            return inside(readlinkSync(`/proc/${name}/fd/${fd}`));
          } catch {
            return false;
          }
        });
      if (refers) found.push({ pid: Number(name), argv });
    } catch {
      /* it exited while we looked */
    }
  }
  return found;
}

export class DemoSession {
  constructor(root, out) {
    this.root = root;
    this.out = out;
    this.dir = mkdtempSync(join(tmpdir(), 'mpvirt-demo-'));
    const xdg = (name) => join(this.dir, name);
    // session mode finds everything through the XDG variables: all of it lands in this directory
    this.xdg = { XDG_RUNTIME_DIR: xdg('run'), XDG_CONFIG_HOME: xdg('config'), XDG_STATE_HOME: xdg('state'), XDG_CACHE_HOME: xdg('cache') };
    mkdirSync(this.xdg.XDG_RUNTIME_DIR, { mode: 0o700 });
    this.socket = join(this.xdg.XDG_RUNTIME_DIR, 'libvirt', 'virtmpqemud-sock');
    this.uri = `mpqemu+unix:///session?socket=${this.socket}`;
    /** mpvirsh processes still running (a pid is forgotten when it exits: pids get reused) */
    this.clients = new Set();
    this.daemon = undefined;
    this.daemonLog = '';
  }

  /** The environment of the daemon and of every client: the XDG directories and the URI. */
  env() {
    return { ...process.env, ...this.xdg, LIBVIRT_DEFAULT_URI: this.uri, LC_ALL: 'C' };
  }

  /** `mpvirtd --session`, in its own process group (Ctrl-C reaches the demo, which cleans up). */
  async startDaemon() {
    const cli = join(this.root, 'dist', 'cli', 'mpvirtd.js');
    const child = spawn(process.execPath, [cli, '--session'], { env: this.env(), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.daemon = child;
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    this.daemonExit = exited;
    const ready = new Promise((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (s) => {
        // the daemon logs one JSON line per event; keep the tail for an error report
        this.daemonLog = (this.daemonLog + s).slice(-32 * 1024);
        if (this.daemonLog.includes('"msg":"mpvirtd ready"')) resolve(true);
      });
    });
    const first = await Promise.race([ready, exited, sleep(20_000).then(() => 'timeout')]);
    if (first !== true) throw new Error(`mpvirtd did not become ready (${JSON.stringify(first)}):\n${this.daemonLog}`);
    return child.pid;
  }

  /**
   * Runs `mpvirsh ARGS` as a user would type it (printed first, like a transcript), in the session
   * directory, with no stdin; prints what it prints; rejects unless it exits 0.
   */
  mpvirsh(args, { show = (text) => text } = {}) {
    this.out.command(`mpvirsh ${args.join(' ')}`);
    const cli = join(this.root, 'dist', 'cli', 'mpvirsh.js');
    const child = spawn(process.execPath, [cli, ...args], { cwd: this.dir, env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.clients.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => {
        this.clients.delete(child);
        this.out.output(show(stdout));
        if (stderr) this.out.output(stderr);
        if (code === 0) resolve(stdout);
        else reject(new Error(`mpvirsh ${args.join(' ')} exited ${code}`));
      });
    });
  }

  /**
   * Stops everything: the daemon with SIGTERM (it removes its sockets), then SIGKILL by pid for
   * whatever is still alive (the daemon, a QEMU left by a failure, a hanging mpvirsh), then the
   * directory. Returns the pids that had to be killed, and any that survived even SIGKILL.
   */
  async cleanup() {
    const running = (child) => child.exitCode === null && child.signalCode === null;
    const daemon = this.daemon && running(this.daemon) ? this.daemon : undefined;
    if (daemon) {
      process.kill(daemon.pid, 'SIGTERM');
      await Promise.race([this.daemonExit, sleep(5000)]);
    }
    // only processes known to be ours right now: a child not yet reaped, or a command line naming
    // this directory (a pid remembered from earlier may belong to someone else by now)
    const ours = [...processesUnder(this.dir).map((p) => p.pid), ...[...this.clients].filter(running).map((c) => c.pid)];
    if (daemon && running(daemon)) ours.push(daemon.pid);
    for (const pid of ours) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    const end = Date.now() + 5000;
    while ((processesUnder(this.dir).length > 0 || (daemon && running(daemon))) && Date.now() < end) await sleep(20);
    const remaining = processesUnder(this.dir).map((p) => p.pid);
    if (daemon && running(daemon)) remaining.push(daemon.pid);
    rmSync(this.dir, { recursive: true, force: true });
    return { killed: ours, remaining };
  }
}
