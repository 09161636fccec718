// The same raw frames, encoded the ways real clients (and sloppy ones) encode them, sent to
// mpvirtd and to libvirt's own daemon started privately in the same run: each is accepted or
// refused alike, with the same error code and text. libvirtd decodes with libtirpc, where a
// bool is any nonzero word, padding is never looked at, a string ends at its first NUL and a
// call's trailing bytes are ignored; go-libvirt depends on the first of these.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageStatus } from '../../src/rpc/protocol.js';
import { startPrivateLibvirtd, type PrivateLibvirtd } from '../libvirt-reference/private-libvirtd.js';
import { RawClient, RpcHarness } from './harness.js';

const hexb = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const word = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
/** an XDR string with the given padding byte (canonically 00) */
const str = (s: string | Buffer, padByte = '00'): string => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return word(b.length) + b.toString('hex') + padByte.repeat((4 - (b.length % 4)) % 4);
};
const URI = 'qemu:///system'; // 14 bytes: two padding bytes; both daemons serve it on their sockets

const NOSUCH_UUID = '8c9dc8d3ac474d76b054c28724f828d5';
const NOSUCH_DOM = `${str('nosuch')} ${NOSUCH_UUID} ffffffff`;

interface Case { name: string; open?: string; proc?: number; args?: string; samePayload?: boolean }
const OPEN = 1;
const REMOTE_AUTH_POLKIT = 4;
const canonicalOpen = `00000001 ${str(URI)} 00000000`;
const CASES: Case[] = [
  { name: 'canonical CONNECT_OPEN', open: canonicalOpen },
  { name: "go-libvirt's presence word 01 00 00 00", open: `01000000 ${str(URI)} 00000000` },
  { name: 'presence word ffffffff', open: `ffffffff ${str(URI)} 00000000` },
  { name: 'presence word 2', open: `00000002 ${str(URI)} 00000000` },
  { name: 'nonzero padding after the name', open: `00000001 ${str(URI, 'ff')} 00000000` },
  { name: 'four trailing bytes after the arguments', open: `${canonicalOpen} deadbeef` },
  { name: 'one trailing byte', open: `${canonicalOpen} 01` },
  { name: 'a NUL inside the name ends it', open: `00000001 ${str(Buffer.concat([Buffer.from(URI), hexb('00787878')]))} 00000000` },
  { name: 'name longer than REMOTE_STRING_MAX', open: `00000001 ${word(4 * 1024 * 1024 + 1)} 00000000` },
  { name: 'name cut short', open: `00000001 ${word(14)} 71656d75` },
  { name: 'padding missing', open: `00000001 ${str(URI).slice(0, -4)}` },
  { name: 'flags missing', open: `00000001 ${str(URI)}` },
  { name: 'SUPPORTS_FEATURE with feature 01 00 00 00', proc: 60, args: '01000000', samePayload: true },
  { name: 'SUPPORTS_FEATURE with trailing bytes', proc: 60, args: '0000000a 00000000 00000000', samePayload: true },
  { name: 'LOOKUP_BY_NAME with padding ff and trailing bytes', proc: 23, args: `${str('nosuch', 'ff')} 00000001` },
  { name: 'LIST_ALL_DOMAINS with need_results 01 00 00 00', proc: 273, args: '01000000 00000000', samePayload: true },
  { name: 'LIST_ALL_DOMAINS with flags missing', proc: 273, args: '00000001' },
  // and the error domain of a missing domain: the QEMU driver's (10), not Domain Config's (20)
  { name: 'LOOKUP_BY_UUID of an unknown uuid', proc: 24, args: NOSUCH_UUID },
  { name: 'LOOKUP_BY_ID of an unknown id', proc: 22, args: '000003e7' },
  { name: 'GET_XML_DESC of an unknown domain', proc: 14, args: `${NOSUCH_DOM} 00000000` },
  { name: 'DESTROY of an unknown domain', proc: 12, args: NOSUCH_DOM },
  { name: 'GET_STATE of an unknown domain', proc: 212, args: `${NOSUCH_DOM} 00000000` },
];

interface Outcome { status: number; code?: number; domain?: number; message?: string | null; payload?: string }

async function outcome(socket: string, c: Case): Promise<Outcome> {
  const cl = await RawClient.open(socket);
  try {
    // the handshake libvirt's client does: AUTH_LIST, then polkit's check where it is offered
    const auth = await cl.call(66);
    const types = auth.payload.length >= 4 ? Array.from({ length: auth.payload.readUInt32BE(0) }, (_, i) => auth.payload.readInt32BE(4 + 4 * i)) : [];
    if (types.includes(REMOTE_AUTH_POLKIT)) await cl.call(68);
    let r = await cl.call(OPEN, hexb(c.open ?? canonicalOpen));
    if (c.proc !== undefined && r.header.status === MessageStatus.OK) r = await cl.call(c.proc, hexb(c.args!));
    if (r.error) return { status: r.header.status, code: r.error.code, domain: r.error.domain, message: r.error.message };
    return { status: r.header.status, ...(c.samePayload ? { payload: r.payload.toString('hex') } : {}) };
  } finally {
    await cl.close();
  }
}

const r = new RpcHarness();
let lv: PrivateLibvirtd;
let lvDir: string;
beforeAll(async () => {
  await r.start();
  lvDir = mkdtempSync(join(tmpdir(), 'mpvirt-lv-'));
  rmSync(lvDir, { recursive: true });
  lv = await startPrivateLibvirtd(lvDir);
}, 300_000);
afterAll(async () => {
  await lv?.stop();
  await r.cleanup();
}, 60_000);

describe("mpvirtd's XDR decoding beside libvirtd's", () => {
  it('accepts and refuses every variant alike, with the same error', async () => {
    const rows: string[] = [];
    for (const c of CASES) {
      const ours = await outcome(r.socket, c);
      const theirs = await outcome(lv.socket, c);
      rows.push(`${ours.status === theirs.status ? 'same' : 'DIFF'}  ${c.name}: libvirtd ${theirs.status === 0 ? 'OK' : `error ${theirs.code} ${theirs.message}`}`);
      expect(ours, c.name).toEqual(theirs);
    }
    console.log(rows.join('\n'));
  });
});
