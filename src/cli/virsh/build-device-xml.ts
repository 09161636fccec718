/**
 * The device XML virsh writes itself for attach-disk and attach-interface (tools/virsh-domain.c
 * cmdAttachDisk, cmdAttachInterface, virshAddressParse/Format, virshParseRateStr), byte for byte:
 * libvirt's virBuffer indentation, which values it escapes (virBufferEscapeString) and which it
 * writes as given (virBufferAsprintf), and every refusal with virsh's words.
 */
import { statSync } from 'node:fs';
import { VshError } from '../vsh/options.js';

/** virBuffer with auto-indent: text added at the start of a line gets `indent` spaces first. */
class VirBuffer {
  content = '';
  constructor(public indent = 0) {}

  add(text: string): void {
    if (text === '') return;
    if (this.content === '' || this.content.endsWith('\n')) this.content += ' '.repeat(this.indent);
    this.content += text;
  }

  /** virBufferAddBuffer: copied as it is, no indentation */
  addBuffer(b: VirBuffer): void {
    this.content += b.content;
  }
}

/** virBufferEscapeString's escaping (control characters other than \t \n \r dropped). */
function xmlEscape(s: string): string {
  if (!/[<>&'"]/.test(s)) return s;
  return s.replace(/[<>&'"]|[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? '');
}

/** virBufferEscapeString(buf, " name='%s'", value): nothing when the value is absent. */
const escAttr = (b: VirBuffer, name: string, v: string | undefined): void => {
  if (v !== undefined) b.add(` ${name}='${xmlEscape(v)}'`);
};

/** virXMLFormatElement */
function formatElement(b: VirBuffer, name: string, attrs: VirBuffer, kids?: VirBuffer): void {
  if (attrs.content === '' && (!kids || kids.content === '')) return;
  b.add(`<${name}`);
  b.addBuffer(attrs);
  if (kids && kids.content !== '') {
    b.add('>\n');
    b.addBuffer(kids);
    b.add(`</${name}>\n`);
  } else {
    b.add('/>\n');
  }
}

/**
 * strtoul / strtoull as virStrToLong_uip / _ullp call them with an end pointer: blanks, a sign,
 * `0x` for base 16, digits; a '-' anywhere, no digits, or overflow is a failure.
 */
function strToULong(s: string, at: number, base: 10 | 16, max: bigint): { value: bigint; end: number } | undefined {
  let i = at;
  while (i < s.length && /[ \t\n\v\f\r]/.test(s[i]!)) i++;
  if (s[i] === '+' || s[i] === '-') {
    if (s[i] === '-') return undefined;
    i++;
  }
  const digit = base === 16 ? /[0-9a-fA-F]/ : /[0-9]/;
  if (base === 16 && s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digit.test(s[i + 2] ?? '')) i += 2;
  const start = i;
  while (i < s.length && digit.test(s[i]!)) i++;
  if (i === start) return undefined;
  const value = BigInt(base === 16 ? `0x${s.slice(start, i)}` : s.slice(start, i));
  return value > max ? undefined : { value, end: i };
}

const UINT = 2n ** 32n - 1n;
const ULLONG = 2n ** 64n - 1n;

export type Address =
  | { type: 'pci'; domain: bigint; bus: bigint; slot: bigint; fn: bigint; multifunction: boolean }
  | { type: 'scsi' | 'ide' | 'sata'; controller: bigint; bus: bigint; unit: bigint }
  | { type: 'ccw'; cssid: bigint; ssid: bigint; devno: bigint }
  | { type: 'usb'; bus: bigint; port: bigint };

/** virshAddressParse: `pci:D.B.S.F`, `scsi|ide|sata:C.B.U`, `ccw:C.S.D`, `usb:B.P`; undefined if malformed. */
export function parseAddress(str: string, multifunction: boolean): Address | undefined {
  const colon = str.indexOf(':');
  if (colon < 0) return undefined;
  const type = str.slice(0, colon);
  let at = colon;
  // each field: skip the one separator before it (any character), then the number; the string ends
  // where C's would: a separator past the end is a failure
  const field = (base: 10 | 16, max = UINT): bigint | undefined => {
    if (at >= str.length) return undefined;
    const r = strToULong(str, at + 1, base, max);
    if (!r) return undefined;
    at = r.end;
    return r.value;
  };
  const fields = (n: number, base: 10 | 16, lastMax = UINT): bigint[] | undefined => {
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) {
      const v = field(base, i === n - 1 ? lastMax : UINT);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  };
  switch (type) {
    case 'pci': {
      const f = fields(4, 16);
      return f && { type, domain: f[0]!, bus: f[1]!, slot: f[2]!, fn: f[3]!, multifunction };
    }
    case 'scsi': case 'ide': case 'sata': {
      const f = fields(3, 10, ULLONG);
      return f && { type, controller: f[0]!, bus: f[1]!, unit: f[2]! };
    }
    case 'ccw': {
      const f = fields(3, 16);
      return f && { type, cssid: f[0]!, ssid: f[1]!, devno: f[2]! };
    }
    case 'usb': {
      const f = fields(2, 10);
      return f && { type, bus: f[0]!, port: f[1]! };
    }
    default:
      return undefined;
  }
}

const hex = (v: bigint, width: number): string => v.toString(16).padStart(width, '0');

/** virshAddressFormat */
export function formatAddress(a: Address): string {
  switch (a.type) {
    case 'pci':
      return `<address type='pci' domain='0x${hex(a.domain, 4)}' bus='0x${hex(a.bus, 2)}' slot='0x${hex(a.slot, 2)}' function='0x${hex(a.fn, 0)}'${a.multifunction ? " multifunction='on'" : ''}/>\n`;
    case 'ccw':
      return `<address type='ccw' cssid='0x${hex(a.cssid, 2)}' ssid='0x${hex(a.ssid, 1)}' devno='0x${hex(a.devno, 4)}'/>\n`;
    case 'usb':
      return `<address type='usb' bus='${a.bus}' port='${a.port}'/>\n`;
    default:
      return `<address type='drive' controller='${a.controller}' bus='${a.bus}' unit='${a.unit}'/>\n`;
  }
}

/** attach-disk's options, as strings (undefined when not given). */
export interface DiskOptions {
  source: string; target: string; targetbus?: string; driver?: string; subdriver?: string; iothread?: string; cache?: string; io?: string;
  type?: string; mode?: string; sourcetype?: string; serial?: string; wwn?: string; alias?: string; rawio: boolean; address?: string;
  multifunction: boolean; sourceProtocol?: string; hostName?: string; hostTransport?: string; hostSocket?: string;
}

const isBlockDevice = (p: string): boolean => {
  try {
    return statSync(p).isBlockDevice();
  } catch {
    return false;
  }
};

/** virValidateWWN */
function validateWwn(wwn: string): void {
  const p = wwn.startsWith('0x') ? wwn.slice(2) : wwn;
  if (!/^[0-9a-fA-F]{16}$/.test(p)) throw new VshError(`internal error: Malformed wwn: ${wwn}`);
}

/** cmdAttachDisk's XML, or its refusal. */
export function buildDiskXml(o: DiskOptions): string {
  const types = ['', 'file', 'block', 'network'];
  let type = 0;
  if (o.sourcetype !== undefined && (type = types.indexOf(o.sourcetype)) < 0) throw new VshError(`Unknown source type: '${o.sourcetype}'`);
  if (type === 0) {
    if (o.sourceProtocol !== undefined) type = 3;
    else if (o.driver !== 'file' && o.driver !== 'tap' && isBlockDevice(o.source)) type = 2;
    else type = 1;
  }
  if ((type === 3) !== (o.sourceProtocol !== undefined)) throw new VshError('--source-protocol option requires --sourcetype network');
  if (o.mode !== undefined && o.mode !== 'readonly' && o.mode !== 'shareable') throw new VshError(`No support for ${o.mode} in command 'attach-disk'`);
  if (o.wwn !== undefined) validateWwn(o.wwn);

  const buf = new VirBuffer(0);
  const diskAttr = new VirBuffer();
  const diskChild = new VirBuffer(2);
  diskAttr.add(` type='${types[type]}'`);
  escAttr(diskAttr, 'device', o.type);
  if (o.rawio) diskAttr.add(" rawio='yes'");
  const driverAttr = new VirBuffer();
  escAttr(driverAttr, 'name', o.driver);
  escAttr(driverAttr, 'type', o.subdriver);
  escAttr(driverAttr, 'iothread', o.iothread);
  escAttr(driverAttr, 'cache', o.cache);
  escAttr(driverAttr, 'io', o.io);
  formatElement(diskChild, 'driver', driverAttr);

  const sourceAttr = new VirBuffer();
  const sourceChild = new VirBuffer(4);
  if (type === 1) escAttr(sourceAttr, 'file', o.source);
  else if (type === 2) escAttr(sourceAttr, 'dev', o.source);
  else {
    escAttr(sourceAttr, 'protocol', o.sourceProtocol);
    escAttr(sourceAttr, 'name', o.source);
    const hostAttr = new VirBuffer();
    escAttr(hostAttr, 'transport', o.hostTransport);
    escAttr(hostAttr, 'socket', o.hostSocket);
    if (o.hostName !== undefined) {
      const colon = o.hostName.indexOf(':');
      escAttr(hostAttr, 'name', colon < 0 ? o.hostName : o.hostName.slice(0, colon));
      escAttr(hostAttr, 'port', colon < 0 ? undefined : o.hostName.slice(colon + 1));
    }
    formatElement(sourceChild, 'host', hostAttr);
  }
  formatElement(diskChild, 'source', sourceAttr, sourceChild);

  diskChild.add(`<target dev='${o.target}'`);
  if (o.targetbus !== undefined) diskChild.add(` bus='${o.targetbus}'`);
  diskChild.add('/>\n');
  if (o.mode !== undefined) diskChild.add(`<${o.mode}/>\n`);
  if (o.serial !== undefined) diskChild.add(`<serial>${o.serial}</serial>\n`);
  if (o.alias !== undefined) diskChild.add(`<alias name='${o.alias}'/>\n`);
  if (o.wwn !== undefined) diskChild.add(`<wwn>${o.wwn}</wwn>\n`);
  if (o.address !== undefined) diskChild.add(diskAddress(o.address, o.target, o.multifunction));
  formatElement(buf, 'disk', diskAttr, diskChild);
  return buf.content;
}

/** cmdAttachDiskFormatAddress: the address must suit the target's bus prefix. */
function diskAddress(straddr: string, target: string, multifunction: boolean): string {
  const a = parseAddress(straddr, multifunction);
  if (!a) throw new VshError('Invalid address.');
  if (target.startsWith('vd') && a.type !== 'pci' && a.type !== 'ccw') throw new VshError('expecting a pci:0000.00.00.00 or ccw:00.0.0000 address.');
  if (target.startsWith('sd') && a.type !== 'scsi' && a.type !== 'usb' && a.type !== 'sata') throw new VshError('expecting a scsi:00.00.00 or usb:00.00 or sata:00.00.00 address.');
  if (target.startsWith('hd') && a.type !== 'ide') throw new VshError('expecting an ide:00.00.00 address.');
  return formatAddress(a);
}

/** attach-interface's options (undefined when not given). */
export interface InterfaceOptions {
  type: string; source: string; target?: string; mac?: string; script?: string; model?: string; alias?: string;
  inbound?: string; outbound?: string; managed: boolean; sourceMode?: string;
}

/** virDomainNetType's names, libvirt 9.0 */
const NET_TYPES = ['user', 'ethernet', 'vhostuser', 'server', 'client', 'mcast', 'network', 'bridge', 'internal', 'direct', 'hostdev', 'udp', 'vdpa', 'null', 'vds'];

interface Rate { average: bigint; peak: bigint; burst: bigint; floor: bigint }

/** virshParseRateStr: `average,peak,burst,floor`, empty fields left 0. */
function parseRate(s: string): Rate {
  const tok = s === '' ? [] : s.split(',');
  if (tok.length > 4) throw new VshError(`Rate string '${s}' has too many fields`);
  const names = ['average', 'peak', 'burst', 'floor'] as const;
  const rate: Rate = { average: 0n, peak: 0n, burst: 0n, floor: 0n };
  names.forEach((name, i) => {
    const t = tok[i];
    if (t === undefined || t === '') return;
    const r = strToULong(t, 0, 10, ULLONG);
    if (!r || r.end !== t.length) throw new VshError(`field '${name}' is malformed`);
    rate[name] = r.value;
  });
  return rate;
}

/** cmdAttachInterface's XML, or its refusal. */
export function buildInterfaceXml(o: InterfaceOptions): string {
  const typ = NET_TYPES.indexOf(o.type);
  if (typ < 0) throw new VshError(`No support for ${o.type} in command 'attach-interface'`);
  let sourceMode = -1;
  if (o.sourceMode !== undefined && (sourceMode = ['server', 'client'].indexOf(o.sourceMode)) < 0) throw new VshError(`Invalid source mode: ${o.sourceMode}`);
  const inbound = o.inbound !== undefined ? parseRate(o.inbound) : undefined;
  if (inbound && !inbound.average && !inbound.floor) throw new VshError('either inbound average or floor is mandatory');
  const outbound = o.outbound !== undefined ? parseRate(o.outbound) : undefined;
  if (outbound && outbound.average === 0n) throw new VshError('outbound average is mandatory');
  if (outbound?.floor) throw new VshError('outbound floor is unsupported yet');

  const buf = new VirBuffer(0);
  buf.add(`<interface type='${o.type}'`);
  buf.add(o.managed ? " managed='yes'>\n" : '>\n');
  buf.indent += 2;
  switch (o.type) {
    case 'network': case 'bridge':
      buf.add(`<source ${o.type}='${o.source}'/>\n`);
      break;
    case 'direct':
      buf.add(`<source dev='${o.source}'/>\n`);
      break;
    case 'hostdev': {
      const addr = parseAddress(`pci:${o.source}`, false);
      if (!addr) throw new VshError(`cannot parse pci address '${o.source}' for network interface`);
      buf.add('<source>\n');
      buf.indent += 2;
      buf.add(formatAddress(addr));
      buf.indent -= 2;
      buf.add('</source>\n');
      break;
    }
    case 'vhostuser':
      if (sourceMode < 0) throw new VshError('source-mode is mandatory');
      buf.add(`<source type='unix' path='${o.source}' mode='${o.sourceMode}'/>\n`);
      break;
    default:
      throw new VshError(`No support for ${o.type} in command 'attach-interface'`);
  }
  if (o.target !== undefined) buf.add(`<target dev='${o.target}'/>\n`);
  if (o.mac !== undefined) buf.add(`<mac address='${o.mac}'/>\n`);
  if (o.script !== undefined) buf.add(`<script path='${o.script}'/>\n`);
  if (o.model !== undefined) buf.add(`<model type='${o.model}'/>\n`);
  if (o.alias !== undefined) buf.add(`<alias name='${o.alias}'/>\n`);
  if (inbound || outbound) {
    buf.add('<bandwidth>\n');
    buf.indent += 2;
    if (inbound && (inbound.average || inbound.floor)) {
      buf.add('<inbound');
      if (inbound.average > 0n) buf.add(` average='${inbound.average}'`);
      if (inbound.peak > 0n) buf.add(` peak='${inbound.peak}'`);
      if (inbound.burst > 0n) buf.add(` burst='${inbound.burst}'`);
      if (inbound.floor > 0n) buf.add(` floor='${inbound.floor}'`);
      buf.add('/>\n');
    }
    if (outbound && outbound.average > 0n) {
      buf.add(`<outbound average='${outbound.average}'`);
      if (outbound.peak > 0n) buf.add(` peak='${outbound.peak}'`);
      if (outbound.burst > 0n) buf.add(` burst='${outbound.burst}'`);
      buf.add('/>\n');
    }
    buf.indent -= 2;
    buf.add('</bandwidth>\n');
  }
  buf.indent -= 2;
  buf.add('</interface>\n');
  return buf.content;
}
