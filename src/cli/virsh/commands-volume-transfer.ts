/**
 * vol-upload and vol-download (tools/virsh-volume.c cmdVolUpload, cmdVolDownload): a file's bytes
 * into a volume and back over a libvirt stream, `--offset`/`--length` as virsh reads them, and
 * `--sparse` as virStreamSparseSendAll / virStreamSparseRecvAll do it (holes found with
 * SEEK_DATA/SEEK_HOLE, sent as holes; received holes become file holes, or zeroes on a block device).
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync, constants } from 'node:fs';
import { declareFunctions } from '../../libvirt/ffi.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { Stream } from '../../libvirt/stream.js';
import '../../libvirt/storage-more.js';
import { commonOpt, type CmdDef, type OptDef, type ParsedCommand } from '../vsh/command-def.js';
import { optBool, optString, optULongLong } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { poolOptional, volOpt, withVol } from './lookup-storage.js';

type Cmd = CmdDef<Ctl>;

interface Libc {
  lseek(fd: number, offset: bigint, whence: number): bigint;
}
const libc = declareFunctions<Libc>({ lseek: 'int64_t lseek(int fd, int64_t offset, int whence)' }, 'libc.so.6');
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const SEEK_END = 2;
/** virsh's transfer buffer (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX) */
const CHUNK = 256 * 1024 - 24;

const opts = (what: 'upload to' | 'download from', amount: 'upload' | 'download'): OptDef[] => [
  volOpt('vol name, key or path'),
  commonOpt.file('file'),
  poolOptional,
  { name: 'offset', type: 'int', help: `volume offset to ${what}` },
  { name: 'length', type: 'int', help: `amount of data to ${amount}` },
  { name: 'sparse', type: 'bool', help: 'preserve sparseness of volume' },
];

/** --offset (vshCommandOptULongLong) and --length (…Wrap: -1 is "to the end") */
function range(cmd: ParsedCommand): { offset: bigint; length: bigint } {
  return { offset: optULongLong(cmd, 'offset') ?? 0n, length: optULongLong(cmd, 'length', true) ?? 0n };
}

/** virFileInData: whether `pos` is in data, and how long that data (or hole) lasts. */
function inData(fd: number, pos: bigint): { data: boolean; length: bigint } {
  const data = libc().lseek(fd, pos, SEEK_DATA);
  if (data < 0n) {
    // ENXIO: a trailing hole (or EOF); SEEK_DATA is always there on Linux
    const end = libc().lseek(fd, 0n, SEEK_END);
    return { data: false, length: end - pos };
  }
  if (data > pos) return { data: false, length: data - pos };
  const hole = libc().lseek(fd, pos, SEEK_HOLE);
  return { data: true, length: hole - pos };
}

/** virStreamSendAll / virStreamSparseSendAll from `fd`; a LibvirtError on a stream failure. */
function sendFile(st: Stream, fd: number, sparse: boolean): void {
  const buf = Buffer.alloc(CHUNK);
  let pos = 0n;
  let dataLen = 0n;
  for (;;) {
    let want = CHUNK;
    if (sparse) {
      if (dataLen === 0n) {
        const section = inData(fd, pos);
        if (!section.data && section.length > 0n) {
          st.sendHole(section.length);
          pos += section.length;
          continue;
        }
        dataLen = section.length;
      }
      if (BigInt(want) > dataLen) want = Number(dataLen);
    }
    const got = readSync(fd, buf, 0, want, pos);
    if (got === 0) break;
    st.sendAllOf(buf.subarray(0, got));
    pos += BigInt(got);
    if (sparse) dataLen -= BigInt(got);
  }
}

/** virStreamSparseRecvAll into `fd`: holes skipped (ftruncate) or, on a block device, written as zeroes. */
function receiveFile(st: Stream, fd: number, isBlock: boolean): void {
  let pos = 0;
  for (;;) {
    const got = st.recvSparse(CHUNK);
    if (!Buffer.isBuffer(got)) {
      const hole = Number(got.hole);
      if (isBlock) {
        const zeroes = Buffer.alloc(Math.min(hole, 1024 * 1024));
        for (let left = hole; left > 0;) left -= writeSync(fd, zeroes, 0, Math.min(left, zeroes.length), pos + hole - left);
      }
      pos += hole;
      if (!isBlock) ftruncateSync(fd, pos);
      continue;
    }
    if (got.length === 0) return;
    for (let off = 0; off < got.length;) off += writeSync(fd, got, off, got.length - off, pos + off);
    pos += got.length;
  }
}

/**
 * The transfer loop, as virStreamSendAll / virStreamSparseRecvAll run it: a stream failure is
 * libvirt's error after virsh's `message`; a failure of the file (the handler's -1) aborts the
 * stream and leaves only the message.
 */
function transfer(ctl: Ctl, message: string, st: Stream, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof LibvirtError) ctl.lastError = e;
    else if ((e as NodeJS.ErrnoException).syscall !== undefined) {
      try {
        st.abort();
      } catch {
        // the stream may be gone already; virsh ignores the abort's result too
      }
    } else throw e;
    ctl.error(message);
    return false;
  }
}

const upload: Cmd = {
  name: 'vol-upload', help: 'upload file contents to a volume', desc: 'Upload file contents to a volume', opts: opts('upload to', 'upload'),
  handler: (ctl, cmd) => {
    const { offset, length } = range(cmd);
    return withVol(ctl, cmd, (vol, name) => {
      const file = optString(cmd, 'file')!;
      let fd: number;
      try {
        fd = openSync(file, constants.O_RDONLY);
      } catch {
        ctl.error(`cannot read ${file}`);
        return false;
      }
      try {
        const isBlock = fstatSync(fd).isBlockDevice();
        const sparse = optBool(cmd, 'sparse') && !isBlock; // a block device is all data (virshStreamInData)
        const flags = optBool(cmd, 'sparse') ? 1 : 0;
        const st = attempt(ctl, 'cannot create a new stream', () => ctl.connected!.newStream(0));
        if (!st) return false;
        try {
          if (attempt(ctl, `cannot upload to volume ${name}`, () => (vol.upload(st, offset, length, flags), true)) === undefined) return false;
          if (!transfer(ctl, `cannot send data to volume ${name}`, st, () => sendFile(st, fd, sparse))) return false;
          if (attempt(ctl, `cannot close volume ${name}`, () => (st.finish(), true)) === undefined) return false;
          return true;
        } finally {
          st.free();
        }
      } finally {
        closeSync(fd);
      }
    });
  },
};

const download: Cmd = {
  name: 'vol-download', help: 'download volume contents to a file', desc: 'Download volume contents to a file', opts: opts('download from', 'download'),
  handler: (ctl, cmd) => {
    const { offset, length } = range(cmd);
    return withVol(ctl, cmd, (vol, name) => {
      const file = optString(cmd, 'file')!;
      const flags = optBool(cmd, 'sparse') ? 1 : 0;
      let fd: number;
      let created = false;
      try {
        fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666);
        created = true;
      } catch (e) {
        try {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          fd = openSync(file, constants.O_WRONLY | constants.O_TRUNC, 0o666);
        } catch {
          ctl.error(`cannot create ${file}`);
          return false;
        }
      }
      let ok = false;
      try {
        const isBlock = fstatSync(fd).isBlockDevice();
        const st = attempt(ctl, 'cannot create a new stream', () => ctl.connected!.newStream(0));
        if (!st) return false;
        try {
          if (attempt(ctl, `cannot download from volume ${name}`, () => (vol.download(st, offset, length, flags), true)) === undefined) return false;
          if (!transfer(ctl, `cannot receive data from volume ${name}`, st, () => receiveFile(st, fd, isBlock))) return false;
          if (attempt(ctl, `cannot close volume ${name}`, () => (st.finish(), true)) === undefined) return false;
          ok = true;
          return true;
        } finally {
          st.free();
        }
      } finally {
        closeSync(fd);
        if (!ok && created) unlinkSync(file);
      }
    });
  },
};

export const volumeTransferCommands: Cmd[] = [upload, download];
