/**
 * The files and sockets a QEMU process gets from the daemon as open fds instead of paths, as
 * libvirt's qemu_fd.c does: disk images and chardev files through fd sets (`-add-fd` +
 * `/dev/fdset/N`), listening sockets (monitor, guest agent channels) as `fd=N`. A jailed process
 * then never needs to reach those paths, and read-only images reach it read-only.
 *
 * The plan stays pure: it only numbers the fds and says what each must be; the launcher opens
 * the files, binds the sockets and places them at exactly these numbers in the child.
 */

import { optList } from './qemu-args.js';

/** How the daemon opens a file for the process. */
export type FileAccess = 'read' | 'readwrite' | 'append' | 'truncate';

export interface PlannedFile {
  /** fd number in the child */
  childFd: number;
  path: string;
  access: FileAccess;
  /** the fd set QEMU knows it by (`/dev/fdset/N`) */
  set: number;
  /** what it is for QEMU's `query-fdsets` (a disk's storage node name), so it can be removed */
  opaque?: string;
}

export interface PlannedListener {
  childFd: number;
  /** where the daemon binds it (and connects to it, also after a daemon restart) */
  path: string;
}

/**
 * A tap device the daemon creates on a host bridge for a guest NIC (libvirt's
 * qemuInterfaceBridgeConnect): QEMU gets its fd (`-netdev tap,fd=N`), never the privilege to make
 * one. The tap goes with the last fd, i.e. with the main QEMU.
 */
export interface PlannedTap {
  childFd: number;
  /** the interface's QEMU id (its alias), which the live XML names the tap for */
  alias: string;
  bridge: string;
  /** `<target dev>`: the name to give it; absent: the daemon picks vnetN as libvirt does */
  ifname?: string;
  mac: string;
  /** IFF_VNET_HDR, for the models QEMU passes offloads for (qemuInterfaceIsVnetCompatModel) */
  vnetHdr: boolean;
}

export class ChildFds {
  readonly files: PlannedFile[] = [];
  readonly listeners: PlannedListener[] = [];
  readonly taps: PlannedTap[] = [];
  private nextFd: number;
  private nextSet = 1;

  /** `firstFd`: the first child fd number not taken by links (3 + links). */
  constructor(firstFd: number) {
    this.nextFd = firstFd;
  }

  /** The path QEMU opens for `path`: its fd set. */
  file(path: string, access: FileAccess, opaque?: string): string {
    const f: PlannedFile = { childFd: this.nextFd++, path, access, set: this.nextSet++, ...(opaque !== undefined ? { opaque } : {}) };
    this.files.push(f);
    return `/dev/fdset/${f.set}`;
  }

  /** The child fd of a listening socket the daemon binds at `path`. */
  listen(path: string): number {
    const l = { childFd: this.nextFd++, path };
    this.listeners.push(l);
    return l.childFd;
  }

  /** The child fd of a tap the daemon creates on a bridge. */
  tap(t: Omit<PlannedTap, 'childFd'>): number {
    const planned = { ...t, childFd: this.nextFd++ };
    this.taps.push(planned);
    return planned.childFd;
  }

  /** `-add-fd` for every file (QEMU reads them before any other backend, wherever they stand). */
  addFdArgs(): string[] {
    return this.files.flatMap((f) => ['-add-fd', optList([['fd', f.childFd], ['set', f.set], ['opaque', f.opaque]])]);
  }
}
