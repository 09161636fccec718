/**
 * The few file-descriptor operations Node does not offer, bound from libc with koffi:
 * socketpairs, sending fds with SCM_RIGHTS (QMP `add-fd` / `getfd`), pidfds, and
 * readiness watches on fds libuv does not own (pidfds, raw sockets).
 *
 * Layouts are Linux x86-64 / aarch64 (LP64, little-endian); see
 * /work/shared/notes/dependencies.md §3.
 */
import koffi from 'koffi';
import { chmodSync, unlinkSync } from 'node:fs';
import type net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { MpvirtError } from '../errors.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000; // EPIPE instead of a process-killing SIGPIPE
const F_DUPFD_CLOEXEC = 1030;
const F_SETPIPE_SZ = 1031;
const SYS_pidfd_open = 434;
const EINTR = 4;
const EAGAIN = 11;

interface Libc {
  socketpair: (domain: number, type: number, proto: number, sv: number[]) => number;
  socket: (domain: number, type: number, proto: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  listen: (fd: number, backlog: number) => number;
  sendmsg: (fd: number, msg: object, flags: number) => number;
  recvmsg: (fd: number, msg: object, flags: number) => number;
  send: (fd: number, buf: Buffer, len: number, flags: number) => number;
  close: (fd: number) => number;
  fcntl: (fd: number, cmd: number, ...varargs: unknown[]) => number;
  syscall: (nr: number, ...varargs: unknown[]) => number;
  mkfifo: (path: string, mode: number) => number;
  strerror: (errno: number) => string;
}

type PollHandle = ReturnType<typeof koffi.node.poll>;
type PollCallback = Parameters<typeof koffi.node.poll>[1]; // the last overload is (fd, callback)

let libc: Libc | undefined;

/** Loaded on first use, so importing this module costs nothing on hosts that never pass fds. */
function lib(): Libc {
  if (libc) return libc;
  const l = koffi.load('libc.so.6');
  // Anonymous structs: named ones are process-global in koffi and would clash with other modules.
  const IoVec = koffi.struct({ iov_base: 'void *', iov_len: 'size_t' });
  const MsgHdr = koffi.struct({
    msg_name: 'void *',
    msg_namelen: 'uint32_t',
    msg_iov: koffi.pointer(IoVec),
    msg_iovlen: 'size_t',
    msg_control: 'void *',
    msg_controllen: 'size_t',
    msg_flags: 'int',
  });
  libc = {
    socketpair: l.func('int socketpair(int, int, int, _Out_ int *sv)'),
    socket: l.func('int socket(int, int, int)'),
    bind: l.func('int bind(int, const void *addr, uint32_t len)'),
    listen: l.func('int listen(int, int)'),
    sendmsg: l.func('sendmsg', 'intptr_t', ['int', koffi.pointer(MsgHdr), 'int']),
    recvmsg: l.func('recvmsg', 'intptr_t', ['int', koffi.pointer(MsgHdr), 'int']),
    send: l.func('intptr_t send(int, const void *, size_t, int)'),
    close: l.func('int close(int)'),
    fcntl: l.func('int fcntl(int, int, ...)'), // variadic: extra args go as (type, value) pairs
    syscall: l.func('long syscall(long, ...)'),
    mkfifo: l.func('int mkfifo(const char *path, uint32_t mode)'),
    strerror: l.func('const char *strerror(int)'),
  };
  return libc;
}

/** A failed system call as an MpvirtError; the Node-style errno error (`code` 'EPIPE' …) is its cause. */
function sysError(what: string, errno: number): MpvirtError {
  const cause = Object.assign(new Error(`${what}: ${lib().strerror(errno)}`), {
    errno,
    code: getSystemErrorName(-errno),
  });
  return new MpvirtError('VIR_ERR_INTERNAL_ERROR', cause.message, { domain: 'NONE', cause });
}

/** libc's text for an errno (`Connection reset by peer`), as libvirt's system errors print it. */
export function strerror(errno: number): string {
  return lib().strerror(Math.abs(errno));
}

/** The errno name (`'EPIPE'`, …) behind an error thrown by this module, if any. */
export function errnoCode(e: unknown): string | undefined {
  const cause = e instanceof Error ? (e.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** A connected AF_UNIX stream pair, both ends close-on-exec (spawn's stdio dup2 clears that in the child). */
export function socketpair(): [number, number] {
  const sv = [-1, -1];
  if (lib().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw sysError('socketpair', koffi.errno());
  return [sv[0]!, sv[1]!];
}

/**
 * A listening AF_UNIX socket bound at `path` (an old socket file there is replaced), close-on-exec:
 * the daemon creates the sockets a jailed QEMU serves (monitor, channels) and hands them over as
 * fds, as libvirt does, so QEMU never needs to write where they live.
 */
export function listenUnix(path: string, backlog = 16): number {
  const name = Buffer.from(path);
  if (name.length >= 108) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `UNIX socket path '${path}' too long`, { domain: 'NONE' });
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  const fd = lib().socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError('socket', koffi.errno());
  try {
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (lib().bind(fd, addr, 2 + name.length + 1) < 0) throw sysError(`bind(${path})`, koffi.errno());
    if (lib().listen(fd, backlog) < 0) throw sysError(`listen(${path})`, koffi.errno());
    // only the daemon connects: no jailed process may reach another's monitor or channel
    chmodSync(path, 0o600);
    return fd;
  } catch (e) {
    lib().close(fd);
    throw e;
  }
}

export function closeFd(fd: number): void {
  // Linux releases the fd even when close() reports EINTR, so retrying would close someone else's fd.
  if (lib().close(fd) < 0 && koffi.errno() !== EINTR) throw sysError(`close(${fd})`, koffi.errno());
}

/** mkfifo(3): a named pipe at `path` (mode before the umask); throws with `code` EEXIST … */
export function mkfifo(path: string, mode = 0o600): void {
  if (lib().mkfifo(path, mode) < 0) throw sysError(`mkfifo(${path})`, koffi.errno());
}

/**
 * Grow a pipe's buffer (F_SETPIPE_SZ) so a writer does not block while its reader is briefly
 * busy; best effort (the kernel caps it at /proc/sys/fs/pipe-max-size for unprivileged callers).
 */
export function setPipeSize(fd: number, bytes: number): boolean {
  return lib().fcntl(fd, F_SETPIPE_SZ, 'int', bytes) >= 0;
}

/** A pidfd for any process (also non-children after a daemon restart); readable once the process exits. */
export function pidfdOpen(pid: number): number {
  const fd = lib().syscall(SYS_pidfd_open, 'int', pid, 'uint', 0);
  if (fd < 0) throw sysError(`pidfd_open(${pid})`, koffi.errno());
  return fd;
}

/** A close-on-exec duplicate of `fd` (the daemon's own copy of an end it hands to a child). */
export function dupFd(fd: number): number {
  const dup = lib().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0);
  if (dup < 0) throw sysError(`dup(${fd})`, koffi.errno());
  return dup;
}

/** The OS fd under a connected net.Socket (libuv Pipe/TCP handle), e.g. to sendmsg() on it. */
export function socketFd(sock: net.Socket): number {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'socket has no file descriptor (not connected, or closed)', {
      domain: 'NONE',
    });
  }
  return fd;
}

export interface FdEvents {
  readable: boolean;
  writable: boolean;
  /** peer hung up (EPOLLRDHUP) */
  disconnect: boolean;
  /** a negative libuv status when polling itself failed (e.g. -EBADF) */
  status: number;
}

/**
 * Watch `fd` through libuv's own loop (koffi.node.poll). Always polls a private dup:
 * libuv allows one watcher per fd number, and koffi aborts the whole process
 * (`FATAL ERROR: Error::New napi_get_last_error_info`) when the fd is already watched,
 * e.g. because a net.Socket owns it. Level-triggered: the callback repeats while the
 * condition holds, so callers stop when done. The returned stop() is idempotent.
 */
function pollDup(fd: number, events: { readable?: boolean; writable?: boolean }, cb: (ev: FdEvents) => void): () => void {
  const dup = lib().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0);
  if (dup < 0) throw sysError(`dup(${fd})`, koffi.errno());
  // koffi 3.3.4's index.d.ts declares the callback as (ev); it really gets (status, ev).
  const onPoll = (status: number, ev?: Omit<FdEvents, 'status'>): void =>
    cb({ readable: false, writable: false, disconnect: false, ...ev, status });
  let handle: PollHandle | undefined;
  try {
    handle = koffi.node.poll(dup, { ...events, disconnect: true }, onPoll as unknown as PollCallback);
  } catch (e) {
    lib().close(dup);
    throw e;
  }
  return () => {
    if (!handle) return;
    handle.stop(); // removes the epoll registration synchronously, so closing the dup is safe
    handle.close();
    handle = undefined;
    lib().close(dup);
  };
}

/** Call `onReadable` when `fd` is readable or hung up (a pidfd: the process exited). Returns stop(). */
export function watchFd(fd: number, onReadable: (ev: FdEvents) => void): () => void {
  return pollDup(fd, { readable: true }, onReadable);
}

function waitWritable(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = pollDup(fd, { writable: true }, (ev) => {
      stop();
      if (ev.status < 0) reject(sysError(`poll(${fd})`, -ev.status));
      else resolve(); // writable, or hung up: the next send reports EPIPE
    });
  });
}

/**
 * Send `data` on the stream socket `fd` with `fds` attached as SCM_RIGHTS to its first byte.
 * Never blocks the event loop (MSG_DONTWAIT): on EAGAIN it waits for writability with a
 * libuv poll, and it finishes a partial write with plain send()s. The caller must keep
 * every other writer off the socket until the promise settles (QmpClient serializes).
 */
export async function sendWithFds(fd: number, data: Buffer, fds: number[]): Promise<void> {
  const c = lib();
  // cmsghdr: 64-bit cmsg_len = 16 + 4·n, int cmsg_level, int cmsg_type, then the fds;
  // the buffer is CMSG_SPACE, i.e. rounded up to 8 bytes.
  const control = Buffer.alloc(fds.length ? (16 + 4 * fds.length + 7) & ~7 : 0);
  if (fds.length) {
    control.writeBigUInt64LE(BigInt(16 + 4 * fds.length), 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    fds.forEach((f, i) => control.writeInt32LE(f, 16 + 4 * i));
  }
  const flags = MSG_NOSIGNAL | MSG_DONTWAIT;
  let sent = 0;
  while (sent < data.length) {
    let n: number;
    if (sent === 0) {
      n = c.sendmsg(fd, {
        msg_name: null,
        msg_namelen: 0,
        msg_iov: [{ iov_base: data, iov_len: data.length }],
        msg_iovlen: 1,
        msg_control: fds.length ? control : null,
        msg_controllen: control.length,
        msg_flags: 0,
      }, flags);
    } else {
      const rest = data.subarray(sent); // the fds went with the first byte; the rest goes plain
      n = c.send(fd, rest, rest.length, flags);
    }
    if (n >= 0) {
      sent += n;
      continue;
    }
    const errno = koffi.errno();
    if (errno === EINTR) continue;
    if (errno === EAGAIN) await waitWritable(fd);
    else throw sysError(sent === 0 && fds.length ? 'Failed to send file descriptor' : `send(${fd})`, errno);
  }
}

/**
 * Receive one fd sent with SCM_RIGHTS on `sock` without waiting (qemu-bridge-helper sends its tap
 * this way before it exits); undefined when nothing with an fd is queued.
 */
export function receiveQueuedFd(sock: number): number | undefined {
  const data = Buffer.alloc(1);
  const control = Buffer.alloc(24); // CMSG_SPACE(sizeof(int))
  const n = lib().recvmsg(sock, {
    msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: 1 }], msg_iovlen: 1,
    msg_control: control, msg_controllen: control.length, msg_flags: 0,
  }, MSG_DONTWAIT);
  // one cmsghdr: cmsg_len >= CMSG_LEN(4), SOL_SOCKET (1), SCM_RIGHTS (1)
  if (n <= 0 || control.readBigUInt64LE(0) < 20n || control.readInt32LE(8) !== 1 || control.readInt32LE(12) !== 1) return undefined;
  return control.readInt32LE(16);
}
