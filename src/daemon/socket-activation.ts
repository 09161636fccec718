/**
 * systemd socket activation (sd_listen_fds(3)): the listening sockets systemd hands over as fds
 * 3.. with LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. Read once, and the variables are removed so
 * that no child (a QEMU) sees them, as sd_listen_fds(1) does. Names are the socket units'
 * (FileDescriptorName= defaults to the unit name): `virtmpqemud.socket` is read-write,
 * `virtmpqemud-ro.socket` read-only; unnamed, the first is read-write and the second read-only.
 */
import { MpvirtError } from '../errors.js';

export interface ActivatedSockets { rw: number; ro?: number }

const FIRST_FD = 3;

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
  if (n > 2) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `socket activation handed over ${n} sockets; mpvirtd takes a read-write and a read-only one`);
  const fds = Array.from({ length: n }, (_, i) => ({ fd: FIRST_FD + i, name: names[i] ?? '' }));
  const named = (suffix: string): number | undefined => fds.find((f) => f.name.endsWith(suffix))?.fd;
  const ro = named('-ro.socket') ?? (fds.length === 2 && !fds.some((f) => f.name.endsWith('.socket')) ? FIRST_FD + 1 : undefined);
  const rw = fds.find((f) => f.fd !== ro)?.fd;
  if (rw === undefined) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', 'socket activation handed over no read-write socket');
  return { rw, ...(ro !== undefined && { ro }) };
}
