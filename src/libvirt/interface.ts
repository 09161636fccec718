/**
 * virInterfacePtr (libvirt-interface.h): the host's network interfaces as libvirt's interface
 * driver (netcf / udev) sees them. Declared with declareFunctions() and added to Connection by
 * module augmentation.
 */
import { Connection } from './connection.js';
import { check, checkBool, checkPtr, lastError } from './errors.js';
import { declareFunctions, takePointerArray, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';

type PtrOrNull = Ptr | null;
type Out<T> = [T];

interface InterfaceFns {
  virConnectListAllInterfaces(c: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virInterfaceLookupByName(c: Ptr, name: string): PtrOrNull;
  virInterfaceLookupByMACString(c: Ptr, mac: string): PtrOrNull;
  virInterfaceDefineXML(c: Ptr, xml: string, flags: number): PtrOrNull;
  virInterfaceFree(i: Ptr): number;
  virInterfaceGetName(i: Ptr): string | null;
  virInterfaceGetMACString(i: Ptr): string | null;
  virInterfaceGetXMLDesc(i: Ptr, flags: number): PtrOrNull;
  virInterfaceUndefine(i: Ptr): number;
  virInterfaceCreate(i: Ptr, flags: number): number;
  virInterfaceDestroy(i: Ptr, flags: number): number;
  virInterfaceIsActive(i: Ptr): number;
  virInterfaceChangeBegin(c: Ptr, flags: number): number;
  virInterfaceChangeCommit(c: Ptr, flags: number): number;
  virInterfaceChangeRollback(c: Ptr, flags: number): number;
}

const fns = declareFunctions<InterfaceFns>({
  virConnectListAllInterfaces: 'int virConnectListAllInterfaces(void *c, _Out_ void **ifaces, uint flags)',
  virInterfaceLookupByName: 'void *virInterfaceLookupByName(void *c, const char *name)',
  virInterfaceLookupByMACString: 'void *virInterfaceLookupByMACString(void *c, const char *mac)',
  virInterfaceDefineXML: 'void *virInterfaceDefineXML(void *c, const char *xml, uint flags)',
  virInterfaceFree: 'int virInterfaceFree(void *i)',
  virInterfaceGetName: 'const char *virInterfaceGetName(void *i)',
  virInterfaceGetMACString: 'const char *virInterfaceGetMACString(void *i)',
  virInterfaceGetXMLDesc: 'void *virInterfaceGetXMLDesc(void *i, uint flags)',
  virInterfaceUndefine: 'int virInterfaceUndefine(void *i)',
  virInterfaceCreate: 'int virInterfaceCreate(void *i, uint flags)',
  virInterfaceDestroy: 'int virInterfaceDestroy(void *i, uint flags)',
  virInterfaceIsActive: 'int virInterfaceIsActive(void *i)',
  virInterfaceChangeBegin: 'int virInterfaceChangeBegin(void *c, uint flags)',
  virInterfaceChangeCommit: 'int virInterfaceChangeCommit(void *c, uint flags)',
  virInterfaceChangeRollback: 'int virInterfaceChangeRollback(void *c, uint flags)',
});

export class Interface extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => fns().virInterfaceFree(p), 'Interface');
  }

  get name(): string {
    return checkPtr(fns().virInterfaceGetName(this.ptr), 'virInterfaceGetName');
  }

  get mac(): string {
    return checkPtr(fns().virInterfaceGetMACString(this.ptr), 'virInterfaceGetMACString');
  }

  /** flags: virInterfaceXMLFlags (1: the persistent definition) */
  xml(flags = 0): string {
    const s = takeString(fns().virInterfaceGetXMLDesc(this.ptr, flags));
    if (s === null) throw lastError('virInterfaceGetXMLDesc');
    return s;
  }

  undefine(): void {
    check(fns().virInterfaceUndefine(this.ptr), 'virInterfaceUndefine');
  }

  /** Brings the interface up (virInterfaceCreate). */
  start(flags = 0): void {
    check(fns().virInterfaceCreate(this.ptr, flags), 'virInterfaceCreate');
  }

  destroy(flags = 0): void {
    check(fns().virInterfaceDestroy(this.ptr, flags), 'virInterfaceDestroy');
  }

  isActive(): boolean {
    return checkBool(fns().virInterfaceIsActive(this.ptr), 'virInterfaceIsActive');
  }
}

declare module './connection.js' {
  interface Connection {
    /** virConnectListAllInterfaces; flags are virConnectListAllInterfacesFlags (inactive 1, active 2) */
    listAllInterfaces(flags?: number): Interface[];
    lookupInterfaceByName(name: string): Interface;
    lookupInterfaceByMAC(mac: string): Interface;
    defineInterface(xml: string, flags?: number): Interface;
    /** virInterfaceChangeBegin / Commit / Rollback: a transaction over the host's interface configuration */
    interfaceChange(step: 'begin' | 'commit' | 'rollback', flags?: number): void;
  }
}

const conn = (c: Connection): Ptr => LibvirtObject.pointerOf(c);

Connection.prototype.listAllInterfaces = function (this: Connection, flags = 0): Interface[] {
  const out: [PtrOrNull] = [null];
  const n = check(fns().virConnectListAllInterfaces(conn(this), out, flags), 'virConnectListAllInterfaces');
  return takePointerArray(out[0], n).map((p) => new Interface(p));
};
Connection.prototype.lookupInterfaceByName = function (this: Connection, name: string): Interface {
  return new Interface(checkPtr(fns().virInterfaceLookupByName(conn(this), name), 'virInterfaceLookupByName'));
};
Connection.prototype.lookupInterfaceByMAC = function (this: Connection, mac: string): Interface {
  return new Interface(checkPtr(fns().virInterfaceLookupByMACString(conn(this), mac), 'virInterfaceLookupByMACString'));
};
Connection.prototype.defineInterface = function (this: Connection, xml: string, flags = 0): Interface {
  return new Interface(checkPtr(fns().virInterfaceDefineXML(conn(this), xml, flags), 'virInterfaceDefineXML'));
};
Connection.prototype.interfaceChange = function (this: Connection, step: 'begin' | 'commit' | 'rollback', flags = 0): void {
  const f = step === 'begin' ? fns().virInterfaceChangeBegin : step === 'commit' ? fns().virInterfaceChangeCommit : fns().virInterfaceChangeRollback;
  const name = step === 'begin' ? 'virInterfaceChangeBegin' : step === 'commit' ? 'virInterfaceChangeCommit' : 'virInterfaceChangeRollback';
  check(f(conn(this), flags), name);
};
