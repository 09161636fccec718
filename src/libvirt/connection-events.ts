/**
 * Event subscriptions of a connection: domain events and QEMU monitor events (their callbacks run
 * on the event-loop thread, see event-worker.ts, and arrive here as messages), and the connection's
 * close callback.
 */
import { EventEmitter } from 'node:events';
import koffi from 'koffi';
import { DOMAIN_EVENT_SHAPES, decodeDomainEvent, decodeQemuMonitorEvent, type DomainEventKind, type DomainEventMap, type QemuMonitorEvent } from './domain-events.js';
import { ConnectCloseReason } from './enums-misc.js';
import { lastError } from './errors.js';
import { eventLoop } from './event-loop.js';
import { lv, types, type Ptr } from './ffi.js';

/** Why a connection closed (virConnectCloseReason). */
export interface CloseEvent {
  reason: number;
  reasonName: Lowercase<keyof typeof ConnectCloseReason> | 'unknown';
}

/** Everything `Connection.events` emits. */
export interface ConnectionEventMap extends DomainEventMap {
  'qemu-monitor': QemuMonitorEvent;
  close: CloseEvent;
}

/** A live registration with libvirt; close() deregisters it (idempotent). */
export class Subscription implements Disposable {
  #close: (() => void) | undefined;
  /** @internal */
  constructor(close: () => void) {
    this.#close = close;
  }
  get closed(): boolean {
    return this.#close === undefined;
  }
  close(): void {
    const c = this.#close;
    this.#close = undefined;
    c?.();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

const kinds = Object.keys(DOMAIN_EVENT_SHAPES) as DomainEventKind[];

/** virConnectDomainEventRegisterAny; `dom` null means every domain. */
export function subscribeDomainEvent<K extends DomainEventKind>(conn: Ptr, kind: K, dom: Ptr | null, listener: (e: DomainEventMap[K]) => void): Subscription {
  const loop = eventLoop();
  const shape = DOMAIN_EVENT_SHAPES[kind];
  const sub = loop.add((m) => listener(decodeDomainEvent(kind, m)));
  const id = lv().virConnectDomainEventRegisterAny(conn, dom, shape.id, loop.callbacks.domain[kinds.indexOf(kind)]!, BigInt(sub), null);
  if (id < 0) {
    loop.remove(sub);
    throw lastError('virConnectDomainEventRegisterAny');
  }
  return new Subscription(() => {
    loop.remove(sub);
    lv().virConnectDomainEventDeregisterAny(conn, id);
  });
}

export interface QemuMonitorEventFilter {
  /** only this domain */
  dom?: Ptr | null;
  /** only this QMP event name (or, with `regex`, names matching it) */
  event?: string;
  regex?: boolean;
  nocase?: boolean;
}

/** virConnectDomainQemuMonitorEventRegister. */
export function subscribeQemuMonitorEvent(conn: Ptr, filter: QemuMonitorEventFilter, listener: (e: QemuMonitorEvent) => void): Subscription {
  const loop = eventLoop();
  const sub = loop.add((m) => listener(decodeQemuMonitorEvent(m)));
  const flags = (filter.regex ? 1 : 0) | (filter.nocase ? 2 : 0);
  const id = lv().virConnectDomainQemuMonitorEventRegister(conn, filter.dom ?? null, filter.event ?? null, loop.callbacks.qemuMonitor, BigInt(sub), null, flags);
  if (id < 0) {
    loop.remove(sub);
    throw lastError('virConnectDomainQemuMonitorEventRegister');
  }
  return new Subscription(() => {
    loop.remove(sub);
    lv().virConnectDomainQemuMonitorEventDeregister(conn, id);
  });
}

// The close callback is a main-thread koffi callback: libvirt calls it on whichever thread saw the
// connection die (this one during a call, or the event-loop thread, from which koffi relays it
// here). It only schedules the emit, never calling libvirt, and it is never unregistered:
// virConnectUnregisterCloseCallback waits for a callback in progress, which may itself be
// waiting for this thread. A late call for a closed connection finds no emitter and is dropped.
const closeTargets = new Map<number, WeakRef<ConnectionEvents>>();
let closeTrampoline: Ptr | undefined;
let nextCloseId = 1;
const closeNames = Object.keys(ConnectCloseReason).map((k) => k.toLowerCase() as CloseEvent['reasonName']);

function onClose(_conn: unknown, reason: number, opaque: Ptr | null): void {
  const target = closeTargets.get(Number(opaque ?? 0))?.deref();
  if (!target) return;
  setImmediate(() => target.emit('close', { reason, reasonName: closeNames[reason] ?? 'unknown' }));
}

type Listener<K extends keyof ConnectionEventMap> = (e: ConnectionEventMap[K]) => void;

/**
 * The connection's events as a typed EventEmitter: the first listener of a kind registers it with
 * libvirt for every domain, removing the last deregisters it. `qemu-monitor` gets every QEMU event
 * of every domain (use Connection.onQemuMonitorEvent to filter); `close` is the close callback.
 */
export class ConnectionEvents extends EventEmitter {
  readonly #subs = new Map<string, Subscription>();
  #closeId: number | undefined;

  /** @internal */
  constructor(private readonly conn: () => Ptr) {
    super();
    this.on('newListener', (name: string | symbol) => {
      if (typeof name === 'string' && this.listenerCount(name) === 0) this.#start(name);
    });
    this.on('removeListener', (name: string | symbol) => {
      if (typeof name === 'string' && this.listenerCount(name) === 0) this.#stop(name);
    });
  }

  #start(name: string): void {
    if (name === 'close') return this.#registerClose();
    if (name === 'qemu-monitor') {
      this.#subs.set(name, subscribeQemuMonitorEvent(this.conn(), {}, (e) => this.emit(name, e)));
    } else if (name in DOMAIN_EVENT_SHAPES) {
      const kind = name as DomainEventKind;
      this.#subs.set(name, subscribeDomainEvent(this.conn(), kind, null, (e) => this.emit(name, e)));
    }
  }

  #stop(name: string): void {
    this.#subs.get(name)?.close();
    this.#subs.delete(name);
  }

  #registerClose(): void {
    if (this.#closeId !== undefined) return;
    // as a plain address: koffi type-checks a registered callback against 'void *' parameters
    closeTrampoline ??= koffi.address(koffi.register(onClose, koffi.pointer(types().closeCallback)));
    const id = nextCloseId++;
    closeTargets.set(id, new WeakRef(this));
    if (lv().virConnectRegisterCloseCallback(this.conn(), closeTrampoline, BigInt(id), null) < 0) {
      closeTargets.delete(id);
      throw lastError('virConnectRegisterCloseCallback');
    }
    this.#closeId = id;
  }

  /** Deregisters everything (Connection.close does this first). @internal */
  dispose(): void {
    for (const s of this.#subs.values()) s.close();
    this.#subs.clear();
    if (this.#closeId !== undefined) closeTargets.delete(this.#closeId);
  }

  override on<K extends keyof ConnectionEventMap>(event: K, listener: Listener<K>): this;
  override on(event: 'newListener' | 'removeListener', listener: (name: string | symbol) => void): this;
  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof ConnectionEventMap>(event: K, listener: Listener<K>): this;
  override once(event: string | symbol, listener: (...args: never[]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof ConnectionEventMap>(event: K, listener: Listener<K>): this;
  override off(event: string | symbol, listener: (...args: never[]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
}
