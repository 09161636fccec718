/**
 * The empty root a jailed process sees, built by the daemon itself with a handful of system calls
 * (mount(2), mknod(2) bound with koffi) instead of a shell script: each external command costs an
 * exec, and a script of them was most of a jail's start cost (23 ms per process, measured).
 *
 * The root is a small tmpfs at a directory of the daemon's, holding only what QEMU needs to run:
 * /usr read-only (binary, libraries, firmware, modules) with the usual links to it, a few device
 * nodes, an empty /proc (mounted by unshare(1) inside the process's own pid namespace), an empty
 * /tmp, the host's /dev/pts with a /dev/ptmx (so a pty console is one of the host's ptys, which
 * tools open by path), and the few host paths the process must open itself, bound at their own
 * paths. It exists in the daemon's mount namespace only until the process has entered its own
 * (which copies it): then {@link detachJailRoot} takes it away again, so the host's mount table
 * does not grow with the number of processes.
 *
 * A directory with mounts under it must never be removed recursively (that would descend into
 * the binds): every removal of a runtime directory detaches first.
 */
import koffi from 'koffi';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { MpvirtError } from '../errors.js';

const MS_RDONLY = 0x1;
const MS_NOSUID = 0x2;
const MS_REMOUNT = 0x20;
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MNT_DETACH = 0x2;
const S_IFCHR = 0o020000;
const EINVAL = 22;
const ENOENT = 2;

interface MountLib {
  mount: (source: string | null, target: string, type: string | null, flags: number, data: string | null) => number;
  umount2: (target: string, flags: number) => number;
  mknod: (path: string, mode: number, dev: bigint) => number;
  strerror: (errno: number) => string;
}

let lib: MountLib | undefined;
function libc(): MountLib {
  if (lib) return lib;
  const l = koffi.load('libc.so.6');
  lib = {
    mount: l.func('int mount(const char *, const char *, const char *, unsigned long, const char *)'),
    umount2: l.func('int umount2(const char *, int)'),
    mknod: l.func('int mknod(const char *, uint32_t, uint64_t)'),
    strerror: l.func('const char *strerror(int)'),
  };
  return lib;
}

function fail(what: string, errno: number): never {
  const cause = Object.assign(new Error(`${what}: ${libc().strerror(errno)}`), { errno, code: getSystemErrorName(-errno) });
  throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `cannot set up the jail root: ${cause.message}`, { domain: 'NONE', cause });
}

function mount(source: string | null, target: string, type: string | null, flags: number, data: string | null = null): void {
  if (libc().mount(source, target, type, flags, data) < 0) fail(`mount ${source ?? type ?? ''} on ${target}`, koffi.errno());
}

/** The device nodes a QEMU may open; /dev/kvm only where the host has one. */
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'kvm', 'ptmx'];
/** merged-/usr hosts (Debian 12) have these as links into /usr */
const USR_LINKS = ['lib', 'lib32', 'lib64', 'libx32', 'bin', 'sbin'];

export interface JailRootSpec {
  /** host paths (files or directories) the process opens itself, bound read-write at the same path */
  binds: readonly string[];
}

/**
 * Builds the jail root at `root` (an empty or missing directory of the daemon's; anything left
 * there by an earlier run is detached first). Throws VIR_ERR_SYSTEM_ERROR, with nothing left
 * mounted, if any step fails.
 */
export function buildJailRoot(root: string, spec: JailRootSpec): void {
  detachJailRoot(root);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  try {
    // no nodev: the device nodes below are made in it; nosuid: nothing in it is setuid anyway
    mount('mpvirt-jail', root, 'tmpfs', MS_NOSUID, 'mode=0755,size=1m,nr_inodes=256');
    for (const d of ['usr', 'dev', 'dev/pts', 'proc']) mkdirSync(join(root, d), { mode: 0o755 });
    mkdirSync(join(root, 'tmp'));
    chmodSync(join(root, 'tmp'), 0o1777);
    mount('/usr', join(root, 'usr'), null, MS_BIND | MS_REC);
    mount(null, join(root, 'usr'), null, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID);
    for (const l of USR_LINKS) if (isUsrLink(l)) symlinkSync(`usr/${l}`, join(root, l));
    for (const d of DEVICES) {
      const host = `/dev/${d}`;
      let st;
      try {
        st = statSync(host);
      } catch {
        continue;
      }
      if (!st.isCharacterDevice()) continue;
      const path = join(root, 'dev', d);
      if (libc().mknod(path, S_IFCHR | 0o666, BigInt(st.rdev)) < 0) fail(`mknod ${path}`, koffi.errno());
      chmodSync(path, st.mode & 0o777);
    }
    // the host's ptys: a QEMU opening /dev/ptmx here gets one of them (the kernel looks for the
    // devpts instance beside the ptmx node); a jail cannot open another's pty (0620, other owner)
    if (existsSync('/dev/pts/ptmx')) mount('/dev/pts', join(root, 'dev/pts'), null, MS_BIND);
    for (const p of spec.binds) bindAtOwnPath(root, p);
  } catch (e) {
    detachJailRoot(root);
    throw e;
  }
}

function isUsrLink(name: string): boolean {
  try {
    return lstatSync(`/${name}`).isSymbolicLink() && existsSync(`/usr/${name}`);
  } catch {
    return false;
  }
}

function bindAtOwnPath(root: string, hostPath: string): void {
  if (!hostPath.startsWith('/') || hostPath.split('/').includes('..')) {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `jail bind path '${hostPath}' must be absolute and normalized`, { domain: 'NONE' });
  }
  const target = join(root, hostPath);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  if (statSync(hostPath).isDirectory()) mkdirSync(target, { recursive: true, mode: 0o755 });
  else writeFileSync(target, '', { mode: 0o600 });
  mount(hostPath, target, null, MS_BIND);
}

/**
 * Takes the jail root out of the daemon's mount namespace (lazily: the processes that copied it
 * into their own keep theirs) and removes its empty directory. Nothing there is no error.
 */
export function detachJailRoot(root: string): void {
  if (libc().umount2(root, MNT_DETACH) < 0) {
    const errno = koffi.errno();
    // EINVAL: not a mount point (already detached, or never built); ENOENT: no such directory
    if (errno !== EINVAL && errno !== ENOENT) fail(`umount ${root}`, errno);
  }
  try {
    rmdirSync(root);
  } catch {
    // not there, or not empty: then it was never ours to remove
  }
}

/** Detaches every jail root under a runtime directory (their names start with `jail-`), before it is removed. */
export function detachJailRootsUnder(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith('jail-')) detachJailRoot(join(dir, n));
}
