/**
 * `vol-upload` / `vol-download`: a volume's bytes to and from a stream (libvirt's
 * virStorageBackendVolUploadLocal / DownloadLocal over an fd stream). The file is the volume's
 * own entry in the pool, opened without following a symlink; an upload writes from `offset` and
 * never past `length` (0: no limit); a download reads `length` bytes (0: to the end).
 */
import { constants as fsc } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { readVolume, volumePath } from './dir-backend.js';
import { sysError } from './errors.js';
import { checkFlags } from './storage-driver.js';
import { activePool, notBuilding, type VolumeHandle } from './volume-api.js';

function usable(h: VolumeHandle): string {
  activePool(h.pool);
  notBuilding(h);
  return volumePath(h.pool.def, h.vol.name);
}

async function openVolume(path: string, flags: number): Promise<FileHandle> {
  try {
    return await open(path, flags | fsc.O_NOFOLLOW);
  } catch (e) {
    throw sysError(`Unable to open '${path}'`, e);
  }
}

export interface Upload { write(chunk: Buffer): Promise<void>; finish(): Promise<void>; abort(): Promise<void> }

export async function openUpload(h: VolumeHandle, offset: bigint, length: bigint, flags: number): Promise<Upload> {
  checkFlags(flags, 0, 'virStorageVolUpload'); // SPARSE_STREAM: no holes over this wire yet
  const path = usable(h);
  const fh = await openVolume(path, fsc.O_WRONLY);
  let pos = offset;
  const end = length > 0n ? offset + length : undefined;
  const close = (): Promise<void> => fh.close().catch(() => undefined);
  return {
    async write(chunk) {
      // past the length asked for: libvirt's fd stream answers ENOSPC
      if (end !== undefined && pos + BigInt(chunk.length) > end) throw sysError('cannot write to stream', { errno: 28 });
      try {
        await fh.write(chunk, 0, chunk.length, Number(pos));
      } catch (e) {
        throw sysError(`cannot write to '${path}'`, e);
      }
      pos += BigInt(chunk.length);
    },
    async finish() {
      try {
        await fh.sync();
      } finally {
        await close();
      }
      const fresh = await readVolume(h.pool.def, h.vol.name);
      if (fresh) h.pool.volumes.set(fresh.name, fresh);
    },
    abort: close,
  };
}

export interface Download { read(): Promise<Buffer | undefined>; close(): Promise<void> }

export async function openDownload(h: VolumeHandle, offset: bigint, length: bigint, flags: number): Promise<Download> {
  checkFlags(flags, 0, 'virStorageVolDownload');
  const path = usable(h);
  const fh = await openVolume(path, fsc.O_RDONLY);
  let pos = offset;
  const end = length > 0n ? offset + length : undefined;
  return {
    async read() {
      const want = end === undefined ? 256 * 1024 : Number(end - pos < 262144n ? end - pos : 262144n);
      if (want <= 0) return undefined;
      const buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, Number(pos)).catch((e: unknown) => { throw sysError(`cannot read from '${path}'`, e); });
      if (bytesRead === 0) return undefined;
      pos += BigInt(bytesRead);
      return buf.subarray(0, bytesRead);
    },
    close: () => fh.close().catch(() => undefined),
  };
}
