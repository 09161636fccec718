// Guest NICs at define, as libvirt 9.0 defines them: a NIC without <mac> gets QEMU/KVM's prefix
// 52:54:00 and three random bytes (virDomainNetGenerateMAC), never one another NIC of the domain
// has; an explicit MAC is read and written as virMacAddrParse/virMacAddrFormat do (a multicast one
// is refused); the definition keeps them, so a redefine of dumpxml changes nothing; a generated
// tap name (vnetN) of the live XML leaves the definition. <interface type='network'> is defined
// with its network (resolved at start, src/driver/networks.ts); its live port and bridge leave the
// definition again, as libvirt's parser drops them. The golden define output is in test/fixtures/domainxml/nics.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDefineDefaults, type MacRandom } from '../../src/domainxml/defaults/index.js';
import { findUnsupported, formatDomainXml, parseDomainXml, withoutLiveState, withTapNames, type InterfaceDef } from '../../src/domainxml/index.js';
import { assignAliases } from '../../src/domainxml/aliases.js';
import { MpvirtError } from '../../src/errors.js';
import { recordedQemu72Caps } from '../emulator/recorded-qemu-7.2.js';
import { fixturesDir } from './helpers.js';

const caps = recordedQemu72Caps();
const dir = join(fixturesDir, 'nics');

/** A "random" source that returns these bytes in turn. */
const fixed = (...draws: number[][]): MacRandom => {
  let i = 0;
  return () => Uint8Array.from(draws[i++ % draws.length]!);
};

const define = (xml: string, random?: MacRandom) =>
  applyDefineDefaults(withoutLiveState(parseDomainXml(xml)), caps, { newDomain: true, ...(random ? { macRandom: random } : {}) });
const nics = (xml: string): InterfaceDef[] => parseDomainXml(xml).devices.filter((d): d is InterfaceDef => d.kind === 'interface');
const base = (devices: string): string =>
  `<domain type='kvm'><name>n</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>${devices}</devices></domain>`;

describe('MAC addresses at define', () => {
  it('match the golden define output', () => {
    // the first draw equals the explicit MAC of the second NIC: drawn again
    const out = formatDomainXml(define(readFileSync(join(dir, 'bridge-and-user-without-macs.xml'), 'utf8'), fixed([0xaa, 0x0b, 0x01], [0x12, 0x34, 0x56], [0xfe, 0x00, 0x7f])));
    const golden = join(dir, 'bridge-and-user-without-macs.defined.xml');
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, out);
    expect(out).toBe(readFileSync(golden, 'utf8'));
    expect(nics(out).map((n) => [n.mac, n.target?.dev])).toEqual([['52:54:00:12:34:56', undefined], ['52:54:00:aa:0b:01', 'guest-tap'], ['52:54:00:fe:00:7f', undefined]]);
  });

  it('never gives two NICs of a domain the same address, and draws from crypto by default', () => {
    const same = define(base('<interface type="user"/><interface type="user"/><interface type="user"/>'), fixed([1, 2, 3], [1, 2, 3], [1, 2, 4], [1, 2, 3], [1, 2, 4], [9, 9, 9]));
    expect(nics(formatDomainXml(same)).map((n) => n.mac)).toEqual(['52:54:00:01:02:03', '52:54:00:01:02:04', '52:54:00:09:09:09']);
    const real = nics(formatDomainXml(define(base('<interface type="user"/><interface type="user"/>'))));
    for (const n of real) expect(n.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(real[0]!.mac).not.toBe(real[1]!.mac);
  });

  it('keeps the addresses across a redefine of the definition and of the live XML', () => {
    const first = formatDomainXml(define(base('<interface type="bridge"><source bridge="br0"/></interface><interface type="user"/>')));
    expect(formatDomainXml(define(first, fixed([0, 0, 0])))).toBe(first);
    // dumpxml of the running domain: its tap and aliases leave again
    const running = withTapNames(assignAliases(parseDomainXml(first)), new Map([['net0', 'vnet3']]));
    expect(formatDomainXml(running)).toContain("<target dev='vnet3'/>");
    expect(formatDomainXml(define(formatDomainXml(running), fixed([0, 0, 0])))).toBe(first);
  });

  it("keeps a tap name libvirt would not have generated, or one marked managed='no'", () => {
    const out = formatDomainXml(define(base("<interface type='bridge'><source bridge='br0'/><target dev='vnet9' managed='no'/></interface><interface type='bridge'><source bridge='br0'/><target dev='mytap0'/></interface>")));
    expect(out).toContain("<target dev='vnet9' managed='no'/>");
    expect(out).toContain("<target dev='mytap0'/>");
  });

  it('refuses a MAC address libvirt cannot parse and a multicast one, in its words', () => {
    for (const [mac, msg] of [
      ['52:54:00:12:34', "XML error: unable to parse mac address '52:54:00:12:34'"],
      ['52:54:00:12:34:567', "XML error: unable to parse mac address '52:54:00:12:34:567'"],
      ['52-54-00-12-34-56', "XML error: unable to parse mac address '52-54-00-12-34-56'"],
      ['01:00:5e:00:00:01', "XML error: expected unicast mac address, found multicast '01:00:5e:00:00:01'"],
    ]) {
      let err: unknown;
      try {
        parseDomainXml(base(`<interface type='user'><mac address='${mac}'/></interface>`));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MpvirtError);
      expect((err as MpvirtError).code).toBe('VIR_ERR_XML_ERROR');
      expect((err as MpvirtError).message).toBe(msg);
    }
  });
});

describe('interface types at define', () => {
  it("accepts type='network' with its network, refuses one without, and drops a run's port and bridge at define", () => {
    expect(findUnsupported(parseDomainXml(base("<interface type='network'><source network='default'/><model type='virtio'/></interface>")))).toEqual([]);
    expect(findUnsupported(parseDomainXml(base("<interface type='network'/>")))).toEqual([
      { path: '/domain/devices/interface', reason: "Missing required attribute 'network' in element 'source'" },
    ]);
    const live = parseDomainXml(base("<interface type='network'><mac address='52:54:00:00:00:07'/><source network='default' portgroup='pg' portid='0f6c3a5e-1d2b-4c3a-9e8f-7a6b5c4d3e2f' bridge='virbr0'/><target dev='vnet3'/><model type='virtio'/></interface>"));
    const nic = withoutLiveState(live).devices.find((d): d is InterfaceDef => d.kind === 'interface')!;
    expect(nic.source?.fields).toEqual([['network', 'default'], ['portgroup', 'pg']]);
    expect(nic.target?.dev).toBeUndefined();
  });

  it('refuses a bridge interface without its bridge, and what a bridge port would ignore', () => {
    expect(findUnsupported(parseDomainXml(base("<interface type='bridge'><model type='virtio'/></interface>")))).toEqual([
      { path: '/domain/devices/interface', reason: "interface type 'bridge' needs the host bridge it joins: <source bridge='BRIDGE'/>" },
    ]);
    expect(findUnsupported(parseDomainXml(base("<interface type='bridge'><source bridge='br0'/><virtualport type='openvswitch'/></interface>")))).toEqual([
      { path: '/domain/devices/interface/virtualport', reason: '<virtualport> in <interface> is not supported' },
    ]);
    expect(findUnsupported(parseDomainXml(base("<interface type='direct'><source dev='eth0' mode='bridge'/></interface>")))).toEqual([
      { path: '/domain/devices/interface', reason: "interface type 'direct' is not supported" },
    ]);
    expect(findUnsupported(parseDomainXml(base("<interface type='bridge'><source bridge='br0'/><target dev='t0'/></interface><interface type='user'/>")))).toEqual([]);
  });
});
