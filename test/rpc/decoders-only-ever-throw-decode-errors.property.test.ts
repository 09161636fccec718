/**
 * Property: whatever bytes a client sends, in whatever chunks, the frame
 * decoder and every registered procedure's argument decoder either succeed or
 * throw XdrDecodeError, never anything else (no TypeError from a stray read,
 * no RangeError from Buffer, no allocation of a size the client chose).
 * And values that fit the codecs round-trip exactly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../src/rpc/procedures/index.js';
import { FrameDecoder, MIN_FRAME, nonnullDomain } from '../../src/rpc/protocol.js';
import * as x from '../../src/rpc/xdr.js';
import { XdrDecodeError } from '../../src/rpc/xdr.js';

const NUM_RUNS = 500;

/** Runs fn; a failure other than XdrDecodeError fails the property. */
function onlyDecodeErrors(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof XdrDecodeError) return true;
    throw e;
  }
}

/** Streams that are mostly plausible: valid-looking length words mixed with garbage. */
const frameish = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.tuple(fc.integer({ min: 0, max: 400 }), fc.uint8Array({ maxLength: 400 })).map(([len, rest]) => {
    const b = Buffer.alloc(4 + rest.length);
    b.writeUInt32BE(len);
    b.set(rest, 4);
    return new Uint8Array(b);
  }),
  fc.tuple(fc.constantFrom(0, 1, 27, 28, 2 ** 24, 2 ** 24 + 1, 2 ** 31, 2 ** 32 - 1), fc.uint8Array({ maxLength: 64 })).map(([len, rest]) => {
    const b = Buffer.alloc(4 + rest.length);
    b.writeUInt32BE(len);
    b.set(rest, 4);
    return new Uint8Array(b);
  }),
);

describe('the frame decoder', () => {
  it('only ever throws XdrDecodeError, whatever the bytes and chunking', () => {
    fc.assert(
      fc.property(fc.array(frameish, { maxLength: 6 }), fc.array(fc.nat(50), { maxLength: 10 }), (parts, cuts) => {
        const stream = Buffer.concat(parts);
        const d = new FrameDecoder(64 * 1024);
        let at = 0;
        return onlyDecodeErrors(() => {
          for (const c of [...cuts, stream.length]) {
            const next = Math.min(stream.length, at + c);
            for (const f of d.push(stream.subarray(at, next))) expect(f.payload.length + MIN_FRAME).toBeLessThanOrEqual(64 * 1024);
            at = next;
          }
          d.push(stream.subarray(at));
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('procedure argument decoders', () => {
  const procs = [...defaultRegistry().procedures.values()];

  it('only ever throw XdrDecodeError on random payloads', () => {
    fc.assert(
      fc.property(fc.constantFrom(...procs), fc.uint8Array({ maxLength: 200 }), (p, payload) =>
        onlyDecodeErrors(() => x.decode(p.args, payload)),
      ),
      { numRuns: NUM_RUNS * 4 },
    );
  });

  it('only ever throw XdrDecodeError on mutations of valid payloads', () => {
    const dom = { name: 'vm1', uuid: Buffer.alloc(16, 7), id: 3 };
    const valid = [
      x.encode(x.struct({ dom: nonnullDomain, flags: x.uint }), { dom, flags: 0 }),
      x.encode(x.struct({ name: x.optional(x.string()), flags: x.uint }), { name: 'mpqemu:///system', flags: 1 }),
      x.encode(x.struct({ xml: x.string(), flags: x.uint }), { xml: '<domain/>', flags: 1 }),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...procs), fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(64),
        (p, base, pos, byte, cut) => {
          const b = Buffer.from(base);
          b[pos % b.length] = byte;
          return onlyDecodeErrors(() => x.decode(p.args, b.subarray(0, Math.max(0, b.length - cut))));
        },
      ),
      { numRuns: NUM_RUNS * 4 },
    );
  });
});

describe('codecs', () => {
  it('round-trip any value that fits', () => {
    const c = x.struct({
      i: x.int, u: x.uint, h: x.hyper, uh: x.uhyper, b: x.bool,
      s: x.string(1024), o: x.optional(x.string(64)), a: x.array(x.int, 8), ch: x.chars(65), op: x.opaque(16),
    });
    const value = fc.record({
      i: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      u: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      h: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      uh: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      b: fc.boolean(),
      s: fc.string({ maxLength: 16, unit: 'grapheme' }),
      o: fc.option(fc.string({ maxLength: 16 }), { nil: null }),
      a: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 8 }),
      ch: fc.string({ maxLength: 16 }).map((s) => s.replaceAll('\0', '')),
      op: fc.uint8Array({ maxLength: 16 }).map((u) => Buffer.from(u)),
    });
    fc.assert(
      fc.property(value, (v) => {
        const b = x.encode(c, v);
        expect(b.length % 4).toBe(0);
        expect(x.decode(c, b)).toEqual(v);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
