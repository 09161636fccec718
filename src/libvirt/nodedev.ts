/**
 * virNodeDevicePtr (libvirt-nodedev.h): the host's devices as libvirt's node device driver sees
 * them (PCI, USB, network interfaces, SCSI hosts, mediated devices). Declared with
 * declareFunctions() and added to Connection by module augmentation.
 */
import { Connection } from './connection.js';
import { check, checkBool, checkPtr, lastError } from './errors.js';
import { declareFunctions, takePointerArray, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';

type PtrOrNull = Ptr | null;
type Out<T> = [T];

interface NodeDeviceFns {
  virConnectListAllNodeDevices(c: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virNodeDeviceLookupByName(c: Ptr, name: string): PtrOrNull;
  virNodeDeviceLookupSCSIHostByWWN(c: Ptr, wwnn: string, wwpn: string, flags: number): PtrOrNull;
  virNodeDeviceCreateXML(c: Ptr, xml: string, flags: number): PtrOrNull;
  virNodeDeviceDefineXML(c: Ptr, xml: string, flags: number): PtrOrNull;
  virNodeDeviceFree(d: Ptr): number;
  virNodeDeviceGetName(d: Ptr): string | null;
  virNodeDeviceGetParent(d: Ptr): string | null;
  virNodeDeviceNumOfCaps(d: Ptr): number;
  virNodeDeviceListCaps(d: Ptr, names: Buffer, max: number): number;
  virNodeDeviceGetXMLDesc(d: Ptr, flags: number): PtrOrNull;
  virNodeDeviceDestroy(d: Ptr): number;
  virNodeDeviceUndefine(d: Ptr, flags: number): number;
  virNodeDeviceCreate(d: Ptr, flags: number): number;
  virNodeDeviceGetAutostart(d: Ptr, out: Out<number>): number;
  virNodeDeviceSetAutostart(d: Ptr, on: number): number;
  virNodeDeviceIsPersistent(d: Ptr): number;
  virNodeDeviceIsActive(d: Ptr): number;
}

const fns = declareFunctions<NodeDeviceFns>({
  virConnectListAllNodeDevices: 'int virConnectListAllNodeDevices(void *c, _Out_ void **devs, uint flags)',
  virNodeDeviceLookupByName: 'void *virNodeDeviceLookupByName(void *c, const char *name)',
  virNodeDeviceLookupSCSIHostByWWN: 'void *virNodeDeviceLookupSCSIHostByWWN(void *c, const char *wwnn, const char *wwpn, uint flags)',
  virNodeDeviceCreateXML: 'void *virNodeDeviceCreateXML(void *c, const char *xml, uint flags)',
  virNodeDeviceDefineXML: 'void *virNodeDeviceDefineXML(void *c, const char *xml, uint flags)',
  virNodeDeviceFree: 'int virNodeDeviceFree(void *d)',
  virNodeDeviceGetName: 'const char *virNodeDeviceGetName(void *d)',
  virNodeDeviceGetParent: 'const char *virNodeDeviceGetParent(void *d)',
  virNodeDeviceNumOfCaps: 'int virNodeDeviceNumOfCaps(void *d)',
  virNodeDeviceListCaps: 'int virNodeDeviceListCaps(void *d, _Inout_ uint8_t *names, int maxnames)',
  virNodeDeviceGetXMLDesc: 'void *virNodeDeviceGetXMLDesc(void *d, uint flags)',
  virNodeDeviceDestroy: 'int virNodeDeviceDestroy(void *d)',
  virNodeDeviceUndefine: 'int virNodeDeviceUndefine(void *d, uint flags)',
  virNodeDeviceCreate: 'int virNodeDeviceCreate(void *d, uint flags)',
  virNodeDeviceGetAutostart: 'int virNodeDeviceGetAutostart(void *d, _Out_ int *autostart)',
  virNodeDeviceSetAutostart: 'int virNodeDeviceSetAutostart(void *d, int autostart)',
  virNodeDeviceIsPersistent: 'int virNodeDeviceIsPersistent(void *d)',
  virNodeDeviceIsActive: 'int virNodeDeviceIsActive(void *d)',
});

export class NodeDevice extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => fns().virNodeDeviceFree(p), 'NodeDevice');
  }

  get name(): string {
    return checkPtr(fns().virNodeDeviceGetName(this.ptr), 'virNodeDeviceGetName');
  }

  /** The parent device's name; null for the root (`computer`), as libvirt returns NULL without an error. */
  get parent(): string | null {
    return fns().virNodeDeviceGetParent(this.ptr);
  }

  /** The device's capability names (`pci`, `net`, `scsi_host`, …). */
  capabilities(): string[] {
    const n = check(fns().virNodeDeviceNumOfCaps(this.ptr), 'virNodeDeviceNumOfCaps');
    if (n === 0) return [];
    const buf = Buffer.alloc(8 * n);
    const got = check(fns().virNodeDeviceListCaps(this.ptr, buf, n), 'virNodeDeviceListCaps');
    const names: string[] = [];
    // each name is a string libvirt allocated: taken (decoded and freed) one by one
    for (let i = 0; i < got; i++) names.push(takeString(buf.readBigUInt64LE(8 * i)) ?? '');
    return names;
  }

  xml(flags = 0): string {
    const s = takeString(fns().virNodeDeviceGetXMLDesc(this.ptr, flags));
    if (s === null) throw lastError('virNodeDeviceGetXMLDesc');
    return s;
  }

  destroy(): void {
    check(fns().virNodeDeviceDestroy(this.ptr), 'virNodeDeviceDestroy');
  }

  undefine(flags = 0): void {
    check(fns().virNodeDeviceUndefine(this.ptr, flags), 'virNodeDeviceUndefine');
  }

  /** Starts a defined (mediated) device (virNodeDeviceCreate). */
  start(flags = 0): void {
    check(fns().virNodeDeviceCreate(this.ptr, flags), 'virNodeDeviceCreate');
  }

  get autostart(): boolean {
    const out: [number] = [0];
    check(fns().virNodeDeviceGetAutostart(this.ptr, out), 'virNodeDeviceGetAutostart');
    return out[0] !== 0;
  }

  set autostart(on: boolean) {
    check(fns().virNodeDeviceSetAutostart(this.ptr, on ? 1 : 0), 'virNodeDeviceSetAutostart');
  }

  isPersistent(): boolean {
    return checkBool(fns().virNodeDeviceIsPersistent(this.ptr), 'virNodeDeviceIsPersistent');
  }

  isActive(): boolean {
    return checkBool(fns().virNodeDeviceIsActive(this.ptr), 'virNodeDeviceIsActive');
  }
}

declare module './connection.js' {
  interface Connection {
    /** virConnectListAllNodeDevices; flags are virConnectListAllNodeDeviceFlags (capabilities, active, inactive) */
    listAllNodeDevices(flags?: number): NodeDevice[];
    lookupNodeDeviceByName(name: string): NodeDevice;
    lookupScsiHostByWWN(wwnn: string, wwpn: string, flags?: number): NodeDevice;
    createNodeDevice(xml: string, flags?: number): NodeDevice;
    defineNodeDevice(xml: string, flags?: number): NodeDevice;
  }
}

const conn = (c: Connection): Ptr => LibvirtObject.pointerOf(c);

Connection.prototype.listAllNodeDevices = function (this: Connection, flags = 0): NodeDevice[] {
  const out: [PtrOrNull] = [null];
  const n = check(fns().virConnectListAllNodeDevices(conn(this), out, flags), 'virConnectListAllNodeDevices');
  return takePointerArray(out[0], n).map((p) => new NodeDevice(p));
};
Connection.prototype.lookupNodeDeviceByName = function (this: Connection, name: string): NodeDevice {
  return new NodeDevice(checkPtr(fns().virNodeDeviceLookupByName(conn(this), name), 'virNodeDeviceLookupByName'));
};
Connection.prototype.lookupScsiHostByWWN = function (this: Connection, wwnn: string, wwpn: string, flags = 0): NodeDevice {
  return new NodeDevice(checkPtr(fns().virNodeDeviceLookupSCSIHostByWWN(conn(this), wwnn, wwpn, flags), 'virNodeDeviceLookupSCSIHostByWWN'));
};
Connection.prototype.createNodeDevice = function (this: Connection, xml: string, flags = 0): NodeDevice {
  return new NodeDevice(checkPtr(fns().virNodeDeviceCreateXML(conn(this), xml, flags), 'virNodeDeviceCreateXML'));
};
Connection.prototype.defineNodeDevice = function (this: Connection, xml: string, flags = 0): NodeDevice {
  return new NodeDevice(checkPtr(fns().virNodeDeviceDefineXML(conn(this), xml, flags), 'virNodeDeviceDefineXML'));
};
