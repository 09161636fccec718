// Taps as the root daemon makes them (virNetDevTapCreateInBridgePort): vnetN, or the name asked
// for; the guest's MAC with FE first; the bridge's MTU; a port of the bridge; up; not persistent,
// so the tap goes with its fd. A bridge that does not exist is reported in libvirt's words before
// anything is left behind. Needs root and ip(8) for the test's own bridge.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridgeTap, deleteTap } from '../../src/remote/tap.js';

const BR = `mpvbt${process.pid % 100000}`;
const sys = (dev: string, f: string): string => readFileSync(`/sys/class/net/${dev}/${f}`, 'utf8').trim();
beforeAll(() => {
  execFileSync('ip', ['link', 'add', BR, 'type', 'bridge']);
  execFileSync('ip', ['link', 'set', BR, 'mtu', '1400']);
});
afterAll(() => execFileSync('ip', ['link', 'del', BR]));

describe('createBridgeTap', () => {
  it('makes vnetN (or the given name) on the bridge, up, with the MAC and MTU libvirt gives it', () => {
    const a = createBridgeTap({ bridge: BR, mac: '52:54:00:12:34:56', vnetHdr: true });
    const b = createBridgeTap({ bridge: BR, mac: 'fe:54:00:12:34:57', vnetHdr: false, ifname: `${BR}t` });
    try {
      expect(a.ifname).toMatch(/^vnet\d+$/);
      expect(b.ifname).toBe(`${BR}t`);
      expect(readdirSync(`/sys/class/net/${BR}/brif`).sort()).toEqual([a.ifname, b.ifname].sort());
      expect(sys(a.ifname, 'address')).toBe('fe:54:00:12:34:56');
      expect(sys(b.ifname, 'address')).toBe('fa:54:00:12:34:57'); // a guest MAC starting FE gets FA
      expect(sys(a.ifname, 'mtu')).toBe('1400');
      expect(Number(sys(a.ifname, 'flags')) & 1).toBe(1);
      expect(Number(sys(a.ifname, 'tun_flags')) & 0x4000).toBe(0x4000); // IFF_VNET_HDR
      expect(Number(sys(b.ifname, 'tun_flags')) & 0x4000).toBe(0);
      // the next generated name is another one, even while the first is in use
      const c = createBridgeTap({ bridge: BR, mac: '52:54:00:12:34:58', vnetHdr: false });
      expect(c.ifname).not.toBe(a.ifname);
      closeSync(c.fd);
      // a tap in use is not deleted from under its holder
      expect(deleteTap(a.ifname)).toBe(false);
    } finally {
      closeSync(a.fd);
      closeSync(b.fd);
    }
    expect(existsSync(`/sys/class/net/${a.ifname}`)).toBe(false);
    expect(existsSync(`/sys/class/net/${b.ifname}`)).toBe(false);
  });

  it("reports a missing bridge and a name too long in libvirt's words, leaving no tap", () => {
    const before = readdirSync('/sys/class/net').filter((n) => n.startsWith('vnet')).sort();
    expect(() => createBridgeTap({ bridge: 'mpvnobr0', mac: '52:54:00:12:34:56', vnetHdr: false })).toThrow(
      "Cannot get interface MTU on 'mpvnobr0': No such device");
    expect(() => createBridgeTap({ bridge: BR, mac: '52:54:00:12:34:56', vnetHdr: false, ifname: 'a-name-too-long-for-linux' })).toThrow(
      "Network interface name 'a-name-too-long-for-linux' is too long: Numerical result out of range");
    expect(readdirSync('/sys/class/net').filter((n) => n.startsWith('vnet')).sort()).toEqual(before);
  });
});
