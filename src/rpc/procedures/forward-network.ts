/**
 * The network procedures (remote_protocol.x: virsh net-*), forwarded to the host's network
 * driver (forward-common.ts). A handle is found again by its uuid, as the network driver's
 * networkObjFromNetwork does, with that function's wording when it is gone.
 */
import type { Connection } from '../../libvirt/connection.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { Network } from '../../libvirt/network.js';
import '../../libvirt/network.js';
import { bytesToUuid, uuidToBytes } from '../protocol.js';
import * as x from '../xdr.js';
import { checkMax, forward } from './forward-common.js';
import type { Procedure } from './types.js';

const LIST_MAX = 16384; // REMOTE_NETWORK_LIST_MAX
const LEASES_MAX = 65536; // REMOTE_NETWORK_DHCP_LEASES_MAX
const PORT_LIST_MAX = 16384;

export const nonnullNetwork = x.struct({ name: x.string(), uuid: x.fixedOpaque(16) });
type WireNetwork = x.Infer<typeof nonnullNetwork>;
const nonnullPort = x.struct({ net: nonnullNetwork, uuid: x.fixedOpaque(16) });
type WirePort = x.Infer<typeof nonnullPort>;

export const toWireNetwork = (n: Network): WireNetwork => ({ name: n.name, uuid: uuidToBytes(n.uuid) });

/** The host's network for a handle; libvirt's "no network with matching uuid 'U' (NAME)" when it is gone. */
function resolve(c: Connection, w: WireNetwork): Network {
  try {
    return c.lookupNetworkByUUID(bytesToUuid(w.uuid));
  } catch (e) {
    if (e instanceof LibvirtError && e.code === 'VIR_ERR_NO_NETWORK') {
      throw new LibvirtError({ code: e.number, domain: e.domain, message: `Network not found: no network with matching uuid '${bytesToUuid(w.uuid)}' (${w.name})`, level: e.level, str1: e.str1, str2: e.str2, str3: e.str3, int1: e.int1, int2: e.int2 }, e.call);
    }
    throw e;
  }
}

/** A call on one network: resolved, used, freed. */
function onNet<T>(c: Connection, w: WireNetwork, fn: (n: Network) => T): T {
  using n = resolve(c, w);
  return fn(n);
}

const ret = (n: Network): { net: WireNetwork } => {
  try {
    return { net: toWireNetwork(n) };
  } finally {
    n.free();
  }
};

/** virConnectListAllNetworksFlags: 1 inactive, 2 active */
function names(c: Connection, active: boolean): string[] {
  return c.listAllNetworks(active ? 2 : 1).map((n) => {
    const name = n.name;
    n.free();
    return name;
  });
}

const net = x.struct({ net: nonnullNetwork });
const netFlags = x.struct({ net: nonnullNetwork, flags: x.uint });
const num = x.struct({ num: x.int });
const nameList = x.struct({ names: x.array(x.string(), LIST_MAX) });
const xmlFlags = x.struct({ xml: x.string(), flags: x.uint });
const xmlOnly = x.struct({ xml: x.string() });
const lease = x.struct({
  iface: x.string(), expirytime: x.hyper, type: x.int, mac: x.optional(x.string()), iaid: x.optional(x.string()),
  ipaddr: x.string(), prefix: x.uint, hostname: x.optional(x.string()), clientid: x.optional(x.string()),
});

const N = 'network' as const;

export const forwardedNetworkProcedures: Procedure[] = [
  forward(N, 52, 'CONNECT_NUM_OF_NETWORKS', 'virConnectNumOfNetworks', x.none, num, true, (c) => ({ num: names(c, true).length })),
  forward(N, 38, 'CONNECT_LIST_NETWORKS', 'virConnectListNetworks', x.struct({ maxnames: x.int }), nameList, true, (c, a) => {
    checkMax(a.maxnames, LIST_MAX, 'REMOTE_NETWORK_LIST_MAX');
    return { names: names(c, true).slice(0, a.maxnames) };
  }),
  forward(N, 50, 'CONNECT_NUM_OF_DEFINED_NETWORKS', 'virConnectNumOfDefinedNetworks', x.none, num, true, (c) => ({ num: names(c, false).length })),
  forward(N, 36, 'CONNECT_LIST_DEFINED_NETWORKS', 'virConnectListDefinedNetworks', x.struct({ maxnames: x.int }), nameList, true, (c, a) => {
    checkMax(a.maxnames, LIST_MAX, 'REMOTE_NETWORK_LIST_MAX');
    return { names: names(c, false).slice(0, a.maxnames) };
  }),
  forward(N, 283, 'CONNECT_LIST_ALL_NETWORKS', 'virConnectListAllNetworks', x.struct({ need_results: x.int, flags: x.uint }),
    x.struct({ nets: x.array(nonnullNetwork, LIST_MAX), ret: x.uint }), true, (c, a) => {
      const all = c.listAllNetworks(a.flags);
      const nets = a.need_results ? all.map(toWireNetwork) : [];
      for (const n of all) n.free();
      return { nets, ret: all.length };
    }),
  forward(N, 46, 'NETWORK_LOOKUP_BY_NAME', 'virNetworkLookupByName', x.struct({ name: x.string() }), net, true, (c, a) => ret(c.lookupNetworkByName(a.name))),
  forward(N, 47, 'NETWORK_LOOKUP_BY_UUID', 'virNetworkLookupByUUID', x.struct({ uuid: x.fixedOpaque(16) }), net, true, (c, a) => ret(c.lookupNetworkByUUID(bytesToUuid(a.uuid)))),
  forward(N, 40, 'NETWORK_CREATE_XML', 'virNetworkCreateXML', xmlOnly, net, false, (c, a) => ret(c.createNetwork(a.xml))),
  forward(N, 437, 'NETWORK_CREATE_XML_FLAGS', 'virNetworkCreateXMLFlags', xmlFlags, net, false, (c, a) => ret(c.createNetwork(a.xml, a.flags))),
  forward(N, 41, 'NETWORK_DEFINE_XML', 'virNetworkDefineXML', xmlOnly, net, false, (c, a) => ret(c.defineNetwork(a.xml))),
  forward(N, 432, 'NETWORK_DEFINE_XML_FLAGS', 'virNetworkDefineXMLFlags', xmlFlags, net, false, (c, a) => ret(c.defineNetwork(a.xml, a.flags))),
  forward(N, 49, 'NETWORK_UNDEFINE', 'virNetworkUndefine', net, x.none, false, (c, a) => onNet(c, a.net, (n) => n.undefine())),
  forward(N, 39, 'NETWORK_CREATE', 'virNetworkCreate', net, x.none, false, (c, a) => onNet(c, a.net, (n) => n.start())),
  forward(N, 42, 'NETWORK_DESTROY', 'virNetworkDestroy', net, x.none, false, (c, a) => onNet(c, a.net, (n) => n.destroy())),
  forward(N, 291, 'NETWORK_UPDATE', 'virNetworkUpdate',
    x.struct({ net: nonnullNetwork, command: x.uint, section: x.uint, parentIndex: x.int, xml: x.string(), flags: x.uint }), x.none, false,
    (c, a) => onNet(c, a.net, (n) => n.update(a.command, a.section, a.parentIndex, a.xml, a.flags))),
  forward(N, 43, 'NETWORK_GET_XML_DESC', 'virNetworkGetXMLDesc', netFlags, x.struct({ xml: x.string() }), true, (c, a) => onNet(c, a.net, (n) => ({ xml: n.xml(a.flags) }))),
  forward(N, 44, 'NETWORK_GET_AUTOSTART', 'virNetworkGetAutostart', net, x.struct({ autostart: x.int }), true, (c, a) => onNet(c, a.net, (n) => ({ autostart: n.autostart ? 1 : 0 }))),
  forward(N, 48, 'NETWORK_SET_AUTOSTART', 'virNetworkSetAutostart', x.struct({ net: nonnullNetwork, autostart: x.int }), x.none, false,
    (c, a) => onNet(c, a.net, (n) => void (n.autostart = a.autostart !== 0))),
  forward(N, 45, 'NETWORK_GET_BRIDGE_NAME', 'virNetworkGetBridgeName', net, x.struct({ name: x.string() }), true, (c, a) => onNet(c, a.net, (n) => ({ name: n.bridgeName() }))),
  forward(N, 152, 'NETWORK_IS_ACTIVE', 'virNetworkIsActive', net, x.struct({ active: x.int }), true, (c, a) => onNet(c, a.net, (n) => ({ active: n.isActive() ? 1 : 0 }))),
  forward(N, 153, 'NETWORK_IS_PERSISTENT', 'virNetworkIsPersistent', net, x.struct({ persistent: x.int }), true, (c, a) => onNet(c, a.net, (n) => ({ persistent: n.isPersistent() ? 1 : 0 }))),
  forward(N, 341, 'NETWORK_GET_DHCP_LEASES', 'virNetworkGetDHCPLeases',
    x.struct({ net: nonnullNetwork, mac: x.optional(x.string()), need_results: x.int, flags: x.uint }),
    x.struct({ leases: x.array(lease, LEASES_MAX), ret: x.uint }), true, (c, a) => onNet(c, a.net, (n) => {
      const all = n.dhcpLeases(a.mac, a.flags);
      const leases = a.need_results ? all.map((l) => ({
        iface: l.iface, expirytime: BigInt(l.expiryTime), type: l.type, mac: l.mac, iaid: l.iaid, ipaddr: l.ipaddr, prefix: l.prefix, hostname: l.hostname, clientid: l.clientid,
      })) : [];
      return { leases, ret: all.length };
    })),
  // the ports guests are plugged into (virsh net-port-*)
  forward(N, 404, 'NETWORK_LIST_ALL_PORTS', 'virNetworkListAllPorts', x.struct({ network: nonnullNetwork, need_results: x.int, flags: x.uint }),
    x.struct({ ports: x.array(nonnullPort, PORT_LIST_MAX), ret: x.uint }), true, (c, a) => onNet(c, a.network, (n) => {
      const all = n.listPorts(a.flags);
      const ports = a.need_results ? all.map((p) => ({ net: a.network, uuid: uuidToBytes(p.uuid) })) : [];
      for (const p of all) p.free();
      return { ports, ret: all.length };
    })),
  forward(N, 405, 'NETWORK_PORT_LOOKUP_BY_UUID', 'virNetworkPortLookupByUUID', x.struct({ network: nonnullNetwork, uuid: x.fixedOpaque(16) }),
    x.struct({ port: nonnullPort }), true, (c, a) => onNet(c, a.network, (n) => {
      using p = n.lookupPort(bytesToUuid(a.uuid));
      return { port: { net: a.network, uuid: uuidToBytes(p.uuid) } };
    })),
  forward(N, 406, 'NETWORK_PORT_CREATE_XML', 'virNetworkPortCreateXML', x.struct({ network: nonnullNetwork, xml: x.string(), flags: x.uint }),
    x.struct({ port: nonnullPort }), false, (c, a) => onNet(c, a.network, (n) => {
      using p = n.createPort(a.xml, a.flags);
      return { port: { net: a.network, uuid: uuidToBytes(p.uuid) } };
    })),
  forward(N, 409, 'NETWORK_PORT_GET_XML_DESC', 'virNetworkPortGetXMLDesc', x.struct({ port: nonnullPort, flags: x.uint }), x.struct({ xml: x.string() }), true,
    (c, a) => onPort(c, a.port, (p) => ({ xml: p.xml(a.flags) }))),
  forward(N, 410, 'NETWORK_PORT_DELETE', 'virNetworkPortDelete', x.struct({ port: nonnullPort, flags: x.uint }), x.none, false,
    (c, a) => onPort(c, a.port, (p) => p.delete(a.flags))),
];

function onPort<T>(c: Connection, w: WirePort, fn: (p: ReturnType<Network['lookupPort']>) => T): T {
  return onNet(c, w.net, (n) => {
    using p = n.lookupPort(bytesToUuid(w.uuid));
    return fn(p);
  });
}
