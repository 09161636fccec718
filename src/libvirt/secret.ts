/**
 * virSecretPtr (libvirt-secret.h): the host's secrets (passphrases of encrypted volumes, Ceph and
 * iSCSI keys). Declared with declareFunctions() and added to Connection by module augmentation.
 * A value read back is wiped in libvirt's buffer before that buffer is freed, as virsh does.
 */
import koffi from 'koffi';
import { Connection } from './connection.js';
import { check, checkPtr, lastError } from './errors.js';
import { declareFunctions, takePointerArray, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';

type PtrOrNull = Ptr | null;
type Out<T> = [T];

interface SecretFns {
  virConnectListAllSecrets(c: Ptr, out: Out<PtrOrNull>, flags: number): number;
  virSecretLookupByUUIDString(c: Ptr, uuid: string): PtrOrNull;
  virSecretLookupByUsage(c: Ptr, usageType: number, usageID: string): PtrOrNull;
  virSecretDefineXML(c: Ptr, xml: string, flags: number): PtrOrNull;
  virSecretFree(s: Ptr): number;
  virSecretGetUUIDString(s: Ptr, buf: Buffer): number;
  virSecretGetUsageType(s: Ptr): number;
  virSecretGetUsageID(s: Ptr): string | null;
  virSecretGetXMLDesc(s: Ptr, flags: number): PtrOrNull;
  virSecretSetValue(s: Ptr, value: Buffer, size: number, flags: number): number;
  virSecretGetValue(s: Ptr, size: Out<number>, flags: number): PtrOrNull;
  virSecretUndefine(s: Ptr): number;
}

interface LibcFns {
  memset(p: Ptr, c: number, n: number): Ptr;
  free(p: Ptr): void;
}

const fns = declareFunctions<SecretFns>({
  virConnectListAllSecrets: 'int virConnectListAllSecrets(void *c, _Out_ void **secrets, uint flags)',
  virSecretLookupByUUIDString: 'void *virSecretLookupByUUIDString(void *c, const char *uuid)',
  virSecretLookupByUsage: 'void *virSecretLookupByUsage(void *c, int usageType, const char *usageID)',
  virSecretDefineXML: 'void *virSecretDefineXML(void *c, const char *xml, uint flags)',
  virSecretFree: 'int virSecretFree(void *s)',
  virSecretGetUUIDString: 'int virSecretGetUUIDString(void *s, _Out_ uint8_t *buf)',
  virSecretGetUsageType: 'int virSecretGetUsageType(void *s)',
  virSecretGetUsageID: 'const char *virSecretGetUsageID(void *s)',
  virSecretGetXMLDesc: 'void *virSecretGetXMLDesc(void *s, uint flags)',
  virSecretSetValue: 'int virSecretSetValue(void *s, const uint8_t *value, size_t size, uint flags)',
  virSecretGetValue: 'void *virSecretGetValue(void *s, _Out_ size_t *size, uint flags)',
  virSecretUndefine: 'int virSecretUndefine(void *s)',
});
const libc = declareFunctions<LibcFns>({ memset: 'void *memset(void *p, int c, size_t n)', free: 'void free(void *p)' }, 'libc.so.6');

export class Secret extends LibvirtObject {
  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => fns().virSecretFree(p), 'Secret');
  }

  get uuid(): string {
    const buf = Buffer.alloc(37);
    check(fns().virSecretGetUUIDString(this.ptr, buf), 'virSecretGetUUIDString');
    return buf.toString('latin1', 0, 36);
  }

  /** virSecretUsageType: 0 none, 1 volume, 2 ceph, 3 iscsi, 4 tls, 5 vtpm */
  get usageType(): number {
    return check(fns().virSecretGetUsageType(this.ptr), 'virSecretGetUsageType');
  }

  /** What the secret is for (a volume path, a Ceph user, …); null for usage none. */
  get usageID(): string | null {
    return fns().virSecretGetUsageID(this.ptr);
  }

  xml(flags = 0): string {
    const s = takeString(fns().virSecretGetXMLDesc(this.ptr, flags));
    if (s === null) throw lastError('virSecretGetXMLDesc');
    return s;
  }

  setValue(value: Buffer, flags = 0): void {
    check(fns().virSecretSetValue(this.ptr, value, value.length, flags), 'virSecretSetValue');
  }

  /** The value (forbidden on a read-only connection, as libvirt forbids it). */
  value(flags = 0): Buffer {
    const size: [number] = [0];
    const p = fns().virSecretGetValue(this.ptr, size, flags);
    if (p === null) throw lastError('virSecretGetValue');
    try {
      return Buffer.from(koffi.decode(p, koffi.array('uint8_t', size[0], 'Typed')) as Uint8Array);
    } finally {
      libc().memset(p, 0, size[0]);
      libc().free(p);
    }
  }

  undefine(): void {
    check(fns().virSecretUndefine(this.ptr), 'virSecretUndefine');
  }
}

declare module './connection.js' {
  interface Connection {
    /** virConnectListAllSecrets; flags are virConnectListAllSecretsFlags (ephemeral, private, …) */
    listAllSecrets(flags?: number): Secret[];
    lookupSecretByUUID(uuid: string): Secret;
    lookupSecretByUsage(usageType: number, usageID: string): Secret;
    defineSecret(xml: string, flags?: number): Secret;
  }
}

const conn = (c: Connection): Ptr => LibvirtObject.pointerOf(c);

Connection.prototype.listAllSecrets = function (this: Connection, flags = 0): Secret[] {
  const out: [PtrOrNull] = [null];
  const n = check(fns().virConnectListAllSecrets(conn(this), out, flags), 'virConnectListAllSecrets');
  return takePointerArray(out[0], n).map((p) => new Secret(p));
};
Connection.prototype.lookupSecretByUUID = function (this: Connection, uuid: string): Secret {
  return new Secret(checkPtr(fns().virSecretLookupByUUIDString(conn(this), uuid), 'virSecretLookupByUUIDString'));
};
Connection.prototype.lookupSecretByUsage = function (this: Connection, usageType: number, usageID: string): Secret {
  return new Secret(checkPtr(fns().virSecretLookupByUsage(conn(this), usageType, usageID), 'virSecretLookupByUsage'));
};
Connection.prototype.defineSecret = function (this: Connection, xml: string, flags = 0): Secret {
  return new Secret(checkPtr(fns().virSecretDefineXML(conn(this), xml, flags), 'virSecretDefineXML'));
};
