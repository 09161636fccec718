/**
 * What a domain's processes run as, and the little of the filesystem they may write: each
 * process gets its own unprivileged id (jail-ids.ts) for its start; the daemon opens every file
 * and binds every socket for them (emulator/child-fds.ts), so the only place a jailed QEMU
 * writes itself is a display socket directory the main QEMU owns.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DomainDef, GraphicsDef } from '../domainxml/model.js';
import type { LaunchPlan } from '../emulator/launch-plan.js';
import { displaySocketPath } from '../emulator/display-argv.js';
import type { DriverCore } from './core.js';
import type { Credentials } from './jail-ids.js';

export interface JailCredentials {
  main: Credentials;
  remotes: Map<string, Credentials>;
}

export const idText = (c: Credentials): string => `uid ${c.uid} gid ${c.gid}`;

/** One id per process of the plan, or undefined when the daemon runs them as itself. */
export function jailCredentials(core: DriverCore, owner: string, def: DomainDef, plan: LaunchPlan): JailCredentials | undefined {
  if (!core.jail) return undefined;
  const ids = core.jail.take(owner, 1 + plan.remotes.length);
  // a KVM guest's main QEMU opens /dev/kvm, which the kvm group may use
  const mainGid = def.type === 'kvm' && core.kvmGid !== undefined ? core.kvmGid : ids[0]!;
  return {
    main: { uid: ids[0]!, gid: mainGid },
    remotes: new Map(plan.remotes.map((r, i) => [r.rid, { uid: ids[i + 1]!, gid: ids[i + 1]! }])),
  };
}

/**
 * QEMU binds a display's unix socket itself (QEMU 7.2 takes no fd for it): the daemon's default
 * place for it is a directory of its own that only the main QEMU may write.
 */
export function prepareDisplayDirs(def: DomainDef, runDir: string, main: Credentials | undefined): void {
  const sockets = def.devices.some((d): d is GraphicsDef => d.kind === 'graphics' && d.extra.children.some((c) => c.local === 'listen' && c.attrs.some((a) => a.name === 'type' && a.value === 'socket')));
  if (!sockets) return;
  const dir = dirname(displaySocketPath(runDir, 'vnc'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!main) return;
  chownSync(dir, main.uid, main.gid);
  // the main QEMU must pass through the state and runtime directories, which it may not read
  chmodSync(dirname(runDir), 0o711);
  chmodSync(runDir, 0o711);
}

/** The namespaces a process of a domain gets: its own IPC and UTS; a remote also its own, empty, network. */
export type JailNamespace = 'net' | 'ipc' | 'uts';

export const UNSHARE = '/usr/bin/unshare';

/**
 * Whether this host lets the daemon give processes their own namespaces: util-linux's unshare
 * is there and the kernel allows them (probed once, by running it, never from a version).
 */
export function probeNamespaces(): Promise<boolean> {
  return new Promise((resolve) => {
    if (process.getuid?.() !== 0) return resolve(false);
    execFile(UNSHARE, ['--net', '--ipc', '--uts', '--', '/bin/true'], { timeout: 5000 }, (err) => resolve(!err));
  });
}

/** The namespaces of a process: every process gets IPC and UTS, a remote also an empty network. */
export function namespacesFor(remote: boolean): JailNamespace[] {
  return remote ? ['net', 'ipc', 'uts'] : ['ipc', 'uts'];
}

/**
 * How the daemon starts a jailed process in its namespaces: through unshare(1), which enters them,
 * drops to the jail ids (no supplementary groups) and execs QEMU — the same pid, no fork, so
 * supervision, pidfds and re-adoption are unchanged.
 */
export function unshareWrapper(ns: readonly JailNamespace[], c: Credentials): { binary: string; args: string[] } {
  return { binary: UNSHARE, args: [...ns.map((n) => `--${n}`), '--setgid', String(c.gid), '--setuid', String(c.uid), '--'] };
}

/**
 * The root a jailed process sees: a fresh tmpfs in its own mount namespace holding only what
 * QEMU needs to run — /usr read-only (binary, libraries, firmware, modules), a few device nodes
 * (/dev/null, zero, full, random, urandom, kvm), /proc, an
 * empty /tmp, and the few host paths the process must open itself (a kernel, an initrd, its
 * display socket directory), bound at their own paths. Everything else it gets as fds. The script
 * runs as root in the new namespaces, then execs unshare(1) to chroot, drop to the jail ids and
 * exec QEMU — the same pid throughout.
 *
 * Positional parameters: ROOT UID GID N BIND1 … BINDN QEMU ARGS…
 */
export const JAIL_ROOT_SCRIPT = [
  // every external command is an exec (~3 ms here): as few as possible
  'set -eu',
  'root=$1 uid=$2 gid=$3 n=$4; shift 4',
  'mount -t tmpfs -o mode=0755,nosuid mpvirt-jail "$root"',
  'mkdir "$root/usr" "$root/dev" "$root/proc"',
  'mkdir -m 1777 "$root/tmp"',
  'mount --bind -o ro /usr "$root/usr"',
  'ln -s usr/lib usr/lib64 usr/bin usr/sbin "$root/"',
  // device nodes copied (mknod) into the tmpfs, not bound: one command for all
  'devs=; for d in null zero full random urandom kvm; do [ -e "/dev/$d" ] && devs="$devs /dev/$d"; done',
  'cp -a $devs "$root/dev/"',
  'mount -t proc -o nosuid,nodev,noexec proc "$root/proc"',
  'while [ "$n" -gt 0 ]; do p=$1; shift; n=$((n - 1)); mkdir -p "$root${p%/*}"; if [ -d "$p" ]; then mkdir -p "$root$p"; else : > "$root$p"; fi; mount --bind "$p" "$root$p"; done',
  `exec ${UNSHARE} --root="$root" --setgid "$gid" --setuid "$uid" -- "$@"`,
].join('\n');

/** Where a process's jail root is mounted (an empty directory of the daemon's). */
export function jailRootDir(runDir: string, rid: string | undefined): string {
  return `${runDir}/jail-${rid ?? 'main'}`;
}

/** The wrapper that starts a process in its namespaces with an empty root (see JAIL_ROOT_SCRIPT). */
export function jailRootWrapper(ns: readonly JailNamespace[], c: Credentials, root: string, binds: readonly string[]): { binary: string; args: string[] } {
  return {
    binary: UNSHARE,
    args: [...ns.map((n) => `--${n}`), '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', JAIL_ROOT_SCRIPT, 'mpvirt-jail', root, String(c.uid), String(c.gid), String(binds.length), ...binds],
  };
}

/** Whether this host can give a process an empty root that way (probed once by doing it). */
export function probeJailRoot(dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (process.getuid?.() !== 0) return resolve(false);
    const root = `${dir}/.jail-probe`;
    try {
      mkdirSync(root, { recursive: true, mode: 0o755 });
    } catch {
      return resolve(false);
    }
    const w = jailRootWrapper(['ipc', 'uts'], { uid: 65534, gid: 65534 }, root, []);
    execFile(w.binary, [...w.args, '/usr/bin/true'], { timeout: 10_000 }, (err) => {
      try {
        rmdirSync(root);
      } catch {
        // left for the next probe
      }
      resolve(!err);
    });
  });
}

/** The host paths a main QEMU opens itself: its kernel and initrd, its display socket directory. */
export function mainJailBinds(def: DomainDef, runDir: string): string[] {
  // a missing one is not bound: QEMU then says it cannot open it, as without a jail
  const binds = [def.os.kernel, def.os.initrd].filter((p): p is string => p !== undefined && p.startsWith('/') && existsSync(p));
  const displayDir = dirname(displaySocketPath(runDir, 'vnc'));
  if (existsSync(displayDir)) binds.push(displayDir);
  return binds;
}

/** How a jailed process of this start is spawned: in its namespaces, with an empty root where the host allows one. */
export function jailWrapper(core: DriverCore, def: DomainDef, runDir: string, rid: string | undefined, creds: JailCredentials): { binary: string; args: string[] } {
  const c = rid === undefined ? creds.main : creds.remotes.get(rid)!;
  const ns = namespacesFor(rid !== undefined);
  // a pty console must be one of the host's ptys (tools open its path), which a private root
  // cannot reach: such a main QEMU keeps the host's root (and its own namespaces)
  if (!core.jailRoot || (rid === undefined && hasPty(def))) return unshareWrapper(ns, c);
  const root = jailRootDir(runDir, rid);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  mkdirSync(root, { recursive: true, mode: 0o755 });
  return jailRootWrapper(ns, c, root, rid === undefined ? mainJailBinds(def, runDir) : []);
}

function hasPty(def: DomainDef): boolean {
  return def.devices.some((d) => (d.kind === 'serial' || d.kind === 'console') && d.type === 'pty');
}
