/**
 * Domain events with server-side callback IDs (feature REMOTE_EVENT_CALLBACK,
 * libvirt-rpc.md §5): 316 registers, 317 deregisters, and each event the
 * driver emits goes out as a MESSAGE to every matching callback of every
 * connection. Listeners on the driver's bus are attached once per connection,
 * on its first registration, and removed when the connection closes.
 */
import { MpvirtError } from '../../errors.js';
import type { DomainRef, DriverEvents } from '../../driver/events.js';
import { nonnullDomain, optionalDomain, REMOTE_PROGRAM, toWireDomain, bytesToUuid } from '../protocol.js';
import * as x from '../xdr.js';
import { proc, type CallContext, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;

/** virDomainEventID values whose events mpvirt emits. */
export const EventId = { LIFECYCLE: 0, REBOOT: 1, DEVICE_REMOVED: 15, DEVICE_ADDED: 19, METADATA_CHANGE: 23 } as const;
/** VIR_DOMAIN_EVENT_ID_LAST in 9.0: every ID below it registers (virsh event --all asks for all 27). */
const EVENT_ID_LAST = 27;
/** A bound on one connection's registrations, so a client cannot grow the daemon without limit. */
export const MAX_CALLBACKS_PER_CONNECTION = 1024;

const lifecycleMsg = x.struct({ callbackID: x.int, dom: nonnullDomain, event: x.int, detail: x.int });
const rebootMsg = x.struct({ callbackID: x.int, dom: nonnullDomain });
const deviceMsg = x.struct({ callbackID: x.int, dom: nonnullDomain, devAlias: x.string() });
const metadataMsg = x.struct({ callbackID: x.int, dom: nonnullDomain, type: x.int, nsuri: x.optional(x.string()) });

interface Callback {
  eventID: number;
  /** only this domain's events, or all */
  uuid: string | null;
}

interface EventsState {
  callbacks: Map<number, Callback>;
  attached: boolean;
}

const KEY = Symbol('rpc.domain-events');
/** Server-wide, like libvirt's: IDs are never reused while the daemon runs. */
let nextCallbackId = 1;
/** Callbacks registered now, over every connection of every server in this process. */
let liveCallbacks = 0;

/** How many domain event callbacks are registered (read-only; tests check that closed connections free theirs). */
export function registeredEventCallbacks(): number {
  return liveCallbacks;
}

function stateOf(ctx: CallContext): EventsState {
  return ctx.conn.slot(KEY, () => ({ callbacks: new Map<number, Callback>(), attached: false }));
}

/** Subscribes this connection to the driver's bus, once; unsubscribes at close. */
function attach(ctx: CallContext, st: EventsState): void {
  if (st.attached) return;
  st.attached = true;
  const { conn, driver } = ctx;
  // runs inside the driver's emit(): a failure here must never reach the driver
  const each = (eventID: number, dom: DomainRef, send: (callbackID: number) => void): void => {
    try {
      for (const [id, cb] of st.callbacks) {
        if (cb.eventID === eventID && (cb.uuid === null || cb.uuid === dom.uuid)) send(id);
      }
    } catch (e) {
      ctx.log.error({ conn: conn.id, eventID, err: e }, 'cannot deliver a domain event');
    }
  };
  const handlers: { [K in keyof DriverEvents]?: (...a: DriverEvents[K]) => void } = {
    lifecycle: (e) =>
      each(EventId.LIFECYCLE, e.dom, (callbackID) =>
        conn.sendMessage(R, 318, lifecycleMsg, { callbackID, dom: toWireDomain(e.dom), event: e.event, detail: e.detail })),
    reboot: (e) =>
      each(EventId.REBOOT, e.dom, (callbackID) => conn.sendMessage(R, 319, rebootMsg, { callbackID, dom: toWireDomain(e.dom) })),
    'device-removed': (e) =>
      each(EventId.DEVICE_REMOVED, e.dom, (callbackID) =>
        conn.sendMessage(R, 333, deviceMsg, { callbackID, dom: toWireDomain(e.dom), devAlias: e.alias })),
    'device-added': (e) =>
      each(EventId.DEVICE_ADDED, e.dom, (callbackID) =>
        conn.sendMessage(R, 354, deviceMsg, { callbackID, dom: toWireDomain(e.dom), devAlias: e.alias })),
    'metadata-change': (e) =>
      each(EventId.METADATA_CHANGE, e.dom, (callbackID) =>
        conn.sendMessage(R, 379, metadataMsg, { callbackID, dom: toWireDomain(e.dom), type: e.type, nsuri: e.nsuri ?? null })),
  };
  const bus = driver.events as unknown as NodeJS.EventEmitter; // the typed overloads do not iterate
  for (const [name, fn] of Object.entries(handlers)) bus.on(name, fn as (...a: unknown[]) => void);
  conn.onClose(() => {
    for (const [name, fn] of Object.entries(handlers)) bus.off(name, fn as (...a: unknown[]) => void);
    liveCallbacks -= st.callbacks.size;
    st.callbacks.clear();
  });
}

export const eventProcedures: Procedure[] = [
  proc({
    program: R, proc: 316, name: 'CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY', api: 'virConnectDomainEventRegisterAny',
    args: x.struct({ eventID: x.int, dom: optionalDomain }), ret: x.struct({ callbackID: x.int }),
    readOnlySafe: true,
    handler: (ctx, { eventID, dom }) => {
      if (eventID < 0 || eventID >= EVENT_ID_LAST) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `unsupported event ID ${eventID}`);
      const st = stateOf(ctx);
      if (st.callbacks.size >= MAX_CALLBACKS_PER_CONNECTION) {
        throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `too many event callbacks on this connection (${MAX_CALLBACKS_PER_CONNECTION})`);
      }
      attach(ctx, st);
      const callbackID = nextCallbackId++;
      st.callbacks.set(callbackID, { eventID, uuid: dom ? bytesToUuid(dom.uuid) : null });
      liveCallbacks++;
      return { callbackID };
    },
  }),
  proc({
    program: R, proc: 317, name: 'CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY', api: 'virConnectDomainEventDeregisterAny',
    args: x.struct({ callbackID: x.int }), ret: x.none,
    readOnlySafe: true,
    handler: (ctx, { callbackID }) => {
      if (!stateOf(ctx).callbacks.delete(callbackID)) {
        throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `domain event callback ${callbackID} not registered`);
      }
      liveCallbacks--;
    },
  }),
];
