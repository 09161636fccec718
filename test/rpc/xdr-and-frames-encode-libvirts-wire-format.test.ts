/**
 * The XDR primitives and libvirt's quirks, byte for byte, and the frame
 * splitter against every way a stream can be chunked. Expected bytes are
 * written out by hand from RFC 4506 and libvirt-rpc.md, not produced by src/.
 */
import { describe, expect, it } from 'vitest';
import { MpvirtError } from '../../src/errors.js';
import {
  bytesToUuid, encodeFrame, FrameDecoder, MIN_FRAME, nonnullDomain, REMOTE_PROGRAM, remoteErrorCodec, toRemoteError,
  uuidToBytes, VIR_NET_MESSAGE_MAX,
} from '../../src/rpc/protocol.js';
import * as x from '../../src/rpc/xdr.js';
import { XdrDecodeError, XdrEncodeError } from '../../src/rpc/xdr.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

describe('XDR primitives', () => {
  it('are big-endian and 4-byte aligned', () => {
    expect(hex(x.encode(x.int, -2))).toBe('fffffffe');
    expect(hex(x.encode(x.uint, 0x20008086))).toBe('20008086');
    expect(hex(x.encode(x.hyper, -1n))).toBe('ffffffffffffffff');
    expect(hex(x.encode(x.uhyper, 7_002_022n))).toBe('00000000006ad7a6');
    expect(hex(x.encode(x.bool, true))).toBe('00000001');
    expect(hex(x.encode(x.string(), 'abcde'))).toBe('00000005' + '6162636465' + '000000');
    expect(hex(x.encode(x.string(), ''))).toBe('00000000');
    expect(hex(x.encode(x.fixedOpaque(3), Buffer.from([1, 2, 3])))).toBe('01020300');
    expect(hex(x.encode(x.optional(x.int), null))).toBe('00000000');
    expect(hex(x.encode(x.optional(x.int), 5))).toBe('0000000100000005');
    expect(hex(x.encode(x.array(x.int, 4), [1, 2]))).toBe('00000002' + '00000001' + '00000002');
  });

  it('widen unsigned char and unsigned short to 4 bytes (domain_get_info_ret)', () => {
    const info = x.struct({ state: x.uchar, maxMem: x.uhyper, memory: x.uhyper, nrVirtCpu: x.ushort, cpuTime: x.uhyper });
    const b = x.encode(info, { state: 5, maxMem: 262144n, memory: 262144n, nrVirtCpu: 1, cpuTime: 0n });
    expect(b.length).toBe(4 + 8 + 8 + 4 + 8);
    expect(hex(b.subarray(0, 4))).toBe('00000005');
    expect(() => x.encode(x.uchar, 256)).toThrow(XdrEncodeError);
    // decoding keeps the low bits, as xdr_u_char's cast does
    expect(x.decode(x.uchar, bytes('00000105'))).toBe(5);
    expect(x.decode(x.ushort, bytes('00012345'))).toBe(0x2345);
  });

  it("write libvirt's char<> as 4 bytes per character including the NUL", () => {
    // security model "none": count 5, then n o n e NUL as ints
    expect(hex(x.encode(x.chars(257), 'none'))).toBe('00000005' + '0000006e' + '0000006f' + '0000006e' + '00000065' + '00000000');
    expect(x.decode(x.chars(257), bytes('00000003 00000061 00000062 00000000'))).toBe('ab');
    // sign-extended chars (a C `char` is signed on x86) keep their byte
    expect(x.decode(x.chars(8), bytes('00000002 ffffffc3 ffffffa9'))).toBe('é');
    expect(x.encode(x.fixedChars(32), 'x86_64').length).toBe(128);
    expect(x.decode(x.fixedChars(32), x.encode(x.fixedChars(32), 'x86_64'))).toBe('x86_64');
    expect(() => x.encode(x.chars(4), 'four')).toThrow(XdrEncodeError); // 5 with its NUL
  });

  it("decode exactly as liberally as libtirpc's routines in libvirtd, and encode canonically", () => {
    // go-libvirt's CONNECT_OPEN: the presence word of the optional name is the bytes 01 00 00 00
    const open = x.struct({ name: x.optional(x.string()), flags: x.uint });
    const goLibvirt = bytes('01000000 0000000e' + hex(Buffer.from('qemu:///system')) + '0000 00000000');
    expect(x.decode(open, goLibvirt)).toEqual({ name: 'qemu:///system', flags: 0 });
    for (const word of ['00000001', '00000002', '01000000', 'ffffffff', '80000000']) expect(x.decode(x.bool, bytes(word)), word).toBe(true);
    expect(x.decode(x.bool, bytes('00000000'))).toBe(false);
    expect(x.decode(x.optional(x.int), bytes('00000003 00000007'))).toBe(7);
    // padding is skipped unread
    expect(x.decode(x.string(), bytes('00000005 6162636465 ffffff'))).toBe('abcde');
    expect(x.decode(x.fixedOpaque(3), bytes('010203ee'))).toEqual(Buffer.from([1, 2, 3]));
    // a string is a C string: it ends at the first NUL
    expect(x.decode(x.string(), bytes('00000006 616200636465 0000'))).toBe('ab');
    // chars keep their low byte
    expect(x.decode(x.chars(8), bytes('00000002 00000161 00000062'))).toBe('ab');
    // an enum (decoded as int) takes any value
    expect(x.decode(x.int, bytes('7fffffff'))).toBe(0x7fffffff);
    // a call's arguments may be followed by anything: libvirtd never checks
    expect(x.decodePrefix(x.int, bytes('00000001 00'))).toBe(1);
    expect(() => x.decode(x.int, bytes('00000001 00'))).toThrow(XdrDecodeError);
    // what we write stays canonical
    expect(hex(x.encode(open, { name: 'qemu:///system', flags: 0 }))).toBe('00000001 0000000e'.replace(/ /g, '') + hex(Buffer.from('qemu:///system')) + '000000000000');
  });

  it('refuse what does not fit: maxima, truncation, invalid UTF-8, trailing bytes', () => {
    const bad: Array<[x.Codec<unknown>, string]> = [
      [x.string(4), '00000005 6162636465 000000'],
      [x.string(), '00000008 6162'], // claims more than is there
      [x.string(), 'ffffffff'],
      [x.string(), '00000002 c328 0000'], // invalid UTF-8
      [x.array(x.int, 2), '00000003 00000001 00000002 00000003'],
      [x.array(x.int, 16384), '00004000'], // 16384 items announced, no bytes
      [x.optional(x.int), '00000003 000001'], // present, value truncated
      [x.string(), '00000002 6162'], // padding missing
      [x.int, '000001'],
      [x.hyper, '00000000'],
      [x.fixedOpaque(16), '00'],
      [x.int, '00000001 00'], // trailing byte
    ];
    for (const [c, h] of bad) expect(() => x.decode(c, bytes(h)), h).toThrow(XdrDecodeError);
    expect(() => x.encode(x.int, 2 ** 31)).toThrow(XdrEncodeError);
    expect(() => x.encode(x.uint, -1)).toThrow(XdrEncodeError);
    expect(() => x.encode(x.string(2), 'abc')).toThrow(XdrEncodeError);
  });

  it('round-trip structs in declaration order', () => {
    const c = x.struct({ a: x.int, b: x.optional(x.string()), c: x.array(x.uhyper, 3) });
    const v = { a: -7, b: 'héllo', c: [1n, 2n ** 64n - 1n] };
    const b = x.encode(c, v);
    expect(hex(b.subarray(0, 4))).toBe('fffffff9');
    expect(x.decode(c, b)).toEqual(v);
  });
});

describe('domain handles and errors', () => {
  it('encode remote_nonnull_domain as name, raw UUID, id', () => {
    const uuid = '8c9dc8d3-ac47-4d76-b054-c28724f828d5';
    const b = x.encode(nonnullDomain, { name: 'vm', uuid: uuidToBytes(uuid), id: -1 });
    expect(hex(b)).toBe('00000002' + '766d0000' + '8c9dc8d3ac474d76b054c28724f828d5' + 'ffffffff');
    expect(bytesToUuid(x.decode(nonnullDomain, b).uuid)).toBe(uuid);
  });

  it("send an MpvirtError's code, domain and full text at level 2, everything else null", () => {
    const e = new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
    const b = x.encode(remoteErrorCodec, toRemoteError(e));
    const msg = 'Requested operation is not valid: domain is not running';
    const m = Buffer.from(msg);
    const padded = hex(m) + '00'.repeat((4 - (m.length % 4)) % 4);
    expect(hex(b)).toBe(
      '00000037' + '00000014' + '00000001' + m.length.toString(16).padStart(8, '0') + padded +
      '00000002' + '00000000' + '00000000'.repeat(3) + '00000000' + '00000000' + '00000000',
    );
    const plain = toRemoteError(new TypeError('boom'));
    expect([plain.code, plain.domain, plain.message]).toEqual([1, 0, 'internal error: boom']);
  });
});

describe('frames', () => {
  const call = (serial: number, payload: Buffer): Buffer =>
    encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 1, type: 0, serial, status: 0 }, payload);

  it('count the length word in the length (CALL, proc 1, serial 7 from libvirt-rpc.md)', () => {
    expect(hex(call(7, Buffer.alloc(0)))).toBe('0000001c' + '20008086 00000001 00000001 00000000 00000007 00000000'.replace(/ /g, ''));
  });

  it('come out whole however the stream is chunked', () => {
    const stream = Buffer.concat([call(0, Buffer.alloc(0)), call(1, Buffer.from('0123456789abcdef')), call(2, Buffer.alloc(5, 9))]);
    for (let a = 0; a <= stream.length; a++) {
      for (const b of [a, Math.min(stream.length, a + 1), Math.min(stream.length, a + 29)]) {
        const d = new FrameDecoder();
        const frames = [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)].flatMap((c) => d.push(c));
        expect(frames.map((f) => [f.header.serial, hex(f.payload)])).toEqual([
          [0, ''], [1, hex(Buffer.from('0123456789abcdef'))], [2, '0909090909'],
        ]);
        expect(d.buffered).toBe(0);
      }
    }
  });

  it('reject lengths below the header size or above the maximum before allocating, and stay failed', () => {
    for (const len of [0, 4, MIN_FRAME - 1, VIR_NET_MESSAGE_MAX + 1, 2 ** 31, 2 ** 32 - 1]) {
      const d = new FrameDecoder();
      const w = Buffer.alloc(4);
      w.writeUInt32BE(len);
      expect(() => d.push(w), String(len)).toThrow(XdrDecodeError);
      expect(() => d.push(call(0, Buffer.alloc(0)))).toThrow(XdrDecodeError);
    }
    expect(new FrameDecoder().push(call(0, Buffer.alloc(VIR_NET_MESSAGE_MAX - MIN_FRAME)))).toHaveLength(1);
  });
});
