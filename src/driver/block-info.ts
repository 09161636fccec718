/**
 * `virsh domblkinfo`: virDomainGetBlockInfo's capacity (what the guest sees), allocation (what
 * the image uses on the host) and physical size: of a shut-off guest read from the image itself
 * (libvirt's qemuStorageLimitsRefresh), of a running one from the QEMU that serves the disk.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import type { DiskDef, DomainDef } from '../domainxml/model.js';
import type { QmpClient } from '../emulator/qmp.js';
import { MpvirtError } from '../errors.js';

export interface BlockInfo {
  capacity: bigint;
  allocation: bigint;
  physical: bigint;
}

/** The disk a domblkinfo path names: its target (`sda`) or its source path. */
export function diskByPath(def: DomainDef, path: string): DiskDef {
  const disk = def.devices.find((d): d is DiskDef => d.kind === 'disk' && (d.target.dev === path || d.source?.path === path));
  if (!disk) throw new MpvirtError('VIR_ERR_INVALID_ARG', `invalid path ${path} not assigned to domain`);
  if (!disk.source) throw new MpvirtError('VIR_ERR_INVALID_ARG', `disk '${disk.target.dev}' does not currently have a source assigned`);
  return disk;
}

/** A qcow2 image's virtual size: big-endian u64 at offset 24 of its header. */
async function qcow2Size(path: string): Promise<bigint> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(32);
    const { bytesRead } = await fh.read(buf, 0, 32, 0);
    if (bytesRead < 32 || buf.readUInt32BE(0) !== 0x514649fb) {
      throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `'${path}' is not a qcow2 image`);
    }
    return buf.readBigUInt64BE(24);
  } finally {
    await fh.close();
  }
}

/** A block device's size, from sysfs (its 512-byte sector count). */
async function blockDeviceSize(rdev: bigint): Promise<bigint> {
  const major = (rdev >> 8n) & 0xfffn;
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n);
  const sectors = (await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim();
  return BigInt(sectors) * 512n;
}

export async function readBlockInfo(def: DomainDef, path: string): Promise<BlockInfo> {
  const disk = diskByPath(def, path);
  const file = disk.source!.path;
  let st;
  try {
    st = await stat(file, { bigint: true });
  } catch (e) {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot stat file '${file}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`);
  }
  const physical = st.isBlockDevice() ? await blockDeviceSize(st.rdev) : st.size;
  const format = disk.driver?.format ?? 'raw';
  const capacity = format === 'qcow2' ? await qcow2Size(file) : physical;
  // a block device has no allocation of its own: libvirt reports its size
  const allocation = st.isBlockDevice() ? physical : st.blocks * 512n;
  return { capacity, allocation, physical };
}

interface BlockStatsEntry { 'node-name'?: string; stats?: { wr_highest_offset?: number } }
interface NamedNode { 'node-name'?: string; image?: { 'virtual-size'?: number; 'actual-size'?: number } }

/**
 * A running disk's block info as libvirt's qemuDomainGetBlockInfo gets it: from the QEMU that
 * serves the drive (query-blockstats for the highest written offset, query-named-block-nodes for
 * the virtual and allocated size of its format node); a disk nothing was written to yet reports
 * QEMU's allocated size, and the file's own size as physical.
 */
export async function readBlockInfoLive(qmp: QmpClient, disk: DiskDef, nodeIndex: number): Promise<BlockInfo> {
  const node = `libvirt-${nodeIndex}-format`;
  const stats = await qmp.execute<BlockStatsEntry[]>('query-blockstats', { 'query-nodes': true });
  const nodes = await qmp.execute<NamedNode[]>('query-named-block-nodes', { flat: true });
  const image = nodes.find((n) => n['node-name'] === node)?.image;
  if (!image) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot find statistics for device '${node}'`);
  const actual = BigInt(image['actual-size'] ?? 0);
  const written = stats.find((s) => s['node-name'] === node)?.stats?.wr_highest_offset;
  let allocation = written === undefined || disk.driver?.format === 'qcow2' ? actual : BigInt(written);
  let physical = actual;
  if (actual === 0n || allocation === 0n || allocation === actual) {
    if (allocation === 0n) allocation = actual;
    const st = await stat(disk.source!.path, { bigint: true }).catch(() => undefined);
    if (st) physical = st.isBlockDevice() ? await blockDeviceSize(st.rdev) : st.size;
  }
  return { capacity: BigInt(image['virtual-size'] ?? 0), allocation, physical };
}

/**
 * Whether a disk's image stands alone: raw always, qcow2 when its header names no backing file
 * (offset 8: the backing file name's offset, 0 for none). What libvirt's chain probe shows as
 * `<backingStore/>`; an image that cannot be read is not claimed to stand alone.
 */
export function imageHasNoBacking(disk: DiskDef): boolean {
  const format = disk.driver?.format ?? 'raw';
  if (format === 'raw') return true;
  if (format !== 'qcow2' || !disk.source) return false;
  try {
    const fd = openSync(disk.source.path, 'r');
    try {
      const buf = Buffer.alloc(16);
      return readSync(fd, buf, 0, 16, 0) === 16 && buf.readUInt32BE(0) === 0x514649fb && buf.readBigUInt64BE(8) === 0n;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}
