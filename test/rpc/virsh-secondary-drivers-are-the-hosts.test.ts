// Secondary drivers forwarded (issue 15 item 4): network, node device, nwfilter, secret and
// interface calls on an mpvirtd connection go to the host's libvirt, as libvirt's own hypervisor
// daemons forward them in modular mode. The host is a private libvirtd of this run; every virsh
// command runs twice, once through mpvirtd and once straight at that libvirtd, and must print
// the same bytes with the same exit status. A change is made through one and undone through the
// other (define here, undefine there, then the other way round), so both see the same state.
// Read-only connections stay read-only. Without any host daemon, the calls fail in virtqemud's
// words (libvirt's direct mode to virtnetworkd & co, as a daemon opens them).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostSecondaryDrivers, type SecondaryUris } from '../../src/daemon/secondary-drivers.js';
import { connect, type LibvirtError } from '../../src/libvirt/index.js';
import { startRpcServer, type RpcServer } from '../../src/rpc/server.js';
import { startPrivateLibvirtd, type PrivateLibvirtd } from '../libvirt-reference/private-libvirtd.js';
import { RawClient, RpcHarness, type VirshResult } from './harness.js';
import { uuidToBytes } from '../../src/rpc/protocol.js';
import * as x from '../../src/rpc/xdr.js';

const r = new RpcHarness();
const tmp = mkdtempSync(join(tmpdir(), 'mpvirt-secondary-'));
let lv: PrivateLibvirtd;
let bare: RpcServer | undefined;
const bareSocket = join(tmp, 'bare.sock');
const NET = `mpvsec${process.pid % 10000}`;
const BR = `mpvsbr${process.pid % 10000}`;
const SECRET_UUID = '3c2b0e5a-5ab0-4e8f-9d6e-7f1b2c3d4e5f';

beforeAll(async () => {
  lv = await startPrivateLibvirtd(join(tmp, 'lv'));
  const uris: SecondaryUris = Object.fromEntries((['network', 'nodedev', 'nwfilter', 'secret', 'interface'] as const).map((k) => [k, `${k}:///system?socket=${lv.socket}`]));
  await r.start({ secondary: hostSecondaryDrivers(uris) });
  writeFileSync(join(tmp, 'net.xml'), `<network><name>${NET}</name><bridge name='${BR}'/></network>\n`);
  writeFileSync(join(tmp, 'secret.xml'), `<secret ephemeral='no' private='no'><uuid>${SECRET_UUID}</uuid><usage type='volume'><volume>/var/lib/mpvirt-test.img</volume></usage></secret>\n`);
}, 300_000);
afterAll(async () => {
  await bare?.close();
  // libvirt leaves a started network's bridge behind when its daemon stops: destroyed here
  if (lv) for (const args of [['net-destroy', NET], ['net-undefine', NET]]) await viaHost(args);
  await r.cleanup();
  await lv?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

type Run = Pick<VirshResult, 'stdout' | 'stderr' | 'code'>;
const pick = (v: VirshResult): Run => ({ stdout: v.stdout, stderr: v.stderr, code: v.code });
const viaMpvirtd = async (args: string[], readOnly = false): Promise<Run> => pick(await r.virsh(args, { readOnly }));
const viaHost = async (args: string[], readOnly = false): Promise<Run> => pick(await r.virsh(args, { uri: lv.uri, readOnly }));

/** A raw client, opened (CONNECT_OPEN) on `socket` (the binding would block this process, which is the server). */
async function rawOpen(socket: string): Promise<RawClient> {
  const c = await RawClient.open(socket);
  const open = await c.call(1, x.encode(x.struct({ name: x.optional(x.string()), flags: x.uint }), { name: 'mpqemu:///system', flags: 0 }));
  expect(open.error).toBeUndefined();
  return c;
}

/** The same words through both; they must answer alike. */
async function alike(args: string[], readOnly = false): Promise<Run> {
  const [mp, host] = [await viaMpvirtd(args, readOnly), await viaHost(args, readOnly)];
  expect(mp, `virsh ${readOnly ? '-r ' : ''}${args.join(' ')}`).toEqual(host);
  return mp;
}

/** A change and its undoing: made through mpvirtd and undone on the host, then the other way. */
async function alikeChange(change: string[], undo: string[]): Promise<[Run, Run]> {
  const c1 = await viaMpvirtd(change);
  const u1 = await viaHost(undo);
  const c2 = await viaHost(change);
  const u2 = await viaMpvirtd(undo);
  expect(c1, `virsh ${change.join(' ')}`).toEqual(c2);
  expect(u2, `virsh ${undo.join(' ')}`).toEqual(u1);
  return [c1, u2];
}

describe('networks are the host\'s', () => {
  it('lists, defines, starts, describes, autostarts, stops and undefines as the host does', async () => {
    expect((await alike(['net-list', '--all'])).code).toBe(0);
    const [defined] = await alikeChange(['net-define', join(tmp, 'net.xml')], ['net-undefine', NET]);
    expect(defined.stdout).toBe(`Network ${NET} defined from ${join(tmp, 'net.xml')}\n\n`);
    await viaHost(['net-define', join(tmp, 'net.xml')]);
    for (const args of [['net-list', '--all'], ['net-list', '--inactive'], ['net-info', NET], ['net-dumpxml', NET], ['net-uuid', NET], ['net-list', '--all', '--name'], ['net-list', '--uuid', '--all']]) await alike(args);
    const [started] = await alikeChange(['net-start', NET], ['net-destroy', NET]);
    expect(started.code).toBe(0);
    await viaHost(['net-start', NET]);
    await alike(['net-dhcp-leases', NET]);
    // leases as libvirt's leases helper records them for dnsmasq (the network driver reads this file)
    const exp = Math.floor(Date.now() / 1000) + 3600;
    mkdirSync(join(tmp, 'lv', 'lib', 'dnsmasq'), { recursive: true });
    writeFileSync(join(tmp, 'lv', 'lib', 'dnsmasq', `${BR}.status`), JSON.stringify([
      { 'ip-address': '198.18.99.50', 'mac-address': '52:54:00:aa:bb:01', hostname: 'guest1', 'client-id': '01:52:54:00:aa:bb:01', 'expiry-time': exp },
      { 'ip-address': 'fd00::50', 'mac-address': '52:54:00:aa:bb:02', iaid: '1234', 'expiry-time': exp },
    ]));
    const leases = await alike(['net-dhcp-leases', NET]);
    expect(leases.stdout).toMatch(/52:54:00:aa:bb:01\s+ipv4\s+198\.18\.99\.50\/0\s+guest1\s+01:52:54:00:aa:bb:01/);
    for (const args of [['net-list'], ['net-info', NET], ['net-dumpxml', NET], ['net-dumpxml', '--inactive', NET], ['net-dhcp-leases', NET, '--mac', '52:54:00:aa:bb:02'], ['net-dhcp-leases', NET, '--mac', '52:54:00:00:00:09']]) await alike(args);
    await alikeChange(['net-autostart', NET], ['net-autostart', '--disable', NET]);
    await viaHost(['net-autostart', NET]);
    await alike(['net-list', '--autostart']);
    await alike(['net-info', NET]);
    await viaHost(['net-autostart', '--disable', NET]);
    // the failures are the host's too
    for (const args of [['net-start', NET], ['net-info', 'no-such-net'], ['net-dumpxml', 'no-such-net'], ['net-destroy', 'no-such-net']]) expect((await alike(args)).code).toBe(1);
    await viaHost(['net-destroy', NET]);
    await viaHost(['net-undefine', NET]);
    await alike(['net-list', '--all']);
  });

  it('stays read-only on a read-only connection', async () => {
    await viaHost(['net-define', join(tmp, 'net.xml')]);
    try {
      for (const args of [['net-list', '--all'], ['net-info', NET], ['net-dumpxml', NET]]) expect((await alike(args, true)).code).toBe(0);
      for (const args of [['net-start', NET], ['net-undefine', NET], ['net-autostart', NET], ['net-define', join(tmp, 'net.xml')]]) {
        const out = await alike(args, true);
        expect(out.code).toBe(1);
        expect(out.stderr).toMatch(/read only access prevents|operation forbidden/);
      }
    } finally {
      await viaHost(['net-undefine', NET]);
    }
  });

  it('refuses a forwarded change sent on the read-only socket by a client that ignores read-only', async () => {
    // the server's own check, below the client library's: raw frames on the ro socket
    const c = await rawOpen(r.socketRo);
    try {
      const reply = await c.call(432, x.encode(x.struct({ xml: x.string(), flags: x.uint }), { xml: `<network><name>${NET}-ro</name></network>`, flags: 0 }));
      expect(reply.error?.message).toBe('operation forbidden: read only access prevents virNetworkDefineXMLFlags');
    } finally {
      await c.close();
    }
  });
});

describe('node devices, network filters and host interfaces are the host\'s', () => {
  it('prints the host\'s node devices', async () => {
    const list = await alike(['nodedev-list']);
    expect(list.stdout).toContain('computer\n');
    await alike(['nodedev-list', '--tree']);
    await alike(['nodedev-list', '--cap', 'net']);
    for (const dev of list.stdout.split('\n').filter(Boolean).slice(0, 4)) await alike(['nodedev-dumpxml', dev]);
    await alike(['nodedev-info', 'computer']);
    expect((await alike(['nodedev-dumpxml', 'no-such-device'])).code).toBe(1);
  });

  it('prints the host\'s network filters', async () => {
    const list = await alike(['nwfilter-list']);
    expect(list.stdout).toContain(' allow-arp\n');
    for (const f of ['allow-arp', 'clean-traffic', 'no-such-filter']) await alike(['nwfilter-dumpxml', f]);
    await alike(['nwfilter-binding-list']);
  });

  it('prints the host\'s interfaces', async () => {
    const list = await alike(['iface-list', '--all']);
    expect(list.stdout).toContain(' lo ');
    await alike(['iface-list']);
    await alike(['iface-list', '--inactive']);
    for (const i of ['lo', 'no-such-iface']) await alike(['iface-dumpxml', i]);
    await alike(['iface-mac', 'lo']);
  });
});

describe('secrets are the host\'s', () => {
  it('defines, sets, reads and undefines a secret as the host does; read-only never reads a value', async () => {
    await alike(['secret-list']);
    const [defined] = await alikeChange(['secret-define', join(tmp, 'secret.xml')], ['secret-undefine', SECRET_UUID]);
    expect(defined.stdout).toBe(`Secret ${SECRET_UUID} created\n\n`);
    await viaHost(['secret-define', join(tmp, 'secret.xml')]);
    try {
      await alike(['secret-list']);
      await alike(['secret-dumpxml', SECRET_UUID]);
      await alike(['secret-set-value', SECRET_UUID, '--base64', 'aHVudGVyMg==']);
      const value = await alike(['secret-get-value', SECRET_UUID]);
      expect(value.stdout).toBe('aHVudGVyMg==\n');
      const ro = await alike(['secret-get-value', SECRET_UUID], true);
      expect(ro.code).toBe(1);
      expect(ro.stdout).not.toContain('aHVudGVyMg');
      await alike(['secret-set-value', SECRET_UUID, '--base64', 'eA=='], true);
      await alike(['secret-list'], true);
      await alike(['secret-dumpxml', SECRET_UUID], true);
    } finally {
      await viaHost(['secret-undefine', SECRET_UUID]);
    }
    expect((await alike(['secret-dumpxml', SECRET_UUID])).code).toBe(1);
  });

  it('refuses a value on the read-only socket even to a client that ignores read-only', async () => {
    await viaHost(['secret-define', join(tmp, 'secret.xml')]);
    await viaHost(['secret-set-value', SECRET_UUID, '--base64', 'aHVudGVyMg==']);
    const c = await rawOpen(r.socketRo);
    try {
      const secret = { uuid: uuidToBytes(SECRET_UUID), usageType: 1, usageID: '/var/lib/mpvirt-test.img' };
      const reply = await c.call(145, x.encode(x.struct({ secret: x.struct({ uuid: x.fixedOpaque(16), usageType: x.int, usageID: x.string() }), flags: x.uint }), { secret, flags: 0 }));
      expect(reply.error?.message).toBe('operation forbidden: read only access prevents virSecretGetValue');
      expect(reply.payload.includes(Buffer.from('hunter2'))).toBe(false);
    } finally {
      await c.close();
      await viaHost(['secret-undefine', SECRET_UUID]);
    }
  });
});

describe('without a host libvirt daemon', () => {
  it('fails as virtqemud fails without virtnetworkd and the others', async (ctx) => {
    const sockets = ['virtnetworkd-sock', 'virtnodedevd-sock', 'virtnwfilterd-sock', 'virtsecretd-sock', 'virtinterfaced-sock', 'libvirt-sock'].map((s) => `/var/run/libvirt/${s}`);
    const present = sockets.filter((s) => existsSync(s));
    if (present.length > 0) {
      console.log(`skipped: this host runs libvirt daemons (${present.join(', ')}), so their absence cannot be shown here`);
      ctx.skip();
    }
    bare = await startRpcServer({ driver: r.driver, secondary: hostSecondaryDrivers({}), socketPath: bareSocket, log: r.log });
    const uri = `mpqemu+unix:///system?socket=${bareSocket}`;
    // what virtqemud's remoteOpenConn meets: the daemon's own socket, in libvirt's direct mode
    const expected = (daemon: string): string => {
      try {
        connect(`${daemon === 'virtnetworkd' ? 'network' : daemon === 'virtnodedevd' ? 'nodedev' : daemon === 'virtsecretd' ? 'secret' : daemon === 'virtnwfilterd' ? 'nwfilter' : 'interface'}:///system?mode=direct`).close();
      } catch (e) {
        return (e as LibvirtError).message;
      }
      throw new Error(`${daemon} answered`);
    };
    const cases: Array<[string[], string, string]> = [
      [['net-list'], 'Failed to list networks', 'virtnetworkd'],
      [['net-info', 'default'], "failed to get network 'default'", 'virtnetworkd'],
      [['nodedev-list'], 'Failed to list node devices', 'virtnodedevd'],
      [['nwfilter-list'], 'Failed to list network filters', 'virtnwfilterd'],
      [['secret-list'], 'Failed to list node secrets', 'virtsecretd'],
      [['iface-list'], 'Failed to list interfaces', 'virtinterfaced'],
    ];
    for (const [args, what, daemon] of cases) {
      const out = pick(await r.virsh(args, { uri }));
      expect(out, args.join(' ')).toEqual({ stdout: '\n', stderr: `error: ${what}\nerror: ${expected(daemon)}\n`, code: 1 });
      expect(expected(daemon)).toBe(`Failed to connect socket to '/var/run/libvirt/${daemon}-sock': No such file or directory`);
    }
  });
});
