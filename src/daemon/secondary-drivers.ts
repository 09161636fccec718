/**
 * Where mpvirtd sends network, node device, nwfilter, secret and interface calls: the host's
 * libvirt daemons, reached through the binding as libvirt's own hypervisor daemons reach them in
 * modular mode (remote_daemon_dispatch.c): `network:///system`, `nodedev:///system`, … for a
 * root daemon, `…:///session` otherwise (no nwfilter there: it is root-only), each overridable
 * in mpvirtd.conf (`network_uri`, `nodedev_uri`, `nwfilter_uri`, `secret_uri`, `interface_uri`).
 *
 * virtqemud reaches a secondary daemon in libvirt's direct mode (virtnetworkd-sock, …); a client
 * outside a daemon, as mpvirtd is to libvirt, picks the socket that exists (direct, else the
 * monolithic libvirtd's) and, when neither does, the legacy one. So that a host without libvirt
 * fails as virtqemud fails there ("Failed to connect socket to '/var/run/libvirt/virtnetworkd-sock'
 * …"), a default system URI asks for direct mode when no socket exists at all — and also when
 * the only socket there is mpvirtd's own: in drop-in mode mpvirtd answers at libvirtd's legacy
 * socket, and a network call forwarded there would be a blocking call into itself (virt-manager
 * hung at its first network listing so).
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MpvirtError } from '../errors.js';
import { connect } from '../libvirt/connection.js';
import type { SecondaryDriverOpener, SecondaryKind } from '../rpc/procedures/index.js';

export type SecondaryUris = Partial<Record<SecondaryKind, string>>;

/** libvirt's socket directory for system daemons (RUNSTATEDIR/libvirt as Debian builds it) */
const SYSTEM_SOCKET_DIR = '/var/run/libvirt';
const DAEMON: Record<SecondaryKind, string> = { network: 'virtnetworkd', nodedev: 'virtnodedevd', nwfilter: 'virtnwfilterd', secret: 'virtsecretd', interface: 'virtinterfaced' };
const VIR_CONNECT_RO = 1;

/** libvirt's choice of URI per driver for a hypervisor daemon running as `uid` (undefined: none). */
export function defaultSecondaryUri(kind: SecondaryKind, uid: number): string | undefined {
  if (uid === 0) return `${kind}:///system`;
  return kind === 'nwfilter' ? undefined : `${kind}:///session`;
}

/**
 * The URI to open: a configured one as it is; a default system one in direct mode when neither
 * the driver's own daemon nor libvirtd listens (libvirt's remoteGetUNIXSocket would fall back to
 * libvirtd's socket, virtqemud to the driver's).
 */
export function secondaryUriFor(kind: SecondaryKind, readOnly: boolean, configured: SecondaryUris, uid: number, exists: (p: string) => boolean = existsSync, own: readonly string[] = []): string | undefined {
  const set = configured[kind];
  if (set !== undefined) return set;
  const uri = defaultSecondaryUri(kind, uid);
  if (uri === undefined || uid !== 0) return uri;
  const suffix = readOnly ? '-sock-ro' : '-sock';
  const direct = `${SYSTEM_SOCKET_DIR}/${DAEMON[kind]}${suffix}`;
  const legacy = `${SYSTEM_SOCKET_DIR}/libvirt${suffix}`;
  const ours = new Set(own.map(canonical));
  const legacyElsewhere = exists(legacy) && !ours.has(canonical(legacy));
  return exists(direct) || legacyElsewhere ? uri : `${uri}?mode=direct`;
}

/** A socket path with its directory's symlinks resolved (/var/run is /run on Debian). */
function canonical(p: string): string {
  try {
    return join(realpathSync(dirname(p)), basename(p));
  } catch {
    return p;
  }
}

/**
 * The opener the RPC server uses: one binding connection per client and driver (read-only if the
 * client is); `ownSockets` are the daemon's own, never forwarded to.
 */
export function hostSecondaryDrivers(configured: SecondaryUris, uid = process.getuid?.() ?? 0, ownSockets: readonly string[] = []): SecondaryDriverOpener {
  return {
    open(kind, readOnly) {
      const uri = secondaryUriFor(kind, readOnly, configured, uid, existsSync, ownSockets);
      // remoteOpenConn's answer when a hypervisor daemon has no URI for the driver
      if (uri === undefined) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'connection not open', { domain: 'RPC' });
      return connect(uri, { flags: readOnly ? VIR_CONNECT_RO : 0 });
    },
  };
}
