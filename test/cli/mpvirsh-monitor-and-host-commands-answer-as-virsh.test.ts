// mpvirsh's Domain Monitoring, vCPU and Host and Hypervisor commands against the real virsh, on the
// same connection in the same run: stdout, stderr and the exit status byte for byte, success and
// failure paths, with and without -q — on libvirt's test driver (in-process: each case starts from
// the same fresh driver) and on a real mpvirtd with a running and a shut-off guest. Counters that
// move between the two runs (CPU times, I/O counters, free memory) are masked, and only them.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { RpcHarness } from '../rpc/harness.js';

interface Result { code: number; stdout: string; stderr: string }

function run(bin: string[], args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(bin[0]!, [...bin.slice(1), ...args], { timeout: 60_000, env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    child.stdin?.end();
  });
}

const VIRSH = ['/usr/bin/virsh'];
const MPVIRSH = [process.execPath, join(projectRoot, 'dist/cli/mpvirsh.js')];

/**
 * The numbers that move between two runs, each masked where it stands: I/O counters (domblkstat,
 * domifstat, domstats' block/net/vcpu/cpu/balloon counters), CPU times and places (cpu-stats, vcpuinfo),
 * the host's CPU and memory counters (nodecpustats, nodememstats, freecell, freepages) and a
 * running guest's memory statistics.
 */
const MOVING: readonly RegExp[] = [
  /^(\S* ?(?:rd_req|rd_bytes|wr_req|wr_bytes|errs|rd_operations|wr_operations|flush_operations|rd_total_times|wr_total_times|flush_total_times|rx_bytes|rx_packets|rx_errs|rx_drop|tx_bytes|tx_packets|tx_errs|tx_drop) +)\d+$/gm,
  /^( number of [a-z ]+: +| error count: +| total duration of [a-z]+ \(ns\): +)\d+$/gm,
  /^(  (?:cpu\.(?:time|user|system|haltpoll\.\w+)|vcpu\.\d+\.(?:time|wait|delay)|balloon\.(?:rss|last-update|usable|unused|available|disk_caches|minor_fault|major_fault)|(?:block|net)\.\d+\.(?:rd|wr|fl|rx|tx)\.\w+)=)\d+$/gm,
  /^(\t(?:cpu|vcpu|user|system)_time +)[ \d]+\.\d+( seconds)$/gm,
  /^(CPU time: +)[\d.]+(s)$/gm,
  /^(CPU: +)\d+$/gm, // vcpuinfo: the host CPU a running vCPU thread last ran on
  /^((?:user|system|idle|iowait|intr|usage): +)[ \d.a-z-]+(%?)$/gm,
  /^((?:total|free|buffers|cached) *: +)\d+( KiB)$/gm,
  /^((?:Total| *\d+): +)\d+( KiB)$/gm,
  /^(\d+KiB: )\d+$/gm,
  /^((?:rss|last_update|usable|unused|available|disk_caches|minor_fault|major_fault) )\d+$/gm,
];
const settled = (r: Result): Result => ({ ...r, stdout: MOVING.reduce((s, re) => s.replace(re, (_m, a: string, b?: string) => `${a}N${typeof b === 'string' ? b : ''}`), r.stdout) });

async function alike(args: string[]): Promise<void> {
  const [theirs, ours] = await Promise.all([run(VIRSH, args), run(MPVIRSH, args)]);
  expect(settled(ours), `mpvirsh ${args.join(' ')}`).toEqual(settled(theirs));
}

const tmp = mkdtempSync(join(tmpdir(), 'mpvirsh-monitor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};
const CPU = file('cpu.xml', "<cpu><arch>x86_64</arch><model>Nehalem</model></cpu>\n");
const CPUS = file('cpus.xml', "<?xml version='1.0'?>\n<cpu mode='custom'><arch>x86_64</arch><model>Haswell</model><feature name='vmx' policy='require'/></cpu>\n<cpu><arch>x86_64</arch><model>Nehalem</model></cpu>\n");
const DOMCAPS = file('domcaps.xml', "<domainCapabilities><cpu><mode name='host-model' supported='yes'><model>Nehalem</model></mode></cpu></domainCapabilities>\n");
const NOCPU = file('nocpu.xml', '<foo/>\n');

const T = ['-c', 'test:///default'];

describe('monitoring and host commands on test:///default, compared with virsh', () => {
  const cases: string[][] = [
    ['domblkerror', 'test'], ['domblkinfo', 'test', 'vda'], ['domblkinfo', 'test', '--all'], ['domblkinfo', 'test', '--all', '--human'], ['-q', 'domblkinfo', 'test', '--all'],
    ['domblkinfo', 'test'], ['domblkinfo', 'test', '--all', '--device', 'vda'], ['domblkinfo', 'test', 'nosuch'], ['domblkstat', 'test'], ['domblkstat', 'test', 'vda'],
    ['domblkstat', 'test', 'vda', '--human'], ['domcontrol', 'test'], ['domcontrol', 'nosuch'],
    ['domif-getlink', 'test', 'testnet0'], ['domif-getlink', 'test', 'AA:BB:CC:DD:EE:FF', '--config'], ['domif-getlink', 'test', 'vnet9'], ['domif-getlink', 'test', '00:11:22:33:44:55'],
    ['domifaddr', 'test'], ['domifaddr', 'test', '--full', '--source', 'arp'], ['domifaddr', 'test', '--source', 'agent'], ['domifaddr', 'test', '--source', 'bogus'],
    ['domifaddr', 'test', '--interface', 'nosuch'], ['-q', 'domifaddr', 'test'], ['domifstat', 'test', 'testnet0'], ['domifstat', 'test', 'vnet0'],
    ['dommemstat', 'test'], ['dommemstat', 'test', '--period', '5'], ['dommemstat', 'test', '--period', '-1'], ['dommemstat', 'test', '--current', '--live'],
    ['domtime', 'test'], ['domtime', 'test', '--pretty'], ['domtime', 'test', '--now'], ['domtime', 'test', '--time', '5', '--sync'],
    ['domstats'], ['domstats', '--state'], ['domstats', '--raw', '--enforce', '--state', '--list-active'], ['domstats', 'test'], ['domstats', 'test', 'nosuch'],
    ['domstats', '--cpu-total', '--balloon', '--vcpu', '--interface', '--block', '--perf', '--iothread', '--memory', '--dirtyrate', '--vm'],
    ['domstats', '--list-inactive'], ['domstats', '--nowait', '--backing', '--state', 'test', '1'],
    ['domstats', '--list-persistent', '--list-transient', '--list-running', '--list-paused', '--list-shutoff', '--list-other'],
    ['cpu-stats', 'test'], ['cpu-stats', 'test', '--total'], ['cpu-stats', 'test', '--start', '1'], ['cpu-stats', 'test', '--start', '5'], ['cpu-stats', 'test', '--count', '5'],
    ['cpu-stats', 'test', '--start', '-1'], ['vcpuinfo', 'test'], ['vcpuinfo', 'test', '--pretty'],
    ['vcpucount', 'test'], ['vcpucount', 'test', '--maximum'], ['vcpucount', 'test', '--active'], ['vcpucount', 'test', '--live'], ['vcpucount', 'test', '--config'],
    ['vcpucount', 'test', '--current'], ['vcpucount', 'test', '--maximum', '--current'], ['vcpucount', 'test', '--maximum', '--live'], ['vcpucount', 'test', '--active', '--config'],
    ['vcpucount', 'test', '--guest'], ['vcpucount', 'test', '--guest', '--config'], ['vcpucount', 'test', '--live', '--config'], ['vcpucount', 'test', '--active', '--maximum'],
    ['vcpucount', 'test', '--current', '--live'], ['vcpucount', 'test', '--maximum', '--current', '--live'],
    ['iothreadinfo', 'test'], ['iothreadinfo', 'test', '--config'], ['-q', 'iothreadinfo', 'test'], ['emulatorpin', 'test'], ['emulatorpin', 'test', '--live'],
    ['-q', 'emulatorpin', 'test'], ['emulatorpin', 'test', 'r'], ['vcpupin', 'test'], ['vcpupin', 'test', '1'], ['vcpupin', 'test', '5'], ['vcpupin', 'test', '--config'],
    ['vcpupin', 'test', '--live', '--config'], ['vcpupin', 'test', '--cpulist', '0'], ['vcpupin', 'test', '0', '0-1'], ['vcpupin', 'test', '0', '99'], ['vcpupin', 'test', '0', 'x'],
    ['numatune', 'test'], ['numatune', 'test', '--config'], ['numatune', 'test', '--mode', 'bogus'], ['numatune', 'test', '--mode', 'strict', '--nodeset', '0'],
    ['schedinfo', 'test'], ['schedinfo', 'test', '--config'], ['schedinfo', 'test', '--live', '--config'], ['schedinfo', 'test', '--set', 'weight=100'],
    ['schedinfo', 'test', 'weight=x'], ['schedinfo', 'test', '--set', 'bogus=1'], ['schedinfo', 'test', '--set', 'weight'], ['schedinfo', 'test', '--cap', '10'],
    ['domjobinfo', 'test'], ['domjobinfo', 'test', '--completed'], ['domjobinfo', 'test', '--keep-completed'], ['domjobinfo', 'test', '--rawstats'],
    ['domlaunchsecinfo', 'test'], ['domhostname', 'test'], ['domhostname', 'test', '--source', 'lease'], ['domhostname', 'test', '--source', 'x'],
    ['capabilities'], ['domcapabilities'], ['domcapabilities', '--virttype', 'kvm', '--arch', 'x86_64'], ['freecell'], ['freecell', '--all'], ['-q', 'freecell', '--all'],
    ['freecell', '--cellno', '0'], ['freecell', '1'], ['freecell', '5'], ['freecell', '--all', '--cellno', '0'], ['freecell', 'x'],
    ['freepages', '--all'], ['freepages', '--all', '--pagesize', '4'], ['freepages', '--cellno', '0', '--pagesize', '4'], ['freepages', '--cellno', '0', '--pagesize', '2M'],
    ['freepages', '--cellno', '0', '--pagesize', '4x'], ['freepages', '--cellno', '0'], ['freepages', '--pagesize', '4'], ['freepages', '--cellno', '-2', '--pagesize', '4'],
    ['maxvcpus'], ['maxvcpus', '--type', 'test'], ['nodecpumap'], ['nodecpumap', '--pretty'], ['nodecpustats'], ['nodecpustats', '--cpu', '0'], ['nodecpustats', '--percent'],
    ['nodeinfo'], ['nodememstats'], ['nodememstats', '--cell', '0'], ['sysinfo'], ['cpu-models', 'x86_64'], ['cpu-models', 'bogus'],
    ['cpu-compare', CPU], ['cpu-compare', NOCPU], ['cpu-compare', join(tmp, 'missing.xml')], ['cpu-baseline', CPU], ['cpu-baseline', '--features', CPUS], ['cpu-baseline', DOMCAPS],
    ['hypervisor-cpu-compare', CPU], ['hypervisor-cpu-baseline', '--model', 'Haswell'], ['hypervisor-cpu-baseline'], ['hypervisor-cpu-baseline', '--file', CPU, '--model', 'x'],
    ['help', 'domstats'], ['help', 'vcpucount'], ['help', 'domif-getlink'], ['help', 'schedinfo'], ['help', 'numatune'], ['help', 'hypervisor-cpu-baseline'],
  ];
  for (const args of cases) it(args.join(' '), () => alike([...T, ...args]));
});

describe('monitoring and host commands on mpvirtd with a running guest, compared with virsh', () => {
  const r = new RpcHarness();
  const MAC = '52:54:00:6d:6f:31';
  let M: string[] = [];
  beforeAll(async () => {
    await r.start();
    M = ['-c', r.uri()];
    // mon1 runs with a user-mode NIC, for the interface commands
    writeFileSync(join(r.h.dir, 'mon1.xml'), r.h.xml('mon1').replace('</devices>', `<interface type='user'><mac address='${MAC}'/><model type='virtio'/></interface></devices>`));
    writeFileSync(join(r.h.dir, 'mon2.xml'), r.h.xml('mon2'));
    for (const name of ['mon1', 'mon2']) expect((await run(VIRSH, [...M, 'define', join(r.h.dir, `${name}.xml`)])).code).toBe(0);
    expect((await run(VIRSH, [...M, 'start', 'mon1'])).code).toBe(0);
  });
  afterAll(() => r.cleanup());

  const cases: string[][] = [
    ['domblkerror', 'mon1'], ['domblkinfo', 'mon1', 'sda'], ['domblkinfo', 'mon1', '--all'], ['domblkinfo', 'mon1', '--all', '--human'], ['domblkinfo', 'mon2', '--all'],
    ['domblkstat', 'mon1'], ['domblkstat', 'mon1', 'sda'], ['domblkstat', 'mon1', 'sda', '--human'], ['domblkstat', 'mon2', 'sda'], ['domcontrol', 'mon1'], ['domcontrol', 'mon2'],
    ['domif-getlink', 'mon1', 'vnet0'], ['domif-getlink', 'mon1', MAC], ['domif-getlink', 'mon1', MAC.toUpperCase(), '--persistent'], ['domif-getlink', 'mon2', MAC],
    ['domifaddr', 'mon1'], ['domifaddr', 'mon1', '--source', 'arp'], ['domifaddr', 'mon1', '--source', 'agent'], ['domifaddr', 'mon1', '--full', '--interface', 'x'],
    ['domifstat', 'mon1', 'vnet0'], ['domifstat', 'mon1', MAC],
    ['dommemstat', 'mon1'], ['dommemstat', 'mon2'], ['domtime', 'mon1'],
    ['domstats', '--state'], ['domstats', '--state', '--list-shutoff'], ['domstats', 'mon1', '--cpu-total', '--balloon', '--vcpu', '--interface', '--block'],
    ['domstats', 'mon1', '--perf', '--iothread', '--memory', '--dirtyrate'], ['domstats', '--vm', '--enforce'], ['domstats', 'mon2'],
    ['cpu-stats', 'mon1'], ['vcpuinfo', 'mon1'], ['vcpuinfo', 'mon1', '--pretty'], ['vcpuinfo', 'mon2'], ['vcpucount', 'mon1'], ['vcpucount', 'mon2'], ['vcpucount', 'mon1', '--maximum', '--live'],
    ['vcpucount', 'mon1', '--guest'], ['vcpucount', 'mon2', '--live'], ['iothreadinfo', 'mon1'], ['emulatorpin', 'mon1'], ['emulatorpin', 'mon2'], ['vcpupin', 'mon1'],
    ['vcpupin', 'mon2', '--live'], ['vcpupin', 'mon1', '3'], ['numatune', 'mon1'], ['schedinfo', 'mon1'], ['domjobinfo', 'mon1'], ['domjobinfo', 'mon1', '--completed'],
    ['domlaunchsecinfo', 'mon1'], ['domhostname', 'mon1'],
    ['capabilities'], ['domcapabilities'], ['maxvcpus'], ['nodeinfo'], ['nodecpumap'], ['nodecpustats'], ['nodememstats'], ['freecell'], ['freecell', '--all'],
    ['freepages', '--all'], ['sysinfo'], ['cpu-models', 'x86_64'], ['cpu-compare', CPU], ['cpu-baseline', CPUS], ['hypervisor-cpu-compare', CPU],
    ['hypervisor-cpu-baseline', '--model', 'Nehalem'],
  ];
  for (const args of cases) it(args.join(' '), () => alike([...M, ...args]));
});
