/**
 * virNWFilterPtr and virNWFilterBindingPtr (libvirt-nwfilter.h): the host's network filters and
 * the bindings of filters to guest interfaces. Declared with declareFunctions() and added to
 * Connection by module augmentation.
 */
import { Connection } from './connection.js';
import { check, checkPtr, lastError } from './errors.js';
import { declareFunctions, takePointerArray, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';

type PtrOrNull = Ptr | null;
type Out<T> = [T];

interface NWFilterFns {
  virConnectListAllNWFilters(c: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virNWFilterLookupByName(c: Ptr, name: string): PtrOrNull;
  virNWFilterLookupByUUIDString(c: Ptr, uuid: string): PtrOrNull;
  virNWFilterDefineXMLFlags(c: Ptr, xml: string, flags: number): PtrOrNull;
  virNWFilterUndefine(f: Ptr): number;
  virNWFilterFree(f: Ptr): number;
  virNWFilterGetName(f: Ptr): string | null;
  virNWFilterGetUUIDString(f: Ptr, buf: Buffer): number;
  virNWFilterGetXMLDesc(f: Ptr, flags: number): PtrOrNull;
  virConnectListAllNWFilterBindings(c: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virNWFilterBindingLookupByPortDev(c: Ptr, portdev: string): PtrOrNull;
  virNWFilterBindingCreateXML(c: Ptr, xml: string, flags: number): PtrOrNull;
  virNWFilterBindingGetPortDev(b: Ptr): string | null;
  virNWFilterBindingGetFilterName(b: Ptr): string | null;
  virNWFilterBindingGetXMLDesc(b: Ptr, flags: number): PtrOrNull;
  virNWFilterBindingDelete(b: Ptr): number;
  virNWFilterBindingFree(b: Ptr): number;
}

const fns = declareFunctions<NWFilterFns>({
  virConnectListAllNWFilters: 'int virConnectListAllNWFilters(void *c, _Out_ void **filters, uint flags)',
  virNWFilterLookupByName: 'void *virNWFilterLookupByName(void *c, const char *name)',
  virNWFilterLookupByUUIDString: 'void *virNWFilterLookupByUUIDString(void *c, const char *uuid)',
  virNWFilterDefineXMLFlags: 'void *virNWFilterDefineXMLFlags(void *c, const char *xml, uint flags)',
  virNWFilterUndefine: 'int virNWFilterUndefine(void *f)',
  virNWFilterFree: 'int virNWFilterFree(void *f)',
  virNWFilterGetName: 'const char *virNWFilterGetName(void *f)',
  virNWFilterGetUUIDString: 'int virNWFilterGetUUIDString(void *f, _Out_ uint8_t *buf)',
  virNWFilterGetXMLDesc: 'void *virNWFilterGetXMLDesc(void *f, uint flags)',
  virConnectListAllNWFilterBindings: 'int virConnectListAllNWFilterBindings(void *c, _Out_ void **bindings, uint flags)',
  virNWFilterBindingLookupByPortDev: 'void *virNWFilterBindingLookupByPortDev(void *c, const char *portdev)',
  virNWFilterBindingCreateXML: 'void *virNWFilterBindingCreateXML(void *c, const char *xml, uint flags)',
  virNWFilterBindingGetPortDev: 'const char *virNWFilterBindingGetPortDev(void *b)',
  virNWFilterBindingGetFilterName: 'const char *virNWFilterBindingGetFilterName(void *b)',
  virNWFilterBindingGetXMLDesc: 'void *virNWFilterBindingGetXMLDesc(void *b, uint flags)',
  virNWFilterBindingDelete: 'int virNWFilterBindingDelete(void *b)',
  virNWFilterBindingFree: 'int virNWFilterBindingFree(void *b)',
});

function text(p: PtrOrNull, call: string): string {
  const s = takeString(p);
  if (s === null) throw lastError(call);
  return s;
}

export class NWFilter extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => fns().virNWFilterFree(p), 'NWFilter');
  }

  get name(): string {
    return checkPtr(fns().virNWFilterGetName(this.ptr), 'virNWFilterGetName');
  }

  get uuid(): string {
    const buf = Buffer.alloc(37);
    check(fns().virNWFilterGetUUIDString(this.ptr, buf), 'virNWFilterGetUUIDString');
    return buf.toString('latin1', 0, 36);
  }

  xml(flags = 0): string {
    return text(fns().virNWFilterGetXMLDesc(this.ptr, flags), 'virNWFilterGetXMLDesc');
  }

  undefine(): void {
    check(fns().virNWFilterUndefine(this.ptr), 'virNWFilterUndefine');
  }
}

export class NWFilterBinding extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => fns().virNWFilterBindingFree(p), 'NWFilterBinding');
  }

  /** the guest interface's host device (vnet0, …) */
  get portDev(): string {
    return checkPtr(fns().virNWFilterBindingGetPortDev(this.ptr), 'virNWFilterBindingGetPortDev');
  }

  get filterName(): string {
    return checkPtr(fns().virNWFilterBindingGetFilterName(this.ptr), 'virNWFilterBindingGetFilterName');
  }

  xml(flags = 0): string {
    return text(fns().virNWFilterBindingGetXMLDesc(this.ptr, flags), 'virNWFilterBindingGetXMLDesc');
  }

  delete(): void {
    check(fns().virNWFilterBindingDelete(this.ptr), 'virNWFilterBindingDelete');
  }
}

declare module './connection.js' {
  interface Connection {
    listAllNWFilters(flags?: number): NWFilter[];
    lookupNWFilterByName(name: string): NWFilter;
    lookupNWFilterByUUID(uuid: string): NWFilter;
    /** virNWFilterDefineXMLFlags (flags: 1 validate) */
    defineNWFilter(xml: string, flags?: number): NWFilter;
    listAllNWFilterBindings(flags?: number): NWFilterBinding[];
    lookupNWFilterBindingByPortDev(portDev: string): NWFilterBinding;
    createNWFilterBinding(xml: string, flags?: number): NWFilterBinding;
  }
}

const conn = (c: Connection): Ptr => LibvirtObject.pointerOf(c);

Connection.prototype.listAllNWFilters = function (this: Connection, flags = 0): NWFilter[] {
  const out: [PtrOrNull] = [null];
  const n = check(fns().virConnectListAllNWFilters(conn(this), out, flags), 'virConnectListAllNWFilters');
  return takePointerArray(out[0], n).map((p) => new NWFilter(p));
};
Connection.prototype.lookupNWFilterByName = function (this: Connection, name: string): NWFilter {
  return new NWFilter(checkPtr(fns().virNWFilterLookupByName(conn(this), name), 'virNWFilterLookupByName'));
};
Connection.prototype.lookupNWFilterByUUID = function (this: Connection, uuid: string): NWFilter {
  return new NWFilter(checkPtr(fns().virNWFilterLookupByUUIDString(conn(this), uuid), 'virNWFilterLookupByUUIDString'));
};
Connection.prototype.defineNWFilter = function (this: Connection, xml: string, flags = 0): NWFilter {
  return new NWFilter(checkPtr(fns().virNWFilterDefineXMLFlags(conn(this), xml, flags), 'virNWFilterDefineXMLFlags'));
};
Connection.prototype.listAllNWFilterBindings = function (this: Connection, flags = 0): NWFilterBinding[] {
  const out: [PtrOrNull] = [null];
  const n = check(fns().virConnectListAllNWFilterBindings(conn(this), out, flags), 'virConnectListAllNWFilterBindings');
  return takePointerArray(out[0], n).map((p) => new NWFilterBinding(p));
};
Connection.prototype.lookupNWFilterBindingByPortDev = function (this: Connection, portDev: string): NWFilterBinding {
  return new NWFilterBinding(checkPtr(fns().virNWFilterBindingLookupByPortDev(conn(this), portDev), 'virNWFilterBindingLookupByPortDev'));
};
Connection.prototype.createNWFilterBinding = function (this: Connection, xml: string, flags = 0): NWFilterBinding {
  return new NWFilterBinding(checkPtr(fns().virNWFilterBindingCreateXML(conn(this), xml, flags), 'virNWFilterBindingCreateXML'));
};
