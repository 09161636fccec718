/**
 * domxml-from-native for the displays: `-vnc` and `-spice` back into `<graphics>` (the inverse
 * of display-argv.ts's vncArgs/spiceArgs). A password-protected SPICE display is refused: its
 * password is never on a command line, so no XML written from one could hold it.
 */
import { SPICE_COMPRESSION } from './display-argv.js';
import { bool, num, onlyProps, str } from './native-devices-import.js';
import type { NativeProps } from './native-words.js';
import { cannotConvert, el, type XmlText } from './native-xml.js';

const unbracket = (host: string): string => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);

function vncXml(p: NativeProps, audiodevs: readonly NativeProps[]): XmlText {
  onlyProps('-vnc', p, ['where', 'vnc', 'to', 'share', 'audiodev']);
  checkAudiodev(p, audiodevs, '-vnc');
  const share = str(p, 'share');
  const socket = str(p, 'vnc');
  if (socket !== undefined) {
    if (!socket.startsWith('unix:')) cannotConvert(`-vnc vnc=${socket}`);
    return el('graphics', { type: 'vnc', sharePolicy: share }, el('listen', { type: 'socket', socket: socket.slice(5) }));
  }
  const where = str(p, 'where') ?? cannotConvert('-vnc without a display');
  const m = /^(.*):(\d+)$/.exec(where) ?? cannotConvert(`-vnc '${where}'`);
  const host = unbracket(m[1]!);
  const auto = num(p, 'to') !== undefined;
  if (auto && (m[2] !== '0' || num(p, 'to') !== 99)) cannotConvert(`-vnc '${where}' with to=${num(p, 'to')}`);
  return el('graphics', { type: 'vnc', port: auto ? undefined : 5900 + Number(m[2]), autoport: auto ? 'yes' : 'no', listen: host, sharePolicy: share },
    el('listen', { type: 'address', address: host }));
}

/** -spice option → the `<graphics>` child and attribute it came from (display-argv.ts's table, reversed). */
const SPICE_CHILDREN: ReadonlyArray<readonly [string, string, string]> = SPICE_COMPRESSION.map(([el, a, opt]) => [opt, el, a] as const);

function spiceXml(p: NativeProps): XmlText {
  onlyProps('-spice', p, ['kind', 'port', 'addr', 'agent-mouse', 'seamless-migration', 'disable-ticketing', 'disable-copy-paste', 'disable-agent-file-xfer', ...SPICE_CHILDREN.map(([o]) => o)]);
  const unix = str(p, 'kind') === 'unix';
  if (str(p, 'kind') !== undefined && !unix) cannotConvert(`-spice ${str(p, 'kind')}`);
  const port = num(p, 'port');
  const none = !unix && port === 0;
  if (!none && bool(p, 'disable-ticketing') !== true) cannotConvert('a -spice display with a password (it is never on the command line; set passwd in the XML)');
  const addr = str(p, 'addr');
  const listen = unix ? el('listen', { type: 'socket', socket: addr ?? cannotConvert('-spice unix without an addr') })
    : none ? el('listen', { type: 'none' })
    : el('listen', { type: 'address', address: addr ?? cannotConvert('-spice without an addr') });
  const children = SPICE_CHILDREN.filter(([o]) => p[o] !== undefined).map(([o, name, a]) => el(name, { [a]: str(p, o) }));
  return el('graphics', { type: 'spice', port: unix || none ? undefined : port, autoport: unix || none ? undefined : 'no', listen: unix || none ? undefined : addr },
    listen, ...children,
    bool(p, 'disable-copy-paste') === true && el('clipboard', { copypaste: 'no' }),
    str(p, 'agent-mouse') === 'off' && el('mouse', { mode: 'server' }),
    bool(p, 'disable-agent-file-xfer') === true && el('filetransfer', { enable: 'no' }));
}

function checkAudiodev(p: NativeProps, audiodevs: readonly NativeProps[], what: string): void {
  const a = str(p, 'audiodev');
  if (a !== undefined && !audiodevs.some((x) => str(x, 'id') === a)) cannotConvert(`${what} audiodev=${a}, which no -audiodev defines`);
}

/** Every display, in command-line order. */
export function graphicsXml(graphics: ReadonlyArray<{ opt: 'vnc' | 'spice'; props: NativeProps }>, audiodevs: readonly NativeProps[]): XmlText[] {
  return graphics.map((g) => (g.opt === 'vnc' ? vncXml(g.props, audiodevs) : spiceXml(g.props)));
}
