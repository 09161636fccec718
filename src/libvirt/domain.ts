/** virDomainPtr: a domain on a connection. */
import koffi from 'koffi';
import * as E from './enums-domain.js';
import { DomainQemuMonitorCommandFlags, StreamFlags } from './enums-misc.js';
import { check, checkBool, checkPtr, lastError } from './errors.js';
import { lv, takePointerArray, takeString, types, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';
import { decodeTypedParams, groupStats, type DomainStats } from './stats.js';
import { Stream } from './stream.js';

/** The connection as a domain needs it (avoids an import cycle with connection.ts). */
export interface DomainOwner extends LibvirtObject {
  readonly uri: string;
}

/** Lowercase virDomainState names. */
export type DomainStateName = Lowercase<keyof typeof E.DomainState>;
const stateNames = Object.keys(E.DomainState).map((k) => k.toLowerCase() as DomainStateName);
export function domainStateName(state: number): DomainStateName {
  return stateNames[state] ?? 'nostate';
}

/** virDomainInfo */
export interface DomainInfo {
  state: number;
  stateName: DomainStateName;
  /** KiB */
  maxMemory: number;
  /** KiB */
  memory: number;
  vcpus: number;
  /** ns; a bigint, as test drivers report wall-clock-sized values */
  cpuTime: bigint;
}

/** virDomainModificationImpact: neither flag means VIR_DOMAIN_AFFECT_CURRENT. */
export interface Impact {
  live?: boolean;
  config?: boolean;
}

export interface XmlOptions {
  secure?: boolean;
  inactive?: boolean;
  updateCpu?: boolean;
  migratable?: boolean;
}

export interface UndefineOptions {
  managedSave?: boolean;
  snapshotsMetadata?: boolean;
  nvram?: boolean;
  keepNvram?: boolean;
  checkpointsMetadata?: boolean;
  tpm?: boolean;
  keepTpm?: boolean;
}

export interface CreateOptions {
  paused?: boolean;
  autodestroy?: boolean;
  bypassCache?: boolean;
  forceBoot?: boolean;
  validate?: boolean;
  resetNvram?: boolean;
}

export type MetadataType = 'description' | 'title' | 'element';
const metadataTypes: Record<MetadataType, number> = { description: E.DomainMetadataType.DESCRIPTION, title: E.DomainMetadataType.TITLE, element: E.DomainMetadataType.ELEMENT };

/** Either raw libvirt flags or named options. */
export type Flags<O> = number | O;

function bits<O extends object>(opts: Flags<O> | undefined, table: { [K in keyof O]-?: number }): number {
  if (opts === undefined) return 0;
  if (typeof opts === 'number') return opts;
  let f = 0;
  for (const k of Object.keys(table) as Array<keyof O>) if (opts[k]) f |= table[k];
  return f >>> 0;
}

export const impactFlags = (i: Flags<Impact> | undefined): number => bits(i, { live: E.DomainModificationImpact.LIVE, config: E.DomainModificationImpact.CONFIG });
export const xmlFlags = (o: Flags<XmlOptions> | undefined): number =>
  bits(o, { secure: E.DomainXMLFlags.SECURE, inactive: E.DomainXMLFlags.INACTIVE, updateCpu: E.DomainXMLFlags.UPDATE_CPU, migratable: E.DomainXMLFlags.MIGRATABLE });
export const createFlags = (o: Flags<CreateOptions> | undefined): number =>
  bits(o, {
    paused: E.DomainCreateFlags.START_PAUSED, autodestroy: E.DomainCreateFlags.START_AUTODESTROY, bypassCache: E.DomainCreateFlags.START_BYPASS_CACHE,
    forceBoot: E.DomainCreateFlags.START_FORCE_BOOT, validate: E.DomainCreateFlags.START_VALIDATE, resetNvram: E.DomainCreateFlags.START_RESET_NVRAM,
  });
const undefineFlags = (o: Flags<UndefineOptions> | undefined): number =>
  bits(o, {
    managedSave: E.DomainUndefineFlagsValues.MANAGED_SAVE, snapshotsMetadata: E.DomainUndefineFlagsValues.SNAPSHOTS_METADATA, nvram: E.DomainUndefineFlagsValues.NVRAM,
    keepNvram: E.DomainUndefineFlagsValues.KEEP_NVRAM, checkpointsMetadata: E.DomainUndefineFlagsValues.CHECKPOINTS_METADATA, tpm: E.DomainUndefineFlagsValues.TPM, keepTpm: E.DomainUndefineFlagsValues.KEEP_TPM,
  });

export class Domain extends LibvirtObject {
  /** Wraps a reference the caller owns (from a lookup, define, list or virDomainRef). @internal */
  constructor(ptr: Ptr, readonly connection: DomainOwner) {
    super(ptr, (p) => lv().virDomainFree(p), 'Domain');
  }

  /** Another, independently freed reference to the same domain. */
  ref(): Domain {
    check(lv().virDomainRef(this.ptr), 'virDomainRef');
    return new Domain(this.ptr, this.connection);
  }

  get name(): string {
    return checkPtr(lv().virDomainGetName(this.ptr), 'virDomainGetName');
  }

  get uuid(): string {
    const buf = Buffer.alloc(37);
    check(lv().virDomainGetUUIDString(this.ptr, buf), 'virDomainGetUUIDString');
    return buf.toString('latin1', 0, 36);
  }

  /** The running domain's id, -1 when inactive. */
  get id(): number {
    const id = lv().virDomainGetID(this.ptr);
    return id === 0xffffffff ? -1 : id;
  }

  info(): DomainInfo {
    const out: { state?: number; maxMem?: number; memory?: number; nrVirtCpu?: number; cpuTime?: number | bigint } = {};
    check(lv().virDomainGetInfo(this.ptr, out), 'virDomainGetInfo');
    const state = out.state ?? 0;
    return { state, stateName: domainStateName(state), maxMemory: out.maxMem ?? 0, memory: out.memory ?? 0, vcpus: out.nrVirtCpu ?? 0, cpuTime: BigInt(out.cpuTime ?? 0) };
  }

  /** virDomainGetState: the state, its reason (virDomain*Reason of that state) and the state's name. */
  state(): { state: number; reason: number; stateName: DomainStateName } {
    const s: [number] = [0];
    const r: [number] = [0];
    check(lv().virDomainGetState(this.ptr, s, r, 0), 'virDomainGetState');
    return { state: s[0], reason: r[0], stateName: domainStateName(s[0]) };
  }

  isActive(): boolean {
    return checkBool(lv().virDomainIsActive(this.ptr), 'virDomainIsActive');
  }

  isPersistent(): boolean {
    return checkBool(lv().virDomainIsPersistent(this.ptr), 'virDomainIsPersistent');
  }

  /** virDomainHasManagedSaveImage */
  hasManagedSaveImage(): boolean {
    return checkBool(lv().virDomainHasManagedSaveImage(this.ptr, 0), 'virDomainHasManagedSaveImage');
  }

  /** virDomainGetOSType (`hvm`, …) */
  osType(): string {
    return takeString(lv().virDomainGetOSType(this.ptr)) ?? throwLast('virDomainGetOSType');
  }

  /** virDomainGetSecurityLabel: the label ('' without a security driver) and whether it is enforced. */
  securityLabel(): { label: string; enforcing: boolean } {
    // struct _virSecurityLabel: char label[4097]; int enforcing (at 4100, int-aligned)
    const buf = Buffer.alloc(4104);
    check(lv().virDomainGetSecurityLabel(this.ptr, buf), 'virDomainGetSecurityLabel');
    return { label: cString(buf, 0, 4097), enforcing: buf.readInt32LE(4100) === 1 };
  }

  /** virDomainGetMessages: tainting and deprecation messages (flags 0: both kinds). */
  messages(flags = 0): string[] {
    const out: [Ptr | null] = [null];
    const n = check(lv().virDomainGetMessages(this.ptr, out, flags), 'virDomainGetMessages');
    return takePointerArray(out[0], n).map((p) => takeString(p) ?? '');
  }

  xml(opts?: Flags<XmlOptions>): string {
    return takeString(lv().virDomainGetXMLDesc(this.ptr, xmlFlags(opts))) ?? throwLast('virDomainGetXMLDesc');
  }

  // Without flags, create/destroy/shutdown call libvirt's older flagless API, as virsh and
  // python3-libvirt do: a daemon or driver that lacks the *Flags variant still serves them, and a
  // refusal names the API the caller meant (`…not supported…: virDomainDestroy`).

  /** Starts the defined domain (virDomainCreate, or virDomainCreateWithFlags with flags). */
  create(opts?: Flags<CreateOptions>): void {
    const flags = createFlags(opts);
    if (flags === 0) check(lv().virDomainCreate(this.ptr), 'virDomainCreate');
    else check(lv().virDomainCreateWithFlags(this.ptr, flags), 'virDomainCreateWithFlags');
  }

  undefine(opts?: Flags<UndefineOptions>): void {
    check(lv().virDomainUndefineFlags(this.ptr, undefineFlags(opts)), 'virDomainUndefineFlags');
  }

  /** virDomainDestroy, or virDomainDestroyFlags with flags. */
  destroy(opts?: Flags<{ graceful?: boolean; removeLogs?: boolean }>): void {
    const flags = bits(opts, { graceful: E.DomainDestroyFlagsValues.GRACEFUL, removeLogs: E.DomainDestroyFlagsValues.REMOVE_LOGS });
    if (flags === 0) check(lv().virDomainDestroy(this.ptr), 'virDomainDestroy');
    else check(lv().virDomainDestroyFlags(this.ptr, flags), 'virDomainDestroyFlags');
  }

  /** Raw virDomainShutdownFlagValues (0: the hypervisor's choice; 1 ACPI, 2 guest agent, …). */
  shutdown(flags = 0): void {
    if (flags === 0) check(lv().virDomainShutdown(this.ptr), 'virDomainShutdown');
    else check(lv().virDomainShutdownFlags(this.ptr, flags), 'virDomainShutdownFlags');
  }

  /** Raw virDomainRebootFlagValues. */
  reboot(flags = 0): void {
    check(lv().virDomainReboot(this.ptr, flags), 'virDomainReboot');
  }

  reset(): void {
    check(lv().virDomainReset(this.ptr, 0), 'virDomainReset');
  }

  suspend(): void {
    check(lv().virDomainSuspend(this.ptr), 'virDomainSuspend');
  }

  resume(): void {
    check(lv().virDomainResume(this.ptr), 'virDomainResume');
  }

  attachDevice(xml: string, impact?: Flags<Impact>): void {
    check(lv().virDomainAttachDeviceFlags(this.ptr, xml, impactFlags(impact)), 'virDomainAttachDeviceFlags');
  }

  detachDevice(xml: string, impact?: Flags<Impact>): void {
    check(lv().virDomainDetachDeviceFlags(this.ptr, xml, impactFlags(impact)), 'virDomainDetachDeviceFlags');
  }

  detachDeviceAlias(alias: string, impact?: Flags<Impact>): void {
    check(lv().virDomainDetachDeviceAlias(this.ptr, alias, impactFlags(impact)), 'virDomainDetachDeviceAlias');
  }

  updateDevice(xml: string, opts?: Flags<Impact & { force?: boolean }>): void {
    const f = typeof opts === 'number' ? opts : impactFlags(opts) | (opts?.force ? E.DomainDeviceModifyFlags.FORCE : 0);
    check(lv().virDomainUpdateDeviceFlags(this.ptr, xml, f), 'virDomainUpdateDeviceFlags');
  }

  /** virDomainGetMetadata; `uri` names the namespace of an `element`. VIR_ERR_NO_DOMAIN_METADATA if unset. */
  metadata(type: MetadataType, uri?: string, impact?: Flags<Impact>): string {
    return takeString(lv().virDomainGetMetadata(this.ptr, metadataTypes[type], uri ?? null, impactFlags(impact))) ?? throwLast('virDomainGetMetadata');
  }

  /** virDomainSetMetadata; null removes it. An `element` needs `key` (its prefix) and `uri`. */
  setMetadata(type: MetadataType, value: string | null, opts: { key?: string; uri?: string } & Impact = {}): void {
    check(lv().virDomainSetMetadata(this.ptr, metadataTypes[type], value, opts.key ?? null, opts.uri ?? null, impactFlags(opts)), 'virDomainSetMetadata');
  }

  get autostart(): boolean {
    const out: [number] = [0];
    check(lv().virDomainGetAutostart(this.ptr, out), 'virDomainGetAutostart');
    return out[0] !== 0;
  }

  set autostart(on: boolean) {
    check(lv().virDomainSetAutostart(this.ptr, on ? 1 : 0), 'virDomainSetAutostart');
  }

  /** virDomainListGetStats for this domain: `stats` is a virDomainStatsTypes mask (0: all). */
  stats(stats = 0, flags = 0): DomainStats {
    const out: [Ptr | null] = [null];
    const n = check(lv().virDomainListGetStats([this.ptr, null], stats, out, flags), 'virDomainListGetStats');
    return takeStatsRecords(out[0], n)[0]?.stats ?? groupStats([]);
  }

  /** virDomainQemuMonitorCommand: QMP JSON (or HMP text with `hmp`) in, the monitor's reply out. */
  qemuMonitorCommand(command: string, opts: { hmp?: boolean } = {}): string {
    const out: [Ptr | null] = [null];
    check(lv().virDomainQemuMonitorCommand(this.ptr, command, out, opts.hmp ? DomainQemuMonitorCommandFlags.HMP : 0), 'virDomainQemuMonitorCommand');
    return takeString(out[0]) ?? '';
  }

  /**
   * virDomainOpenConsole on a new non-blocking stream: `dev` is a console/serial alias (null: the
   * first console); `force` takes over an open console, `safe` refuses a console without locking.
   */
  openConsole(dev: string | null = null, opts: { force?: boolean; safe?: boolean } = {}): Stream {
    const conn = LibvirtObject.pointerOf(this.connection);
    const st = new Stream(checkPtr(lv().virStreamNew(conn, StreamFlags.NONBLOCK), 'virStreamNew'));
    try {
      const f = (opts.force ? E.DomainConsoleFlags.FORCE : 0) | (opts.safe ? E.DomainConsoleFlags.SAFE : 0);
      check(lv().virDomainOpenConsole(this.ptr, dev, LibvirtObject.pointerOf(st), f), 'virDomainOpenConsole');
    } catch (e) {
      st.free();
      throw e;
    }
    return st;
  }
}

/** A NUL-terminated string in a fixed char[len] of a struct libvirt filled in. */
export function cString(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function throwLast(call: string): never {
  throw lastError(call);
}

/**
 * A stats record list from libvirt as typed records, the list freed. With `wrap`, each record's
 * domain gets its own reference (virDomainRef) wrapped by it; without, records carry none.
 */
export function takeStatsRecords<D>(list: Ptr | null, n: number, wrap?: (p: Ptr) => D): Array<{ domain: D | undefined; stats: DomainStats }> {
  if (list === null) return [];
  try {
    const recs = koffi.decode(list, koffi.array('void *', n)) as Ptr[];
    return recs.map((r) => {
      const rec = koffi.decode(r, types().statsRecord) as { dom: Ptr; params: Ptr | null; nparams: number };
      let domain: D | undefined;
      if (wrap) {
        check(lv().virDomainRef(rec.dom), 'virDomainRef');
        domain = wrap(rec.dom);
      }
      return { domain, stats: groupStats(decodeTypedParams(rec.params, rec.nparams)) };
    });
  } finally {
    lv().virDomainStatsRecordListFree(list);
  }
}
