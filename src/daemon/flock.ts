/**
 * flock(2) bound from libc with koffi (Node has no file locks). Used for the
 * daemon's lock file: the lock belongs to the open file description, so it goes
 * away with the daemon however it dies, and `flock -n FILE true` from a shell
 * sees it (dependencies.md §8).
 */
import koffi from 'koffi';
import { strerror } from '../emulator/unixfd.js';

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

const EINTR = 4;
const EWOULDBLOCK = 11;

let flockFn: ((fd: number, op: number) => number) | undefined;

/** Loaded on first use. */
function fn(): (fd: number, op: number) => number {
  flockFn ??= koffi.load('libc.so.6').func('int flock(int, int)') as (fd: number, op: number) => number;
  return flockFn;
}

/**
 * flock(fd, op), retried on EINTR. Returns 0 on success, or the errno on failure
 * (EWOULDBLOCK when LOCK_NB was given and someone else holds the lock).
 */
export function flock(fd: number, op: number): number {
  for (;;) {
    if (fn()(fd, op) === 0) return 0;
    const errno = koffi.errno();
    if (errno !== EINTR) return errno;
  }
}

/** Try to take an exclusive lock without waiting: true when taken, false when another holds it; other errors throw. */
export function tryLockExclusive(fd: number): boolean {
  const errno = flock(fd, LOCK_EX | LOCK_NB);
  if (errno === 0) return true;
  if (errno === EWOULDBLOCK) return false;
  throw Object.assign(new Error(`flock: ${strerror(errno)}`), { errno });
}

export function unlock(fd: number): void {
  flock(fd, LOCK_UN);
}
