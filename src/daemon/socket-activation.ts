/**
 * systemd socket activation (sd_listen_fds(3)): the listening sockets systemd hands over as fds
 * 3.. with LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. Read once, and the variables are removed so
 * that no child (a QEMU) sees them, as sd_listen_fds(1) does. Names are the socket units'
 * (FileDescriptorName= defaults to the unit name): `virtmpqemud.socket` is read-write,
 * `virtmpqemud-ro.socket` read-only; unnamed, the first is read-write and the second read-only.
 * Drop-in mode's sockets (drop-in.ts) carry the names of libvirt's own units for those paths
 * (`libvirtd.socket`, `libvirtd-ro.socket`, `virtqemud.socket`, `virtqemud-ro.socket`), set by
 * FileDescriptorName= in systemd/virtmpqemud-{libvirtd,virtqemud}{,-ro}.socket.
 */
import { MpvirtError } from '../errors.js';

/** the names of libvirt's socket units for the paths drop-in mode answers at */
export const DROP_IN_FD_NAMES = ['libvirtd.socket', 'libvirtd-ro.socket', 'virtqemud.socket', 'virtqemud-ro.socket'] as const;
export type DropInFdName = (typeof DROP_IN_FD_NAMES)[number];

export interface ActivatedSockets {
  rw: number;
  ro?: number;
  /** drop-in mode's sockets that systemd holds, by name */
  dropIn?: Partial<Record<DropInFdName, number>>;
}

const FIRST_FD = 3;
const isDropInName = (name: string): name is DropInFdName => (DROP_IN_FD_NAMES as readonly string[]).includes(name);

export function takeActivatedSockets(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ActivatedSockets | undefined {
  const listenPid = env.LISTEN_PID;
  const count = env.LISTEN_FDS;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (listenPid === undefined || count === undefined || Number(listenPid) !== pid) return undefined;
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1) return undefined;
  const all = Array.from({ length: n }, (_, i) => ({ fd: FIRST_FD + i, name: names[i] ?? '' }));
  const dropIn: Partial<Record<DropInFdName, number>> = {};
  for (const f of all) if (isDropInName(f.name)) dropIn[f.name] = f.fd;
  const fds = all.filter((f) => !isDropInName(f.name));
  if (fds.length > 2) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `socket activation handed over ${n} sockets; mpvirtd takes a read-write and a read-only one (and drop-in mode's, named ${DROP_IN_FD_NAMES.join(', ')})`);
  const named = (suffix: string): number | undefined => fds.find((f) => f.name.endsWith(suffix))?.fd;
  const ro = named('-ro.socket') ?? (fds.length === 2 && !fds.some((f) => f.name.endsWith('.socket')) ? fds[1]!.fd : undefined);
  const rw = fds.find((f) => f.fd !== ro)?.fd;
  if (rw === undefined) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', 'socket activation handed over no read-write socket');
  return { rw, ...(ro !== undefined && { ro }), ...(Object.keys(dropIn).length > 0 && { dropIn }) };
}
