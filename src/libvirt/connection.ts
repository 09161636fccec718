/**
 * virConnectPtr and the entry point `connect()`.
 *
 * Calls are synchronous: each blocks the calling JS thread for the libvirt call's duration (a
 * round trip to the daemon for remote URIs). Events never depend on the JS thread being free; they
 * queue while it is busy and are delivered when it is not.
 */
import koffi from 'koffi';
import { ConnectionEvents, subscribeDomainEvent, subscribeQemuMonitorEvent, type QemuMonitorEventFilter, type Subscription } from './connection-events.js';
import type { DomainEventKind, DomainEventMap, QemuMonitorEvent } from './domain-events.js';
import { cString, Domain, createFlags, takeStatsRecords, type CreateOptions, type Flags } from './domain.js';
import { ConnectListAllDomainsFlags as LF } from './enums-domain.js';
import { ConnectCredentialType } from './enums-misc.js';
import { check, checkBool, checkPtr, lastError } from './errors.js';
import { eventLoop, registerEventImpl } from './event-loop.js';
import { libc, lv, takePointerArray, takeString, types, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';
import type { DomainStats } from './stats.js';
import { StoragePool, StorageVolume } from './storage.js';

/** One credential libvirt asks for during virConnectOpenAuth. */
export interface Credential {
  /** virConnectCredentialType */
  type: number;
  typeName: Lowercase<keyof typeof ConnectCredentialType> | 'unknown';
  prompt: string | null;
  challenge: string | null;
  defaultResult: string | null;
}

export interface AuthOptions {
  /** the virConnectCredentialTypes the callback can answer (default: all) */
  credentialTypes?: number[];
  /** called synchronously during connect(); an answer per credential, or null to refuse */
  callback: (credentials: Credential[]) => Array<string | null> | null;
}

export interface ConnectOptions {
  /** virConnectOpenReadOnly */
  readonly?: boolean;
  /** virConnectOpenAuth with this callback */
  auth?: AuthOptions;
  /** virConnectFlags for virConnectOpenAuth (1: read-only, 2: no aliases) */
  flags?: number;
  /**
   * When libvirt's event-loop thread starts: 'now' (default), so keepalives are answered and
   * events flow from the first moment; or 'on-first-subscription', for a short-lived process
   * (a CLI command) that should not boot a worker (~100 ms) it may never need. Events and
   * stream watches start the thread either way.
   */
  eventLoop?: 'now' | 'on-first-subscription';
}

/** Filters of virConnectListAllDomains (none: every domain). */
export interface ListDomainsOptions {
  active?: boolean;
  inactive?: boolean;
  persistent?: boolean;
  transient?: boolean;
  running?: boolean;
  paused?: boolean;
  shutoff?: boolean;
  other?: boolean;
  autostart?: boolean;
  noAutostart?: boolean;
}
const listBits: Record<keyof ListDomainsOptions, number> = {
  active: LF.ACTIVE, inactive: LF.INACTIVE, persistent: LF.PERSISTENT, transient: LF.TRANSIENT, running: LF.RUNNING,
  paused: LF.PAUSED, shutoff: LF.SHUTOFF, other: LF.OTHER, autostart: LF.AUTOSTART, noAutostart: LF.NO_AUTOSTART,
};

/** A virConnectGetAllDomainStats record: the domain (a reference of its own) and its stats. */
export interface DomainStatsRecord {
  domain: Domain;
  stats: DomainStats;
}

const credNames = Object.keys(ConnectCredentialType).map((k) => k.toLowerCase());
const CRED_SIZE = 48; // virConnectCredential on LP64
const RESULT_OFF = 32;
const RESULTLEN_OFF = 40;

function openAuth(uri: string | null, auth: AuthOptions | undefined, flags: number): Ptr | null {
  if (!auth) return lv().virConnectOpenAuth(uri, null, flags);
  const t = types();
  const credTypes = auth.credentialTypes ?? Object.values(ConnectCredentialType);
  const cb = (cred: Ptr, ncred: number): number => {
    try {
      const creds: Credential[] = [];
      for (let i = 0; i < ncred; i++) {
        const c = koffi.decode(cred, i * CRED_SIZE, t.credential) as { type: number; prompt: string | null; challenge: string | null; defresult: string | null };
        creds.push({ type: c.type, typeName: (credNames[c.type - 1] ?? 'unknown') as Credential['typeName'], prompt: c.prompt, challenge: c.challenge, defaultResult: c.defresult });
      }
      const answers = auth.callback(creds);
      if (!answers) return -1;
      answers.forEach((a, i) => {
        if (a === null || i >= ncred) return;
        // libvirt frees result with free(): it must come from malloc
        koffi.encode(cred, i * CRED_SIZE + RESULT_OFF, 'void *', libc().strdup(a));
        koffi.encode(cred, i * CRED_SIZE + RESULTLEN_OFF, 'uint', Buffer.byteLength(a));
      });
      return 0;
    } catch {
      return -1;
    }
  };
  // libvirt calls it on this thread, during virConnectOpenAuth only
  const fn = koffi.register(cb, koffi.pointer(t.authCallback));
  try {
    return lv().virConnectOpenAuth(uri, { credtype: new Int32Array(credTypes), ncredtype: credTypes.length, cb: koffi.address(fn), cbdata: null }, flags);
  } finally {
    koffi.unregister(fn);
  }
}

/**
 * Opens a connection (virConnectOpen, virConnectOpenReadOnly or virConnectOpenAuth). `uri` null
 * means libvirt's default (LIBVIRT_DEFAULT_URI, …). The first call starts libvirt's event loop.
 */
export function connect(uri: string | null = null, opts: ConnectOptions = {}): Connection {
  // libvirt's event implementation must be registered before the first open, or this connection
  // never gets events; the loop thread starts now unless the caller defers it
  if (opts.eventLoop === 'on-first-subscription') registerEventImpl();
  else eventLoop();
  const flags = (opts.flags ?? 0) | (opts.readonly ? 1 : 0);
  const viaAuth = opts.auth !== undefined || (opts.flags ?? 0) !== 0;
  let p: Ptr | null;
  if (viaAuth) p = openAuth(uri, opts.auth, flags);
  else p = opts.readonly ? lv().virConnectOpenReadOnly(uri) : lv().virConnectOpen(uri);
  return new Connection(checkPtr(p, viaAuth ? 'virConnectOpenAuth' : opts.readonly ? 'virConnectOpenReadOnly' : 'virConnectOpen'));
}

/** libvirt's version as major * 1,000,000 + minor * 1,000 + release (virGetVersion). */
export function libvirtVersion(): number {
  const v: [number] = [0];
  check(lv().virGetVersion(v, null, null), 'virGetVersion');
  return v[0];
}

export class Connection extends LibvirtObject {
  /** Typed events; see {@link ConnectionEvents}. */
  readonly events: ConnectionEvents = new ConnectionEvents(() => this.ptr);
  readonly uri: string;

  /** @internal */
  constructor(ptr: Ptr) {
    super(ptr, (p) => lv().virConnectClose(p), 'Connection');
    this.uri = takeString(lv().virConnectGetURI(ptr)) ?? '';
  }

  /** Deregisters this connection's events, then virConnectClose (idempotent). */
  override free(): void {
    if (!this.freed) this.events.dispose();
    super.free();
  }

  close(): void {
    this.free();
  }

  get hostname(): string {
    return takeString(lv().virConnectGetHostname(this.ptr)) ?? throwLast('virConnectGetHostname');
  }

  /** The driver's name (`QEMU`, `TEST`, …). */
  get type(): string {
    return checkPtr(lv().virConnectGetType(this.ptr), 'virConnectGetType');
  }

  /** The daemon's libvirt version (virConnectGetLibVersion). */
  get libVersion(): number {
    const v: [number] = [0];
    check(lv().virConnectGetLibVersion(this.ptr, v), 'virConnectGetLibVersion');
    return v[0];
  }

  /** The hypervisor's version (virConnectGetVersion). */
  get version(): number {
    const v: [number] = [0];
    check(lv().virConnectGetVersion(this.ptr, v), 'virConnectGetVersion');
    return v[0];
  }

  capabilities(): string {
    return takeString(lv().virConnectGetCapabilities(this.ptr)) ?? throwLast('virConnectGetCapabilities');
  }

  /** virNodeGetSecurityModel: the host's security driver ('' for none) and its DOI. */
  securityModel(): { model: string; doi: string } {
    const buf = Buffer.alloc(514); // struct _virSecurityModel: char model[257]; char doi[257]
    check(lv().virNodeGetSecurityModel(this.ptr, buf), 'virNodeGetSecurityModel');
    return { model: cString(buf, 0, 257), doi: cString(buf, 257, 257) };
  }

  isAlive(): boolean {
    return checkBool(lv().virConnectIsAlive(this.ptr), 'virConnectIsAlive');
  }

  isSecure(): boolean {
    return checkBool(lv().virConnectIsSecure(this.ptr), 'virConnectIsSecure');
  }

  isEncrypted(): boolean {
    return checkBool(lv().virConnectIsEncrypted(this.ptr), 'virConnectIsEncrypted');
  }

  /** virConnectSetKeepAlive; false if the other side does not support keepalive. interval ≤ 0 disables it. */
  setKeepAlive(interval: number, count: number): boolean {
    return check(lv().virConnectSetKeepAlive(this.ptr, interval, count), 'virConnectSetKeepAlive') === 0;
  }

  lookupDomainByName(name: string): Domain {
    return new Domain(checkPtr(lv().virDomainLookupByName(this.ptr, name), 'virDomainLookupByName'), this);
  }

  lookupDomainByUUID(uuid: string): Domain {
    return new Domain(checkPtr(lv().virDomainLookupByUUIDString(this.ptr, uuid), 'virDomainLookupByUUIDString'), this);
  }

  lookupDomainByID(id: number): Domain {
    return new Domain(checkPtr(lv().virDomainLookupByID(this.ptr, id), 'virDomainLookupByID'), this);
  }

  /** virConnectListAllDomains; every domain returned is the caller's to free. */
  listAllDomains(opts?: Flags<ListDomainsOptions>): Domain[] {
    let flags = 0;
    if (typeof opts === 'number') flags = opts;
    else for (const [k, on] of Object.entries(opts ?? {})) if (on) flags |= listBits[k as keyof ListDomainsOptions] ?? 0;
    const out: [Ptr | null] = [null];
    const n = check(lv().virConnectListAllDomains(this.ptr, out, flags), 'virConnectListAllDomains');
    return takePointerArray(out[0], n).map((p) => new Domain(p, this));
  }

  /** virDomainDefineXML, or virDomainDefineXMLFlags with flags (1: validate against the schema). */
  defineDomain(xml: string, flags = 0): Domain {
    if (flags === 0) return new Domain(checkPtr(lv().virDomainDefineXML(this.ptr, xml), 'virDomainDefineXML'), this);
    return new Domain(checkPtr(lv().virDomainDefineXMLFlags(this.ptr, xml, flags), 'virDomainDefineXMLFlags'), this);
  }

  /** virDomainCreateXML: a transient domain, started. */
  createDomain(xml: string, opts?: Flags<CreateOptions>): Domain {
    return new Domain(checkPtr(lv().virDomainCreateXML(this.ptr, xml, createFlags(opts)), 'virDomainCreateXML'), this);
  }

  /**
   * virConnectGetAllDomainStats: `stats` is a virDomainStatsTypes mask (0: all the driver has),
   * `flags` virConnectGetAllDomainStatsFlags. Each record's domain is the caller's to free.
   */
  getAllDomainStats(stats = 0, flags = 0): DomainStatsRecord[] {
    const out: [Ptr | null] = [null];
    const n = check(lv().virConnectGetAllDomainStats(this.ptr, stats, out, flags), 'virConnectGetAllDomainStats');
    return takeStatsRecords(out[0], n, (p) => new Domain(p, this)).map((r) => ({ domain: r.domain!, stats: r.stats }));
  }

  lookupStoragePoolByName(name: string): StoragePool {
    return new StoragePool(checkPtr(lv().virStoragePoolLookupByName(this.ptr, name), 'virStoragePoolLookupByName'));
  }

  lookupStoragePoolByUUID(uuid: string): StoragePool {
    return new StoragePool(checkPtr(lv().virStoragePoolLookupByUUIDString(this.ptr, uuid), 'virStoragePoolLookupByUUIDString'));
  }

  /** virConnectListAllStoragePools; flags are virConnectListAllStoragePoolsFlags (1 inactive, 2 active, …). */
  listAllStoragePools(flags = 0): StoragePool[] {
    const out: [Ptr | null] = [null];
    const n = check(lv().virConnectListAllStoragePools(this.ptr, out, flags), 'virConnectListAllStoragePools');
    return takePointerArray(out[0], n).map((p) => new StoragePool(p));
  }

  defineStoragePool(xml: string, flags = 0): StoragePool {
    return new StoragePool(checkPtr(lv().virStoragePoolDefineXML(this.ptr, xml, flags), 'virStoragePoolDefineXML'));
  }

  /** virStoragePoolCreateXML: a transient pool, started. */
  createStoragePool(xml: string, flags = 0): StoragePool {
    return new StoragePool(checkPtr(lv().virStoragePoolCreateXML(this.ptr, xml, flags), 'virStoragePoolCreateXML'));
  }

  lookupStorageVolumeByPath(path: string): StorageVolume {
    return new StorageVolume(checkPtr(lv().virStorageVolLookupByPath(this.ptr, path), 'virStorageVolLookupByPath'));
  }

  lookupStorageVolumeByKey(key: string): StorageVolume {
    return new StorageVolume(checkPtr(lv().virStorageVolLookupByKey(this.ptr, key), 'virStorageVolLookupByKey'));
  }

  /** One kind of domain event, optionally for one domain; the listener runs on this thread. */
  onDomainEvent<K extends DomainEventKind>(kind: K, listener: (e: DomainEventMap[K]) => void, opts: { domain?: Domain } = {}): Subscription {
    return subscribeDomainEvent(this.ptr, kind, opts.domain ? LibvirtObject.pointerOf(opts.domain) : null, listener);
  }

  /** QEMU monitor events (QMP events as QEMU sent them), optionally filtered by domain and name. */
  onQemuMonitorEvent(listener: (e: QemuMonitorEvent) => void, filter: { domain?: Domain } & Omit<QemuMonitorEventFilter, 'dom'> = {}): Subscription {
    const { domain, ...rest } = filter;
    return subscribeQemuMonitorEvent(this.ptr, { ...rest, dom: domain ? LibvirtObject.pointerOf(domain) : null }, listener);
  }
}

function throwLast(call: string): never {
  throw lastError(call);
}
