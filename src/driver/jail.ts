/**
 * What a domain's processes run as, and the little of the filesystem they may write: each
 * process gets its own unprivileged id (jail-ids.ts) for its start; the daemon opens every file
 * and binds every socket for them (emulator/child-fds.ts), so the only place a jailed QEMU
 * writes itself is a display socket directory the main QEMU owns.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
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
