/**
 * libvirt's RPC framing (virnetprotocol.x): programs, the 24-byte header,
 * length-prefixed frames, domain handles and the error payload. Everything a
 * connection needs before it knows which procedure a call is for.
 */
import { ForeignLibvirtError, isMpvirtError } from '../errors.js';
import * as x from './xdr.js';
import { XdrDecodeError } from './xdr.js';

export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_PROTOCOL_VERSION = 1;
export const QEMU_PROGRAM = 0x20008087;
export const QEMU_PROTOCOL_VERSION = 1;
export const KEEPALIVE_PROGRAM = 0x6b656570; // "keep"
export const KEEPALIVE_PROTOCOL_VERSION = 1;
export const KeepaliveProc = { PING: 1, PONG: 2 } as const;

export const MessageType = {
  CALL: 0,
  REPLY: 1,
  /** async notification: events and keepalive, serial 0 */
  MESSAGE: 2,
  STREAM: 3,
  CALL_WITH_FDS: 4,
  REPLY_WITH_FDS: 5,
  STREAM_HOLE: 6,
} as const;

export const MessageStatus = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

/** The length word counts itself (gotcha 1 of libvirt-rpc.md §9). */
export const LEN_SIZE = 4;
export const HEADER_SIZE = 24;
export const MIN_FRAME = LEN_SIZE + HEADER_SIZE;
/**
 * Largest frame we accept, length word included. libvirt 9.0 itself allows
 * 32 MiB (+4); nothing we serve comes near 16 MiB since strings stop at 4 MiB.
 */
export const VIR_NET_MESSAGE_MAX = 16 * 1024 * 1024;
/** fds one message may carry (virnetprotocol.x) */
export const VIR_NET_MESSAGE_NUM_FDS_MAX = 32;

export interface Header {
  prog: number;
  vers: number;
  proc: number;
  type: number;
  serial: number;
  status: number;
}

export const headerCodec = x.struct({ prog: x.uint, vers: x.uint, proc: x.int, type: x.int, serial: x.uint, status: x.int });

export interface Frame {
  header: Header;
  payload: Buffer;
}

/** One whole frame: length word, header, payload. */
export function encodeFrame(header: Header, payload: Uint8Array): Buffer {
  const total = MIN_FRAME + payload.length;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(header.prog, 4);
  out.writeUInt32BE(header.vers, 8);
  out.writeInt32BE(header.proc, 12);
  out.writeInt32BE(header.type, 16);
  out.writeUInt32BE(header.serial, 20);
  out.writeInt32BE(header.status, 24);
  out.set(payload, MIN_FRAME);
  return out;
}

/**
 * Splits a byte stream into frames. Chunks may end anywhere (inside the
 * length word, the header or the payload). The length is checked before any
 * buffer is grown for the frame, and the buffer grows with what actually
 * arrives (doubling, capped at the announced length): a client announcing
 * 16 MiB and sending 4 bytes costs 4 bytes, not 16 MiB, and one sending a
 * byte at a time costs amortised O(1) per byte.
 * Throws XdrDecodeError for an impossible length: the stream cannot be
 * resynchronised after that, so the caller must close the connection.
 */
export class FrameDecoder {
  private readonly lenBuf = Buffer.alloc(LEN_SIZE);
  private lenFill = 0;
  /** announced length of the frame being read, 0 while the length word is incomplete */
  private need = 0;
  private buf = Buffer.alloc(0);
  private fill = 0;
  private broken = false;
  /** bytes still to drop: the one byte each fd of a CALL_WITH_FDS comes with, after the frame */
  private skip = 0;

  constructor(private readonly maxFrame = VIR_NET_MESSAGE_MAX) {}

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.need ? this.fill : this.lenFill;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.broken) throw new XdrDecodeError('stream already failed');
    const out: Frame[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        // we read no SCM_RIGHTS: the kernel closes those fds; the call itself is refused
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      if (this.need === 0) {
        const n = Math.min(LEN_SIZE - this.lenFill, chunk.length - i);
        this.lenBuf.set(chunk.subarray(i, i + n), this.lenFill);
        this.lenFill += n;
        i += n;
        if (this.lenFill < LEN_SIZE) break;
        const len = this.lenBuf.readUInt32BE(0);
        if (len < MIN_FRAME || len > this.maxFrame) {
          this.broken = true;
          throw new XdrDecodeError(`frame length ${len} outside ${MIN_FRAME}..${this.maxFrame}`);
        }
        this.need = len;
        this.lenFill = 0;
        this.append(this.lenBuf);
      }
      const n = Math.min(this.need - this.fill, chunk.length - i);
      this.append(chunk.subarray(i, i + n));
      i += n;
      if (this.fill === this.need) {
        const f = this.buf; // exactly `need` bytes: growth is capped at the announced length
        this.buf = Buffer.alloc(0);
        this.fill = 0;
        this.need = 0;
        const header = x.decode(headerCodec, f.subarray(LEN_SIZE, MIN_FRAME));
        out.push({ header, payload: f.subarray(MIN_FRAME) });
        if (header.type === MessageType.CALL_WITH_FDS) {
          // the number of fds leads the payload (virNetMessageDecodeNumFDs), at most 32
          const nfds = f.length >= MIN_FRAME + 4 ? f.readUInt32BE(MIN_FRAME) : 0;
          if (nfds > VIR_NET_MESSAGE_NUM_FDS_MAX) {
            this.broken = true;
            throw new XdrDecodeError(`Too many FDs received: ${nfds} > ${VIR_NET_MESSAGE_NUM_FDS_MAX}`);
          }
          this.skip = nfds;
        }
      }
    }
    return out;
  }

  private append(src: Uint8Array): void {
    if (this.fill + src.length > this.buf.length) {
      const cap = Math.min(this.need, Math.max(this.fill + src.length, this.buf.length * 2, 4096));
      const next = Buffer.allocUnsafe(cap);
      this.buf.copy(next, 0, 0, this.fill);
      this.buf = next;
    }
    this.buf.set(src, this.fill);
    this.fill += src.length;
  }
}

// ------------------------------------------------------------------ domains

/** remote_nonnull_domain; `uuid` is the 16 raw bytes. */
export const nonnullDomain = x.struct({ name: x.string(), uuid: x.fixedOpaque(16), id: x.int });
export type WireDomain = x.Infer<typeof nonnullDomain>;
/** remote_domain: the optional form (events' filter, errors). */
export const optionalDomain = x.optional(nonnullDomain);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function uuidToBytes(uuid: string): Buffer {
  const u = uuid.toLowerCase();
  if (!UUID_RE.test(u)) throw new RangeError(`not a UUID: ${uuid}`);
  return Buffer.from(u.replaceAll('-', ''), 'hex');
}

export function bytesToUuid(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** What the driver knows about a domain, as a wire handle (id -1 when inactive). */
export function toWireDomain(d: { name: string; uuid: string; id: number; active?: boolean }): WireDomain {
  return { name: d.name, uuid: uuidToBytes(d.uuid), id: d.active === false ? -1 : d.id };
}

// ------------------------------------------------------------------ errors

const optionalString = x.optional(x.string());
/** remote_nonnull_network: never sent, but part of the error struct's layout. */
const optionalNetwork = x.optional(x.struct({ name: x.string(), uuid: x.fixedOpaque(16) }));

export const remoteErrorCodec = x.struct({
  code: x.int,
  domain: x.int,
  message: optionalString,
  level: x.int,
  dom: optionalDomain,
  str1: optionalString,
  str2: optionalString,
  str3: optionalString,
  int1: x.int,
  int2: x.int,
  net: optionalNetwork,
});
export type RemoteError = x.Infer<typeof remoteErrorCodec>;

const VIR_ERR_ERROR = 2; // virErrorLevel
/** An error text quoting a huge input must still fit a string (4 MiB) and a terminal. */
const MAX_ERROR_TEXT = 64 * 1024;
const VIR_ERR_INTERNAL_ERROR = 1;

/**
 * The wire form of any error a handler threw. MpvirtError carries libvirt's
 * code, domain and full text; anything else is a bug and becomes an internal
 * error with its message, so the client still gets an answer.
 */
export function toRemoteError(e: unknown): RemoteError {
  if (e instanceof ForeignLibvirtError) {
    const m = e.message.length > MAX_ERROR_TEXT ? `${e.message.slice(0, MAX_ERROR_TEXT)}…` : e.message;
    return { code: e.number, domain: e.domain, message: m, ...e.extra, dom: null, net: null };
  }
  const [code, domain, message] = isMpvirtError(e)
    ? [e.number, e.domain, e.message]
    : [VIR_ERR_INTERNAL_ERROR, 0, `internal error: ${e instanceof Error ? e.message : String(e)}`];
  return {
    code, domain, message: message.length > MAX_ERROR_TEXT ? `${message.slice(0, MAX_ERROR_TEXT)}…` : message, level: VIR_ERR_ERROR,
    dom: null, str1: null, str2: null, str3: null, int1: 0, int2: 0, net: null,
  };
}
