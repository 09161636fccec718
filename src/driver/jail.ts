/**
 * What a domain's processes run as, and the little of the filesystem they may write: each
 * process gets its own unprivileged id (jail-ids.ts) for its start; the daemon opens every file
 * and binds every socket for them (emulator/child-fds.ts), so the only place a jailed QEMU
 * writes itself is a display socket directory the main QEMU owns.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DomainDef, GraphicsDef } from '../domainxml/model.js';
import type { LaunchPlan } from '../emulator/launch-plan.js';
import type { ExitStatus } from '../emulator/process.js';
import { displaySocketPath } from '../emulator/display-argv.js';
import { buildJailRoot, detachJailRoot } from '../remote/jail-root.js';
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

/** The namespaces a process of a domain gets: its own pid, IPC and UTS; a remote also its own, empty, network. */
export type JailNamespace = 'net' | 'ipc' | 'uts' | 'pid';

export const UNSHARE = '/usr/bin/unshare';

/**
 * Whether this host lets the daemon give processes their own namespaces: util-linux's unshare
 * is there, the kernel allows them, and a forked child can be found from its parent (a pid
 * namespace needs unshare to fork: QEMU runs as its child) — probed once, by doing it.
 */
export function probeNamespaces(): Promise<boolean> {
  return new Promise((resolve) => {
    if (process.getuid?.() !== 0) return resolve(false);
    execFile(UNSHARE, [...nsArgs(['net', 'ipc', 'uts', 'pid']), '--', '/bin/true'], { timeout: 5000 }, (err) => resolve(!err && existsSync(`/proc/${process.pid}/task/${process.pid}/children`)));
  });
}

/** The namespaces of a process: every process gets pid, IPC and UTS, a remote also an empty network. */
export function namespacesFor(remote: boolean): JailNamespace[] {
  return remote ? ['net', 'ipc', 'uts', 'pid'] : ['ipc', 'uts', 'pid'];
}

/**
 * unshare's options for these namespaces. A pid namespace takes a fork (QEMU is its pid 1, the
 * child of unshare, which waits and exits as QEMU did); --kill-child ends QEMU if unshare is
 * killed; with a mount namespace, /proc is mounted anew inside, showing only the jail's pids.
 */
function nsArgs(ns: readonly JailNamespace[], mount = false): string[] {
  const args = ns.map((n) => `--${n}`);
  if (ns.includes('pid')) args.push('--fork', '--kill-child');
  if (mount) args.push('--mount', '--propagation', 'private', ...(ns.includes('pid') ? ['--mount-proc=/proc'] : []));
  return args;
}

/** How a wrapper starts a process: see LaunchOptions.wrapper. */
export interface JailWrapper {
  binary: string;
  args: string[];
  forks: boolean;
  exitStatus?: (raw: ExitStatus, tail: () => string) => ExitStatus;
  afterStart?: () => void;
}

/**
 * QEMU's exit status from unshare's. unshare exits with its child's code, and re-raises the signal
 * that killed it — except SIGKILL, which util-linux 2.38 cannot re-raise (it resets the signal's
 * handler first, which the kernel refuses for SIGKILL): it then says so and exits 1. That line in
 * what the process wrote (other processes of the domain may write after it: a main QEMU whose
 * remote died floods the log) is a SIGKILL.
 */
export function unshareExitStatus(raw: ExitStatus, tail: () => string): ExitStatus {
  if (raw.code !== 1) return raw;
  return /^unshare: sigprocmask unblock failed: /m.test(tail()) ? { code: null, signal: 'SIGKILL' } : raw;
}

/**
 * How the daemon starts a jailed process in its namespaces: through unshare(1), which enters them,
 * drops to the jail ids (no supplementary groups) and execs QEMU (as its one child, when there is
 * a pid namespace); with `root`, chrooted into that jail root (remote/jail-root.ts).
 */
export function unshareWrapper(ns: readonly JailNamespace[], c: Credentials, root?: string): JailWrapper {
  return {
    binary: UNSHARE,
    args: [...nsArgs(ns, root !== undefined), ...(root !== undefined ? [`--root=${root}`] : []), '--setgid', String(c.gid), '--setuid', String(c.uid), '--'],
    forks: ns.includes('pid'),
    ...(ns.includes('pid') ? { exitStatus: unshareExitStatus } : {}),
  };
}

/** Where a process's jail root is built (an empty directory of the daemon's). */
export function jailRootDir(runDir: string, rid: string | undefined): string {
  return `${runDir}/jail-${rid ?? 'main'}`;
}

/**
 * Whether this host can give a process an empty root (probed once by doing it: build one, run a
 * program in it that must see its own /proc and nothing of the host's /etc).
 */
export function probeJailRoot(dir: string, ns: readonly JailNamespace[]): Promise<boolean> {
  return new Promise((resolve) => {
    if (process.getuid?.() !== 0) return resolve(false);
    const root = `${dir}/.jail-probe`;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      buildJailRoot(root, { binds: [] });
    } catch {
      detachJailRoot(root);
      return resolve(false);
    }
    const w = unshareWrapper(ns, { uid: 65534, gid: 65534 }, root);
    const check = ns.includes('pid') ? 'test -e /proc/self/status && test ! -e /etc/passwd' : 'test ! -e /etc/passwd';
    execFile(w.binary, [...w.args, '/bin/sh', '-c', check], { timeout: 10_000 }, (err) => {
      detachJailRoot(root);
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
export function jailWrapper(core: DriverCore, def: DomainDef, runDir: string, rid: string | undefined, creds: JailCredentials): JailWrapper {
  const c = rid === undefined ? creds.main : creds.remotes.get(rid)!;
  const ns = namespacesFor(rid !== undefined);
  if (!core.jailRoot) return unshareWrapper(ns, c);
  const root = jailRootDir(runDir, rid);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  buildJailRoot(root, { binds: rid === undefined ? mainJailBinds(def, runDir) : [] });
  // once the process is in its own mount namespace (it has copied the root), the daemon's copy goes
  return { ...unshareWrapper(ns, c, root), afterStart: () => detachJailRoot(root) };
}

/** What the live XML says of a jailed process's jail. */
export function jailText(core: DriverCore, remote: boolean): string[] {
  return [...(core.jailRoot ? ['root'] : []), ...namespacesFor(remote)];
}
