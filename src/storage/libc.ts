/**
 * The libc calls the storage layer needs and Node lacks, bound with koffi: fallocate(2), how a raw
 * volume gets its allocation without writing it (libvirt's createRawFile), and strerror(3), so
 * errors read as libvirt's do ("Directory not empty", not libuv's "directory not empty").
 */
import koffi from 'koffi';

type Fallocate = (fd: number, mode: number, offset: bigint, len: bigint) => number;
let fn: Fallocate | undefined;

export const ENOSYS = 38;
export const EOPNOTSUPP = 95;

/** fallocate(fd, 0, offset, len): 0, or the errno (ENOSYS/EOPNOTSUPP: the filesystem cannot). */
export function fallocate(fd: number, offset: bigint, len: bigint): number {
  if (len <= 0n) return 0;
  fn ??= koffi.load('libc.so.6').func('int fallocate(int, int, int64_t, int64_t)') as Fallocate;
  return fn(fd, 0, offset, len) === 0 ? 0 : koffi.errno();
}

let strerrorFn: ((n: number) => string) | undefined;

/** libc's text for an errno (positive or, as Node reports fs errors, negative). */
export function strerror(errno: number): string {
  strerrorFn ??= koffi.load('libc.so.6').func('const char *strerror(int)') as (n: number) => string;
  return strerrorFn(Math.abs(errno));
}
