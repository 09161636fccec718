/**
 * XDR (RFC 4506) as libvirt's rpcgen output uses it, plus small typed
 * combinators so that each remote_*_args / _ret struct is one declaration.
 *
 * Decoding is the attack surface: every byte comes from a client. So the reader
 * checks every length against both the declared maximum and the bytes actually
 * left BEFORE it allocates or slices, and every failure is an XdrDecodeError
 * (a RangeError), which the connection turns into an RPC error or a close.
 *
 * How liberal decoding is follows libvirtd exactly, because clients that do not use libvirt's
 * C library (go-libvirt, and Terraform's provider on it) rely on it. libvirtd decodes with
 * libtirpc's routines (glibc's before), and those accept:
 *  - bool (and so the presence word of optional data): any nonzero word is TRUE (xdr_bool);
 *  - enum: any 32-bit value (xdr_enum; libvirt checks values later, with its own errors);
 *  - unsigned char / short, char: the low bits of the word, no range check (xdr_u_char …);
 *  - padding after opaque data and strings: read and ignored, whatever it holds;
 *  - strings: a C string, so it ends at the first NUL (xdr_string, then used as char *);
 *  - trailing bytes after a call's arguments: ignored (virNetMessageDecodePayload never
 *    checks that the payload was used up) — see {@link decodePrefix}.
 * What they refuse, we refuse: a length over its maximum, data missing, an array announced
 * larger than the bytes left could hold. One deliberate difference: a string that is not
 * UTF-8 is refused (libvirt would pass the bytes on to libxml2 or a name comparison, where
 * they fail later or can never match). Encoding stays canonical (0/1 bools, zero padding).
 */

/** libvirt's REMOTE_STRING_MAX / VIR_NET_MESSAGE_STRING_MAX: 4 MiB. */
export const XDR_STRING_MAX = 4 * 1024 * 1024;

/** The only error decoding ever throws. */
export class XdrDecodeError extends RangeError {
  override readonly name = 'XdrDecodeError';
}

/** A value that cannot be encoded (too long, out of range): a server-side bug or oversized data. */
export class XdrEncodeError extends RangeError {
  override readonly name = 'XdrEncodeError';
}

const pad = (n: number): number => (4 - (n % 4)) % 4;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class XdrWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = Buffer.alloc(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int(v: number): void {
    if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) throw new XdrEncodeError(`int out of range: ${v}`);
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new XdrEncodeError(`unsigned int out of range: ${v}`);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  hyper(v: bigint): void {
    if (v < -(1n << 63n) || v >= 1n << 63n) throw new XdrEncodeError(`hyper out of range: ${v}`);
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  uhyper(v: bigint): void {
    if (v < 0n || v >= 1n << 64n) throw new XdrEncodeError(`unsigned hyper out of range: ${v}`);
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  /** IEEE 754 double, big-endian (RFC 4506 §4.7) */
  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  bool(v: boolean): void {
    this.int(v ? 1 : 0);
  }

  /** Fixed-length opaque: exactly `len` bytes plus padding. */
  fixedOpaque(b: Uint8Array, len: number): void {
    if (b.length !== len) throw new XdrEncodeError(`fixed opaque needs ${len} bytes, got ${b.length}`);
    this.raw(b);
  }

  /** Variable-length opaque `<max>`: length word, bytes, padding. */
  opaque(b: Uint8Array, max: number): void {
    if (b.length > max) throw new XdrEncodeError(`opaque of ${b.length} bytes exceeds ${max}`);
    this.uint(b.length);
    this.raw(b);
  }

  string(s: string, max = XDR_STRING_MAX): void {
    this.opaque(Buffer.from(s, 'utf8'), max);
  }

  private raw(b: Uint8Array): void {
    const n = b.length + pad(b.length);
    this.ensure(n);
    this.buf.set(b, this.pos);
    this.buf.fill(0, this.pos + b.length, this.pos + n);
    this.pos += n;
  }

  /** The bytes written so far (a view: do not keep the writer). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class XdrReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) throw new XdrDecodeError(`truncated ${what}: need ${n} bytes, ${this.remaining} left`);
  }

  private view(): DataView {
    return new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  int(): number {
    this.need(4, 'int');
    const v = this.view().getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(4, 'unsigned int');
    const v = this.view().getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  hyper(): bigint {
    this.need(8, 'hyper');
    const v = this.view().getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  uhyper(): bigint {
    this.need(8, 'unsigned hyper');
    const v = this.view().getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  double(): number {
    this.need(8, 'double');
    const v = this.view().getFloat64(this.pos);
    this.pos += 8;
    return v;
  }


  /** xdr_bool: 0 is FALSE, any other word TRUE. */
  bool(): boolean {
    return this.int() !== 0;
  }

  /** `len` bytes, then the padding, which is skipped unread (as xdr_opaque does). */
  fixedOpaque(len: number): Buffer {
    this.need(len + pad(len), 'fixed opaque');
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + len)); // a copy: the frame buffer is not kept alive
    this.pos += len + pad(len);
    return b;
  }

  opaque(max: number): Buffer {
    const len = this.uint();
    if (len > max) throw new XdrDecodeError(`opaque of ${len} bytes exceeds ${max}`);
    return this.fixedOpaque(len);
  }

  /** xdr_string: the C string ends at the first NUL, whatever the length word said. */
  string(max = XDR_STRING_MAX): string {
    const b = this.opaque(max);
    const nul = b.indexOf(0);
    try {
      return utf8.decode(nul < 0 ? b : b.subarray(0, nul));
    } catch {
      throw new XdrDecodeError('string is not valid UTF-8');
    }
  }

  /** An array count: at most `max`, and no more items than bytes left could hold (each ≥ 4). */
  count(max: number): number {
    const n = this.uint();
    if (n > max) throw new XdrDecodeError(`array of ${n} items exceeds ${max}`);
    if (n * 4 > this.remaining) throw new XdrDecodeError(`array of ${n} items cannot fit in ${this.remaining} bytes`);
    return n;
  }

  /** Throws unless everything was consumed. */
  end(): void {
    if (this.remaining !== 0) throw new XdrDecodeError(`${this.remaining} trailing bytes`);
  }
}

// ------------------------------------------------------------------ combinators

export interface Codec<T> {
  encode(w: XdrWriter, v: T): void;
  decode(r: XdrReader): T;
}
export type Infer<C> = C extends Codec<infer T> ? T : never;

const prim = <T>(encode: (w: XdrWriter, v: T) => void, decode: (r: XdrReader) => T): Codec<T> => ({ encode, decode });

export const int = prim<number>((w, v) => w.int(v), (r) => r.int());
export const uint = prim<number>((w, v) => w.uint(v), (r) => r.uint());
export const hyper = prim<bigint>((w, v) => w.hyper(v), (r) => r.hyper());
export const uhyper = prim<bigint>((w, v) => w.uhyper(v), (r) => r.uhyper());
export const bool = prim<boolean>((w, v) => w.bool(v), (r) => r.bool());
export const double = prim<number>((w, v) => w.double(v), (r) => r.double());
/** `void`: no bytes (procedures without args or return value). */
export const none = prim<void>(() => {}, () => undefined);

/**
 * rpcgen widens `unsigned char` / `unsigned short` to 4 bytes on the wire. Decoding keeps the
 * low bits, as xdr_u_char / xdr_u_short's cast does; encoding refuses what does not fit.
 */
const bounded = (bits: number, what: string): Codec<number> =>
  prim(
    (w, v) => {
      if (v < 0 || v >= 2 ** bits) throw new XdrEncodeError(`${what} out of range: ${v}`);
      w.uint(v);
    },
    (r) => r.uint() % 2 ** bits,
  );
export const uchar = bounded(8, 'unsigned char');
export const ushort = bounded(16, 'unsigned short');

export const string = (max = XDR_STRING_MAX): Codec<string> => prim((w, v) => w.string(v, max), (r) => r.string(max));
export const opaque = (max: number): Codec<Buffer> => prim((w, v) => w.opaque(v, max), (r) => r.opaque(max));
export const fixedOpaque = (len: number): Codec<Buffer> => prim((w, v) => w.fixedOpaque(v, len), (r) => r.fixedOpaque(len));

/** `T *x`: a bool word, then the value when present. */
export const optional = <T>(c: Codec<T>): Codec<T | null> =>
  prim(
    (w, v) => {
      w.bool(v !== null);
      if (v !== null) c.encode(w, v);
    },
    (r) => (r.bool() ? c.decode(r) : null),
  );

/** `T x<max>` */
export const array = <T>(c: Codec<T>, max: number): Codec<T[]> =>
  prim(
    (w, v) => {
      if (v.length > max) throw new XdrEncodeError(`array of ${v.length} items exceeds ${max}`);
      w.uint(v.length);
      for (const item of v) c.encode(w, item);
    },
    (r) => {
      const n = r.count(max);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(c.decode(r));
      return out;
    },
  );

/** One C `char` as rpcgen's xdr_char writes it: a whole 4-byte int. */
function charBytes(s: string, max: number): Buffer {
  // libvirtd sends the C buffer with its NUL (strlen + 1); clients read it as a C string
  const b = Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
  if (b.length > max) throw new XdrEncodeError(`char array of ${b.length} bytes exceeds ${max}`);
  return b;
}
function charsToString(bytes: number[]): string {
  const end = bytes.indexOf(0);
  try {
    return utf8.decode(Uint8Array.from(end < 0 ? bytes : bytes.slice(0, end)));
  } catch {
    throw new XdrDecodeError('char array is not valid UTF-8');
  }
}
/** xdr_char: signed or unsigned, sign-extended or not, the low byte is the char (a C cast). */
const decodeChar = (r: XdrReader): number => r.int() & 0xff;

/** libvirt's `char x<max>` quirk: a count, then 4 bytes per character; the string ends at the first NUL. */
export const chars = (max: number): Codec<string> =>
  prim(
    (w, v) => {
      const b = charBytes(v, max);
      w.uint(b.length);
      for (const c of b) w.int(c);
    },
    (r) => {
      const n = r.count(max);
      const bytes: number[] = [];
      for (let i = 0; i < n; i++) bytes.push(decodeChar(r));
      return charsToString(bytes);
    },
  );

/** `char x[len]`: exactly `len` 4-byte characters, NUL-padded. */
export const fixedChars = (len: number): Codec<string> =>
  prim(
    (w, v) => {
      const b = charBytes(v, len);
      for (let i = 0; i < len; i++) w.int(b[i] ?? 0);
    },
    (r) => {
      const bytes: number[] = [];
      for (let i = 0; i < len; i++) bytes.push(decodeChar(r));
      return charsToString(bytes);
    },
  );

// Codec<T> is invariant in T, so a record of differently typed codecs needs `any` here
type Fields = Record<string, Codec<any>>;
export type StructOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

/** A struct: fields are encoded in the order the object literal declares them (as in the .x file). */
export const struct = <F extends Fields>(fields: F): Codec<StructOf<F>> => {
  const entries = Object.entries(fields);
  return prim(
    (w, v) => {
      for (const [k, c] of entries) c.encode(w, (v as Record<string, unknown>)[k]);
    },
    (r) => {
      const out: Record<string, unknown> = {};
      for (const [k, c] of entries) out[k] = c.decode(r);
      return out as StructOf<F>;
    },
  );
};

export function encode<T>(c: Codec<T>, v: T): Buffer {
  const w = new XdrWriter();
  c.encode(w, v);
  return w.finish();
}

/** Decodes a whole buffer: trailing bytes are an error too (for what we produce ourselves). */
export function decode<T>(c: Codec<T>, b: Uint8Array): T {
  const r = new XdrReader(b);
  const v = c.decode(r);
  r.end();
  return v;
}

/**
 * Decodes a value from the start of `b` and ignores whatever follows, as libvirtd does with a
 * call's payload (virNetMessageDecodePayload): what a client's arguments are.
 */
export function decodePrefix<T>(c: Codec<T>, b: Uint8Array): T {
  return c.decode(new XdrReader(b));
}
