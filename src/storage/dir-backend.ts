/**
 * libvirt's `dir` pool backend (storage_backend_fs.c + storage_util.c): a directory of files.
 * Every path is inside the pool's directory: a volume is one name directly in it, and what a
 * volume operation unlinks, truncates or overwrites is checked to be that entry (a symlink is
 * removed as a link, never followed out of the pool).
 */
import { execFile } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, realpath, rmdir, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MpvirtError } from '../errors.js';
import { EOPNOTSUPP, ENOSYS, fallocate } from './libc.js';
import { sysError } from './errors.js';
import type { PoolSizes, StoragePerms, StoragePoolDef } from './pool-xml.js';
import { probeImage } from './probe.js';
import { checkVolumeName, CREATABLE_FORMATS, type StorageVolDef } from './vol-xml.js';

const run = promisify(execFile);
const DEFAULT_POOL_MODE = 0o711;
const DEFAULT_VOL_MODE = 0o600;

/** The path of volume `name` of the pool; the name is checked first. */
export function volumePath(pool: StoragePoolDef, name: string): string {
  checkVolumeName(name);
  return join(pool.targetPath, name);
}

/** `pool-build`: the directory (and its parents), with the pool's permissions. */
export async function buildPool(pool: StoragePoolDef): Promise<void> {
  const mode = pool.perms.mode ?? DEFAULT_POOL_MODE;
  try {
    await mkdir(pool.targetPath, { recursive: true, mode });
    await chmod(pool.targetPath, mode);
    if (pool.perms.owner !== undefined || pool.perms.group !== undefined) await chown(pool.targetPath, pool.perms.owner ?? -1, pool.perms.group ?? -1);
  } catch (e) {
    throw sysError(`cannot create path '${pool.targetPath}'`, e);
  }
}

/** `pool-delete`: the empty directory goes; anything in it stays, and so does the directory. */
export async function deletePoolDir(pool: StoragePoolDef): Promise<void> {
  try {
    await rmdir(pool.targetPath);
  } catch (e) {
    throw sysError(`failed to remove pool '${pool.targetPath}'`, e);
  }
}

/** A volume as refresh sees it: stat + header probe. Undefined for what is no volume (sockets, …). */
export async function readVolume(pool: StoragePoolDef, name: string): Promise<StorageVolDef | undefined> {
  const path = volumePath(pool, name);
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch {
    return undefined; // a dangling link or a file that went away: libvirt skips it
  }
  const isDir = st.isDirectory();
  if (!isDir && !st.isFile()) return undefined;
  const probed = isDir ? undefined : await probeImage(path).catch(() => undefined);
  const def: StorageVolDef = {
    name, type: isDir ? 'dir' : 'file', key: path, path,
    capacity: probed?.virtualSize ?? st.size,
    allocation: st.blocks * 512n,
    hasAllocation: true,
    physical: st.size,
    format: isDir ? 'dir' : probed?.format ?? 'raw',
    perms: { mode: Number(st.mode & 0o777n), owner: Number(st.uid), group: Number(st.gid) },
    timestamps: { atime: st.atimeNs, mtime: st.mtimeNs, ctime: st.ctimeNs },
    // as libvirt's refresh: format, sizes and backing store; compat, cluster size and features
    // are what a create asks for, not what vol-dumpxml reports
    ...(probed?.backing !== undefined && { backingStore: probed.backing }),
  };
  return def;
}

export interface RefreshResult { sizes: PoolSizes; volumes: StorageVolDef[]; perms: StoragePerms }

/** `pool-refresh` (virStorageBackendRefreshLocal): every entry of the directory, and the filesystem's sizes. */
export async function refreshPool(pool: StoragePoolDef): Promise<RefreshResult> {
  let names: string[];
  try {
    names = (await readdir(pool.targetPath)).sort();
  } catch (e) {
    throw sysError(`cannot open directory '${pool.targetPath}'`, e);
  }
  const volumes: StorageVolDef[] = [];
  for (const n of names) {
    const v = await readVolume(pool, n);
    if (v) volumes.push(v);
  }
  const [fs, st] = await Promise.all([statfs(pool.targetPath, { bigint: true }), stat(pool.targetPath)]).catch((e: unknown) => {
    throw sysError(`cannot statvfs path '${pool.targetPath}'`, e);
  });
  return {
    sizes: { capacity: fs.blocks * fs.bsize, allocation: (fs.blocks - fs.bfree) * fs.bsize, available: fs.bavail * fs.bsize },
    volumes,
    perms: { mode: st.mode & 0o777, owner: st.uid, group: st.gid },
  };
}

/** Zeros from `from` to `to` through the fd (no fallocate, or a copy's tail). */
async function writeZeros(fh: import('node:fs/promises').FileHandle, from: bigint, to: bigint): Promise<void> {
  const chunk = Buffer.alloc(1024 * 1024);
  for (let pos = from; pos < to;) {
    const n = Number(to - pos < BigInt(chunk.length) ? to - pos : BigInt(chunk.length));
    await fh.write(chunk, 0, n, Number(pos));
    pos += BigInt(n);
  }
}

async function qemuImg(args: string[]): Promise<void> {
  try {
    await run('qemu-img', args, { timeout: 24 * 3600_000, maxBuffer: 1024 * 1024 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'creation of non-raw file images is not supported without qemu-img.');
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `qemu-img ${args[0]} failed: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}

const kib = (bytes: bigint): string => `${(bytes + 1023n) / 1024n}K`;

function qcow2Options(vol: StorageVolDef, preallocate: boolean): string {
  const o: string[] = [];
  if (preallocate) o.push(vol.capacity > vol.allocation ? 'preallocation=metadata' : 'preallocation=falloc');
  o.push(`compat=${vol.compat ?? '0.10'}`);
  if (vol.clusterSize !== undefined) o.push(`cluster_size=${vol.clusterSize}`);
  if (vol.features?.includes('lazy_refcounts')) o.push('lazy_refcounts');
  if (vol.features?.includes('extended_l2')) o.push('extended_l2=on');
  return o.join(',');
}

export interface CreateOptions {
  /** create-from: the volume to copy */
  from?: StorageVolDef;
  /** VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA */
  preallocMetadata?: boolean;
}

/**
 * `vol-create` / `vol-create-from`: a new file at the volume's path, never over an existing one.
 * raw by the daemon itself (ftruncate + fallocate of the allocation), qcow2 through qemu-img.
 */
export async function createVolume(pool: StoragePoolDef, vol: StorageVolDef, opts: CreateOptions = {}): Promise<void> {
  const path = volumePath(pool, vol.name);
  if (!CREATABLE_FORMATS.has(vol.format)) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `creating a '${vol.format}' volume is not supported by mpvirtd (raw or qcow2)`);
  if (await lstat(path).then(() => true, () => false)) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `volume target path '${path}' already exists`);
  const mode = vol.perms.mode ?? DEFAULT_VOL_MODE;
  const from = opts.from;
  if (vol.format === 'raw' && (!from || from.format === 'raw')) {
    if (vol.backingStore) throw new MpvirtError('VIR_ERR_NO_SUPPORT', 'backing storage not supported for raw volumes');
    if (opts.preallocMetadata) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', 'metadata preallocation is not supported for raw volumes');
    let fh;
    try {
      fh = await open(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
    } catch (e) {
      throw sysError(`Failed to create file '${path}'`, e);
    }
    try {
      await fh.chmod(mode);
      if (vol.perms.owner !== undefined || vol.perms.group !== undefined) await fh.chown(vol.perms.owner ?? -1, vol.perms.group ?? -1);
      await fh.truncate(Number(vol.capacity)).catch((e: unknown) => { throw sysError(`cannot extend file '${path}'`, e); });
      let copied = 0n;
      if (from?.path) {
        const src = await open(from.path, 'r');
        const blksize = (await fh.stat()).blksize || 4096;
        try {
          const buf = Buffer.alloc(1024 * 1024);
          for (;;) {
            const { bytesRead } = await src.read(buf, 0, buf.length, Number(copied));
            if (bytesRead === 0 || copied >= vol.capacity) break;
            const n = Math.min(bytesRead, Number(vol.capacity - copied));
            // zero blocks (of the file's block size, as libvirt's virStorageBackendCopyToFD) stay
            // holes: the file was truncated to its size already
            for (let off = 0; off < n; off += blksize) {
              const end = Math.min(off + blksize, n);
              if (buf.subarray(off, end).some((b) => b !== 0)) await fh.write(buf, off, end - off, Number(copied) + off);
            }
            copied += BigInt(n);
          }
        } finally {
          await src.close();
        }
      }
      const alloc = vol.allocation > vol.capacity ? vol.capacity : vol.allocation;
      if (alloc > copied && !(from && vol.allocation < from.capacity)) {
        const errno = fallocate(fh.fd, copied, alloc - copied);
        if (errno === ENOSYS || errno === EOPNOTSUPP) await writeZeros(fh, copied, alloc);
        else if (errno !== 0) throw sysError(`cannot allocate ${alloc - copied} bytes in file '${path}'`, { errno });
      }
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw e instanceof MpvirtError ? e : sysError(`cannot fill file '${path}'`, e);
    }
    await fh.close();
    return;
  }
  const args = from
    ? ['convert', '-f', from.format, '-O', vol.format, ...(vol.format === 'qcow2' ? ['-o', qcow2Options(vol, opts.preallocMetadata ?? false)] : []), from.path!, path]
    : ['create', '-f', vol.format, ...(vol.backingStore ? ['-b', vol.backingStore.path, '-F', vol.backingStore.format] : []),
        ...(vol.format === 'qcow2' ? ['-o', qcow2Options(vol, opts.preallocMetadata ?? false)] : []), path, kib(vol.capacity)];
  try {
    await qemuImg(args);
    await chmod(path, mode);
    if (vol.perms.owner !== undefined || vol.perms.group !== undefined) await chown(path, vol.perms.owner ?? -1, vol.perms.group ?? -1);
  } catch (e) {
    await unlink(path).catch(() => undefined);
    throw e;
  }
}

/** The pool's own entry for a volume, checked to be one (not replaced by something else meanwhile). */
async function ownEntry(pool: StoragePoolDef, name: string): Promise<string> {
  const path = volumePath(pool, name);
  const [dir, real] = await Promise.all([realpath(pool.targetPath), realpath(join(path, '..'))]).catch((e: unknown) => {
    throw sysError(`cannot resolve '${path}'`, e);
  });
  if (dir !== real) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `volume '${name}' is not inside pool directory '${pool.targetPath}'`);
  return path;
}

/** `vol-delete`: the entry itself (a link as a link, a volume directory if empty). */
export async function deleteVolume(pool: StoragePoolDef, vol: StorageVolDef): Promise<void> {
  const path = await ownEntry(pool, vol.name);
  const st = await lstat(path).catch((e: unknown) => { throw sysError(`cannot unlink file '${path}'`, e); });
  try {
    if (st.isDirectory()) await rmdir(path);
    else await unlink(path);
  } catch (e) {
    throw sysError(st.isDirectory() ? `cannot remove directory '${path}'` : `cannot unlink file '${path}'`, e);
  }
}

const SCRUB_ALGORITHMS = ['zero', 'nnsa', 'dod', 'bsi', 'gutmann', 'schneier', 'pfitzner7', 'pfitzner33', 'random'];

/** `vol-wipe`: zeros over the data (a sparse file is emptied and re-extended), other algorithms by scrub. */
export async function wipeVolume(pool: StoragePoolDef, vol: StorageVolDef, algorithm: number): Promise<void> {
  if (algorithm === 9) throw new MpvirtError('VIR_ERR_ARGUMENT_UNSUPPORTED', "'trim' algorithm not supported");
  const alg = SCRUB_ALGORITHMS[algorithm];
  if (alg === undefined) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unsupported algorithm ${algorithm}`);
  const path = await ownEntry(pool, vol.name);
  if (alg !== 'zero') {
    await run('scrub', ['-f', '-p', alg, path]).catch((e: NodeJS.ErrnoException & { stderr?: string }) => {
      throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', e.code === 'ENOENT' ? "Cannot find 'scrub' in path: No such file or directory" : `scrub failed: ${(e.stderr ?? e.message).trim()}`);
    });
    return;
  }
  let fh;
  try {
    fh = await open(path, fsc.O_RDWR | fsc.O_NOFOLLOW);
  } catch (e) {
    throw sysError(`Failed to open storage volume with path '${path}'`, e);
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (st.blocks < st.size / 512n) {
      await fh.truncate(0);
      await fh.truncate(Number(st.size));
    } else await writeZeros(fh, 0n, st.size);
    await fh.sync();
  } catch (e) {
    throw sysError(`cannot wipe volume '${path}'`, e);
  } finally {
    await fh.close();
  }
}

/** `vol-resize`: a raw file's length (allocated too with ALLOCATE), a qcow2 image through qemu-img. */
export async function resizeVolume(pool: StoragePoolDef, vol: StorageVolDef, capacity: bigint, allocate: boolean): Promise<void> {
  const path = await ownEntry(pool, vol.name);
  if (vol.format === 'qcow2') {
    if (allocate) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', 'preallocate is only supported for raw type volume');
    await qemuImg(['resize', path, String(capacity)]);
    return;
  }
  if (vol.format !== 'raw') throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `resizing a '${vol.format}' volume is not supported`);
  const fh = await open(path, fsc.O_RDWR | fsc.O_NOFOLLOW).catch((e: unknown) => { throw sysError(`Unable to open '${path}'`, e); });
  try {
    if (allocate && capacity > vol.capacity) {
      const errno = fallocate(fh.fd, vol.capacity, capacity - vol.capacity);
      if (errno !== 0) throw sysError(`Failed to pre-allocate space for file '${path}'`, Object.assign(new Error(), { errno: -errno }));
    }
    await fh.truncate(Number(capacity));
    await fh.sync();
  } catch (e) {
    throw e instanceof MpvirtError ? e : sysError(`Failed to truncate file '${path}'`, e);
  } finally {
    await fh.close();
  }
}
