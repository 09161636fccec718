/**
 * A cgroup per domain, with each of its processes in a leaf of its own, as libvirt's QEMU driver
 * does without systemd-machined (partition `/machine`, group `NAME.mpvirt-qemu`): the kernel then
 * accounts each domain's and each process's CPU, memory and pids, and limits can be set there.
 *
 * Both layouts are handled, probed once from the mounted hierarchies (never from a version):
 * - unified (cgroup v2, /sys/fs/cgroup/cgroup.controllers): one tree; the controllers the root
 *   offers are enabled down to the process leaves (the domain group holds no process itself);
 * - legacy/hybrid (v1): the same path in each controller's hierarchy that exists (cpu, cpuacct,
 *   memory, pids, blkio). cpuset is left out: a new v1 cpuset group admits no process until its
 *   cpus and mems are set.
 *
 * Nothing here is fatal to a start: a hierarchy that refuses is skipped, and the caller logs it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MpvirtError } from '../errors.js';

const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids', 'blkio'];
const V2_CONTROLLERS = ['cpu', 'memory', 'pids', 'io'];

export interface CgroupLayout {
  kind: 'v1' | 'v2';
  /** the mount point of each hierarchy used (one for v2) */
  roots: string[];
}

/** The hierarchies the daemon may create groups in, or undefined when there are none it can write. */
export function probeCgroups(base = '/sys/fs/cgroup'): CgroupLayout | undefined {
  let layout: CgroupLayout;
  if (existsSync(join(base, 'cgroup.controllers'))) layout = { kind: 'v2', roots: [base] };
  else {
    const roots = new Set<string>();
    for (const c of V1_CONTROLLERS) {
      const dir = join(base, c);
      if (!existsSync(join(dir, 'cgroup.procs'))) continue;
      roots.add(realpathSync(dir)); // cpu and cpuacct are often one hierarchy, linked twice
    }
    layout = { kind: 'v1', roots: [...roots] };
  }
  // writable: a group can be made and removed again in each
  layout.roots = layout.roots.filter((r) => {
    const probe = join(r, '.mpvirt-probe');
    try {
      mkdirSync(probe);
      rmdirSync(probe);
      return true;
    } catch {
      return false;
    }
  });
  return layout.roots.length > 0 ? layout : undefined;
}

/** libvirt's default partition for machines, when the domain names none. */
export const DEFAULT_PARTITION = '/machine';

/** A partition as libvirt accepts it (absolute) and this daemon makes it (plain names only). */
export function checkPartition(partition: string): void {
  if (!partition.startsWith('/')) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `Partition path '${partition}' must start with '/'`);
  for (const part of partition.split('/').slice(1)) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(part)) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `Partition path '${partition}' has a component '${part}' this daemon does not create`);
  }
}

/** The group of one domain, in every hierarchy of a layout. */
export class DomainCgroup {
  /** the domain's group below each hierarchy's root, e.g. /machine/web.mpvirt-qemu */
  readonly path: string;
  constructor(readonly layout: CgroupLayout, readonly partition: string, name: string) {
    checkPartition(partition);
    this.path = `${partition}/${escapeName(name)}.mpvirt-qemu`;
  }

  /** Creates the domain's group and its leaves (`main`, `remote-RID`); returns the hierarchies that refused. */
  create(leaves: readonly string[]): string[] {
    const refused: string[] = [];
    for (const root of this.layout.roots) {
      try {
        const dom = join(root, this.path);
        mkdirSync(dom, { recursive: true });
        if (this.layout.kind === 'v2') enableDown(root, this.path);
        for (const l of leaves) mkdirSync(join(dom, l), { recursive: true });
      } catch {
        refused.push(root);
      }
    }
    return refused;
  }

  /** Moves `pid` (and the threads it has) into a leaf, in every hierarchy that has it. */
  place(leaf: string, pid: number): void {
    for (const root of this.layout.roots) {
      try {
        writeFileSync(join(root, this.path, leaf, 'cgroup.procs'), `${pid}\n`);
      } catch {
        // the process is gone already, or this hierarchy refused at create
      }
    }
  }

  /** The pids in a leaf (of the first hierarchy). */
  pids(leaf: string): number[] {
    try {
      return readFileSync(join(this.layout.roots[0]!, this.path, leaf, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /** Removes the leaves and the domain's group once their processes are gone (EBUSY ones stay). */
  remove(): void {
    for (const root of this.layout.roots) {
      const dom = join(root, this.path);
      let leaves: string[] = [];
      try {
        leaves = readdirDirs(dom);
      } catch {
        continue;
      }
      for (const l of leaves) tryRmdir(join(dom, l));
      tryRmdir(dom);
    }
  }
}

/** libvirt's virCgroupPartitionEscape: a name that could be taken for a control file gets a '_' */
function escapeName(name: string): string {
  return /^[._]/.test(name) || name.startsWith('cgroup.') ? `_${name}` : name;
}

/** v2: a group's children may use a controller only when every ancestor enabled it for its children. */
function enableDown(root: string, path: string): void {
  const available = new Set(readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/));
  const wanted = V2_CONTROLLERS.filter((c) => available.has(c));
  let dir = root;
  for (const part of path.split('/').filter(Boolean)) {
    for (const c of wanted) {
      try {
        writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}\n`);
      } catch {
        // taken by processes in this group, or not offered here: the leaves go without it
      }
    }
    dir = join(dir, part);
  }
  for (const c of wanted) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}\n`);
    } catch {
      // as above
    }
  }
}

/** a group's subgroups are its only directories */
function readdirDirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
}

function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // still busy, or gone
  }
}
