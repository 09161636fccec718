/**
 * libvirt's QEMU program (qemu_protocol.x): `virsh qemu-monitor-command` and
 * `virsh qemu-monitor-event` (interfaces.md §6/§7). The RPC layer does not
 * interpret the JSON: the driver passes it through and returns the reply text.
 */
import { MpvirtError } from '../../errors.js';
import type { MonitorEventData } from '../../driver/events.js';
import { bytesToUuid, nonnullDomain, optionalDomain, QEMU_PROGRAM, toWireDomain } from '../protocol.js';
import * as x from '../xdr.js';
import { MAX_CALLBACKS_PER_CONNECTION } from './events.js';
import { checkFlags, proc, resolveDomain, type CallContext, type Procedure } from './types.js';

const Q = QEMU_PROGRAM;

/** virConnectDomainQemuMonitorEventRegisterFlags */
const EVENT_REGEX = 1 << 0;
const EVENT_NOCASE = 1 << 1;
/** Patterns are client input run on every event: short, and no quantified group that itself holds a quantifier. */
const MAX_PATTERN = 256;
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[*+?}](?:[^()\\]|\\.)*\)\s*[*+?{]/;

const eventMsg = x.struct({
  callbackID: x.int,
  dom: nonnullDomain,
  event: x.string(),
  seconds: x.hyper,
  micros: x.uint,
  details: x.optional(x.string()),
});

interface MonitorCallback {
  uuid: string | null;
  match: (event: string) => boolean;
}

const KEY = Symbol('rpc.qemu-monitor-events');
let nextCallbackId = 1;

function matcher(event: string | null, flags: number): (e: string) => boolean {
  if (event === null) return () => true;
  if (!(flags & EVENT_REGEX)) {
    if (flags & EVENT_NOCASE) {
      const want = event.toUpperCase();
      return (e) => e.toUpperCase() === want;
    }
    return (e) => e === event;
  }
  if (event.length > MAX_PATTERN || NESTED_QUANTIFIER.test(event)) {
    throw new MpvirtError('VIR_ERR_INVALID_ARG', `failed to compile regex '${event}': pattern too long or too costly`);
  }
  let re: RegExp;
  try {
    re = new RegExp(event, flags & EVENT_NOCASE ? 'i' : '');
  } catch (e) {
    throw new MpvirtError('VIR_ERR_INVALID_ARG', `failed to compile regex '${event}': ${(e as Error).message}`);
  }
  return (e) => re.test(e);
}

function callbacksOf(ctx: CallContext): Map<number, MonitorCallback> {
  return ctx.conn.slot(KEY, () => {
    const callbacks = new Map<number, MonitorCallback>();
    const { conn } = ctx;
    // runs inside the driver's emit(): a failure here must never reach the driver
    const onEvent = (e: MonitorEventData): void => {
      try {
        for (const [callbackID, cb] of callbacks) {
          if ((cb.uuid !== null && cb.uuid !== e.dom.uuid) || !cb.match(e.event)) continue;
          conn.sendMessage(Q, 6, eventMsg, {
            callbackID, dom: toWireDomain(e.dom), event: e.event,
            seconds: BigInt(e.seconds), micros: e.micros, details: e.details ?? null,
          });
        }
      } catch (err) {
        ctx.log.error({ conn: conn.id, event: e.event, err }, 'cannot deliver a monitor event');
      }
    };
    ctx.driver.events.on('monitor', onEvent);
    conn.onClose(() => {
      ctx.driver.events.off('monitor', onEvent);
      callbacks.clear();
    });
    return callbacks;
  });
}

export const qemuProcedures: Procedure[] = [
  proc({
    program: Q, proc: 1, name: 'QEMU_DOMAIN_MONITOR_COMMAND', api: 'virDomainQemuMonitorCommand',
    args: x.struct({ dom: nonnullDomain, cmd: x.string(), flags: x.uint }), ret: x.struct({ result: x.string() }),
    readOnlySafe: false,
    handler: async (ctx, { dom, cmd, flags }) => {
      checkFlags(flags, 1, 'qemuDomainQemuMonitorCommand'); // VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
      return { result: await ctx.driver.qemuMonitorCommand(resolveDomain(ctx, dom), cmd, { hmp: (flags & 1) !== 0 }) };
    },
  }),
  proc({
    program: Q, proc: 4, name: 'QEMU_CONNECT_DOMAIN_MONITOR_EVENT_REGISTER', api: 'virConnectDomainQemuMonitorEventRegister',
    args: x.struct({ dom: optionalDomain, event: x.optional(x.string()), flags: x.uint }),
    ret: x.struct({ callbackID: x.int }),
    // monitor events carry raw QEMU data; conservative: not for read-only connections
    readOnlySafe: false,
    handler: (ctx, { dom, event, flags }) => {
      checkFlags(flags, EVENT_REGEX | EVENT_NOCASE, 'qemuConnectDomainQemuMonitorEventRegister');
      const callbacks = callbacksOf(ctx);
      if (callbacks.size >= MAX_CALLBACKS_PER_CONNECTION) {
        throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `too many event callbacks on this connection (${MAX_CALLBACKS_PER_CONNECTION})`);
      }
      const callbackID = nextCallbackId++;
      callbacks.set(callbackID, { uuid: dom ? bytesToUuid(dom.uuid) : null, match: matcher(event, flags) });
      return { callbackID };
    },
  }),
  proc({
    program: Q, proc: 5, name: 'QEMU_CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER', api: 'virConnectDomainQemuMonitorEventDeregister',
    args: x.struct({ callbackID: x.int }), ret: x.none,
    readOnlySafe: false,
    handler: (ctx, { callbackID }) => {
      if (!callbacksOf(ctx).delete(callbackID)) {
        throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `qemu monitor event callback ${callbackID} not registered`);
      }
    },
  }),
];
