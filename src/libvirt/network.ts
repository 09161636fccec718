/**
 * virNetworkPtr and virNetworkPortPtr (libvirt-network.h): the host's virtual networks, their
 * DHCP leases and the ports guests are plugged into. Declared here with declareFunctions() and
 * added to Connection by module augmentation, as every area module beside the core does.
 */
import koffi from 'koffi';
import { Connection } from './connection.js';
import { check, checkBool, checkPtr, lastError } from './errors.js';
import { declareFunctions, takePointerArray, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';

type PtrOrNull = Ptr | null;
type Out<T> = [T];

interface NetworkFns {
  virConnectListAllNetworks(c: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virNetworkLookupByName(c: Ptr, name: string): PtrOrNull;
  virNetworkLookupByUUIDString(c: Ptr, uuid: string): PtrOrNull;
  virNetworkDefineXMLFlags(c: Ptr, xml: string, flags: number): PtrOrNull;
  virNetworkCreateXMLFlags(c: Ptr, xml: string, flags: number): PtrOrNull;
  virNetworkFree(n: Ptr): number;
  virNetworkGetName(n: Ptr): string | null;
  virNetworkGetUUIDString(n: Ptr, buf: Buffer): number;
  virNetworkGetXMLDesc(n: Ptr, flags: number): PtrOrNull;
  virNetworkGetBridgeName(n: Ptr): PtrOrNull;
  virNetworkIsActive(n: Ptr): number;
  virNetworkIsPersistent(n: Ptr): number;
  virNetworkGetAutostart(n: Ptr, out: Out<number>): number;
  virNetworkSetAutostart(n: Ptr, on: number): number;
  virNetworkCreate(n: Ptr): number;
  virNetworkDestroy(n: Ptr): number;
  virNetworkUndefine(n: Ptr): number;
  virNetworkUpdate(n: Ptr, command: number, section: number, parentIndex: number, xml: string, flags: number): number;
  virNetworkGetDHCPLeases(n: Ptr, mac: string | null, out: Out<PtrOrNull>, flags: number): number;
  virNetworkDHCPLeaseFree(l: Ptr): void;
  virNetworkListAllPorts(n: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virNetworkPortLookupByUUIDString(n: Ptr, uuid: string): PtrOrNull;
  virNetworkPortCreateXML(n: Ptr, xml: string, flags: number): PtrOrNull;
  virNetworkPortGetXMLDesc(p: Ptr, flags: number): PtrOrNull;
  virNetworkPortGetUUIDString(p: Ptr, buf: Buffer): number;
  virNetworkPortDelete(p: Ptr, flags: number): number;
  virNetworkPortFree(p: Ptr): number;
}

const fns = declareFunctions<NetworkFns>({
  virConnectListAllNetworks: 'int virConnectListAllNetworks(void *c, _Out_ void **nets, uint flags)',
  virNetworkLookupByName: 'void *virNetworkLookupByName(void *c, const char *name)',
  virNetworkLookupByUUIDString: 'void *virNetworkLookupByUUIDString(void *c, const char *uuid)',
  virNetworkDefineXMLFlags: 'void *virNetworkDefineXMLFlags(void *c, const char *xml, uint flags)',
  virNetworkCreateXMLFlags: 'void *virNetworkCreateXMLFlags(void *c, const char *xml, uint flags)',
  virNetworkFree: 'int virNetworkFree(void *n)',
  virNetworkGetName: 'const char *virNetworkGetName(void *n)',
  virNetworkGetUUIDString: 'int virNetworkGetUUIDString(void *n, _Out_ uint8_t *buf)',
  virNetworkGetXMLDesc: 'void *virNetworkGetXMLDesc(void *n, uint flags)',
  virNetworkGetBridgeName: 'void *virNetworkGetBridgeName(void *n)',
  virNetworkIsActive: 'int virNetworkIsActive(void *n)',
  virNetworkIsPersistent: 'int virNetworkIsPersistent(void *n)',
  virNetworkGetAutostart: 'int virNetworkGetAutostart(void *n, _Out_ int *autostart)',
  virNetworkSetAutostart: 'int virNetworkSetAutostart(void *n, int autostart)',
  virNetworkCreate: 'int virNetworkCreate(void *n)',
  virNetworkDestroy: 'int virNetworkDestroy(void *n)',
  virNetworkUndefine: 'int virNetworkUndefine(void *n)',
  virNetworkUpdate: 'int virNetworkUpdate(void *n, uint command, uint section, int parentIndex, const char *xml, uint flags)',
  virNetworkGetDHCPLeases: 'int virNetworkGetDHCPLeases(void *n, const char *mac, _Out_ void **leases, uint flags)',
  virNetworkDHCPLeaseFree: 'void virNetworkDHCPLeaseFree(void *l)',
  virNetworkListAllPorts: 'int virNetworkListAllPorts(void *n, _Out_ void **ports, uint flags)',
  virNetworkPortLookupByUUIDString: 'void *virNetworkPortLookupByUUIDString(void *n, const char *uuid)',
  virNetworkPortCreateXML: 'void *virNetworkPortCreateXML(void *n, const char *xml, uint flags)',
  virNetworkPortGetXMLDesc: 'void *virNetworkPortGetXMLDesc(void *p, uint flags)',
  virNetworkPortGetUUIDString: 'int virNetworkPortGetUUIDString(void *p, _Out_ uint8_t *buf)',
  virNetworkPortDelete: 'int virNetworkPortDelete(void *p, uint flags)',
  virNetworkPortFree: 'int virNetworkPortFree(void *p)',
});

/** struct _virNetworkDHCPLease (LP64 layout, decoded once per lease). */
let leaseType: ReturnType<typeof koffi.struct> | undefined;
const leaseStruct = (): ReturnType<typeof koffi.struct> =>
  (leaseType ??= koffi.struct({
    iface: 'const char *', expirytime: 'int64_t', type: 'int', mac: 'const char *', iaid: 'const char *',
    ipaddr: 'const char *', prefix: 'uint', hostname: 'const char *', clientid: 'const char *',
  }));

/** One virNetworkDHCPLease: what dnsmasq handed out. */
export interface DhcpLease {
  iface: string;
  /** seconds since the epoch */
  expiryTime: number;
  /** virIPAddrType: 0 IPv4, 1 IPv6 */
  type: number;
  mac: string | null;
  iaid: string | null;
  ipaddr: string;
  prefix: number;
  hostname: string | null;
  clientid: string | null;
}

interface RawLease { iface: string; expirytime: number | bigint; type: number; mac: string | null; iaid: string | null; ipaddr: string; prefix: number; hostname: string | null; clientid: string | null }

function text(p: PtrOrNull, call: string): string {
  const s = takeString(p);
  if (s === null) throw lastError(call);
  return s;
}

function uuidOf(get: (buf: Buffer) => number, call: string): string {
  const buf = Buffer.alloc(37);
  check(get(buf), call);
  return buf.toString('latin1', 0, 36);
}

export class Network extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => fns().virNetworkFree(p), 'Network');
  }

  get name(): string {
    return checkPtr(fns().virNetworkGetName(this.ptr), 'virNetworkGetName');
  }

  get uuid(): string {
    return uuidOf((b) => fns().virNetworkGetUUIDString(this.ptr, b), 'virNetworkGetUUIDString');
  }

  /** flags: virNetworkXMLFlags (1: the persistent definition, VIR_NETWORK_XML_INACTIVE) */
  xml(flags = 0): string {
    return text(fns().virNetworkGetXMLDesc(this.ptr, flags), 'virNetworkGetXMLDesc');
  }

  bridgeName(): string {
    return text(fns().virNetworkGetBridgeName(this.ptr), 'virNetworkGetBridgeName');
  }

  isActive(): boolean {
    return checkBool(fns().virNetworkIsActive(this.ptr), 'virNetworkIsActive');
  }

  isPersistent(): boolean {
    return checkBool(fns().virNetworkIsPersistent(this.ptr), 'virNetworkIsPersistent');
  }

  get autostart(): boolean {
    const out: [number] = [0];
    check(fns().virNetworkGetAutostart(this.ptr, out), 'virNetworkGetAutostart');
    return out[0] !== 0;
  }

  set autostart(on: boolean) {
    check(fns().virNetworkSetAutostart(this.ptr, on ? 1 : 0), 'virNetworkSetAutostart');
  }

  /** Starts a defined network (virNetworkCreate). */
  start(): void {
    check(fns().virNetworkCreate(this.ptr), 'virNetworkCreate');
  }

  destroy(): void {
    check(fns().virNetworkDestroy(this.ptr), 'virNetworkDestroy');
  }

  undefine(): void {
    check(fns().virNetworkUndefine(this.ptr), 'virNetworkUndefine');
  }

  /** virNetworkUpdate: command, section (virNetworkUpdateCommand / Section), parentIndex -1 for none. */
  update(command: number, section: number, parentIndex: number, xml: string, flags = 0): void {
    check(fns().virNetworkUpdate(this.ptr, command, section, parentIndex, xml, flags), 'virNetworkUpdate');
  }

  /** The leases of the network's dnsmasq, of one MAC address or all. */
  dhcpLeases(mac: string | null = null, flags = 0): DhcpLease[] {
    const out: [PtrOrNull] = [null];
    const n = check(fns().virNetworkGetDHCPLeases(this.ptr, mac, out, flags), 'virNetworkGetDHCPLeases');
    const leases = takePointerArray(out[0], n);
    try {
      return leases.map((p) => {
        const r = koffi.decode(p, leaseStruct()) as RawLease;
        return { iface: r.iface, expiryTime: Number(r.expirytime), type: r.type, mac: r.mac, iaid: r.iaid, ipaddr: r.ipaddr, prefix: r.prefix, hostname: r.hostname, clientid: r.clientid };
      });
    } finally {
      for (const p of leases) fns().virNetworkDHCPLeaseFree(p);
    }
  }

  /** Every port of the network (guests' interfaces plugged into it); each is the caller's to free. */
  listPorts(flags = 0): NetworkPort[] {
    const out: [PtrOrNull] = [null];
    const n = check(fns().virNetworkListAllPorts(this.ptr, out, flags), 'virNetworkListAllPorts');
    return takePointerArray(out[0], n).map((p) => new NetworkPort(p));
  }

  lookupPort(uuid: string): NetworkPort {
    return new NetworkPort(checkPtr(fns().virNetworkPortLookupByUUIDString(this.ptr, uuid), 'virNetworkPortLookupByUUIDString'));
  }

  /** virNetworkPortCreateXML: what libvirt's QEMU driver does for each `<interface type='network'>` at start. */
  createPort(xml: string, flags = 0): NetworkPort {
    return new NetworkPort(checkPtr(fns().virNetworkPortCreateXML(this.ptr, xml, flags), 'virNetworkPortCreateXML'));
  }
}

export class NetworkPort extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => fns().virNetworkPortFree(p), 'NetworkPort');
  }

  get uuid(): string {
    return uuidOf((b) => fns().virNetworkPortGetUUIDString(this.ptr, b), 'virNetworkPortGetUUIDString');
  }

  xml(flags = 0): string {
    return text(fns().virNetworkPortGetXMLDesc(this.ptr, flags), 'virNetworkPortGetXMLDesc');
  }

  /** Unplugs the port from its network (virNetworkPortDelete). */
  delete(flags = 0): void {
    check(fns().virNetworkPortDelete(this.ptr, flags), 'virNetworkPortDelete');
  }
}

declare module './connection.js' {
  interface Connection {
    /** virConnectListAllNetworks; flags are virConnectListAllNetworksFlags (active 2, inactive 1, …) */
    listAllNetworks(flags?: number): Network[];
    lookupNetworkByName(name: string): Network;
    lookupNetworkByUUID(uuid: string): Network;
    /** virNetworkDefineXMLFlags (flags: 1 validate) */
    defineNetwork(xml: string, flags?: number): Network;
    /** virNetworkCreateXMLFlags: a transient network, started (flags: 1 validate) */
    createNetwork(xml: string, flags?: number): Network;
  }
}

const conn = (c: Connection): Ptr => LibvirtObject.pointerOf(c);

Connection.prototype.listAllNetworks = function (this: Connection, flags = 0): Network[] {
  const out: [PtrOrNull] = [null];
  const n = check(fns().virConnectListAllNetworks(conn(this), out, flags), 'virConnectListAllNetworks');
  return takePointerArray(out[0], n).map((p) => new Network(p));
};
Connection.prototype.lookupNetworkByName = function (this: Connection, name: string): Network {
  return new Network(checkPtr(fns().virNetworkLookupByName(conn(this), name), 'virNetworkLookupByName'));
};
Connection.prototype.lookupNetworkByUUID = function (this: Connection, uuid: string): Network {
  return new Network(checkPtr(fns().virNetworkLookupByUUIDString(conn(this), uuid), 'virNetworkLookupByUUIDString'));
};
Connection.prototype.defineNetwork = function (this: Connection, xml: string, flags = 0): Network {
  return new Network(checkPtr(fns().virNetworkDefineXMLFlags(conn(this), xml, flags), 'virNetworkDefineXMLFlags'));
};
Connection.prototype.createNetwork = function (this: Connection, xml: string, flags = 0): Network {
  return new Network(checkPtr(fns().virNetworkCreateXMLFlags(conn(this), xml, flags), 'virNetworkCreateXMLFlags'));
};
