// A bridge interface in the pure launch plan: the main QEMU gets `-netdev tap,fd=N` (as libvirt's
// privileged driver passes it) and the plan says what the daemon must make at fd N — the bridge,
// the tap's name if the definition gives one, the guest's MAC, IFF_VNET_HDR for virtio and e1000e
// (qemuInterfaceIsVnetCompatModel). domxml-to-native shows it as QEMU's bridge netdev, which
// makes the tap itself when run by hand. The golden command lines are
// test/fixtures/emulator/plans/bridge-and-user-nics.native.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { planWithPaths } from '../../src/emulator/native.js';
import { MpvirtError } from '../../src/errors.js';

const caps: QemuCaps = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/emulator/caps-qemu-7.2.json'), 'utf8'));
const xml = (nics: string): string => `<domain type='qemu'><name>t</name><memory unit='MiB'>128</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/srv/a.img'/><target dev='vda' bus='virtio'/></disk>${nics}</devices></domain>`;
const plan = (nics: string) => buildLaunchPlan(applyDefineDefaults(parseDomainXml(xml(nics)), caps, { newDomain: true }), caps, { runDir: '/run/mpvirt/t' });
const netdevs = (argv: string[]): unknown[] => argv.flatMap((a, i) => (argv[i - 1] === '-netdev' ? [JSON.parse(a)] : []));

describe('bridge interfaces in the launch plan', () => {
  it('plan a tap per bridge NIC after the image fds, with its bridge, name, MAC and vnet header', () => {
    const p = plan(`
<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><model type='virtio'/></interface>
<interface type='user'><mac address='52:54:00:00:00:02'/><model type='virtio'/></interface>
<interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='br1'/><target dev='tap-db'/><model type='e1000'/></interface>
<interface type='bridge'><mac address='52:54:00:00:00:04'/><source bridge='br1'/><model type='e1000e'/></interface>`);
    expect(p.main.files.map((f) => f.childFd)).toEqual([4]); // fd 3 is the monitor
    expect(p.main.taps).toEqual([
      { childFd: 5, alias: 'net0', bridge: 'br0', mac: '52:54:00:00:00:01', vnetHdr: true },
      { childFd: 6, alias: 'net2', bridge: 'br1', ifname: 'tap-db', mac: '52:54:00:00:00:03', vnetHdr: false },
      { childFd: 7, alias: 'net3', bridge: 'br1', mac: '52:54:00:00:00:04', vnetHdr: true },
    ]);
    expect(netdevs(p.main.argv)).toEqual([
      { type: 'tap', fd: '5', id: 'hostnet0' },
      { type: 'user', id: 'hostnet1' },
      { type: 'tap', fd: '6', id: 'hostnet2' },
      { type: 'tap', fd: '7', id: 'hostnet3' },
    ]);
    const i = p.main.argv.indexOf(JSON.stringify({ type: 'tap', fd: '6', id: 'hostnet2' }));
    expect(JSON.parse(p.main.argv[i + 2]!)).toMatchObject({ driver: 'e1000', netdev: 'hostnet2', id: 'net2', mac: '52:54:00:00:00:03' });
    // as a person would run it: QEMU's bridge netdev, nothing left for a daemon to make
    const native = planWithPaths(p);
    expect(netdevs(native.main.argv)).toEqual([
      { type: 'bridge', br: 'br0', id: 'hostnet0' },
      { type: 'user', id: 'hostnet1' },
      { type: 'bridge', br: 'br1', id: 'hostnet2' },
      { type: 'bridge', br: 'br1', id: 'hostnet3' },
    ]);
    expect(native.main.taps).toEqual([]);
  });

  it("plan a network NIC resolved at start like a bridge NIC on its network's bridge", () => {
    const p = plan(`<interface type='network'><mac address='52:54:00:00:00:05'/><source network='lab' portid='0f6c3a5e-1d2b-4c3a-9e8f-7a6b5c4d3e2f' bridge='virbr7'/><model type='virtio'/></interface>`);
    expect(p.main.taps).toEqual([{ childFd: 5, alias: 'net0', bridge: 'virbr7', mac: '52:54:00:00:00:05', vnetHdr: true }]);
    expect(netdevs(p.main.argv)).toEqual([{ type: 'tap', fd: '5', id: 'hostnet0' }]); // after the monitor (3) and the image (4)
  });

  it('refuses what it cannot connect, should a definition that skipped define reach it', () => {
    const refusal = (nics: string): string => {
      try {
        plan(nics);
      } catch (e) {
        expect(e).toBeInstanceOf(MpvirtError);
        return (e as MpvirtError).message;
      }
      return 'no error';
    };
    // a network interface the driver did not resolve to its network's bridge (src/driver/networks.ts)
    expect(refusal("<interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>")).toBe(
      "unsupported configuration: interface type 'network' has no bridge: its network was not resolved");
    expect(refusal("<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='eth0'/></interface>")).toBe(
      "unsupported configuration: interface type 'direct' is not supported; use <interface type='bridge'> with a host bridge or <interface type='user'>");
    expect(refusal("<interface type='bridge'><mac address='52:54:00:00:00:01'/></interface>")).toBe(
      "unsupported configuration: interface type 'bridge' needs the host bridge it joins: <source bridge='BRIDGE'/>");
  });
});
