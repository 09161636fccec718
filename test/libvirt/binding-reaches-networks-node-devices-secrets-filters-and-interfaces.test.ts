// The binding's secondary-driver areas (network.ts, nodedev.ts, secret.ts, interface.ts) against
// libvirt's in-process test driver, compared with what virsh prints of the same test:///default
// objects; what the test driver lacks (secrets, network filters, DHCP leases) answers its typed
// refusal here and is driven for real against a private libvirtd in
// binding-drives-the-host-daemons-secrets-filters-and-leases.test.ts.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect, LibvirtError, releaseCountsForTests } from './secondary-helpers.js';

const URI = 'test:///default';
const virsh = (...args: string[]): string => execFileSync('/usr/bin/virsh', ['-c', URI, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } });

function nameThenFree(o: { name: string; free(): void }): string {
  const n = o.name;
  o.free();
  return n;
}

function thrown(f: () => unknown): LibvirtError {
  try {
    f();
  } catch (e) {
    if (e instanceof LibvirtError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('networks on test:///default', () => {
  it('lists, looks up and describes the default network as virsh does', () => {
    using c = connect(URI);
    const nets = c.listAllNetworks();
    expect(nets.map((n) => n.name)).toEqual(['default']);
    const n = nets[0]!;
    expect(n.uuid).toBe(virsh('net-uuid', 'default').trim());
    expect(n.xml()).toBe(virsh('net-dumpxml', 'default').replace(/\n$/, ''));
    expect(n.bridgeName()).toBe('virbr0');
    expect([n.isActive(), n.isPersistent(), n.autostart]).toEqual([true, true, false]);
    // the test driver has no dnsmasq: its refusal, typed (the private libvirtd test reads real leases)
    expect(thrown(() => n.dhcpLeases()).code).toBe('VIR_ERR_NO_SUPPORT');
    using byUuid = c.lookupNetworkByUUID(n.uuid);
    expect(byUuid.name).toBe('default');
    for (const x of nets) x.free();
    const e = thrown(() => c.lookupNetworkByName('nope'));
    expect([e.code, e.message]).toEqual(['VIR_ERR_NO_NETWORK', "Network not found: no network with matching name 'nope'"]);
  });

  it('defines, starts, stops, autostarts and undefines a network of its own', () => {
    using c = connect(URI);
    using n = c.defineNetwork("<network><name>bt-net</name><bridge name='btbr0'/></network>");
    expect(n.isActive()).toBe(false);
    n.start();
    expect(n.isActive()).toBe(true);
    n.autostart = true;
    expect(n.autostart).toBe(true);
    expect(c.listAllNetworks(2).map(nameThenFree).sort()).toEqual(['bt-net', 'default']);
    n.destroy();
    n.undefine();
    expect(thrown(() => c.lookupNetworkByName('bt-net')).code).toBe('VIR_ERR_NO_NETWORK');
  });
});

describe('node devices, interfaces and secrets on test:///default', () => {
  it('lists node devices with their parents and capabilities', () => {
    using c = connect(URI);
    const devs = c.listAllNodeDevices();
    // virsh's nodedev-list asks the test driver for a flag it refuses; its XML of each device is compared instead
    expect(devs.map((d) => d.name)).toContain('computer');
    const computer = devs.find((d) => d.name === 'computer')!;
    expect(computer.parent).toBeNull();
    expect(computer.capabilities()).toEqual(['system']);
    const child = devs.find((d) => d.name !== 'computer')!;
    expect(child.parent).not.toBeNull();
    for (const d of devs) expect(d.xml()).toBe(virsh('nodedev-dumpxml', d.name).replace(/\n$/, ''));
    for (const d of devs) d.free();
  });

  it('lists interfaces with their MAC and state, and finds one by MAC', () => {
    using c = connect(URI);
    const ifaces = c.listAllInterfaces();
    expect(ifaces.map((i) => i.name)).toEqual(['eth1']);
    const eth1 = ifaces[0]!;
    expect(eth1.isActive()).toBe(true);
    using byMac = c.lookupInterfaceByMAC(eth1.mac);
    expect(byMac.name).toBe('eth1');
    expect(eth1.xml()).toBe(virsh('iface-dumpxml', 'eth1').replace(/\n$/, ''));
    eth1.free();
  });

  it('answers NO_SUPPORT for secrets, which the test driver does not keep', () => {
    using c = connect(URI);
    expect(thrown(() => c.defineSecret("<secret ephemeral='no' private='no'/>")).code).toBe('VIR_ERR_NO_SUPPORT');
  });

  it('refuses a secret value on a read-only connection, in libvirt\'s words', () => {
    using c = connect(URI, { readonly: true });
    const e = thrown(() => c.defineSecret("<secret ephemeral='no' private='no'/>"));
    expect([e.code, e.message]).toEqual(['VIR_ERR_OPERATION_DENIED', 'operation forbidden: read only access prevents virSecretDefineXML']);
  });

  it('answers NO_SUPPORT for network filters, which the test driver does not have', () => {
    using c = connect(URI);
    const e = thrown(() => c.listAllNWFilters());
    expect(e.code).toBe('VIR_ERR_NO_SUPPORT');
  });

  it('frees every object it handed out exactly once', () => {
    using c = connect(URI);
    const before = releaseCountsForTests();
    let made = 0;
    for (let i = 0; i < 50; i++) {
      for (const list of [c.listAllNetworks(), c.listAllNodeDevices(), c.listAllInterfaces()]) {
        made += list.length;
        for (const o of list) {
          o.free();
          o.free(); // idempotent: released once
        }
      }
    }
    const after = releaseCountsForTests();
    expect(after.explicit - before.explicit).toBe(made);
    expect(made).toBeGreaterThan(50 * 3);
  });
});
