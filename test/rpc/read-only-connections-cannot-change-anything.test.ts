/**
 * Read-only enforcement in the server, not only in the client library:
 * `virsh -r` is refused by libvirt's client itself, so the server's check is
 * proven by (a) a virsh WITHOUT -r on the read-only socket (the client does
 * not know it is read-only; only the server can refuse) and (b) raw frames:
 * CONNECT_OPEN with flags=1 on the read-write socket, then DOMAIN_CREATE.
 * Also the handshake gate: nothing but AUTH_LIST/SUPPORTS_FEATURE/OPEN before
 * CONNECT_OPEN.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nonnullDomain, QEMU_PROGRAM, toWireDomain } from '../../src/rpc/protocol.js';
import * as x from '../../src/rpc/xdr.js';
import { RawClient, RpcHarness } from './harness.js';

const r = new RpcHarness();
let uuid = '';
beforeAll(async () => {
  await r.start();
  const f = join(r.h.dir, 'vm1.xml');
  writeFileSync(f, r.h.xml('vm1'));
  expect((await r.virsh(['define', f])).code).toBe(0);
  uuid = r.driver.lookupByName('vm1').uuid;
});
afterAll(() => r.cleanup());

const openArgs = x.struct({ name: x.optional(x.string()), flags: x.uint });
const domArg = x.struct({ dom: nonnullDomain });
const denied = (api: string) => ({ code: 29, domain: 20, message: `operation forbidden: read only access prevents ${api}`, level: 2 });
const errorOf = (rep: { error?: { code: number; domain: number; message: string | null; level: number } }) =>
  rep.error && { code: rep.error.code, domain: rep.error.domain, message: rep.error.message, level: rep.error.level };

async function opened(socket: string, flags: number): Promise<RawClient> {
  const c = await RawClient.open(socket);
  expect((await c.call(66)).header.status).toBe(0);
  const open = await c.call(1, x.encode(openArgs, { name: 'mpqemu:///system', flags }));
  expect(open.error).toBeUndefined();
  return c;
}

describe('read-only connections', () => {
  it('virsh -r on the read-only socket can query', async () => {
    const res = await r.virsh(['list', '--all'], { readOnly: true });
    expect([res.code, res.stdout, res.stderr]).toEqual([0, ' Id   Name   State\n-----------------------\n -    vm1    shut off\n\n', '']);
    expect((await r.virsh(['dumpxml', 'vm1'], { readOnly: true })).code).toBe(0);
    // with -r the client library refuses by itself, with the same text the server would send
    const start = await r.virsh(['start', 'vm1'], { readOnly: true });
    expect([start.code, start.stdout, start.stderr]).toEqual([1, '\n', "error: Failed to start domain 'vm1'\nerror: operation forbidden: read only access prevents virDomainCreate\n"]);
  });

  it('virsh without -r on the read-only socket is refused by the server', async () => {
    for (const [cmd, api, line] of [
      ['start', 'virDomainCreate', "error: Failed to start domain 'vm1'"],
      ['undefine', 'virDomainUndefineFlags', "error: Failed to undefine domain 'vm1'"],
    ] as const) {
      const res = await r.virsh([cmd, 'vm1'], { uri: r.uri(true) });
      expect([res.code, res.stdout, res.stderr]).toEqual([1, '\n', `${line}\nerror: operation forbidden: read only access prevents ${api}\n`]);
    }
    expect(r.driver.lookupByName('vm1').active).toBe(false);
    const f = join(r.h.dir, 'vm2.xml');
    writeFileSync(f, r.h.xml('vm2'));
    const res = await r.virsh(['define', f], { uri: r.uri(true) });
    expect([res.code, res.stderr]).toEqual([1, `error: Failed to define domain from ${f}\nerror: operation forbidden: read only access prevents virDomainDefineXML\n`]);
    expect(() => r.driver.lookupByName('vm2')).toThrow('Domain not found');
  });

  it('CONNECT_OPEN with VIR_CONNECT_RO on the read-write socket makes the server refuse DOMAIN_CREATE', async () => {
    const c = await opened(r.socket, 1);
    const dom = x.encode(domArg, { dom: toWireDomain({ name: 'vm1', uuid, id: -1 }) });
    expect(errorOf(await c.call(9, dom))).toEqual(denied('virDomainCreate'));
    expect(errorOf(await c.call(12, dom))).toEqual(denied('virDomainDestroy'));
    expect(errorOf(await c.call(11, x.encode(x.struct({ xml: x.string() }), { xml: r.h.xml('vm3') })))).toEqual(denied('virDomainDefineXML'));
    expect(errorOf(await c.call(1, x.encode(x.struct({ dom: nonnullDomain, cmd: x.string(), flags: x.uint }), {
      dom: toWireDomain({ name: 'vm1', uuid, id: -1 }), cmd: '{"execute":"quit"}', flags: 0,
    }), QEMU_PROGRAM))).toEqual(denied('virDomainQemuMonitorCommand'));
    // the secure XML flag is refused too; queries still work on the same connection
    const xmlArgs = x.struct({ dom: nonnullDomain, flags: x.uint });
    const secure = await c.call(14, x.encode(xmlArgs, { dom: toWireDomain({ name: 'vm1', uuid, id: -1 }), flags: 1 }));
    expect(errorOf(secure)).toEqual({ code: 29, domain: 20, message: 'operation forbidden: virDomainGetXMLDesc with secure flag', level: 2 });
    const plain = await c.call(14, x.encode(xmlArgs, { dom: toWireDomain({ name: 'vm1', uuid, id: -1 }), flags: 0 }));
    expect(x.decode(x.string(), plain.payload)).toMatch(/^<domain type='qemu'>/);
    expect(r.driver.lookupByName('vm1').active).toBe(false);
    await c.close();
  });

  it('the read-only socket stays read-only whatever CONNECT_OPEN asks', async () => {
    const c = await opened(r.socketRo, 0);
    const dom = x.encode(domArg, { dom: toWireDomain({ name: 'vm1', uuid, id: -1 }) });
    expect(errorOf(await c.call(9, dom))).toEqual(denied('virDomainCreate'));
    await c.close();
  });

  it('before CONNECT_OPEN only the handshake is served', async () => {
    const c = await RawClient.open(r.socket);
    const lookup = await c.call(23, x.encode(x.struct({ name: x.string() }), { name: 'vm1' }));
    expect(errorOf(lookup)).toEqual({ code: 1, domain: 0, message: 'internal error: connection not open', level: 2 });
    const feature = await c.call(60, x.encode(x.int, 14));
    expect(x.decode(x.int, feature.payload)).toBe(1);
    expect(x.decode(x.int, (await c.call(60, x.encode(x.int, 9))).payload)).toBe(0);
    const bad = await c.call(1, x.encode(openArgs, { name: 'xen:///system', flags: 0 }));
    expect(errorOf(bad)).toEqual({ code: 5, domain: 0, message: 'no connection driver available for xen:///system', level: 2 });
    expect((await c.call(1, x.encode(openArgs, { name: 'mpqemu:///system?extra=1', flags: 0 }))).error).toBeUndefined();
    const again = await c.call(1, x.encode(openArgs, { name: 'mpqemu:///system', flags: 0 }));
    expect(errorOf(again)).toEqual({ code: 1, domain: 20, message: 'internal error: connection already open', level: 2 });
    const found = await c.call(23, x.encode(x.struct({ name: x.string() }), { name: 'vm1' }));
    expect(x.decode(nonnullDomain, found.payload).name).toBe('vm1');
    await c.close();
  });

  it('logged no warning or error', () => {
    expect(r.log.lines).toEqual([]);
  });
});
