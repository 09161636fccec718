/**
 * `event`, as tools/virsh-domain-event.c writes it: one line (or block) per domain event in virsh's
 * words, one-shot or --loop, --timeout, --timestamp, a domain filter; and vsh.c's event wait
 * (vshEventStart/Wait/Cleanup) that qemu-monitor-event shares: it ends on the first event (unless
 * looping), on the timeout, or on SIGINT, and waits on promises only — never polling.
 */
import type { Subscription } from '../../libvirt/connection-events.js';
import type { Domain } from '../../libvirt/domain.js';
import type { DomainEventKind, DomainEventMap } from '../../libvirt/domain-events.js';
import { subscribeStructEvent, type StructEventMap } from '../../libvirt/domain-qemu.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { CmdDef, OptDef, ParsedCommand } from '../vsh/command-def.js';
import { exclusive, optBool, optString, optUInt, VshError } from '../vsh/options.js';
import type { Ctl } from './ctl.js';
import { lookupDomain } from './lookup.js';

/** virTimeStringNowRaw: `2026-12-04 18:55:01.123+0000`, UTC. */
export function timestampNow(d = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`;
}

/** vshCommandOptTimeoutToMs: --timeout in seconds, > 0 and ≤ INT_MAX/1000; 0 means none. */
export function timeoutMs(cmd: ParsedCommand): number {
  const t = optUInt(cmd, 'timeout');
  if (t === undefined) return 0;
  if (t === 0 || t > Math.floor(2147483647 / 1000)) throw new VshError(`Numeric value '${t}' for <timeout> option is malformed or out of range`);
  return t * 1000;
}

export type WaitEnd = 'done' | 'timeout' | 'interrupt';

/** vshEventStart + vshEventWait: `done` ends the wait from an event listener. */
export class EventWait {
  #resolve: ((end: WaitEnd) => void) | undefined;
  readonly #ended: Promise<WaitEnd>;
  #timer: NodeJS.Timeout | undefined;
  readonly #onSigint = (): void => this.#end('interrupt');

  constructor(timeout: number) {
    this.#ended = new Promise((r) => (this.#resolve = r));
    process.on('SIGINT', this.#onSigint);
    if (timeout > 0) this.#timer = setTimeout(() => this.#end('timeout'), timeout);
  }

  done(): void {
    this.#end('done');
  }

  #end(how: WaitEnd): void {
    const r = this.#resolve;
    this.#resolve = undefined;
    r?.(how);
  }

  wait(): Promise<WaitEnd> {
    return this.#ended;
  }

  /** vshEventCleanup */
  cleanup(): void {
    process.off('SIGINT', this.#onSigint);
    clearTimeout(this.#timer);
    this.#end('done');
  }
}

/** The lines virsh prints after the wait; the command succeeds when something was received. */
export function reportWaitEnd(ctl: Ctl, end: WaitEnd, count: number): boolean {
  if (end === 'interrupt') ctl.print('event loop interrupted\n');
  else if (end === 'timeout') ctl.print('event loop timed out\n');
  ctl.print(`events received: ${count}\n`);
  return count > 0;
}

/** VIRSH_COMMON_OPT_DOMAIN_OT_STRING: an optional domain filter. */
export const domainFilterOpt = (help: string): OptDef => ({ name: 'domain', type: 'string', help, completer: 'domain', completerFlags: 0 });

const name = (table: readonly string[], v: number, unknown = 'unknown'): string => table[v] ?? unknown;
const UNSUPPORTED = 'unsupported value';
const EVENTS = ['Defined', 'Undefined', 'Started', 'Suspended', 'Resumed', 'Stopped', 'Shutdown', 'PMSuspended', 'Crashed'];
const DETAILS: readonly (readonly string[])[] = [
  ['Added', 'Updated', 'Renamed', 'Snapshot'],
  ['Removed', 'Renamed'],
  ['Booted', 'Migrated', 'Restored', 'Snapshot', 'Event wakeup'],
  ['Paused', 'Migrated', 'I/O Error', 'Watchdog', 'Restored', 'Snapshot', 'API error', 'Post-copy', 'Post-copy Error'],
  ['Unpaused', 'Migrated', 'Snapshot', 'Post-copy', 'Post-copy Error'],
  ['Shutdown', 'Destroyed', 'Crashed', 'Migrated', 'Saved', 'Failed', 'Snapshot'],
  ['Finished', 'Finished after guest request', 'Finished after host request'],
  ['Memory', 'Disk'],
  ['Panicked', 'Crashloaded'],
];
const WATCHDOG = ['none', 'pause', 'reset', 'poweroff', 'shutdown', 'debug', 'inject-nmi'];
const IO_ERROR = ['none', 'pause', 'report'];
const BLOCK_JOB = ['Unknown job', 'Block Pull', 'Block Copy', 'Block Commit', 'Active Block Commit', 'Backup'];
const BLOCK_JOB_STATUS = ['completed', 'failed', 'canceled', 'ready'];
const DISK_CHANGE = ['changed', 'dropped'];
const TRAY_CHANGE = ['opened', 'closed'];
const AGENT_STATE = ['unknown', 'connected', 'disconnected'];
const AGENT_REASON = ['unknown', 'domain started', 'channel event'];
const METADATA = ['description', 'title', 'element'];
const MF_RECIPIENT = ['hypervisor', 'guest'];
const MF_ACTION = ['ignore', 'inject', 'fatal', 'reset'];

/** printf's %s of a NULL string (glibc), and virsh's NULLSTR(). */
const s = (v: string | null): string => v ?? '(null)';
const nullstr = (v: string | null): string => v ?? '<null>';

/** virsh's text for each event kind (virshEvent*Print), `head` being `event 'KIND' for domain 'NAME'`. */
const FORMAT: { [K in DomainEventKind]: (e: DomainEventMap[K], head: string) => string } = {
  lifecycle: (e, h) => `${h}: ${name(EVENTS, e.eventNumber)} ${name(DETAILS[e.eventNumber] ?? [], e.detailNumber)}\n`,
  reboot: (_e, h) => `${h}\n`,
  'rtc-change': (e, h) => `${h}: ${e.utcOffset}\n`,
  watchdog: (e, h) => `${h}: ${name(WATCHDOG, e.action)}\n`,
  'io-error': (e, h) => `${h}: ${s(e.srcPath)} (${s(e.devAlias)}) ${name(IO_ERROR, e.action)}\n`,
  'io-error-reason': (e, h) => `${h}: ${s(e.srcPath)} (${s(e.devAlias)}) ${name(IO_ERROR, e.action)} due to ${s(e.reason)}\n`,
  'control-error': (_e, h) => `${h}\n`,
  'block-job': (e, h) => `${h}: ${name(BLOCK_JOB, e.type, 'Unknown job')} for ${s(e.disk)} ${name(BLOCK_JOB_STATUS, e.status)}\n`,
  'disk-change': (e, h) => `${h} disk ${s(e.devAlias)}: ${nullstr(e.oldSrcPath)} -> ${nullstr(e.newSrcPath)}: ${name(DISK_CHANGE, e.reason)}\n`,
  'tray-change': (e, h) => `${h} disk ${s(e.devAlias)}: ${name(TRAY_CHANGE, e.reason)}\n`,
  'pm-wakeup': (_e, h) => `${h}\n`,
  'pm-suspend': (_e, h) => `${h}\n`,
  'balloon-change': (e, h) => `${h}: ${e.actual}KiB\n`,
  'pm-suspend-disk': (_e, h) => `${h}\n`,
  'device-removed': (e, h) => `${h}: ${s(e.devAlias)}\n`,
  'block-job-2': (e, h) => `${h}: ${name(BLOCK_JOB, e.type, 'Unknown job')} for ${s(e.disk)} ${name(BLOCK_JOB_STATUS, e.status)}\n`,
  'agent-lifecycle': (e, h) => `${h}: state: '${name(AGENT_STATE, e.state, UNSUPPORTED)}' reason: '${name(AGENT_REASON, e.reason, UNSUPPORTED)}'\n`,
  'device-added': (e, h) => `${h}: ${s(e.devAlias)}\n`,
  'migration-iteration': (e, h) => `${h}: iteration: '${e.iteration}'\n`,
  'device-removal-failed': (e, h) => `${h}: ${s(e.devAlias)}\n`,
  'metadata-change': (e, h) => `${h}: type ${name(METADATA, e.type, UNSUPPORTED)}, uri ${nullstr(e.nsuri)}\n`,
  'block-threshold': (e, h) => `${h}: dev: ${s(e.dev)}(${nullstr(e.path)}) ${e.threshold} ${e.excess}\n`,
  'memory-failure': (e, h) =>
    `${h}:\nrecipient: ${name(MF_RECIPIENT, e.recipient, UNSUPPORTED)}\naction: ${name(MF_ACTION, e.action, UNSUPPORTED)}\n` +
    `flags:\n\taction required: ${e.flags & 1 ? 1 : 0}\n\trecursive: ${e.flags & 2 ? 1 : 0}\n`,
  'memory-device-size-change': (e, h) => `${h}:\nalias: ${s(e.alias)}\nsize: ${e.size}\n`,
};

const PHASE = ['connect', 'initialize', 'disconnect'];
const FAMILY = ['IPv4', 'IPv6', 'unix'];
const params = (ps: StructEventMap['tunable']['params']): string => ps.map((p) => `\t${p.field}: ${p.value}\n`).join('');

/** virshEventGraphicsPrint, virshEventTunablePrint, virshEventJobCompletedPrint */
const STRUCT_FORMAT: { [K in keyof StructEventMap]: (e: StructEventMap[K]) => string } = {
  graphics: (e) => {
    const a = (x: StructEventMap['graphics']['local']): string => `${name(FAMILY, x.family)} ${s(x.node)} ${s(x.service)}`;
    return `event 'graphics' for domain '${e.domainName}': ${name(PHASE, e.phase)} local[${a(e.local)}] remote[${a(e.remote)}] ${s(e.authScheme)}\n` +
      e.subject.map((i) => `\t${s(i.type)}=${s(i.name)}\n`).join('');
  },
  tunable: (e) => `event 'tunable' for domain '${e.domainName}':\n${params(e.params)}`,
  'job-completed': (e) => `event 'job-completed' for domain '${e.domainName}':\n${params(e.params)}`,
};

function subscribeStruct<K extends keyof StructEventMap>(ctl: Ctl, kind: K, dom: Domain | undefined, print: (text: string) => void): Subscription {
  const format: (e: StructEventMap[K]) => string = STRUCT_FORMAT[kind];
  return subscribeStructEvent(ctl.connected!, kind, dom ?? null, (e) => print(format(e)));
}

/** virshDomainEventCallbacks, in virsh's order (the order --list prints and --all registers). */
export const EVENT_NAMES = [
  'lifecycle', 'reboot', 'rtc-change', 'watchdog', 'io-error', 'graphics', 'io-error-reason', 'control-error', 'block-job',
  'disk-change', 'tray-change', 'pm-wakeup', 'pm-suspend', 'balloon-change', 'pm-suspend-disk', 'device-removed', 'block-job-2',
  'tunable', 'agent-lifecycle', 'device-added', 'migration-iteration', 'job-completed', 'device-removal-failed',
  'metadata-change', 'block-threshold', 'memory-failure', 'memory-device-size-change',
] as const;

const subscribable = (n: string): n is DomainEventKind => n in FORMAT;

/** The text virsh prints for one event (without the timestamp). */
export function eventText<K extends DomainEventKind>(kind: K, e: DomainEventMap[K]): string {
  // generic, block-job and PM events name the callback they came through, as virsh's do
  return FORMAT[kind](e, `event '${kind}' for domain '${e.domain.name}'`);
}

const eventCmd: CmdDef<Ctl> = {
  name: 'event', help: 'Domain Events', desc: 'List event types, or wait for domain events to occur',
  opts: [
    domainFilterOpt('filter by domain name, id or uuid'),
    { name: 'event', type: 'string', help: 'which event type to wait for', completer: 'domain-event' },
    { name: 'all', type: 'bool', help: 'wait for all events instead of just one type' },
    { name: 'loop', type: 'bool', help: 'loop until timeout or interrupt, rather than one-shot' },
    { name: 'timeout', type: 'int', help: 'timeout seconds' },
    { name: 'list', type: 'bool', help: 'list valid event types' },
    { name: 'timestamp', type: 'bool', help: 'show timestamp for each printed event' },
  ],
  handler: async (ctl, cmd) => {
    exclusive(cmd, 'all', 'event');
    exclusive(cmd, 'list', 'all');
    exclusive(cmd, 'list', 'event');
    if (optBool(cmd, 'list')) {
      ctl.print(EVENT_NAMES.map((n) => `${n}\n`).join(''));
      return true;
    }
    const eventName = optString(cmd, 'event');
    const [all, loop, stamp] = ['all', 'loop', 'timestamp'].map((o) => optBool(cmd, o));
    if (eventName === undefined && !all) throw new VshError('one of --list, --all, or --event <type> is required');
    const wanted = EVENT_NAMES.filter((n) => eventName === undefined || n === eventName);
    if (wanted.length === 0) throw new VshError(`unknown event type ${eventName}`);
    const timeout = timeoutMs(cmd);
    const domName = optString(cmd, 'domain');
    let dom: Domain | undefined;
    if (domName !== undefined) dom = lookupDomain(ctl, domName);
    const wait = new EventWait(timeout);
    const subs: Subscription[] = [];
    let count = 0;
    const print = (text: string): void => {
      if (!loop && count) return;
      ctl.print(stamp ? `${timestampNow()}: ${text}` : text);
      count++;
      if (!loop) wait.done();
    };
    try {
      for (const [i, kind] of wanted.entries()) {
        try {
          if (subscribable(kind)) subs.push(ctl.connected!.onDomainEvent(kind, (e) => print(eventText(kind, e as DomainEventMap[typeof kind])), dom ? { domain: dom } : {}));
          else subs.push(subscribeStruct(ctl, kind, dom, print));
        } catch (e) {
          // a server that knows fewer events: only the first registration must work
          if (!(e instanceof LibvirtError) || i === 0) throw e;
        }
      }
      return reportWaitEnd(ctl, await wait.wait(), count);
    } finally {
      wait.cleanup();
      for (const sub of subs) sub.close();
      dom?.free();
    }
  },
};

export const eventCommands: CmdDef<Ctl>[] = [eventCmd];
