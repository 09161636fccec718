// The binding's secondary-driver areas against libvirt's own daemon (a private libvirtd of this
// run), for what the test driver lacks: secrets and their values, network filters and bindings,
// DHCP leases (as libvirt's leases helper records them for dnsmasq) and network ports, each
// compared with what virsh prints of the same objects.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateLibvirtd, type PrivateLibvirtd } from '../libvirt-reference/private-libvirtd.js';
import { connect, LibvirtError } from './secondary-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mpvirt-binding-secondary-'));
let lv: PrivateLibvirtd;
const NET = `bsnet${process.pid % 10000}`;
const BR = `bsbr${process.pid % 10000}`;
const virsh = (...args: string[]): string => execFileSync('/usr/bin/virsh', ['-c', lv.uri, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } });

beforeAll(async () => {
  lv = await startPrivateLibvirtd(join(tmp, 'lv'));
}, 300_000);
afterAll(async () => {
  for (const args of [['net-destroy', NET], ['net-undefine', NET]]) {
    try {
      execFileSync('/usr/bin/virsh', ['-c', lv.uri, ...args], { stdio: 'ignore' });
    } catch {
      // not started or already gone
    }
  }
  await lv?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function thrown(f: () => unknown): LibvirtError {
  try {
    f();
  } catch (e) {
    if (e instanceof LibvirtError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('secrets of a real secret driver', () => {
  it('defines a secret, keeps and gives back a binary value, finds it by usage, undefines it', () => {
    using c = connect(`secret:///system?socket=${lv.socket}`);
    const uuid = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
    using s = c.defineSecret(`<secret ephemeral='no' private='no'><uuid>${uuid}</uuid><usage type='volume'><volume>/var/lib/x.img</volume></usage></secret>`);
    expect([s.uuid, s.usageType, s.usageID]).toEqual([uuid, 1, '/var/lib/x.img']);
    expect(s.xml()).toBe(virsh('secret-dumpxml', uuid).replace(/\n$/, ''));
    const value = Buffer.from('hunter2\0binary\xff', 'latin1');
    s.setValue(value);
    expect(s.value()).toEqual(value);
    expect(virsh('secret-get-value', uuid).trim()).toBe(value.toString('base64'));
    using byUsage = c.lookupSecretByUsage(1, '/var/lib/x.img');
    expect(byUsage.uuid).toBe(uuid);
    const all = c.listAllSecrets();
    expect(all.map((x) => x.uuid)).toEqual([uuid]);
    for (const x of all) x.free();
    s.undefine();
    const e = thrown(() => c.lookupSecretByUUID(uuid));
    expect([e.code, e.message]).toEqual(['VIR_ERR_NO_SECRET', `Secret not found: no secret with matching uuid '${uuid}'`]);
  });

  it('never reads a value read-only', () => {
    using rw = connect(`secret:///system?socket=${lv.socket}`);
    using s = rw.defineSecret("<secret ephemeral='no' private='no'><usage type='ceph'><name>client.admin</name></usage></secret>");
    s.setValue(Buffer.from('x'));
    try {
      using ro = connect(`secret:///system?socket=${lv.socket}`, { readonly: true });
      using r = ro.lookupSecretByUUID(s.uuid);
      const e = thrown(() => r.value());
      expect([e.code, e.message]).toEqual(['VIR_ERR_OPERATION_DENIED', 'operation forbidden: read only access prevents virSecretGetValue']);
    } finally {
      s.undefine();
    }
  });
});

describe('network filters of a real nwfilter driver', () => {
  it('lists the shipped filters, looks one up both ways and prints its XML as virsh does', () => {
    using c = connect(`nwfilter:///system?socket=${lv.socket}`);
    const filters = c.listAllNWFilters();
    const names = filters.map((f) => f.name).sort();
    expect(names).toContain('clean-traffic');
    expect(names.join('\n')).toBe(virsh('nwfilter-list').trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/)[1]).sort().join('\n'));
    for (const f of filters) f.free();
    using f = c.lookupNWFilterByName('clean-traffic');
    using same = c.lookupNWFilterByUUID(f.uuid);
    expect(same.name).toBe('clean-traffic');
    expect(f.xml()).toBe(virsh('nwfilter-dumpxml', 'clean-traffic').replace(/\n$/, ''));
    expect(c.listAllNWFilterBindings()).toEqual([]);
    expect(thrown(() => c.lookupNWFilterByName('nope')).code).toBe('VIR_ERR_NO_NWFILTER');
  });
});

describe('leases and ports of a real network driver', () => {
  it('reads the leases of an active network and plugs a port in and out', () => {
    using c = connect(`network:///system?socket=${lv.socket}`);
    using n = c.defineNetwork(`<network><name>${NET}</name><bridge name='${BR}'/></network>`);
    n.start();
    expect(n.bridgeName()).toBe(BR);
    expect(n.dhcpLeases()).toEqual([]);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    mkdirSync(join(tmp, 'lv', 'lib', 'dnsmasq'), { recursive: true });
    writeFileSync(join(tmp, 'lv', 'lib', 'dnsmasq', `${BR}.status`), JSON.stringify([
      { 'ip-address': '198.18.99.50', 'mac-address': '52:54:00:aa:bb:01', hostname: 'guest1', 'client-id': '01:52:54:00:aa:bb:01', 'expiry-time': exp },
      { 'ip-address': 'fd00::50', 'mac-address': '52:54:00:aa:bb:02', iaid: '1234', 'expiry-time': exp },
    ]));
    expect(n.dhcpLeases()).toEqual([
      { iface: BR, expiryTime: exp, type: 0, mac: '52:54:00:aa:bb:01', iaid: null, ipaddr: '198.18.99.50', prefix: 0, hostname: 'guest1', clientid: '01:52:54:00:aa:bb:01' },
      { iface: BR, expiryTime: exp, type: 1, mac: '52:54:00:aa:bb:02', iaid: '1234', ipaddr: 'fd00::50', prefix: 0, hostname: null, clientid: null },
    ]);
    expect(n.dhcpLeases('52:54:00:aa:bb:02').map((l) => l.ipaddr)).toEqual(['fd00::50']);

    const portid = '11111111-2222-3333-4444-555555555555';
    using p = n.createPort(`<networkport><uuid>${portid}</uuid><owner><name>vm1</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid></owner><mac address='52:54:00:11:22:33'/></networkport>`);
    expect(p.uuid).toBe(portid);
    expect(p.xml()).toContain(`<plug type='network' bridge='${BR}'/>`);
    expect(n.listPorts().map((x) => (x.free(), portid))).toEqual([portid]);
    expect(virsh('net-dumpxml', NET)).toMatch(/^<network connections='1'>/);
    using again = n.lookupPort(portid);
    again.delete();
    expect(n.listPorts()).toEqual([]);
    expect(thrown(() => n.lookupPort(portid)).code).toBe('VIR_ERR_NO_NETWORK_PORT');
    n.destroy();
    n.undefine();
  });
});
