// <interface type='bridge'> through the real virsh, with a real guest: a private bridge of the
// test's own (with an address, so the guest has someone to ping), a domain with a bridge NIC
// (e1000, no MAC: define gives it 52:54:00:…) and a user-mode NIC. At start the daemon makes the
// tap (vnetN) on the bridge and the jailed main QEMU holds its only fd; dumpxml and domiflist show
// it as libvirt does; the guest sees its NIC with the defined MAC and pings the host's end of the
// bridge through it. At destroy, and when the main QEMU is killed, the tap is gone. <interface type='network'> is defined, and
// refused at start when the host has no network daemon, with the alternatives named, also when virt-install picks network
// 'default' by itself (virsh-runs-a-guest-on-a-libvirt-network.test.ts runs one on a real libvirt network).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { guestImage } from '../driver/guest-image.js';
import { fail, RpcHarness } from './harness.js';
import { hostNetworkPorts } from '../../src/daemon/host-networks.js';

const r = new RpcHarness();
// unique per run, short enough for IFNAMSIZ; the guest's subnet from the benchmarking range
const BR = `mpvbr${process.pid % 100000}`;
const NET = `198.18.${process.pid % 250}`;
let bridgeMade = false;

beforeAll(async () => {
  execFileSync('ip', ['link', 'add', BR, 'type', 'bridge']);
  bridgeMade = true;
  execFileSync('ip', ['addr', 'add', `${NET}.1/24`, 'dev', BR]);
  execFileSync('ip', ['link', 'set', BR, 'up']);
  await r.start();
});
afterAll(async () => {
  await r.cleanup();
  if (bridgeMade) execFileSync('ip', ['link', 'del', BR]);
});

/** The tap device behind each fd of a process: /proc/PID/fdinfo of /dev/net/tun says `iff: NAME`. */
function tapsHeldBy(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== '/dev/net/tun') continue;
    const m = /^iff:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    if (m) out.push(m[1]!);
  }
  return out;
}

const domainXml = (guest: { kernel: string; initrd: string; cmdlineBase: string }, serial: string): string => `<domain type='qemu'>
  <name>br1</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=net e2e.ip=${NET}.2/24 e2e.peer=${NET}.1 e2e.hold=1 e2e.timeout=90</cmdline></os>
  <features><acpi/></features><on_reboot>destroy</on_reboot>
  <devices>
    <interface type='bridge'><source bridge='${BR}'/><model type='e1000'/></interface>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
  </devices>
</domain>`;

describe("<interface type='bridge'>", () => {
  it('runs the guest on a tap the daemon made on the bridge, shown as libvirt shows it, gone at destroy', async () => {
    const guest = await guestImage();
    const serial = join(r.h.dir, 'br1.serial');
    const file = join(r.h.dir, 'br1.xml');
    writeFileSync(file, domainXml(guest, serial));
    expect(await r.run('define', file)).toEqual({ code: 0, stdout: `Domain 'br1' defined from ${file}\n\n`, stderr: '' });

    // define gave each NIC a MAC with QEMU/KVM's prefix, different ones, kept in the definition
    const inactive = (await r.virsh(['dumpxml', '--inactive', 'br1'])).stdout;
    const macs = [...inactive.matchAll(/<mac address='([^']+)'\/>/g)].map((m) => m[1]!);
    expect(macs).toHaveLength(2);
    for (const mac of macs) expect(mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(macs[0]).not.toBe(macs[1]);
    expect(inactive).toMatch(new RegExp(`<interface type='bridge'>\\s*<mac address='${macs[0]}'/>\\s*<source bridge='${BR}'/>\\s*<model type='e1000'/>\\s*<address type='pci'`));
    // a redefine of its own XML keeps them
    writeFileSync(file, inactive);
    expect((await r.run('define', file)).code).toBe(0);
    expect([...(await r.virsh(['dumpxml', '--inactive', 'br1'])).stdout.matchAll(/<mac address='([^']+)'\/>/g)].map((m) => m[1])).toEqual(macs);

    expect(await r.run('start', 'br1')).toEqual({ code: 0, stdout: 'Domain \'br1\' started\n\n', stderr: '' });
    const obj = r.driver.lookupByName('br1');
    const { main } = r.h.track(obj);
    const live = (await r.virsh(['dumpxml', 'br1'])).stdout;
    const m = new RegExp(`<interface type='bridge'>\\s*<mac address='${macs[0]}'/>\\s*<source bridge='${BR}'/>\\s*<target dev='(vnet\\d+)'/>\\s*<model type='e1000'/>\\s*<alias name='net0'/>\\s*<address type='pci'`).exec(live);
    expect(m, live).not.toBeNull();
    const tap = m![1]!;
    expect(live).toMatch(new RegExp(`<interface type='user'>\\s*<mac address='${macs[1]}'/>\\s*<model type='virtio'/>\\s*<alias name='net1'/>`));

    // the tap: on the bridge, up, its MAC the guest's with FE first (libvirt's rule), held by QEMU only
    expect(readdirSync(`/sys/class/net/${BR}/brif`)).toEqual([tap]);
    expect(readFileSync(`/sys/class/net/${tap}/address`, 'utf8').trim()).toBe(`fe${macs[0]!.slice(2)}`);
    expect(Number(readFileSync(`/sys/class/net/${tap}/flags`, 'utf8')) & 1).toBe(1);
    expect(tapsHeldBy(main)).toEqual([tap]);
    expect(tapsHeldBy(process.pid)).toEqual([]); // the daemon kept no copy
    expect(readFileSync(`/proc/${main}/status`, 'utf8')).toMatch(/^Uid:\s+[1-9]\d*\s/m); // and QEMU is not root

    const iflist = await r.run('domiflist', 'br1');
    expect(iflist.code).toBe(0);
    const rows = iflist.stdout!.trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual([[tap, 'bridge', BR, 'e1000', macs[0]], ['-', 'user', '-', 'virtio', macs[1]]]);

    // the guest: its NIC has the defined MAC, and the host's end of the bridge answers its ping
    const out = (): string => (existsSync(serial) ? readFileSync(serial, 'latin1') : '');
    expect(await waitFor(() => /E2E-PING-OK|E2E-FAIL/.test(out()), 150_000, 200), out().slice(-3000)).toBe(true);
    expect(out()).toMatch(new RegExp(`^E2E-NIC eth0 ${macs[0]}\\r?$`, 'm'));
    expect(out(), out().slice(-3000)).toContain(`E2E-PING-OK ${NET}.1`);

    expect(await r.run('destroy', 'br1')).toEqual({ code: 0, stdout: "Domain 'br1' destroyed\n\n", stderr: '' });
    expect(existsSync(`/sys/class/net/${tap}`)).toBe(false);
    expect(readdirSync(`/sys/class/net/${BR}/brif`)).toEqual([]);
    expect((await r.virsh(['dumpxml', 'br1'])).stdout).not.toContain('<target dev=');

    // a crash of the main QEMU takes its tap along too
    expect((await r.run('start', 'br1')).code).toBe(0);
    const again = /<target dev='(vnet\d+)'\/>/.exec((await r.virsh(['dumpxml', 'br1'])).stdout)?.[1];
    expect(again).toBeDefined();
    expect(readdirSync(`/sys/class/net/${BR}/brif`)).toEqual([again]);
    process.kill(r.h.track(obj).main, 'SIGKILL');
    expect(await waitFor(() => r.h.stateOf(obj) === 'shut off (crashed)', 10_000, 50), r.h.stateOf(obj)).toBe(true);
    expect(existsSync(`/sys/class/net/${again!}`)).toBe(false);
    expect(readdirSync(`/sys/class/net/${BR}/brif`)).toEqual([]);
    expect((await r.run('undefine', 'br1')).code).toBe(0);
    // no tap outlived its QEMU (stop would have said so)
    expect(r.log.lines.filter((l) => JSON.stringify(l).includes('tap'))).toEqual([]);
  }, 240_000);

  it("defines <interface type='network'> and refuses to start it without a host network daemon, naming the alternatives, also virt-install's default", async (ctx) => {
    const present = ['virtnetworkd-sock', 'libvirt-sock'].map((n) => `/var/run/libvirt/${n}`).filter(existsSync);
    if (present.length > 0) {
      console.log(`skipped: this host runs a libvirt network daemon (${present.join(', ')}), so a network cannot be shown missing here`);
      ctx.skip();
    }
    // as the daemon wires it: the host's network driver at libvirt's own URI
    r.driver.networks = hostNetworkPorts({});
    const file = join(r.h.dir, 'net1.xml');
    writeFileSync(file, `<domain type='qemu'><name>net1</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>
  <devices><interface type='network'><source network='default'/><model type='virtio'/></interface></devices></domain>`);
    expect(await r.run('define', file)).toEqual({ code: 0, stdout: `Domain 'net1' defined from ${file}\n\n`, stderr: '' });
    const msg = "error: Failed to connect socket to '/var/run/libvirt/virtnetworkd-sock': No such file or directory; " +
      "mpvirt runs <interface type='network'> on the network's bridge; otherwise use <interface type='bridge'><source bridge='BRIDGE'/></interface> with a bridge of the host, or <interface type='user'>";
    expect(await r.run('start', 'net1')).toEqual(fail(`error: Failed to start domain 'net1'\n${msg}\n`));
    expect((await r.run('domstate', 'net1')).stdout).toBe('shut off\n\n');
    expect((await r.run('undefine', 'net1')).code).toBe(0);

    // virt-install on a system URI, no --network and no host bridge with the default route: it
    // picks network 'default', and its start gets the same message
    const env = { PATH: '/usr/bin:/bin', HOME: r.h.dir, XDG_CONFIG_HOME: join(r.h.dir, 'xdg'), XDG_CACHE_HOME: join(r.h.dir, 'xdg'), LC_ALL: 'C' };
    const args = ['--connect', `qemu+unix:///system?socket=${r.socket}`, '--name', 'vinet', '--memory', '64', '--vcpus', '1', '--osinfo', 'linux2022',
      '--virt-type', 'qemu', '--import', '--disk', 'none', '--graphics', 'none', '--noautoconsole'];
    const vi = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('/usr/bin/virt-install', args, { env, timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout + stderr })));
    console.log(`virt-install without --network: ${vi.out.trim()}`);
    expect(vi.code, vi.out).not.toBe(0);
    expect(vi.out).toContain(msg.replace(/^error: /, ''));
    for (const name of (await r.virsh(['list', '--all', '--name'])).stdout.split('\n').filter(Boolean)) await r.run('undefine', name);
  }, 180_000);
});
