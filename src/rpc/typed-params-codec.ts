/**
 * remote_typed_param on the wire: the field name, then a union discriminated by
 * VIR_TYPED_PARAM_INT (1) … VIR_TYPED_PARAM_STRING (7), as remote_protocol.x declares it.
 */
import type { TypedParam, TypedValue } from '../typed-params.js';
import * as x from './xdr.js';

const TYPE_CODE: Record<TypedValue['type'], number> = { int: 1, uint: 2, llong: 3, ullong: 4, double: 5, boolean: 6, string: 7 };

const value: x.Codec<TypedValue> = {
  encode(w, v) {
    w.int(TYPE_CODE[v.type]);
    switch (v.type) {
      case 'int': return w.int(v.v);
      case 'uint': return w.uint(v.v);
      case 'llong': return w.hyper(v.v);
      case 'ullong': return w.uhyper(v.v);
      case 'double': return w.double(v.v);
      case 'boolean': return w.int(v.v ? 1 : 0);
      case 'string': return w.string(v.v);
    }
  },
  decode(r) {
    const code = r.int();
    switch (code) {
      case 1: return { type: 'int', v: r.int() };
      case 2: return { type: 'uint', v: r.uint() };
      case 3: return { type: 'llong', v: r.hyper() };
      case 4: return { type: 'ullong', v: r.uhyper() };
      case 5: return { type: 'double', v: r.double() };
      case 6: return { type: 'boolean', v: r.int() !== 0 };
      case 7: return { type: 'string', v: r.string() };
      default: throw new x.XdrDecodeError(`unknown typed parameter type ${code}`);
    }
  },
};

export const typedParam: x.Codec<TypedParam> = x.struct({ field: x.string(), value });

/** `remote_typed_param params<max>` */
export const typedParams = (max: number): x.Codec<TypedParam[]> => x.array(typedParam, max);
