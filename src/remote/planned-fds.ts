/**
 * Opening what a launch plan hands a process as fds (emulator/child-fds.ts): each file with the
 * access the plan names, each listening socket bound at its path. The caller passes the entries
 * to the spawn and closes its copies right after.
 */
import { closeSync, constants, openSync } from 'node:fs';
import type { FileAccess, PlannedFile, PlannedListener } from '../emulator/child-fds.js';
import type { FdMapEntry } from '../emulator/process.js';
import { closeFd, listenUnix, strerror } from '../emulator/unixfd.js';
import { MpvirtError } from '../errors.js';

const FLAGS: Readonly<Record<FileAccess, number>> = {
  read: constants.O_RDONLY,
  readwrite: constants.O_RDWR,
  append: constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
  truncate: constants.O_WRONLY | constants.O_TRUNC | constants.O_CREAT,
};

export interface OpenedFds {
  entries: FdMapEntry[];
  /** close the daemon's copies (the child has its own after the spawn) */
  close(): void;
}

export function openPlannedFds(files: readonly PlannedFile[], listeners: readonly PlannedListener[]): OpenedFds {
  const opened: Array<{ fd: number; socket: boolean }> = [];
  const close = (): void => {
    for (const o of opened.splice(0)) (o.socket ? closeFd : closeSync)(o.fd);
  };
  const entries: FdMapEntry[] = [];
  try {
    for (const f of files) {
      let fd: number;
      try {
        // new files are the daemon's and private: QEMU only ever writes through this fd
        fd = openSync(f.path, FLAGS[f.access], 0o600);
      } catch (e) {
        const errno = Math.abs((e as NodeJS.ErrnoException).errno ?? 0);
        throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `Cannot access storage file '${f.path}': ${errno ? strerror(errno) : (e as Error).message}`, { cause: e });
      }
      opened.push({ fd, socket: false });
      entries.push({ childFd: f.childFd, source: fd });
    }
    for (const l of listeners) {
      const fd = listenUnix(l.path);
      opened.push({ fd, socket: true });
      entries.push({ childFd: l.childFd, source: fd });
    }
    return { entries, close };
  } catch (e) {
    close();
    throw e;
  }
}
