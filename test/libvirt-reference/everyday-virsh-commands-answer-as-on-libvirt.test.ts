// The everyday virsh commands scripts and virt-manager use on a running guest, run against mpvirtd
// and a private libvirtd in the same run, on the same domain XML (an lsilogic disk — in a remote
// process on mpvirtd —, a user-mode NIC, a pty serial, VNC, a virtio balloon). The denominator is
// what libvirt's own daemon answers (exit 0); a command counts for mpvirtd when it answers too, with
// the same output once what differs between any two runs is masked (pids, ports, byte and time
// counters, pty numbers). Two outputs differ by design and are named below: dumpxml (mpvirtd shows
// the remote process) and domxml-to-native (two command lines). The ratio is printed; target ≥ 95 %.
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sideBySide, type VirshOut } from './side-by-side.js';

// libvirt's DAC driver remembers an image's owner in an xattr, which costs the image a 4 KiB block
// (st_blocks): switched off, so both daemons' images report the allocation of the data alone
const s = sideBySide('everyday', { qemuConf: ['remember_owner = 0'] });
const UUID = '5d3c9c8e-1f7b-4a8e-9c61-0b0c8f6a1e01';
const MAC = '52:54:00:6a:11:02';

function domainXml(name: string, uuid: string, img: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>256</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'/>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img}'/><target dev='sda' bus='scsi'/></disk>
    <interface type='user'><mac address='${MAC}'/><model type='virtio'/></interface>
    <serial type='pty'/>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <memballoon model='virtio'/>
  </devices>
</domain>
`;
}

/**
 * Each daemon's own image files (our-…, lvd-…: same length, so tables keep their widths), and the
 * taint libvirt reports only because the reference daemon runs QEMU as root (mpvirtd never does).
 */
function same3(text: string): string {
  return text.replace(/\/(our|lvd)-/g, '/who-').replace(/Messages:\s+tainted: running with undesirable elevated privileges\n/, '');
}

/** What differs between any two runs of the same guest, never between the two daemons' logic. */
function mask(text: string): string {
  return same3(text)
    .replace(/\/dev\/pts\/\d+/g, '/dev/pts/N')
    .replace(/(port=['"]?|:)59\d\d\b/g, '$1PORT')
    .replace(/\d+(\.\d+)?/g, 'N');
}

/** `ours`: what mpvirtd adds on purpose, taken out of its output before the exact comparison */
type Step = { args: string[]; exact?: boolean; byDesign?: string; ours?: (text: string) => string; theirs?: (text: string) => string };

/**
 * The isolation mpvirtd adds to a definition: its `<mpq:remote>` metadata (the policy; live, each
 * remote's pid and state) and the user alias that names the HBA in it.
 */
function withoutIsolation(xml: string): string {
  const live = xml.includes("<domain type='qemu' id=");
  return xml
    .replace(/ {2}<metadata>\n {4}<mpq:remote [\s\S]*?<\/mpq:remote>\n {2}<\/metadata>\n/, '')
    .replace(/ {6}<alias name='ua-scsi0'\/>\n/, live ? "      <alias name='scsi0'/>\n" : '');
}

/**
 * The reference daemon runs QEMU as root under libvirt's DAC driver, so its live XML carries a
 * `<seclabel model='dac'>`; mpvirtd has no libvirt security driver (its jails show in
 * `<mpq:process>`), as libvirt with security_driver "none" writes no seclabel.
 */
function withoutDacLabel(xml: string): string {
  return xml.replace(/ {2}<seclabel type='dynamic' model='dac' relabel='yes'>\n[\s\S]*?<\/seclabel>\n/, '');
}
const D = 'ev1';
const DOMCAPS = 'mpvirtd offers only what it defines (no iothreads, loader, lun, hostdev, …); the rest is compared exactly in domain-capabilities-and-cpu-models-print-as-on-libvirt.test.ts';

function steps(work: string): Step[] {
  const cpuXml = join(work, 'cpu.xml');
  const e = (...args: string[]): Step => ({ args, exact: true });
  const m = (...args: string[]): Step => ({ args });
  return [
    m('dominfo', D), e('domstate', D), e('domstate', D, '--reason'), m('domid', D), e('domuuid', D), e('domname', UUID),
    { args: ['dumpxml', D], ours: withoutIsolation, theirs: withoutDacLabel },
    { args: ['dumpxml', D, '--inactive'], ours: withoutIsolation }, m('list'), e('list', '--all'), e('list', '--name'), e('list', '--uuid'),
    e('domblklist', D), e('domblklist', D, '--details'), e('domiflist', D),
    m('domblkstat', D), m('domblkstat', D, 'sda'), m('domblkstat', D, 'sda', '--human'), m('domifstat', D, MAC),
    m('dommemstat', D), m('domstats'), m('domstats', D), m('domstats', '--state'), m('domstats', D, '--cpu-total'), m('domstats', D, '--balloon'),
    m('domstats', D, '--vcpu'), m('domstats', D, '--interface'), m('domstats', D, '--block'),
    m('vcpuinfo', D), e('vcpucount', D), m('vcpupin', D), m('emulatorpin', D), e('iothreadinfo', D), e('numatune', D),
    e('domjobinfo', D), e('domcontrol', D), e('domblkerror', D), e('domblkinfo', D, 'sda'), e('domblkinfo', D, '--all'),
    e('domifaddr', D), m('domdisplay', D), m('vncdisplay', D), m('ttyconsole', D), e('cpu-models', 'x86_64'), e('domlaunchsecinfo', D),
    m('schedinfo', D), m('blkiotune', D), m('memtune', D), e('domif-getlink', D, MAC), e('domiftune', D, MAC), e('blkdeviotune', D, 'sda'),
    e('perf', D), e('autostart', D), e('autostart', D, '--disable'), e('desc', D), e('desc', D, '--title'),
    { args: ['domcapabilities'], byDesign: DOMCAPS }, { args: ['domcapabilities', '--virttype', 'qemu', '--machine', 'q35'], byDesign: DOMCAPS }, m('nodeinfo'), m('nodememstats'), m('nodecpustats'), m('freecell'),
    m('maxvcpus'), m('maxvcpus', '--type', 'qemu'), e('hostname'), e('sysinfo'),
    { args: ['domxml-to-native', 'qemu-argv', '--domain', D], byDesign: 'mpvirtd runs two processes: the main QEMU and the remote one' },
    m('qemu-monitor-command', D, '{"execute":"query-status"}'), e('qemu-monitor-command', D, '--hmp', 'info status'),
    e('cpu-compare', cpuXml), e('cpu-baseline', cpuXml), e('hypervisor-cpu-compare', cpuXml), m('hypervisor-cpu-baseline', cpuXml),
    e('send-key', D, 'KEY_A'), m('screenshot', D, join(work, 'screen.ppm')),
    e('setmem', D, '200M', '--live'), m('dommemstat', D), e('setmem', D, '256M', '--live'), e('setmaxmem', D, '300M', '--config'),
    e('setvcpus', D, '2', '--config'), e('setvcpus', D, '2', '--live'), e('vcpucount', D), m('vcpuinfo', D),
    e('vcpupin', D, '0', '0', '--config'), e('vcpupin', D, '--config'), e('emulatorpin', D, '0', '--config'), e('emulatorpin', D, '--config'),
    e('vcpupin', D, '1', '1', '--live'), e('vcpupin', D), m('vcpuinfo', D), e('emulatorpin', D, '1', '--live'), e('emulatorpin', D), e('dommemstat', D, '--period', '2', '--live'),
    e('domif-setlink', D, MAC, 'down'), e('domif-getlink', D, MAC), e('suspend', D), e('domstate', D, '--reason'), e('resume', D),
    e('domstate', D, '--reason'), e('domrename', 'ev2', 'ev3'), e('list', '--all', '--name'),
  ];
}

/**
 * For a shut-off domain libvirt reports its own daemon's CPU time as the domain's (without a
 * cgroup, qemuDomainGetStatsCpuProc reads /proc/<pid 0>, which virProcessGetStat turns into
 * /proc/self). mpvirtd reports no CPU time for a domain that is not running: those lines of
 * libvirt's are not compared.
 */
function noDaemonCpuTime(rec: string): string {
  // (masked already: a running domain's record is the one with cpu.cache.monitor.count)
  return rec.includes('cpu.cache.') ? rec : rec.replace(/\n {2}cpu\.(time|user|system)=N/g, '');
}

/** libvirt lists domains in its hash table's order (by uuid hash): records compared as a set */
function sortRecords(text: string): string {
  const recs = text.split(/\n(?=Domain: ')/).map(noDaemonCpuTime);
  return recs.map((r) => r.replace(/\n*$/, '')).sort().join('\n');
}

function same(step: Step, o: VirshOut, t: VirshOut): boolean {
  if (o.code !== t.code) return false;
  if (step.byDesign) return true;
  const f = step.exact ? same3 : mask;
  const g = step.args[0] === 'domstats' ? (x: string) => sortRecords(f(x)) : f;
  return g((step.ours ?? String)(o.stdout)) === g((step.theirs ?? String)(t.stdout)) && f(o.stderr) === f(t.stderr);
}

describe('everyday virsh commands on a running guest', () => {
  it('answer on mpvirtd as on libvirt for at least 95 % of what libvirt answers', async () => {
    // each daemon its own images: QEMU locks a disk image against a second writer
    const files = (who: string): [string, string] => {
      const out: string[] = [];
      for (const [name, uuid, mac, mib] of [[D, UUID, MAC, 64], ['ev2', UUID.replace(/01$/, '02'), '52:54:00:6a:11:03', 16]] as const) {
        const img = join(s.work, `${who}-${name}.img`);
        writeFileSync(img, '');
        truncateSync(img, mib << 20);
        const xml = join(s.work, `${who}-${name}.xml`);
        writeFileSync(xml, domainXml(name, uuid, img).replace(MAC, mac));
        out.push(xml);
      }
      return [out[0]!, out[1]!];
    };
    const ours = files('our');
    const theirs = files('lvd');
    writeFileSync(join(s.work, 'cpu.xml'), "<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>\n");
    for (const [o, t] of [[['define', ours[0]], ['define', theirs[0]]], [['define', ours[1]], ['define', theirs[1]]], [['start', D], ['start', D]]]) {
      const ro = await s.ours(...o!);
      expect(ro.code, `ours ${o!.join(' ')}: ${ro.stderr}`).toBe(0);
      const rt = s.theirs(...t!);
      expect(rt.code, `theirs ${t!.join(' ')}: ${rt.stderr}`).toBe(0);
    }
    const rows: string[] = [];
    let answered = 0;
    let alike = 0;
    for (const step of steps(s.work)) {
      const t = s.theirs(...step.args);
      const o = await s.ours(...step.args);
      const name = step.args.map((a) => a.replace(s.work, 'W')).join(' ');
      if (t.code !== 0) {
        rows.push(`  (libvirt refuses) ${name}: ${t.stderr.trim()}`);
        continue;
      }
      answered++;
      if (same(step, o, t)) {
        alike++;
        if (step.byDesign) rows.push(`  alike, output differs by design: ${name} (${step.byDesign})`);
        continue;
      }
      rows.push(`  DIFFERS ${name}\n    ours   ${JSON.stringify(o)}\n    theirs ${JSON.stringify(t)}`);
    }
    for (const d of ['ev1', 'ev3', 'ev2']) {
      await s.ours('destroy', d);
      await s.ours('undefine', d);
    }
    const pct = (100 * alike) / answered;
    console.log(`everyday virsh commands: mpvirtd answers ${alike} of the ${answered} libvirt answers (${pct.toFixed(1)} %)\n${rows.join('\n')}`);
    expect(pct).toBeGreaterThanOrEqual(95);
  }, 600_000);
});
