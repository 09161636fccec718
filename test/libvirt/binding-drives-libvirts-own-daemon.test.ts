// The binding against libvirt's own daemon (a private libvirtd, qemu+unix://…): keepalive, a dir
// storage pool with a real volume file, a real guest started paused whose serial console is read
// through a stream while it boots, QEMU monitor commands and events, lifecycle events down to the
// guest's own power-off, config-only device changes, stats, and the close event when the daemon
// goes away.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestImage, type GuestImage } from '../driver/guest-image.js';
import { startPrivateLibvirtd, type PrivateLibvirtd } from '../libvirt-reference/private-libvirtd.js';
import { connect, LibvirtError, type CloseEvent, type Connection, type LifecycleEvent, type QemuMonitorEvent } from '../../src/libvirt/index.js';
import { DomainRunningReason, DomainState, DomainStatsTypes } from '../../src/libvirt/enums.js';

let lv: PrivateLibvirtd | undefined;
let c: Connection;
let guest: GuestImage;
const work = mkdtempSync(join(tmpdir(), 'mpvirt-binding-lv-'));
const lifecycle: string[] = [];
const monitor: QemuMonitorEvent[] = [];

beforeAll(async () => {
  guest = await guestImage();
  lv = await startPrivateLibvirtd(join(work, 'lv'));
  c = connect(lv.uri);
  c.events.on('lifecycle', (e: LifecycleEvent) => lifecycle.push(`${e.domain.name} ${e.event}/${e.detail}`));
  c.events.on('qemu-monitor', (e) => monitor.push(e));
}, 300_000);
afterAll(async () => {
  c?.close();
  await lv?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return check();
}

describe('a private libvirtd', () => {
  it('is a live QEMU connection that accepts keepalive', () => {
    expect(c.type).toBe('QEMU');
    expect(c.uri).toBe(lv!.uri);
    expect(c.isAlive()).toBe(true);
    expect(c.setKeepAlive(5, 3)).toBe(true);
    expect(c.libVersion).toBeGreaterThanOrEqual(9_000_000);
  });

  it('builds a dir pool, creates a volume file in it and deletes it again', () => {
    const target = join(work, 'pool');
    using p = c.defineStoragePool(`<pool type='dir'><name>bindpool</name><target><path>${target}</path></target></pool>`);
    p.build();
    p.start();
    expect(p.isActive()).toBe(true);
    using v = p.createVolume("<volume><name>v1.raw</name><capacity unit='MiB'>4</capacity><target><format type='raw'/></target></volume>");
    expect(v.path).toBe(join(target, 'v1.raw'));
    expect(existsSync(v.path)).toBe(true);
    expect(v.info()).toMatchObject({ typeName: 'file', capacity: 4 * 1024 * 1024 });
    expect(p.info().capacity).toBeGreaterThan(0);
    v.delete();
    expect(existsSync(join(target, 'v1.raw'))).toBe(false);
    p.destroy();
    p.undefine();
    const e = (() => { try { c.lookupStoragePoolByName('bindpool'); } catch (x) { return x as LibvirtError; } return undefined; })();
    expect(e?.code).toBe('VIR_ERR_NO_STORAGE_POOL');
  });

  it('boots a guest whose console, monitor and lifecycle all come through the binding', async () => {
    // TCG: this test kernel's parameters are tuned for it (it prints nothing under this host's nested KVM)
    const xml = `<domain type='qemu'><name>bind1</name><memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=pci</cmdline></os>
  <features><acpi/></features><on_poweroff>destroy</on_poweroff>
  <devices><console type='pty'/></devices></domain>`;
    using d = c.defineDomain(xml);
    d.setMetadata('title', 'bound');
    expect(d.metadata('title')).toBe('bound');
    d.attachDevice(`<disk type='file' device='disk'><source file='${join(work, 'none.img')}'/><target dev='vdb' bus='virtio'/></disk>`, { config: true });
    expect(d.xml({ inactive: true })).toContain("<target dev='vdb' bus='virtio'/>");
    d.detachDevice(`<disk type='file' device='disk'><source file='${join(work, 'none.img')}'/><target dev='vdb' bus='virtio'/></disk>`, { config: true });
    expect(d.xml({ inactive: true })).not.toContain('vdb');

    expect([d.osType(), d.hasManagedSaveImage()]).toEqual(['hvm', false]);
    d.create({ paused: true });
    expect(d.state().stateName).toBe('paused');
    // the real virsh on the same daemon is the oracle for model, label and messages
    const info = spawnSync('/usr/bin/virsh', ['-c', lv!.uri, 'dominfo', 'bind1'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: work } }).stdout;
    const field = (k: string): string | undefined => new RegExp(`^${k}:\\s+(.*)$`, 'm').exec(info)?.[1];
    expect(c.securityModel().model || undefined).toBe(field('Security model'));
    const label = d.securityLabel();
    if (label.label) expect(`${label.label} (${label.enforcing ? 'enforcing' : 'permissive'})`).toBe(field('Security label'));
    expect(d.messages()[0]).toBe(field('Messages'));
    expect(d.messages().length).toBeGreaterThan(0); // libvirt taints a root-run QEMU
    using st = d.openConsole();
    let out = '';
    const reading = (async () => {
      for await (const chunk of st) {
        out += chunk.toString('latin1');
        if (out.includes('E2E-PCI-END')) break;
      }
    })();
    d.resume();
    const status = JSON.parse(d.qemuMonitorCommand('{"execute":"query-status"}')) as { return: { status: string } };
    expect(status.return.status).toBe('running');
    expect(d.qemuMonitorCommand('info status', { hmp: true })).toMatch(/^VM status: running/);
    const stats = d.stats(DomainStatsTypes.STATE | DomainStatsTypes.CPU_TOTAL | DomainStatsTypes.VCPU);
    expect(stats.state).toEqual({ state: DomainState.RUNNING, reason: DomainRunningReason.UNPAUSED });
    expect(stats.vcpu?.current).toBe(1);
    expect(stats.vcpu?.list).toHaveLength(1);
    expect(stats.cpu?.time).toBeGreaterThan(0);
    const all = c.getAllDomainStats(DomainStatsTypes.STATE);
    expect(all.map((r) => r.domain.name)).toContain('bind1');
    for (const r of all) r.domain.free();

    await Promise.race([reading, new Promise((r) => setTimeout(r, 90_000))]);
    expect(out).toContain('E2E-INIT mode=pci');
    expect(out).toMatch(/E2E-PCI 0000:00:00\.0 0x8086:0x29c0/); // q35's host bridge, as the guest sees it
    // the guest powers itself off: on_poweroff=destroy ends the domain
    expect(await waitFor(() => lifecycle.includes('bind1 stopped/shutdown'), 60_000)).toBe(true);
    expect(await waitFor(() => monitor.some((e) => e.event === 'SHUTDOWN' && e.domain.name === 'bind1'), 5000)).toBe(true);
    expect(lifecycle.filter((l) => l.startsWith('bind1 '))).toEqual([
      'bind1 defined/added',
      'bind1 started/booted', 'bind1 suspended/paused', 'bind1 resumed/unpaused',
      'bind1 shutdown/guest', 'bind1 stopped/shutdown',
    ]);
    const resume = monitor.find((e) => e.event === 'RESUME' && e.domain.name === 'bind1');
    expect(resume?.details).toBeNull(); // RESUME carries no data
    expect(typeof resume?.seconds).toBe('number');
    d.undefine();
    expect(await waitFor(() => lifecycle.includes('bind1 undefined/removed'), 5000)).toBe(true);
  }, 180_000);

  it('tells a close listener when the daemon goes away', async () => {
    const closes: CloseEvent[] = [];
    using other = connect(lv!.uri);
    other.events.on('close', (e) => closes.push(e));
    await lv!.stop();
    lv = undefined;
    expect(await waitFor(() => closes.length > 0, 10_000)).toBe(true);
    expect(closes[0]!.reasonName).toMatch(/^(eof|error)$/);
    expect(other.isAlive()).toBe(false);
  }, 60_000);
});
