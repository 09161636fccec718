/**
 * Drop-in mode (`drop_in = 1` / `--drop-in`, docs/tools.md "Drop-in mode"): on a host without
 * libvirt's QEMU daemon, the system mpvirtd also listens where libvirt's client library looks for
 * plain `qemu:///system`, because virtinst-based tools (virt-manager) treat any URI with a
 * transport (`qemu+unix://…?socket=`) as remote and refuse a local console for it.
 *
 * Where libvirt 9.0's client looks (src/remote/remote_sockets.c, remoteGetUNIXSocket): in legacy
 * mode at libvirtd's `/var/run/libvirt/libvirt-sock` (`-ro` for read-only), in direct mode at
 * `/var/run/libvirt/virtqemud-sock` (`-ro`); in auto mode, the default when libvirt.conf sets no
 * `remote_mode`, at the direct socket if that file exists, else the legacy one if that exists,
 * else at the build's default (Debian builds `remote_default_mode=legacy`). /var/run is /run.
 * Answering at all four makes every mode reach us; auto picks the direct socket.
 *
 * Refused, before anything is bound, when libvirt's daemon could take those paths: its binary is
 * installed, or something accepts connections on one of them. A socket file nobody accepts on is
 * stale and replaced, as libvirt's daemons do.
 */
import { statSync } from 'node:fs';
import { MpvirtError } from '../errors.js';
import { refuseLiveSocket, type ExtraSocket } from '../rpc/server.js';
import type { ActivatedSockets, DropInFdName } from './socket-activation.js';

export interface DropInSocket {
  path: string;
  readOnly: boolean;
  /** libvirt's socket unit for this path, the fd name under socket activation */
  fdName: DropInFdName;
}

export const DROP_IN_SOCKETS: readonly DropInSocket[] = [
  { path: '/run/libvirt/libvirt-sock', readOnly: false, fdName: 'libvirtd.socket' },
  { path: '/run/libvirt/libvirt-sock-ro', readOnly: true, fdName: 'libvirtd-ro.socket' },
  { path: '/run/libvirt/virtqemud-sock', readOnly: false, fdName: 'virtqemud.socket' },
  { path: '/run/libvirt/virtqemud-sock-ro', readOnly: true, fdName: 'virtqemud-ro.socket' },
];

/**
 * libvirt's daemons that serve qemu:///system, at Debian's SBINDIR (where the client autostarts
 * them from and where libvirt's units run them). Debian 12 ships only libvirtd (package
 * libvirt-daemon); virtqemud is other distributions' modular daemon.
 */
export const LIBVIRT_QEMU_DAEMONS: readonly string[] = ['/usr/sbin/libvirtd', '/usr/sbin/virtqemud'];

/**
 * "Installed" means runnable: the path, symlinks followed, is a regular file with an execute bit
 * (libvirt's virFileIsExecutable). Anything there that could not be run — a dangling link, a
 * file without execute bits, a device node bound over it — cannot start a daemon and does not count.
 */
export function installedLibvirtDaemon(candidates: readonly string[] = LIBVIRT_QEMU_DAEMONS): string | undefined {
  return candidates.find((p) => {
    try {
      const st = statSync(p);
      return st.isFile() && (st.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

/**
 * The checks, in the order a user can act on them, and the sockets to serve (with the fds systemd
 * handed over for some of them). Throws a coded MpvirtError naming what is in the way.
 */
export async function prepareDropIn(mode: 'system' | 'session', activated: ActivatedSockets | undefined): Promise<ExtraSocket[]> {
  if (mode !== 'system') {
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', 'drop-in mode answers qemu:///system: it needs the system instance (--system)');
  }
  const daemon = installedLibvirtDaemon();
  if (daemon) {
    throw new MpvirtError('VIR_ERR_OPERATION_INVALID',
      `drop-in mode refused: libvirt's QEMU daemon is installed (${daemon}); plain qemu:///system belongs to it. ` +
      'Use mpqemu:///system or qemu+unix:///system?socket=/run/libvirt/virtmpqemud-sock, or remove it (Debian: libvirt-daemon)');
  }
  const sockets = DROP_IN_SOCKETS.map((s) => ({ path: s.path, readOnly: s.readOnly, ...(activated?.dropIn?.[s.fdName] !== undefined && { fd: activated.dropIn[s.fdName] }) }));
  for (const s of sockets) {
    if (s.fd !== undefined) continue; // systemd holds it for us
    try {
      await refuseLiveSocket(s.path);
    } catch (e) {
      if (!(e instanceof MpvirtError)) throw e;
      throw new MpvirtError(e.code, `drop-in mode refused: ${e.detail}`, { cause: e });
    }
  }
  return sockets;
}

/** Drop-in sockets systemd handed over to a daemon not in drop-in mode: a unit set up for the wrong mode. */
export function refuseStrayDropInSockets(activated: ActivatedSockets | undefined): void {
  const names = Object.keys(activated?.dropIn ?? {});
  if (names.length > 0) {
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED',
      `socket activation handed over ${names.join(', ')}, but drop-in mode is off (drop_in = 1 in mpvirtd.conf, or --drop-in)`);
  }
}
