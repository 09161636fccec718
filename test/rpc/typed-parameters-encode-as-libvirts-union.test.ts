// remote_typed_param on the wire: the field, the VIR_TYPED_PARAM_* discriminant and the value,
// every type; and the two-call pattern of the get-parameter APIs (nparams 0 asks for the count,
// strings only for clients that said VIR_TYPED_PARAM_STRING_OKAY).
import { describe, expect, it } from 'vitest';
import { typedParams } from '../../src/rpc/typed-params-codec.js';
import { decode, encode } from '../../src/rpc/xdr.js';
import { answerParams, tp, TYPED_PARAM_STRING_OKAY } from '../../src/typed-params.js';

describe('typed parameters', () => {
  it('round-trip every value type with libvirt\'s discriminants', () => {
    const params = [tp.int('a', -5), tp.uint('b', 7), tp.llong('c', -(2n ** 40n)), tp.ullong('d', 2n ** 63n), tp.double('e', 1.5), tp.bool('f', true), tp.string('g', 'x')];
    const bytes = encode(typedParams(16), params);
    expect(decode(typedParams(16), bytes)).toEqual(params);
    // field "a" (4-byte length, padded), then type 1 (INT), then -5
    expect(bytes.subarray(4, 20).toString('hex')).toBe('0000000161000000' + '00000001' + 'fffffffb');
    // the double is IEEE 754 big-endian
    const d = encode(typedParams(1), [tp.double('e', 1.5)]);
    expect(d.subarray(d.length - 8).toString('hex')).toBe('3ff8000000000000');
  });

  it('refuses an unknown discriminant and more parameters than the limit', () => {
    const bytes = Buffer.from(encode(typedParams(1), [tp.int('a', 1)]));
    bytes.writeInt32BE(9, 12);
    expect(() => decode(typedParams(1), bytes)).toThrow(/unknown typed parameter type 9/);
    expect(() => encode(typedParams(1), [tp.int('a', 1), tp.int('b', 2)])).toThrow();
  });

  it('answer the count first, then as many as asked, strings only for clients that take them', () => {
    const all = [tp.int('numa_mode', 0), tp.string('numa_nodeset', '')];
    expect(answerParams(all, 0, TYPED_PARAM_STRING_OKAY, 16)).toEqual({ params: [], nparams: 2 });
    expect(answerParams(all, 1, TYPED_PARAM_STRING_OKAY, 16)).toEqual({ params: [all[0]], nparams: 1 });
    expect(answerParams(all, 2, 0, 16)).toEqual({ params: [all[0]], nparams: 1 });
    expect(() => answerParams(all, 17, 0, 16)).toThrow(/nparams too large/);
  });
});
