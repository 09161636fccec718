// <interface type='network'> (issue 15 item 3) through the real virsh, with a real guest: the
// network is a private libvirtd's (this run's own, with a bridge of its own name), started there;
// at start mpvirtd asks that network driver for a port (virNetworkPortCreateXML, as libvirt's
// QEMU driver does), puts the guest's tap on the bridge the port names, and shows the interface
// as libvirt 9.0 shows one of its own guests on the same network in the same run
// (`<source network=… portid=… bridge=…/>`). The guest pings the host's end of the bridge. The
// port is the network's while the guest runs (net-port-list, connections='1') and is gone at
// destroy; an inactive or missing network refuses the start with the host's words and the
// alternatives named.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostNetworkPorts } from '../../src/daemon/host-networks.js';
import { hostSecondaryDrivers } from '../../src/daemon/secondary-drivers.js';
import { waitFor } from '../driver/harness.js';
import { guestImage } from '../driver/guest-image.js';
import { startPrivateLibvirtd, type PrivateLibvirtd } from '../libvirt-reference/private-libvirtd.js';
import { fail, RpcHarness } from './harness.js';

const r = new RpcHarness();
const tmp = mkdtempSync(join(tmpdir(), 'mpvirt-libvirt-net-'));
let lv: PrivateLibvirtd;
const NETNAME = `mpvnet${process.pid % 10000}`;
const BR = `mpvnbr${process.pid % 10000}`;
const NET = `198.18.${(process.pid % 250) + 1}`;
const ALTERNATIVES = "mpvirt runs <interface type='network'> on the network's bridge; otherwise use <interface type='bridge'><source bridge='BRIDGE'/></interface> with a bridge of the host, or <interface type='user'>";

const lvVirsh = (...args: string[]): string => execFileSync('/usr/bin/virsh', ['-c', lv.uri, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } });

beforeAll(async () => {
  lv = await startPrivateLibvirtd(join(tmp, 'lv'));
  const netUri = `network:///system?socket=${lv.socket}`;
  await r.start({ secondary: hostSecondaryDrivers({ network: netUri }) });
  r.driver.networks = hostNetworkPorts({ network: netUri });
  // an isolated network without addresses: libvirt makes the bridge and runs no dnsmasq; the
  // test gives the host's end an address, so the guest has someone to ping
  writeFileSync(join(tmp, 'net.xml'), `<network><name>${NETNAME}</name><bridge name='${BR}'/></network>\n`);
  lvVirsh('net-define', join(tmp, 'net.xml'));
}, 300_000);
afterAll(async () => {
  await r.cleanup();
  // libvirt leaves a started network's bridge behind when its daemon stops: destroyed here
  if (lv) {
    for (const args of [['net-destroy', NETNAME], ['net-undefine', NETNAME]]) {
      try {
        execFileSync('/usr/bin/virsh', ['-c', lv.uri, ...args], { stdio: 'ignore' });
      } catch {
        // not started or already gone
      }
    }
  }
  await lv?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const domainXml = (guest: { kernel: string; initrd: string; cmdlineBase: string }, serial: string): string => `<domain type='qemu'>
  <name>nw1</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=net e2e.ip=${NET}.2/24 e2e.peer=${NET}.1 e2e.hold=1 e2e.timeout=90</cmdline></os>
  <features><acpi/></features><on_reboot>destroy</on_reboot>
  <devices>
    <interface type='network'><source network='${NETNAME}'/><model type='e1000'/></interface>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
  </devices>
</domain>`;

/** libvirt's own guest on the same network: the reference for the live `<interface>`. */
const libvirtGuestXml = (type: string): string => `<domain type='${type}'>
  <name>lvnw1</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <interface type='network'><source network='${NETNAME}'/><model type='e1000'/></interface>
    <memballoon model='none'/>
  </devices>
</domain>`;

/** The live `<interface>` element, with what differs between any two guests (MAC, port, tap) made comparable. */
function liveInterface(xml: string): string {
  const m = /<interface type='[^']+'>[\s\S]*?<\/interface>/.exec(xml);
  if (!m) throw new Error(`no interface in ${xml}`);
  return m[0]
    .replace(/<mac address='[^']+'\/>/, "<mac address='MAC'/>")
    .replace(/portid='[0-9a-f-]{36}'/, "portid='PORTID'")
    .replace(/<target dev='vnet\d+'\/>/, "<target dev='vnetN'/>");
}

describe("<interface type='network'> on a libvirt network", () => {
  it('refuses the start while the network is inactive, or missing, in the host\'s words with the alternatives', async () => {
    const file = join(tmp, 'nw0.xml');
    writeFileSync(file, `<domain type='qemu'><name>nw0</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><interface type='network'><source network='${NETNAME}'/><model type='e1000'/></interface>
  <interface type='network'><source network='no-such-net'/><model type='e1000'/></interface></devices></domain>`);
    expect(await r.run('define', file)).toEqual({ code: 0, stdout: `Domain 'nw0' defined from ${file}\n\n`, stderr: '' });
    expect(await r.run('start', 'nw0')).toEqual(fail(`error: Failed to start domain 'nw0'\nerror: Requested operation is not valid: network '${NETNAME}' is not active; ${ALTERNATIVES}\n`));
    lvVirsh('net-start', NETNAME);
    // the first interface got its port, the second finds no network: the first port is given back
    expect(await r.run('start', 'nw0')).toEqual(fail(`error: Failed to start domain 'nw0'\nerror: Network not found: no network with matching name 'no-such-net'; ${ALTERNATIVES}\n`));
    expect(lvVirsh('net-port-list', NETNAME, '--uuid').trim()).toBe('');
    expect((await r.run('undefine', 'nw0')).code).toBe(0);
  });

  it('runs the guest on the network\'s bridge, shown as libvirt shows its own, the port released at destroy', async () => {
    if (!lvVirsh('net-info', NETNAME).includes('Active:         yes')) lvVirsh('net-start', NETNAME);
    execFileSync('ip', ['addr', 'add', `${NET}.1/24`, 'dev', BR]);
    const guest = await guestImage();
    const serial = join(r.h.dir, 'nw1.serial');
    const file = join(tmp, 'nw1.xml');
    writeFileSync(file, domainXml(guest, serial));
    expect(await r.run('define', file)).toEqual({ code: 0, stdout: `Domain 'nw1' defined from ${file}\n\n`, stderr: '' });
    const inactive = (await r.virsh(['dumpxml', '--inactive', 'nw1'])).stdout;
    const mac = /<mac address='([^']+)'\/>/.exec(inactive)![1]!;
    expect(inactive).toMatch(new RegExp(`<interface type='network'>\\s*<mac address='${mac}'/>\\s*<source network='${NETNAME}'/>\\s*<model type='e1000'/>`));

    expect(await r.run('start', 'nw1')).toEqual({ code: 0, stdout: "Domain 'nw1' started\n\n", stderr: '' });
    const live = (await r.virsh(['dumpxml', 'nw1'])).stdout;
    const m = new RegExp(`<interface type='network'>\\s*<mac address='${mac}'/>\\s*<source network='${NETNAME}' portid='([0-9a-f-]{36})' bridge='${BR}'/>\\s*<target dev='(vnet\\d+)'/>`).exec(live);
    expect(m, live).not.toBeNull();
    const [, portid, tap] = m as unknown as [string, string, string];
    expect(readdirSync(`/sys/class/net/${BR}/brif`)).toEqual([tap]);
    // the port is the network's: listed by the host and through mpvirtd alike, counted in its XML
    expect(lvVirsh('net-port-list', NETNAME, '--uuid').trim()).toBe(portid);
    expect((await r.virsh(['net-port-list', NETNAME, '--uuid'])).stdout.trim()).toBe(portid);
    expect(lvVirsh('net-port-dumpxml', NETNAME, portid)).toContain(`<name>nw1</name>`);
    expect(lvVirsh('net-dumpxml', NETNAME)).toMatch(/^<network connections='1'>/);
    // a live document fed back to define asks for a new port next time, as libvirt's parser does
    const redefined = join(tmp, 'nw1-live.xml');
    writeFileSync(redefined, live);
    expect((await r.run('define', redefined)).code).toBe(0);
    expect((await r.virsh(['dumpxml', '--inactive', 'nw1'])).stdout).toMatch(new RegExp(`<source network='${NETNAME}'/>`));

    // libvirt's own guest on the same network, same run: the same live <interface>
    writeFileSync(join(tmp, 'lvnw1.xml'), libvirtGuestXml(lv.domType));
    lvVirsh('define', join(tmp, 'lvnw1.xml'));
    lvVirsh('start', 'lvnw1');
    try {
      expect(liveInterface(live)).toBe(liveInterface(lvVirsh('dumpxml', 'lvnw1')));
      expect(lvVirsh('net-dumpxml', NETNAME)).toMatch(/^<network connections='2'>/);
    } finally {
      lvVirsh('destroy', 'lvnw1');
      lvVirsh('undefine', 'lvnw1');
    }
    const iflist = await r.run('domiflist', 'nw1');
    expect(iflist.stdout!.trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/))).toEqual([[tap, 'network', NETNAME, 'e1000', mac]]);

    // the guest answers through the network's bridge
    const out = (): string => (existsSync(serial) ? readFileSync(serial, 'latin1') : '');
    expect(await waitFor(() => /E2E-PING-OK|E2E-FAIL/.test(out()), 150_000, 200), out().slice(-3000)).toBe(true);
    expect(out()).toMatch(new RegExp(`^E2E-NIC eth0 ${mac}\\r?$`, 'm'));
    expect(out(), out().slice(-3000)).toContain(`E2E-PING-OK ${NET}.1`);

    expect(await r.run('destroy', 'nw1')).toEqual({ code: 0, stdout: "Domain 'nw1' destroyed\n\n", stderr: '' });
    expect(existsSync(`/sys/class/net/${tap}`)).toBe(false);
    expect(lvVirsh('net-port-list', NETNAME, '--uuid').trim()).toBe('');
    expect(lvVirsh('net-dumpxml', NETNAME)).toMatch(/^<network>/);
    expect((await r.run('undefine', 'nw1')).code).toBe(0);
    expect(r.log.lines.filter((l) => JSON.stringify(l).includes('port'))).toEqual([]);
  }, 300_000);
});
