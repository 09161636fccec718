/**
 * The host interface procedures (remote_protocol.x: virsh iface-*), forwarded to the host's
 * interface driver (forward-common.ts). An interface handle is its name (and MAC), as on the wire.
 */
import type { Connection } from '../../libvirt/connection.js';
import type { Interface } from '../../libvirt/interface.js';
import '../../libvirt/interface.js';
import * as x from '../xdr.js';
import { checkMax, forward } from './forward-common.js';
import type { Procedure } from './types.js';

const LIST_MAX = 16384; // REMOTE_INTERFACE_LIST_MAX

const nonnullIface = x.struct({ name: x.string(), mac: x.string() });
type WireIface = x.Infer<typeof nonnullIface>;
const ifaceRet = x.struct({ iface: nonnullIface });
const ifaceArg = x.struct({ iface: nonnullIface });
const ifaceFlags = x.struct({ iface: nonnullIface, flags: x.uint });

const toWire = (i: Interface): WireIface => ({ name: i.name, mac: i.mac });

function taken<T>(i: Interface, fn: (i: Interface) => T): T {
  try {
    return fn(i);
  } finally {
    i.free();
  }
}

const onIface = <T>(c: Connection, w: WireIface, fn: (i: Interface) => T): T => taken(c.lookupInterfaceByName(w.name), fn);

/** virConnectListAllInterfacesFlags: 1 inactive, 2 active */
const names = (c: Connection, active: boolean): string[] => c.listAllInterfaces(active ? 2 : 1).map((i) => taken(i, (j) => j.name));

const I = 'interface' as const;
const maxnames = x.struct({ maxnames: x.int });
const nameList = x.struct({ names: x.array(x.string(), LIST_MAX) });

export const forwardedInterfaceProcedures: Procedure[] = [
  forward(I, 126, 'CONNECT_NUM_OF_INTERFACES', 'virConnectNumOfInterfaces', x.none, x.struct({ num: x.int }), true, (c) => ({ num: names(c, true).length })),
  forward(I, 127, 'CONNECT_LIST_INTERFACES', 'virConnectListInterfaces', maxnames, nameList, true, (c, a) => {
    checkMax(a.maxnames, LIST_MAX, 'REMOTE_INTERFACE_LIST_MAX');
    return { names: names(c, true).slice(0, a.maxnames) };
  }),
  forward(I, 137, 'CONNECT_NUM_OF_DEFINED_INTERFACES', 'virConnectNumOfDefinedInterfaces', x.none, x.struct({ num: x.int }), true, (c) => ({ num: names(c, false).length })),
  forward(I, 138, 'CONNECT_LIST_DEFINED_INTERFACES', 'virConnectListDefinedInterfaces', maxnames, nameList, true, (c, a) => {
    checkMax(a.maxnames, LIST_MAX, 'REMOTE_INTERFACE_LIST_MAX');
    return { names: names(c, false).slice(0, a.maxnames) };
  }),
  forward(I, 284, 'CONNECT_LIST_ALL_INTERFACES', 'virConnectListAllInterfaces', x.struct({ need_results: x.int, flags: x.uint }),
    x.struct({ ifaces: x.array(nonnullIface, LIST_MAX), ret: x.uint }), true, (c, a) => {
      const all = c.listAllInterfaces(a.flags);
      const ifaces = a.need_results ? all.map(toWire) : [];
      for (const i of all) i.free();
      return { ifaces, ret: all.length };
    }),
  forward(I, 128, 'INTERFACE_LOOKUP_BY_NAME', 'virInterfaceLookupByName', x.struct({ name: x.string() }), ifaceRet, true, (c, a) => ({ iface: taken(c.lookupInterfaceByName(a.name), toWire) })),
  forward(I, 129, 'INTERFACE_LOOKUP_BY_MAC_STRING', 'virInterfaceLookupByMACString', x.struct({ mac: x.string() }), ifaceRet, true,
    (c, a) => ({ iface: taken(c.lookupInterfaceByMAC(a.mac), toWire) })),
  forward(I, 130, 'INTERFACE_GET_XML_DESC', 'virInterfaceGetXMLDesc', ifaceFlags, x.struct({ xml: x.string() }), true, (c, a) => onIface(c, a.iface, (i) => ({ xml: i.xml(a.flags) }))),
  forward(I, 131, 'INTERFACE_DEFINE_XML', 'virInterfaceDefineXML', x.struct({ xml: x.string(), flags: x.uint }), ifaceRet, false,
    (c, a) => ({ iface: taken(c.defineInterface(a.xml, a.flags), toWire) })),
  forward(I, 132, 'INTERFACE_UNDEFINE', 'virInterfaceUndefine', ifaceArg, x.none, false, (c, a) => onIface(c, a.iface, (i) => i.undefine())),
  forward(I, 133, 'INTERFACE_CREATE', 'virInterfaceCreate', ifaceFlags, x.none, false, (c, a) => onIface(c, a.iface, (i) => i.start(a.flags))),
  forward(I, 134, 'INTERFACE_DESTROY', 'virInterfaceDestroy', ifaceFlags, x.none, false, (c, a) => onIface(c, a.iface, (i) => i.destroy(a.flags))),
  forward(I, 156, 'INTERFACE_IS_ACTIVE', 'virInterfaceIsActive', ifaceArg, x.struct({ active: x.int }), true, (c, a) => onIface(c, a.iface, (i) => ({ active: i.isActive() ? 1 : 0 }))),
  forward(I, 220, 'INTERFACE_CHANGE_BEGIN', 'virInterfaceChangeBegin', x.struct({ flags: x.uint }), x.none, false, (c, a) => c.interfaceChange('begin', a.flags)),
  forward(I, 221, 'INTERFACE_CHANGE_COMMIT', 'virInterfaceChangeCommit', x.struct({ flags: x.uint }), x.none, false, (c, a) => c.interfaceChange('commit', a.flags)),
  forward(I, 222, 'INTERFACE_CHANGE_ROLLBACK', 'virInterfaceChangeRollback', x.struct({ flags: x.uint }), x.none, false, (c, a) => c.interfaceChange('rollback', a.flags)),
];
