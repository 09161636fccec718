/**
 * libvirt-qemu's guest agent passthrough on Domain (virDomainQemuAgentCommand), and libvirt's own
 * JSON reader and writer (virJSONValueFromString / virJSONValueToString), which virsh uses to
 * parse and (pretty-)print QMP text: mpvirsh uses the same code so that what it accepts, refuses
 * and prints — number spellings, escapes, yajl's indentation and error messages — is virsh's. The
 * JSON functions are libvirt.so.0's private exports (LIBVIRT_PRIVATE_*, the ones virsh links
 * against); they are internal to mpvirt, not part of the binding's public surface. At the end, the
 * domain events whose callbacks carry structs (graphics, tunable, job-completed), as virsh's
 * `event` needs them.
 */
import koffi from 'koffi';
import { Subscription } from './connection-events.js';
import { Domain } from './domain.js';
import { lastError } from './errors.js';
import { eventLoop } from './event-loop.js';
import { declareFunctions, libc, lv, takeString, type Ptr } from './ffi.js';
import { LibvirtObject } from './object.js';

interface QemuFns {
  virDomainQemuAgentCommand(d: Ptr, cmd: string, timeout: number, flags: number): Ptr | null;
}
const qemu = declareFunctions<QemuFns>({
  virDomainQemuAgentCommand: 'void *virDomainQemuAgentCommand(void *d, const char *cmd, int timeout, uint flags)',
}, 'libvirt-qemu.so.0');

interface JsonFns {
  virJSONValueFromString(s: string): Ptr | null;
  virJSONValueToString(v: Ptr, pretty: boolean): Ptr | null;
  virJSONValueFree(v: Ptr): void;
  virJSONValueIsObject(v: Ptr): boolean;
  virJSONValueObjectGet(v: Ptr, key: string): Ptr | null;
  /** takes ownership of `s` (a malloc'd copy) */
  virJSONValueNewString(s: Ptr): Ptr | null;
}
const json = declareFunctions<JsonFns>({
  virJSONValueFromString: 'void *virJSONValueFromString(const char *s)',
  virJSONValueToString: 'void *virJSONValueToString(void *v, bool pretty)',
  virJSONValueFree: 'void virJSONValueFree(void *v)',
  virJSONValueIsObject: 'bool virJSONValueIsObject(void *v)',
  virJSONValueObjectGet: 'void *virJSONValueObjectGet(void *v, const char *key)',
  virJSONValueNewString: 'void *virJSONValueNewString(void *s)',
});

/** virDomainQemuAgentCommand's timeouts besides a number of seconds. */
export const AGENT_TIMEOUT = { BLOCK: -2, DEFAULT: -1, NOWAIT: 0 } as const;

declare module './domain.js' {
  interface Domain {
    /** virDomainQemuAgentCommand: the guest agent's JSON reply to `command`; `timeout` in seconds or AGENT_TIMEOUT. */
    qemuAgentCommand(command: string, timeout?: number): string;
  }
}

Domain.prototype.qemuAgentCommand = function (this: Domain, command: string, timeout: number = AGENT_TIMEOUT.DEFAULT): string {
  const p = qemu().virDomainQemuAgentCommand(LibvirtObject.pointerOf(this), command, timeout, 0);
  if (p === null) throw lastError('virDomainQemuAgentCommand');
  return takeString(p) ?? '';
};

/**
 * A JSON value parsed by libvirt (virJSONValueFromString), freed exactly once by free(). @internal
 */
export class LibvirtJson {
  private constructor(private ptr: Ptr | null, private readonly owned: boolean) {}

  /** The parsed value, or undefined when libvirt cannot parse `text` (its error left for lastError). */
  static parse(text: string): LibvirtJson | undefined {
    const p = json().virJSONValueFromString(text);
    return p === null ? undefined : new LibvirtJson(p, true);
  }

  /** A JSON string value holding `s`. */
  static string(s: string): LibvirtJson {
    // libvirt 9.0's virJSONValueNewString keeps (and later frees) the string it is given
    const p = json().virJSONValueNewString(libc().strdup(s));
    if (p === null) throw lastError('virJSONValueNewString');
    return new LibvirtJson(p, true);
  }

  get isObject(): boolean {
    return json().virJSONValueIsObject(this.#live());
  }

  /** An object's member (borrowed: valid while this value is), undefined when absent. */
  member(key: string): LibvirtJson | undefined {
    const p = json().virJSONValueObjectGet(this.#live(), key);
    return p === null ? undefined : new LibvirtJson(p, false);
  }

  /** virJSONValueToString: compact, or yajl's two-space pretty form (with its final newline). */
  toString(pretty = false): string {
    const s = takeString(json().virJSONValueToString(this.#live(), pretty));
    if (s === null) throw lastError('virJSONValueToString');
    return s;
  }

  free(): void {
    if (this.ptr !== null && this.owned) json().virJSONValueFree(this.ptr);
    this.ptr = null;
  }

  #live(): Ptr {
    if (this.ptr === null) throw new Error('LibvirtJson used after free()');
    return this.ptr;
  }
}

/** Forget the error a failed parse left (vshResetLibvirtError). @internal */
export function resetLibvirtError(): void {
  lv().virResetLastError();
}

// ---- The three domain events whose callbacks carry structs or typed parameters ----------------
// (VIR_DOMAIN_EVENT_ID_GRAPHICS, TUNABLE, JOB_COMPLETED; the event-loop worker decodes the others.)
// Their callbacks are main-thread koffi callbacks: libvirt's event thread calls them, koffi runs
// them here while that thread waits, so the structs libvirt passes are still valid while they are
// copied out. Only the copying happens in the callback (the domain's name is a plain accessor;
// virTypedParameterToString formats a value as virsh prints it); the listener runs afterwards.

export interface GraphicsAddress {
  /** virDomainEventGraphicsAddressType: 0 IPv4, 1 IPv6, 2 unix */
  family: number;
  node: string | null;
  service: string | null;
}
export interface GraphicsEvent {
  domainName: string;
  /** virDomainEventGraphicsPhase: 0 connect, 1 initialize, 2 disconnect */
  phase: number;
  local: GraphicsAddress;
  remote: GraphicsAddress;
  authScheme: string | null;
  subject: Array<{ type: string | null; name: string | null }>;
}
/** TUNABLE and JOB_COMPLETED: each parameter's field and its value as libvirt prints it. */
export interface TypedParamsEvent {
  domainName: string;
  params: Array<{ field: string; value: string }>;
}
export interface StructEventMap {
  graphics: GraphicsEvent;
  tunable: TypedParamsEvent;
  'job-completed': TypedParamsEvent;
}

interface StructEventFns {
  virTypedParameterToString(p: Ptr): Ptr | null;
}
const util = declareFunctions<StructEventFns>({ virTypedParameterToString: 'void *virTypedParameterToString(void *p)' });

const EVENT_IDS: Record<keyof StructEventMap, number> = { graphics: 5, tunable: 17, 'job-completed': 21 };
/** sizeof(virTypedParameter): char field[80], int type, a union of 8 bytes */
const TYPED_PARAM_SIZE = 96;

const listeners = new Map<number, (e: StructEventMap[keyof StructEventMap]) => void>();
let nextListener = 1;
let trampolines: Record<'graphics' | 'params', bigint> | undefined;

/** The callbacks' struct types, declared once. */
let structs: { address: ReturnType<typeof koffi.struct>; subject: ReturnType<typeof koffi.struct>; identity: ReturnType<typeof koffi.struct> } | undefined;
const structTypes = (): NonNullable<typeof structs> =>
  (structs ??= {
    address: koffi.struct({ family: 'int', node: 'const char *', service: 'const char *' }),
    subject: koffi.struct({ n: 'int', ids: 'void *' }),
    identity: koffi.struct({ type: 'const char *', name: 'const char *' }),
  });

function address(p: Ptr): GraphicsAddress {
  const a = koffi.decode(p, structTypes().address) as GraphicsAddress;
  return { family: a.family, node: a.node, service: a.service };
}

function callbacks(): Record<'graphics' | 'params', bigint> {
  if (trampolines) return trampolines;
  const name = (d: Ptr): string => lv().virDomainGetName(d) ?? '';
  const graphics = (_c: Ptr, dom: Ptr, phase: number, local: Ptr, remote: Ptr, auth: string | null, subject: Ptr, opaque: Ptr): void => {
    const l = listeners.get(Number(opaque));
    if (!l) return;
    const s = koffi.decode(subject, structTypes().subject) as { n: number; ids: Ptr | null };
    const ids = s.ids === null || s.n <= 0 ? [] : (koffi.decode(s.ids, koffi.array(structTypes().identity, s.n)) as Array<{ type: string | null; name: string | null }>);
    const e: GraphicsEvent = { domainName: name(dom), phase, local: address(local), remote: address(remote), authScheme: auth, subject: ids.map((i) => ({ type: i.type, name: i.name })) };
    setImmediate(() => l(e));
  };
  const params = (_c: Ptr, dom: Ptr, list: Ptr | null, n: number, opaque: Ptr): void => {
    const l = listeners.get(Number(opaque));
    if (!l) return;
    const out: TypedParamsEvent['params'] = [];
    for (let i = 0; list !== null && i < n; i++) {
      const p = list + BigInt(i * TYPED_PARAM_SIZE);
      const value = takeString(util().virTypedParameterToString(p));
      if (value !== null) out.push({ field: koffi.decode(p, 'char', -1) as string, value });
    }
    const e: TypedParamsEvent = { domainName: name(dom), params: out };
    setImmediate(() => l(e));
  };
  const gProto = koffi.proto('mpvirtGraphicsEvent', 'void', ['void *', 'void *', 'int', 'void *', 'void *', 'const char *', 'void *', 'void *']);
  const pProto = koffi.proto('mpvirtTypedParamsEvent', 'void', ['void *', 'void *', 'void *', 'int', 'void *']);
  trampolines = {
    graphics: koffi.address(koffi.register(graphics, koffi.pointer(gProto))) as bigint,
    params: koffi.address(koffi.register(params, koffi.pointer(pProto))) as bigint,
  };
  return trampolines;
}

/**
 * virConnectDomainEventRegisterAny for one of the three struct-carrying events; `dom` null for
 * every domain. Keeps the process's event loop referenced while subscribed.
 */
export function subscribeStructEvent<K extends keyof StructEventMap>(conn: LibvirtObject, kind: K, dom: LibvirtObject | null, listener: (e: StructEventMap[K]) => void): Subscription {
  const id = nextListener++;
  listeners.set(id, listener as (e: StructEventMap[keyof StructEventMap]) => void);
  const keep = eventLoop().add(() => {});
  const c = LibvirtObject.pointerOf(conn);
  const cb = callbacks()[kind === 'graphics' ? 'graphics' : 'params'];
  const reg = lv().virConnectDomainEventRegisterAny(c, dom ? LibvirtObject.pointerOf(dom) : null, EVENT_IDS[kind], cb, BigInt(id), null);
  if (reg < 0) {
    listeners.delete(id);
    eventLoop().remove(keep);
    throw lastError('virConnectDomainEventRegisterAny');
  }
  return new Subscription(() => {
    lv().virConnectDomainEventDeregisterAny(c, reg);
    listeners.delete(id);
    eventLoop().remove(keep);
  });
}
