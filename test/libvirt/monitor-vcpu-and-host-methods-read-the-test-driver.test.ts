// The binding's monitoring, vCPU and host methods (domain-monitor.ts, domain-vcpus.ts,
// connection-host.ts) against libvirt's test driver, in process: the values the driver is
// documented to hand out (src/test/test_driver.c: a fixed 'test' domain and a fixed host), typed
// parameters with their types, libvirt-allocated arrays copied out and freed, and libvirt's errors
// for what the driver lacks.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, LibvirtError, type Connection, type Domain } from '../../src/libvirt/index.js';
import { DomainStatsTypes, TypedParameterType as T } from '../../src/libvirt/enums.js';

let c: Connection;
beforeAll(() => {
  c = connect('test:///default');
});
afterAll(() => c.close());
const withTest = <R>(fn: (d: Domain) => R): R => {
  const d = c.lookupDomainByName('test');
  try {
    return fn(d);
  } finally {
    d.free();
  }
};

function libvirtError(f: () => unknown): LibvirtError {
  try {
    f();
  } catch (e) {
    if (e instanceof LibvirtError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('a test-driver domain', () => {
  it('reports block statistics with their types, the legacy struct, block sizes and disk errors', () => withTest((d) => {
    // the test driver has only the pre-0.9.5 block statistics API (virsh falls back to it too)
    expect(libvirtError(() => d.blockStatsFlags('vda')).code).toBe('VIR_ERR_NO_SUPPORT');
    const legacy = d.blockStats('vda');
    expect(Object.keys(legacy)).toEqual(['rdReq', 'rdBytes', 'wrReq', 'wrBytes', 'errs']);
    expect(Object.values(legacy).every((v) => typeof v === 'number' && v > 0)).toBe(true);
    expect(libvirtError(() => d.blockStats('')).message).toBe('Operation not supported: summary statistics are not supported yet');
    expect(d.blockInfo('vda')).toEqual({ capacity: 1099506450432, allocation: 1099511627776, physical: 1099511627776 });
    expect(libvirtError(() => d.blockInfo('nosuch')).code).toBe('VIR_ERR_INVALID_ARG');
    expect(d.diskErrors()).toEqual([{ disk: 'vda', error: 1 }]);
  }));

  it('reports memory statistics by tag, the control state, addresses, hostname and time', () => withTest((d) => {
    const mem = d.memoryStats();
    expect(mem).toHaveLength(13);
    expect(mem[0]).toEqual({ tag: 6, value: 2097152 }); // VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON first
    expect(d.controlInfo()).toEqual({ state: 0, details: 0, stateTime: 0 });
    expect(d.interfaceAddresses(0)).toEqual([{ name: 'testnet0', hwaddr: 'aa:bb:cc:dd:ee:ff', addrs: [{ type: 0, addr: '192.168.122.3', prefix: 24 }] }]);
    expect(d.hostname()).toBe('testhost');
    expect(d.time()).toEqual({ seconds: 627319920, nseconds: 0 });
    expect(libvirtError(() => d.interfaceStats('nosuch')).message).toBe("invalid argument: 'nosuch' is not a known interface");
    const stats = d.interfaceStats('testnet0');
    expect(Object.values(stats).every((v) => typeof v === 'number' && v >= 0)).toBe(true);
  }));

  it('reports vCPUs, their pinning and the emulator pinning as CPU maps', () => withTest((d) => {
    const { info, cpumaps } = d.vcpus(2, 1);
    expect(info.map((v) => [v.number, v.state, v.cpu])).toEqual([[0, 1, 15], [1, 1, 15]]);
    expect(cpumaps.map((m) => m[0])).toEqual([0xff, 0xff]);
    expect([d.vcpusFlags(0), d.vcpusFlags(4), d.maxVcpus()]).toEqual([2, 2, 2]); // 4: VIR_DOMAIN_VCPU_MAXIMUM
    expect(libvirtError(() => d.vcpusFlags(16)).message).toBe('unsupported flags (0x10) in function testDomainGetVcpusFlags');
    expect(d.vcpuPinInfo(2, 1, 0).map((m) => m[0])).toEqual([0xff, 0xff]);
    expect(d.emulatorPinInfo(1, 0)[0]).toBe(0xff);
    expect(d.ioThreadInfo(0)).toEqual([]);
  }));

  it('pins a vCPU and the emulator, and reads the new maps back', () => {
    // test:///default is one driver per process: what this test changes it puts back
    using d = c.lookupDomainByName('test');
    d.pinVcpu(1, Buffer.from([0x03]));
    d.pinEmulator(Buffer.from([0x05]), 0);
    expect(d.vcpuPinInfo(2, 1, 0).map((m) => m[0])).toEqual([0xff, 0x03]);
    expect(d.emulatorPinInfo(1, 0)[0]).toBe(0x05);
    d.pinVcpu(1, Buffer.from([0xff]), 0);
    d.pinEmulator(Buffer.from([0xff]), 0);
    expect(d.vcpuPinInfo(2, 1, 0).map((m) => m[0])).toEqual([0xff, 0xff]);
  });

  it('sets NUMA parameters (a string among them) and the guest time, and reads them back', () => {
    // a driver of its own (a test:///FILE driver is private to its connection): this test changes it
    const node = join(mkdtempSync(join(tmpdir(), 'mpvirt-monitor-')), 'node.xml');
    writeFileSync(node, "<node><domain type='test'><name>t2</name><memory>65536</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain></node>");
    using c2 = connect(`test://${node}`);
    using d = c2.lookupDomainByName('t2');
    d.setNumaParameters([{ field: 'numa_nodeset', type: T.STRING, value: '0-1' }, { field: 'numa_mode', type: T.INT, value: 2 }], 0);
    expect(d.numaParameters(0)).toEqual([{ field: 'numa_mode', type: T.INT, value: 2 }, { field: 'numa_nodeset', type: T.STRING, value: '0-1' }]);
    d.setSchedulerParameters([{ field: 'weight', type: T.UINT, value: 100 }]);
    d.setTime(100, 0);
    expect(d.time()).toEqual({ seconds: 100, nseconds: 0 });
    rmSync(dirname(node), { recursive: true, force: true });
  });

  it('reports per-CPU and total CPU statistics with their types', () => withTest((d) => {
    expect(d.cpuStatsCount(0, 0)).toBe(2);
    const perCpu = d.cpuStatsCount(0, 1);
    const { cpus } = d.cpuStats(perCpu, 0, 2);
    expect(cpus.map((list) => list?.map((p) => [p.field, p.type]))).toEqual([
      [['cpu_time', T.ULLONG], ['vcpu_time', T.ULLONG]], [['cpu_time', T.ULLONG], ['vcpu_time', T.ULLONG]],
    ]);
    const total = d.cpuStats(d.cpuStatsCount(-1, 1), -1, 1);
    expect(total.filled).toBe(3);
    expect(total.cpus[0]?.map((p) => p.field)).toEqual(['cpu_time', 'user_time', 'system_time']);
  }));

  it('reports NUMA and scheduler parameters, strings included', () => withTest((d) => {
    expect(d.numaParameters(0)).toEqual([{ field: 'numa_mode', type: T.INT, value: 0 }, { field: 'numa_nodeset', type: T.STRING, value: '' }]);
    expect(d.schedulerType()).toEqual({ type: 'fair', nparams: 1 });
    expect(d.schedulerParameters(1)).toEqual([{ field: 'weight', type: T.UINT, value: 50 }]);
    // the Flags variant adds VIR_TYPED_PARAM_STRING_OKAY, which the test driver refuses
    expect(libvirtError(() => d.schedulerParameters(1, 0)).message).toBe('unsupported flags (0x4) in function testDomainGetSchedulerParametersFlags');
  }));

  it('fails as libvirt does for what the test driver lacks', () => withTest((d) => {
    expect(libvirtError(() => d.jobInfo()).code).toBe('VIR_ERR_NO_SUPPORT');
    expect(libvirtError(() => d.jobStats(0)).code).toBe('VIR_ERR_NO_SUPPORT');
    expect(libvirtError(() => d.launchSecurityInfo()).message).toBe('unsupported flags (0x4) in function testDomainGetLaunchSecurityInfo');
  }));
});

describe('the test driver host', () => {
  it('reports node info, free memory per cell, free pages and the CPU map', () => {
    expect(c.nodeInfo()).toEqual({ model: 'i686', memory: 3145728, cpus: 16, mhz: 1400, nodes: 2, sockets: 2, cores: 2, threads: 2 });
    expect(c.cellsFreeMemory(0, 2)).toEqual([2048 * 1024, 4096 * 1024]);
    expect(c.freeMemory()).toBe(3072 * 1024);
    expect(c.freePages([4, 8], 0, 2)).toEqual([[19, 45], [97, 201]]); // the driver's fixed sequence, cell after cell
    expect(c.nodeCpuMap(true)).toEqual({ cpus: 8, online: 3, map: Buffer.from([0x15]) });
    expect(c.nodeCpuMap(false)).toEqual({ cpus: 8, online: 0, map: null });
    expect(c.nodeCpuStats(-1).map((s) => s.field)).toEqual(['user', 'kernel', 'idle', 'iowait']);
  });

  it('lists CPU models, the vCPU maximum and sysinfo, and refuses what the driver lacks', () => {
    const models = c.cpuModelNames('x86_64');
    expect(models.slice(0, 3)).toEqual(['486', 'pentium', 'pentium2']);
    expect(models).toContain('Haswell');
    expect(c.maxVcpus(null)).toBe(32);
    expect(c.sysinfo()).toMatch(/^<sysinfo type='smbios'>/);
    expect(libvirtError(() => c.nodeMemoryStats(-1)).code).toBe('VIR_ERR_NO_SUPPORT');
    expect(libvirtError(() => c.domainCapabilities({ emulator: null, arch: null, machine: null, virttype: null })).code).toBe('VIR_ERR_NO_SUPPORT');
    expect(libvirtError(() => c.baselineHypervisorCpu({ emulator: null, arch: null, machine: null, virttype: null }, ['<cpu><model>Haswell</model></cpu>'])).code).toBe('VIR_ERR_NO_SUPPORT');
  });

  it('passes CPU definitions to the baseline call, and the comparison fails as the test driver has none', () => {
    const cpu = '<cpu><arch>i686</arch><model>pentium</model></cpu>';
    expect(libvirtError(() => c.compareCpu(cpu)).message).toBe('this function is not supported by the connection driver: virConnectCompareCPU');
    expect(c.baselineCpu([cpu, cpu])).toMatch(/^<cpu[ >][\s\S]*<model[^>]*>pentium<\/model>/);
  });

  it('returns domain statistics records whose parameters keep their types, as the untyped records hold them', () => {
    const typed = c.allDomainStatsTyped(0, 0);
    const plain = c.getAllDomainStats(0, 0);
    try {
      expect(typed.map((r) => r.domain.name)).toEqual(plain.map((r) => r.domain.name));
      for (const [i, r] of typed.entries()) expect(Object.fromEntries(r.params.map((p) => [p.field, p.value]))).toEqual(plain[i]!.stats.params);
      expect(typed[0]!.params.find((p) => p.field === 'state.state')).toEqual({ field: 'state.state', type: T.INT, value: 1 });
      const one = withTest((d) => c.domainListStatsTyped([d], DomainStatsTypes.STATE, 0));
      expect(one.map((r) => [r.domain.name, r.params.map((p) => p.field)])).toEqual([['test', ['state.state', 'state.reason']]]);
      one.forEach((r) => r.domain.free());
    } finally {
      typed.forEach((r) => r.domain.free());
      plain.forEach((r) => r.domain.free());
    }
  });
});
