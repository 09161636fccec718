/**
 * libvirt's own daemon, started privately for a side-by-side comparison in the same run
 * (../shared/tools/private-libvirtd.sh: its own mount namespace, nothing outside its
 * directory written). A bash child sources the script, starts the daemon, prints its URI and
 * waits on stdin; closing stdin (stop(), or this process dying) stops the daemon and
 * everything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../domainxml/helpers.js';

export const PRIVATE_LIBVIRTD_SCRIPT = join(projectRoot, '..', 'shared', 'tools', 'private-libvirtd.sh');

export interface PrivateLibvirtd {
  /** qemu+unix:///system?socket=… */
  uri: string;
  /** the daemon's read-write socket, seen from outside its namespace */
  socket: string;
  /** kvm or qemu: what the daemon reports usable */
  domType: string;
  stop(): Promise<void>;
}

/** Needs root and libvirt-daemon-system (npm test installs it). `dir` must not exist or be empty. */
export interface PrivateLibvirtdOptions {
  timeoutMs?: number;
  /** lines appended to its qemu.conf (LIBVIRTD_QEMU_CONF_EXTRA) */
  qemuConf?: string[];
}

export function startPrivateLibvirtd(dir: string, opts: PrivateLibvirtdOptions = {}): Promise<PrivateLibvirtd> {
  const timeoutMs = opts.timeoutMs ?? 240_000;
  if (!existsSync(PRIVATE_LIBVIRTD_SCRIPT)) throw new Error(`libvirt's reference daemon needs ${PRIVATE_LIBVIRTD_SCRIPT}`);
  if (!existsSync('/usr/sbin/libvirtd')) throw new Error('libvirt\'s reference daemon needs the Debian package libvirt-daemon-system');
  const script = [
    'set -u',
    `. ${JSON.stringify(PRIVATE_LIBVIRTD_SCRIPT)}`,
    `libvirtd_start ${JSON.stringify(dir)} >&2 || exit 1`,
    'printf "READY %s %s\\n" "$LVDOMTYPE" "$LVURI"',
    'read -r _ || true',
    'libvirtd_stop >&2',
  ].join('\n');
  const env = { ...process.env, ...(opts.qemuConf ? { LIBVIRTD_QEMU_CONF_EXTRA: opts.qemuConf.join('\n') } : {}) };
  const child: ChildProcess = spawn('/bin/bash', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-8192)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.stdin!.end();
      reject(new Error(`private libvirtd did not come up in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^READY (\S+) (\S+)\n/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const uri = m[2]!;
      resolve({
        uri,
        socket: decodeURIComponent(/socket=([^&]+)/.exec(uri)![1]!),
        domType: m[1]!,
        stop: async () => {
          child.stdin!.end();
          await exited;
        },
      });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`private libvirtd exited before it was ready: ${stderr}`));
    });
  });
}
