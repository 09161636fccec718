// Pure parts of the secondary drivers (docs/secondary-drivers.md): which host URI each driver gets
// (libvirt's choice for a hypervisor daemon, direct mode when no daemon listens, the configured
// one as it is), the network port a guest interface asks for and the plug read back, and the
// driver's resolution of <interface type='network'> with its ports given back on a refusal.
import { describe, expect, it } from 'vitest';
import { networkPortXml, plugOf } from '../../src/daemon/host-networks.js';
import { defaultSecondaryUri, secondaryUriFor } from '../../src/daemon/secondary-drivers.js';
import { plugNetworks, unplugNetworks, type NetworkPorts, type NetworkPortRequest } from '../../src/driver/networks.js';
import type { DomainDef, InterfaceDef } from '../../src/domainxml/model.js';
import { ForeignLibvirtError } from '../../src/errors.js';
import { parseDomainXml } from '../../src/domainxml/index.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('the host URI of each secondary driver', () => {
  it("is libvirt's choice for a hypervisor daemon: system as root, session otherwise, no nwfilter in a session", () => {
    expect(defaultSecondaryUri('network', 0)).toBe('network:///system');
    expect(defaultSecondaryUri('interface', 0)).toBe('interface:///system');
    expect(defaultSecondaryUri('secret', 1000)).toBe('secret:///session');
    expect(defaultSecondaryUri('nwfilter', 1000)).toBeUndefined();
  });

  it('asks for direct mode when neither the driver\'s daemon nor libvirtd listens, as virtqemud reaches it', () => {
    const none = (): boolean => false;
    expect(secondaryUriFor('network', false, {}, 0, none)).toBe('network:///system?mode=direct');
    const only = (p: string) => (q: string): boolean => q === p;
    expect(secondaryUriFor('network', false, {}, 0, only('/var/run/libvirt/virtnetworkd-sock'))).toBe('network:///system');
    expect(secondaryUriFor('nodedev', false, {}, 0, only('/var/run/libvirt/libvirt-sock'))).toBe('nodedev:///system');
    // a read-only client looks for the read-only sockets
    expect(secondaryUriFor('secret', true, {}, 0, only('/var/run/libvirt/libvirt-sock'))).toBe('secret:///system?mode=direct');
    expect(secondaryUriFor('secret', true, {}, 0, only('/var/run/libvirt/virtsecretd-sock-ro'))).toBe('secret:///system');
  });

  it('never forwards to mpvirtd\'s own socket: in drop-in mode libvirtd\'s legacy socket is ours', () => {
    // virt-manager on drop-in qemu:///system hung at its first network listing: the call went to
    // /run/libvirt/libvirt-sock, mpvirtd itself, blocking on its own answer
    const legacy = (q: string): boolean => q === '/var/run/libvirt/libvirt-sock';
    expect(secondaryUriFor('network', false, {}, 0, legacy, ['/run/libvirt/libvirt-sock', '/run/libvirt/virtqemud-sock'])).toBe('network:///system?mode=direct');
    expect(secondaryUriFor('network', false, {}, 0, legacy, ['/run/libvirt/virtmpqemud-sock'])).toBe('network:///system');
  });

  it('is the configured one, as written', () => {
    expect(secondaryUriFor('network', false, { network: 'network+ssh://h/system' }, 0, () => false)).toBe('network+ssh://h/system');
    expect(secondaryUriFor('nwfilter', false, { nwfilter: 'nwfilter:///system' }, 1000)).toBe('nwfilter:///system');
  });
});

describe('network ports', () => {
  it("are asked for as libvirt's virDomainNetDefToNetworkPort writes them, and their plug is read back", () => {
    const req: NetworkPortRequest = { network: 'lab', mac: '52:54:00:01:02:03', owner: { name: 'a<b', uuid: 'c7a5fdbd-edaf-9455-926a-d65c16db1809' }, portgroup: 'pg' };
    expect(networkPortXml(req, '11111111-2222-3333-4444-555555555555')).toBe(`<networkport>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <owner>
    <name>a&lt;b</name>
    <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  </owner>
  <group>pg</group>
  <mac address='52:54:00:01:02:03'/>
</networkport>`);
    expect(plugOf('p1', "<networkport>\n  <plug type='network' bridge='virbr7'/>\n</networkport>")).toEqual({ portid: 'p1', type: 'network', bridge: 'virbr7' });
    expect(plugOf('p2', "<plug type='bridge' bridge='br0' macTableManager='libvirt'/>")).toEqual({ portid: 'p2', type: 'bridge', bridge: 'br0', macTableManager: 'libvirt' });
    expect(plugOf('p3', "<plug type='direct' dev='eth0' mode='vepa'/>")).toEqual({ portid: 'p3', type: 'direct' });
  });
});

const def = (): DomainDef => parseDomainXml(`<domain type='qemu'><name>vm</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid><memory>65536</memory><os><type>hvm</type></os><devices>
  <interface type='network'><mac address='52:54:00:00:00:01'/><source network='a'/></interface>
  <interface type='user'><mac address='52:54:00:00:00:02'/></interface>
  <interface type='network'><mac address='52:54:00:00:00:03'/><source network='b' portgroup='pg'/></interface>
</devices></domain>`);

/** A network driver of networks `plugs` (name → plug type and bridge); others are missing. */
function fakePorts(plugs: Record<string, [string, string | undefined]>): NetworkPorts & { live: Set<string>; asked: NetworkPortRequest[] } {
  let n = 0;
  const live = new Set<string>();
  const asked: NetworkPortRequest[] = [];
  return {
    live, asked,
    allocate(req) {
      asked.push(req);
      const p = plugs[req.network];
      if (!p) throw new ForeignLibvirtError(43, 19, `Network not found: no network with matching name '${req.network}'`, { level: 2, str1: null, str2: null, str3: null, int1: 0, int2: 0 });
      const portid = `port-${++n}`;
      live.add(`${req.network}/${portid}`);
      return { portid, type: p[0], ...(p[1] !== undefined && { bridge: p[1] }) };
    },
    release(network, portid) {
      live.delete(`${network}/${portid}`);
    },
  };
}

const nics = (d: DomainDef): InterfaceDef[] => d.devices.filter((x): x is InterfaceDef => x.kind === 'interface');

describe("<interface type='network'> at start", () => {
  it('gets a port per interface and shows network, portgroup, port and bridge as libvirt does', () => {
    const ports = fakePorts({ a: ['network', 'virbr1'], b: ['bridge', 'br0'] });
    const out = plugNetworks(def(), ports, quiet);
    expect(nics(out).map((n) => [n.type, n.source?.fields])).toEqual([
      ['network', [['network', 'a'], ['portid', 'port-1'], ['bridge', 'virbr1']]],
      ['user', undefined],
      ['bridge', [['network', 'b'], ['portgroup', 'pg'], ['portid', 'port-2'], ['bridge', 'br0']]],
    ]);
    expect(ports.asked.map((r) => [r.network, r.mac, r.owner.name, r.portgroup])).toEqual([['a', '52:54:00:00:00:01', 'vm', undefined], ['b', '52:54:00:00:00:03', 'vm', 'pg']]);
    unplugNetworks(out, ports, quiet, 'vm');
    expect(ports.live.size).toBe(0);
  });

  it('gives back the ports it made when a later interface is refused, and names the alternatives', () => {
    const ports = fakePorts({ a: ['network', 'virbr1'] });
    let err: unknown;
    try {
      plugNetworks(def(), ports, quiet);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ForeignLibvirtError);
    expect((err as ForeignLibvirtError).number).toBe(43);
    expect((err as Error).message).toBe("Network not found: no network with matching name 'b'; mpvirt runs <interface type='network'> on the network's bridge; otherwise use <interface type='bridge'><source bridge='BRIDGE'/></interface> with a bridge of the host, or <interface type='user'>");
    expect(ports.live.size).toBe(0);
  });

  it('refuses a network that plugs guests in as macvtap, and one with no network driver at all', () => {
    const ports = fakePorts({ a: ['direct', undefined], b: ['network', 'virbr2'] });
    expect(() => plugNetworks(def(), ports, quiet)).toThrow(/network 'a' plugs guests in as 'direct', which mpvirt does not run; mpvirt runs/);
    expect(ports.live.size).toBe(0);
    expect(() => plugNetworks(def(), undefined, quiet)).toThrow(/no network driver to resolve network 'a'/);
  });
});

describe('mpvirtd.conf', () => {
  it('takes a URI per secondary driver and refuses what is not one, naming the line', async () => {
    const { parseDaemonConfig } = await import('../../src/daemon/config.js');
    expect(parseDaemonConfig('network_uri = "network:///system?socket=/x"\nsecret_uri = "secret+ssh://h/system"\n')).toEqual({ networkUri: 'network:///system?socket=/x', secretUri: 'secret+ssh://h/system' });
    expect(() => parseDaemonConfig('\nnodedev_uri = 1\n', 'f.conf')).toThrow("f.conf:2: setting 'nodedev_uri' must be a libvirt URI string such as \"network:///system\"");
    expect(() => parseDaemonConfig('interface_uri = "eth0"\n', 'f.conf')).toThrow(/f\.conf:1: setting 'interface_uri' must be a libvirt URI/);
  });
});
