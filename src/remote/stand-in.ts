/**
 * The dead remote's stand-in (../shared/notes/replug.md): the daemon keeps its own copy of each
 * remote's end of the link, unread while the remote lives. When the remote dies, the main QEMU's
 * proxy would read all-ones from the device's BARs forever (the guest's driver loops on them and
 * the main QEMU floods its log with failed writes); instead the daemon answers in the remote's
 * place: every config-space and BAR access and a device reset gets `RET 0`, memory sync and irqfd
 * messages are taken silently — until the proxy device is unplugged (EOF) or the domain stops.
 *
 * A request in flight when the remote died — read by the remote, never answered — would leave a
 * vCPU of the main QEMU waiting for its reply forever (the guest then never lets the device go).
 * So activation first sends one unsolicited `RET 0`. It cannot tell whether such a request
 * exists, and need not: if none does, the next request reads that RET as its answer and every
 * later one the answer to the one before — all `RET 0`, so nothing differs. The request's own
 * effect is lost, as on a real HBA that failed: a read gives 0, a write is dropped, and a SCSI
 * command the device had taken is never completed (the guest's SCSI layer times it out, or fails
 * it when the device is removed).
 *
 * mpqemu's message (QEMU hw/remote/mpqemu-link.h): a 16-byte header, little-endian
 * `{ int32 cmd; int32 pad; uint64 size }`, then `size` bytes of payload; its reply `RET` is
 * cmd 1 with an 8-byte payload.
 */
import net from 'node:net';
import { closeFd } from '../emulator/unixfd.js';

export const MpqemuCmd = { SYNC_SYSMEM: 0, RET: 1, PCI_CFGWRITE: 2, PCI_CFGREAD: 3, BAR_WRITE: 4, BAR_READ: 5, SET_IRQFD: 6, DEVICE_RESET: 7 } as const;
const ANSWERED = new Set<number>([MpqemuCmd.PCI_CFGWRITE, MpqemuCmd.PCI_CFGREAD, MpqemuCmd.BAR_WRITE, MpqemuCmd.BAR_READ, MpqemuCmd.DEVICE_RESET]);
const HEADER = 16;
/** far above any mpqemu payload (a few dozen bytes): a bigger size means the stream is not mpqemu */
const MAX_PAYLOAD = 1 << 16;

/** `RET 0`: what the proxy waits for after each access. */
export function retMessage(value = 0n): Buffer {
  const b = Buffer.alloc(HEADER + 8);
  b.writeInt32LE(MpqemuCmd.RET, 0);
  b.writeBigUInt64LE(8n, 8);
  b.writeBigUInt64LE(value, HEADER);
  return b;
}

export interface StandInStats {
  /** messages seen, by command */
  seen: Map<number, number>;
}

/** A held end of a remote's link: nothing reads it until {@link activate}. */
export class RemoteStandIn {
  #fd: number;
  #sock: net.Socket | undefined;
  readonly stats: StandInStats = { seen: new Map() };
  readonly ended: Promise<void>;
  #end!: () => void;

  /** `fd`: the daemon's own duplicate of the remote's end of the link (ownership moves here). */
  constructor(fd: number) {
    this.#fd = fd;
    this.ended = new Promise((r) => (this.#end = r));
  }

  get active(): boolean {
    return this.#sock !== undefined;
  }

  /** The remote is gone: answer the proxy from now on. */
  activate(): void {
    if (this.#sock || this.#fd < 0) return;
    const sock = new net.Socket({ fd: this.#fd, readable: true, writable: true });
    this.#fd = -1; // the socket owns it now
    this.#sock = sock;
    // the answer to a request the dead remote may have taken (see above)
    sock.write(retMessage());
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        if (buf.length < HEADER) return;
        const cmd = buf.readInt32LE(0);
        const size = buf.readBigUInt64LE(8);
        if (size > BigInt(MAX_PAYLOAD)) return this.close();
        const total = HEADER + Number(size);
        if (buf.length < total) return;
        buf = buf.subarray(total);
        this.stats.seen.set(cmd, (this.stats.seen.get(cmd) ?? 0) + 1);
        if (ANSWERED.has(cmd)) sock.write(retMessage());
      }
    });
    sock.on('error', () => this.close());
    sock.on('close', () => this.#end());
    sock.on('end', () => this.close());
  }

  /** Stop answering and let go of the end (the domain stopped, or the proxy was unplugged). */
  close(): void {
    if (this.#sock) {
      this.#sock.destroy();
      this.#sock = undefined;
    } else if (this.#fd >= 0) {
      closeFd(this.#fd);
      this.#fd = -1;
      this.#end();
    }
  }
}
