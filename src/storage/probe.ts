/**
 * What a file in a pool is, from its header, as libvirt's storage_file_probe.c reads it: qcow2
 * (virtual size, compat level, cluster size, features, backing file), an ISO 9660 image, or raw.
 * Only the header is read; a probe never follows or opens a backing file.
 */
import { open } from 'node:fs/promises';

export interface ProbedImage {
  format: 'raw' | 'qcow2' | 'qcow' | 'iso';
  /** guest-visible size; undefined: the file's size */
  virtualSize?: bigint;
  compat?: string;
  clusterSize?: bigint;
  features?: string[];
  backing?: { path: string; format: string };
}

const QCOW_MAGIC = 0x514649fb; // "QFI\xfb"
const HEADER_BYTES = 64 * 1024;
const BACKING_FORMAT_EXT = 0xe2792aca;

function qcow2(buf: Buffer): ProbedImage {
  const version = buf.readUInt32BE(4);
  const out: ProbedImage = { format: 'qcow2', virtualSize: buf.readBigUInt64BE(24), clusterSize: 1n << BigInt(buf.readUInt32BE(20)) };
  out.compat = version === 2 ? '0.10' : '1.1';
  let headerLength = 72;
  if (version >= 3 && buf.length >= 104) {
    const incompatible = buf.readBigUInt64BE(72);
    const compatible = buf.readBigUInt64BE(80);
    out.features = [...(compatible & 1n ? ['lazy_refcounts'] : []), ...(incompatible & 16n ? ['extended_l2'] : [])];
    headerLength = buf.readUInt32BE(100);
  }
  const backingOffset = Number(buf.readBigUInt64BE(8));
  const backingSize = buf.readUInt32BE(16);
  if (backingOffset > 0 && backingSize > 0 && backingOffset + backingSize <= buf.length) {
    let format = 'raw';
    // header extensions follow the header: type, length, data padded to 8 bytes
    for (let off = headerLength; off + 8 <= buf.length && off < backingOffset;) {
      const type = buf.readUInt32BE(off);
      const len = buf.readUInt32BE(off + 4);
      if (type === 0) break;
      if (type === BACKING_FORMAT_EXT && off + 8 + len <= buf.length) format = buf.subarray(off + 8, off + 8 + len).toString('utf8');
      off += 8 + Math.ceil(len / 8) * 8;
    }
    out.backing = { path: buf.subarray(backingOffset, backingOffset + backingSize).toString('utf8'), format };
  }
  return out;
}

/** Probe `path` (a regular file). Unreadable headers count as raw, as libvirt's probe does. */
export async function probeImage(path: string): Promise<ProbedImage> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0);
    const head = buf.subarray(0, bytesRead);
    if (head.length >= 104 && head.readUInt32BE(0) === QCOW_MAGIC) {
      const version = head.readUInt32BE(4);
      if (version === 2 || version === 3) return qcow2(head);
      if (version === 1) return { format: 'qcow', virtualSize: head.readBigUInt64BE(24) };
    }
    if (head.length >= 32774 && head.subarray(32769, 32774).toString('latin1') === 'CD001') return { format: 'iso' };
    return { format: 'raw' };
  } finally {
    await fh.close();
  }
}
