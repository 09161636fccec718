/**
 * The guest's consoles and displays, as tools/virsh-domain.c and virsh-console.c write them:
 * `console` (the serial console through a libvirt stream, the terminal in raw mode, the escape
 * character — Ctrl-] by default, `-e` — detaches), the console of `start --console` and
 * `create --console`, and `ttyconsole`, `vncdisplay`, `domdisplay`, which read the live XML.
 * The console is event driven both ways: stdin's data events and the stream's libvirt events
 * (delivered by the binding's event loop), never a polling loop.
 */
import { isatty } from 'node:tty';
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import koffi from 'koffi';
import type { Domain } from '../../libvirt/domain.js';
import { StreamEventType } from '../../libvirt/enums-misc.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { Stream } from '../../libvirt/stream.js';
import { commonOpt, type CmdDef, type ParsedCommand } from '../vsh/command-def.js';
import { optBool, optString, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { optDomain } from './lookup.js';

type Cmd = CmdDef<Ctl>;
/** VIR_CONNECT_LIST_DOMAINS_ACTIVE (commands-lifecycle's LIST, which imports this module) */
const ACTIVE = 1;

interface Termios {
  tcgetattr(fd: number, buf: Buffer): number;
  tcsetattr(fd: number, when: number, buf: Buffer): number;
  cfmakeraw(buf: Buffer): void;
}
let termios: Termios | undefined;
const libcTermios = (): Termios => {
  if (termios) return termios;
  const c = koffi.load('libc.so.6');
  termios = {
    tcgetattr: c.func('int tcgetattr(int fd, _Inout_ uint8_t *t)') as Termios['tcgetattr'],
    tcsetattr: c.func('int tcsetattr(int fd, int when, _Inout_ uint8_t *t)') as Termios['tcsetattr'],
    cfmakeraw: c.func('void cfmakeraw(_Inout_ uint8_t *t)') as Termios['cfmakeraw'],
  };
  return termios;
};
const TCSAFLUSH = 2;

/** vshTTYMakeRaw: stdin's terminal in cfmakeraw mode; returns vshTTYRestore. */
function makeRaw(): () => void {
  const t = libcTermios();
  const saved = Buffer.alloc(128); // struct termios is 60 bytes on glibc; room to spare
  if (t.tcgetattr(0, saved) < 0) throw new VshError('unable to make terminal raw: console isn\'t a tty');
  const raw = Buffer.from(saved);
  t.cfmakeraw(raw);
  if (t.tcsetattr(0, TCSAFLUSH, raw) < 0) throw new VshError('unable to set tty attributes');
  return () => void t.tcsetattr(0, TCSAFLUSH, saved);
}

/** virshGetEscapeChar: `^X` is Ctrl-X, anything else its first character. */
const escapeByte = (e: string): number => (e[0] === '^' ? e.toUpperCase().charCodeAt(1) ^ 0x40 : e.charCodeAt(0));

const noop = (): void => {};
const TRAPPED = ['SIGQUIT', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE'] as const;

/**
 * virshRunConsole: copy the stream to stdout and stdin to the stream until the escape character,
 * the end of either, or an error; undefined on success, else the message virsh reports.
 */
async function pump(ctl: Ctl, st: Stream): Promise<string | undefined> {
  const esc = escapeByte(ctl.opts.escape);
  let pending = Buffer.alloc(0);
  let finish: (r: { graceful: boolean; error?: string }) => void = noop;
  const ended = new Promise<{ graceful: boolean; error?: string }>((r) => (finish = r));
  const mask = (): number => StreamEventType.READABLE | StreamEventType.ERROR | StreamEventType.HANGUP | (pending.length ? StreamEventType.WRITABLE : 0);
  let watching = 0;
  /** (re)arm the stream's watch when what we wait for changed */
  const arm = (): void => {
    if (mask() !== watching) st.watch((watching = mask()), onStream);
  };
  let error: string | undefined;
  const onStream = (events: number): void => {
    try {
      if (events & StreamEventType.READABLE) {
        for (let got = st.recv(65536); got !== null; got = st.recv(65536)) {
          if (got.length === 0) return finish({ graceful: true });
          process.stdout.write(got);
        }
      }
      if (events & StreamEventType.WRITABLE && pending.length) pending = pending.subarray(st.send(pending));
      arm();
    } catch (e) {
      if (!(e instanceof LibvirtError)) throw e;
      error ??= e.message;
      return finish({ graceful: false });
    }
    if (events & (StreamEventType.ERROR | StreamEventType.HANGUP)) finish({ graceful: false });
  };
  const onStdin = (chunk: Buffer): void => {
    if (chunk[0] === esc) return finish({ graceful: true });
    pending = Buffer.concat([pending, chunk]);
    arm();
  };
  const onStdinEnd = (): void => {
    error ??= 'internal error: EOF on stdin';
    finish({ graceful: false });
  };
  for (const s of TRAPPED) process.on(s, noop);
  // in the interactive shell, readline reads stdin too: the console's keys are the guest's alone
  const shellReaders = process.stdin.listeners('data') as Array<(b: Buffer) => void>;
  for (const l of shellReaders) process.stdin.off('data', l);
  process.stdin.on('data', onStdin);
  process.stdin.once('end', onStdinEnd);
  process.stdin.resume();
  arm();
  try {
    const how = await ended;
    st.unwatch();
    try {
      if (how.graceful) st.finish();
      else st.abort();
    } catch (e) {
      if (!(e instanceof LibvirtError)) throw e;
    }
    return error;
  } finally {
    process.stdin.off('data', onStdin);
    process.stdin.off('end', onStdinEnd);
    for (const l of shellReaders) process.stdin.on('data', l);
    if (shellReaders.length === 0) process.stdin.pause();
    for (const s of TRAPPED) process.off(s, noop);
  }
}

/** cmdRunConsole: the state check, the tty check, virsh's two lines, then the console. */
export async function runConsole(ctl: Ctl, dom: Domain, devname: string | null, flags: { force?: boolean; safe?: boolean }): Promise<boolean> {
  const st = attempt(ctl, undefined, () => dom.state());
  if (!st) throw new VshError('Unable to get domain status');
  if (st.state === 5) throw new VshError('The domain is not running');
  if (!isatty(0)) throw new VshError('Cannot run interactive console without a controlling TTY');
  const esc = ctl.opts.escape;
  ctl.printExtra(`Connected to domain '${dom.name}'\nEscape character is ${esc}${esc[0] === '^' ? ` (Ctrl + ${esc[1]})` : ''}\n`);
  const restore = makeRaw();
  try {
    const stream = attempt(ctl, undefined, () => dom.openConsole(devname, flags));
    if (!stream) return false;
    try {
      const error = await pump(ctl, stream);
      if (error !== undefined) ctl.error(error);
      return error === undefined;
    } finally {
      stream.free();
    }
  } finally {
    restore();
  }
}

/** A document's root element, or virsh's refusal. */
function parseXml(xml: string): Element {
  let doc: Document;
  try {
    doc = new DOMParser({ onError: () => { throw new Error('parse'); } }).parseFromString(xml, 'text/xml');
  } catch {
    throw new VshError('Failed to parse domain description xml');
  }
  if (!doc.documentElement) throw new VshError('Failed to parse domain description xml');
  return doc.documentElement;
}

/** virshDomainGetXMLFromDom */
function domainXml(ctl: Ctl, dom: Domain, flags: number): Element {
  const xml = attempt(ctl, undefined, () => dom.xml(flags));
  if (xml === undefined) throw new VshError('Failed to get domain description xml');
  return parseXml(xml);
}

const kids = (e: Element | undefined, local: string): Element[] => {
  const out: Element[] = [];
  for (let n = e?.firstChild; n; n = n.nextSibling) if (n.nodeType === 1 && (n as Element).localName === local) out.push(n as Element);
  return out;
};

/** virXPathString("string(/domain/devices/<path>/@attr)"): the first such attribute in document order, undefined for none or ''. */
function xpathAttr(root: Element, path: Array<string | ((e: Element) => boolean)>, attr: string): string | undefined {
  let set = root.localName === 'domain' ? [root] : [];
  for (const step of ['devices', ...path]) {
    if (typeof step === 'function') set = set.filter(step);
    else set = set.flatMap((e) => kids(e, step));
  }
  const v = set.find((e) => e.hasAttribute(attr))?.getAttribute(attr);
  return v ? v : undefined;
}

/** virXPathInt: 0 for a value, -1 for none, -2 for one that is no int. */
function xpathInt(v: string | undefined): { rc: number; value: number } {
  if (v === undefined) return { rc: -1, value: 0 };
  if (!/^\s*[-+]?\d+$/.test(v) || Math.abs(Number(v)) > 2 ** 31 - 1) return { rc: -2, value: 0 };
  return { rc: 0, value: Number(v) };
}

/** virURIParse(uri)->server: the host of the connection URI, undefined for a local one. */
function uriServer(uri: string): string | undefined {
  const m = /^[^:/?#]+:\/\/([^/?#]*)/.exec(uri);
  let host = m?.[1]?.replace(/^.*@/, '') ?? '';
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']') < 0 ? undefined : host.indexOf(']'));
  else host = host.replace(/:\d*$/, '');
  return host || undefined;
}

/** virSocketAddrIsWildcard of a numeric address: 0.0.0.0 or :: */
const isWildcard = (a: string): boolean => a === '0.0.0.0' || (/^[0:]+$/.test(a) && a.includes('::'));

/** virshGetOneDisplay */
function oneDisplay(ctl: Ctl, root: Element, scheme: string): string | undefined {
  const g = (attr: string, sub?: string): string | undefined =>
    xpathAttr(root, ['graphics', (e) => e.getAttribute('type') === scheme, ...(sub ? [sub] : [])], attr);
  if (scheme === 'dbus') {
    const addr = g('address');
    if (!addr) return undefined;
    if (addr.startsWith('unix:path=')) return `dbus+unix://${addr.slice(10)}`;
    ctl.error(`'${addr}' D-Bus address is not handled`);
    return undefined;
  }
  let port = xpathInt(g('port')).value;
  const tlsPort = xpathInt(g('tlsPort')).value;
  let listen = g('listen');
  const sockpath = g('type', 'listen') === 'socket' ? g('socket', 'listen') : undefined;
  if (!port && !tlsPort && !sockpath) return undefined;
  if (listen === undefined) listen = g('address', 'listen');
  else if (isWildcard(listen)) listen = uriServer(ctl.connected!.uri);
  const passwd = g('passwd');
  let out = sockpath ? `${scheme}+unix://` : `${scheme}://`;
  if (scheme === 'vnc' && passwd !== undefined) out += `:${passwd}@`;
  if (listen === undefined && !sockpath) out += 'localhost';
  else if (!sockpath && listen!.includes(':')) out += `[${listen}]`;
  else out += sockpath ?? listen;
  if (port) {
    if (scheme === 'vnc') port -= 5900;
    out += `:${port}`;
  }
  let params = '';
  if (tlsPort) params += `tls-port=${tlsPort}&`;
  if (scheme === 'spice' && passwd !== undefined) params += `password=${passwd}&`;
  return out + (params ? `?${params.slice(0, -1)}` : '');
}

/** virDomainIsActive as virsh tests it: an error counts as active. */
const notRunning = (dom: Domain): boolean => {
  try {
    return !dom.isActive();
  } catch (e) {
    if (e instanceof LibvirtError) return false;
    throw e;
  }
};

/** Run `fn` on the command's domain and free it afterwards, awaiting it. */
async function withDom<T>(ctl: Ctl, cmd: ParsedCommand, fn: (dom: Domain) => T | Promise<T>): Promise<T> {
  const { dom } = optDomain(ctl, cmd);
  try {
    return await fn(dom);
  } finally {
    dom.free();
  }
}

export const consoleCommands: Cmd[] = [
  {
    name: 'console', help: 'connect to the guest console', desc: 'Connect the virtual serial console for the guest',
    opts: [
      commonOpt.domain(undefined, ACTIVE),
      { name: 'devname', type: 'string', help: 'character device name', completer: 'console' },
      { name: 'force', type: 'bool', help: 'force console connection (disconnect already connected sessions)' },
      { name: 'safe', type: 'bool', help: 'only connect if safe console handling is supported' },
    ],
    handler: (ctl, cmd) => withDom(ctl, cmd, (dom) => {
      const devname = optString(cmd, 'devname') ?? null;
      return runConsole(ctl, dom, devname, { force: optBool(cmd, 'force'), safe: optBool(cmd, 'safe') });
    }),
  },
  {
    name: 'domdisplay', help: 'domain display connection URI', desc: 'Output the IP address and port number for the graphical display.',
    opts: [
      commonOpt.domain(undefined, ACTIVE),
      { name: 'include-password', type: 'bool', help: 'includes the password into the connection URI if available' },
      { name: 'type', type: 'string', help: 'select particular graphical display (e.g. "vnc", "spice", "rdp", "dbus")' },
      { name: 'all', type: 'bool', help: 'show all possible graphical displays' },
    ],
    handler: (ctl, cmd) => {
      const all = optBool(cmd, 'all');
      if (all && optBool(cmd, 'type')) throw new VshError('Options --all and --type are mutually exclusive');
      return withDom(ctl, cmd, (dom) => {
        if (notRunning(dom)) throw new VshError('Domain is not running');
        const flags = optBool(cmd, 'include-password') ? 1 : 0;
        const type = optString(cmd, 'type');
        const root = domainXml(ctl, dom, flags);
        let found = false;
        for (const scheme of ['vnc', 'spice', 'rdp', 'dbus']) {
          if (!all && type !== undefined && type !== scheme) continue;
          const display = oneDisplay(ctl, root, scheme);
          if (display === undefined) continue;
          ctl.print(display);
          found = true;
          if (!all) break;
          ctl.print('\n');
        }
        if (!found) throw new VshError(type !== undefined ? `No graphical display with type '${type}' found` : 'No graphical display found');
        return true;
      });
    },
  },
  {
    name: 'ttyconsole', help: 'tty console', desc: 'Output the device for the TTY console.', opts: [commonOpt.domain(undefined, ACTIVE)],
    handler: (ctl, cmd) => withDom(ctl, cmd, (dom) => {
      const tty = xpathAttr(domainXml(ctl, dom, 0), ['console'], 'tty');
      if (tty === undefined) return false; // virsh fails without a word
      ctl.print(`${tty}\n`);
      return true;
    }),
  },
  {
    name: 'vncdisplay', help: 'vnc display', desc: 'Output the IP address and port number for the VNC display.', opts: [commonOpt.domain(undefined, ACTIVE)],
    handler: (ctl, cmd) => withDom(ctl, cmd, (dom) => {
      if (notRunning(dom)) throw new VshError('Domain is not running');
      const root = domainXml(ctl, dom, 0);
      const vnc = (e: Element): boolean => e.getAttribute('type') === 'vnc';
      const port = xpathInt(xpathAttr(root, ['graphics', vnc], 'port'));
      if (port.rc !== 0) throw new VshError('Failed to get VNC port. Is this domain using VNC?');
      const listen = xpathAttr(root, ['graphics', vnc], 'listen') ?? xpathAttr(root, ['graphics', vnc, 'listen'], 'address');
      ctl.print(listen === undefined || listen === '0.0.0.0' ? `:${port.value - 5900}\n` : `${listen}:${port.value - 5900}\n`);
      return true;
    }),
  },
];
