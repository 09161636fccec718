/**
 * The network filter procedures (remote_protocol.x: virsh nwfilter-*, nwfilter-binding-*),
 * forwarded to the host's nwfilter driver (forward-common.ts). A filter handle is found again by
 * its uuid, with nwfilterObjFromNWFilter's wording when it is gone.
 */
import type { Connection } from '../../libvirt/connection.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { NWFilter, NWFilterBinding } from '../../libvirt/nwfilter.js';
import '../../libvirt/nwfilter.js';
import { bytesToUuid, uuidToBytes } from '../protocol.js';
import * as x from '../xdr.js';
import { checkMax, forward } from './forward-common.js';
import type { Procedure } from './types.js';

const LIST_MAX = 16384; // REMOTE_NWFILTER_LIST_MAX
const BINDING_LIST_MAX = 16384;

const nonnullFilter = x.struct({ name: x.string(), uuid: x.fixedOpaque(16) });
type WireFilter = x.Infer<typeof nonnullFilter>;
const nonnullBinding = x.struct({ portdev: x.string(), filtername: x.string() });
type WireBinding = x.Infer<typeof nonnullBinding>;
const filterRet = x.struct({ nwfilter: nonnullFilter });
const bindingRet = x.struct({ nwfilter: nonnullBinding });

const toWire = (f: NWFilter): WireFilter => ({ name: f.name, uuid: uuidToBytes(f.uuid) });
const bindingWire = (b: NWFilterBinding): WireBinding => ({ portdev: b.portDev, filtername: b.filterName });

function taken<O extends { free(): void }, T>(o: O, fn: (o: O) => T): T {
  try {
    return fn(o);
  } finally {
    o.free();
  }
}

function onFilter<T>(c: Connection, w: WireFilter, fn: (f: NWFilter) => T): T {
  let f: NWFilter;
  try {
    f = c.lookupNWFilterByUUID(bytesToUuid(w.uuid));
  } catch (e) {
    if (e instanceof LibvirtError && e.code === 'VIR_ERR_NO_NWFILTER') {
      throw new LibvirtError({ code: e.number, domain: e.domain, message: `Network filter not found: no nwfilter with matching uuid '${bytesToUuid(w.uuid)}' (${w.name})`, level: e.level, str1: e.str1, str2: e.str2, str3: e.str3, int1: e.int1, int2: e.int2 }, e.call);
    }
    throw e;
  }
  return taken(f, fn);
}

function names(c: Connection): string[] {
  return c.listAllNWFilters().map((f) => taken(f, (g) => g.name));
}

const F = 'nwfilter' as const;

export const forwardedNWFilterProcedures: Procedure[] = [
  forward(F, 178, 'CONNECT_NUM_OF_NWFILTERS', 'virConnectNumOfNWFilters', x.none, x.struct({ num: x.int }), true, (c) => ({ num: names(c).length })),
  forward(F, 179, 'CONNECT_LIST_NWFILTERS', 'virConnectListNWFilters', x.struct({ maxnames: x.int }), x.struct({ names: x.array(x.string(), LIST_MAX) }), true, (c, a) => {
    checkMax(a.maxnames, LIST_MAX, 'REMOTE_NWFILTER_LIST_MAX');
    return { names: names(c).slice(0, a.maxnames) };
  }),
  forward(F, 286, 'CONNECT_LIST_ALL_NWFILTERS', 'virConnectListAllNWFilters', x.struct({ need_results: x.int, flags: x.uint }),
    x.struct({ filters: x.array(nonnullFilter, LIST_MAX), ret: x.uint }), true, (c, a) => {
      const all = c.listAllNWFilters(a.flags);
      const filters = a.need_results ? all.map(toWire) : [];
      for (const f of all) f.free();
      return { filters, ret: all.length };
    }),
  forward(F, 175, 'NWFILTER_LOOKUP_BY_NAME', 'virNWFilterLookupByName', x.struct({ name: x.string() }), filterRet, true,
    (c, a) => ({ nwfilter: taken(c.lookupNWFilterByName(a.name), toWire) })),
  forward(F, 176, 'NWFILTER_LOOKUP_BY_UUID', 'virNWFilterLookupByUUID', x.struct({ uuid: x.fixedOpaque(16) }), filterRet, true,
    (c, a) => ({ nwfilter: taken(c.lookupNWFilterByUUID(bytesToUuid(a.uuid)), toWire) })),
  forward(F, 180, 'NWFILTER_DEFINE_XML', 'virNWFilterDefineXML', x.struct({ xml: x.string() }), filterRet, false,
    (c, a) => ({ nwfilter: taken(c.defineNWFilter(a.xml), toWire) })),
  forward(F, 431, 'NWFILTER_DEFINE_XML_FLAGS', 'virNWFilterDefineXMLFlags', x.struct({ xml: x.string(), flags: x.uint }), filterRet, false,
    (c, a) => ({ nwfilter: taken(c.defineNWFilter(a.xml, a.flags), toWire) })),
  forward(F, 181, 'NWFILTER_UNDEFINE', 'virNWFilterUndefine', x.struct({ nwfilter: nonnullFilter }), x.none, false, (c, a) => onFilter(c, a.nwfilter, (f) => f.undefine())),
  forward(F, 177, 'NWFILTER_GET_XML_DESC', 'virNWFilterGetXMLDesc', x.struct({ nwfilter: nonnullFilter, flags: x.uint }), x.struct({ xml: x.string() }), true,
    (c, a) => onFilter(c, a.nwfilter, (f) => ({ xml: f.xml(a.flags) }))),
  forward(F, 401, 'CONNECT_LIST_ALL_NWFILTER_BINDINGS', 'virConnectListAllNWFilterBindings', x.struct({ need_results: x.int, flags: x.uint }),
    x.struct({ bindings: x.array(nonnullBinding, BINDING_LIST_MAX), ret: x.uint }), true, (c, a) => {
      const all = c.listAllNWFilterBindings(a.flags);
      const bindings = a.need_results ? all.map(bindingWire) : [];
      for (const b of all) b.free();
      return { bindings, ret: all.length };
    }),
  forward(F, 397, 'NWFILTER_BINDING_LOOKUP_BY_PORT_DEV', 'virNWFilterBindingLookupByPortDev', x.struct({ name: x.string() }), bindingRet, true,
    (c, a) => ({ nwfilter: taken(c.lookupNWFilterBindingByPortDev(a.name), bindingWire) })),
  forward(F, 399, 'NWFILTER_BINDING_CREATE_XML', 'virNWFilterBindingCreateXML', x.struct({ xml: x.string(), flags: x.uint }), bindingRet, false,
    (c, a) => ({ nwfilter: taken(c.createNWFilterBinding(a.xml, a.flags), bindingWire) })),
  forward(F, 398, 'NWFILTER_BINDING_GET_XML_DESC', 'virNWFilterBindingGetXMLDesc', x.struct({ nwfilter: nonnullBinding, flags: x.uint }), x.struct({ xml: x.string() }), true,
    (c, a) => taken(c.lookupNWFilterBindingByPortDev(a.nwfilter.portdev), (b) => ({ xml: b.xml(a.flags) }))),
  forward(F, 400, 'NWFILTER_BINDING_DELETE', 'virNWFilterBindingDelete', x.struct({ nwfilter: nonnullBinding }), x.none, false,
    (c, a) => taken(c.lookupNWFilterBindingByPortDev(a.nwfilter.portdev), (b) => b.delete())),
];
