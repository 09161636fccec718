/**
 * Domain capabilities and the host CPU APIs, as libvirt 9.0's QEMU driver answers them
 * (qemu_driver.c qemuConnectGetDomainCapabilities, qemuConnectGetCPUModelNames,
 * qemuConnectCompareCPU, qemuConnectBaselineCPU and their hypervisor variants; the argument
 * rules of qemu_capabilities.c virQEMUCapsCacheLookupDefault). The XML and the CPU algorithms
 * are pure (src/emulator/domain-caps.ts, cpu-x86.ts); this file reads what they need from the
 * host: libvirt's cpu_map (shipped by libvirt0, read as libvirtd reads it), the host's CPUID
 * through /dev/cpu/0/cpuid (libvirtd runs the instruction itself) and KVM's vCPU limit.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { MpvirtError, checkFlags } from '../errors.js';
import type { QemuCaps } from '../emulator/caps.js';
import { resolveMachine } from '../emulator/caps.js';
import { cpuMapModelNames, cpuidItem, dataAdd, loadX86Map, type CpuData, type X86Map } from '../emulator/cpu-map.js';
import { formatGuestCpu, parseCpuXml } from '../emulator/cpu-def.js';
import { baselineX86, compareX86, decodeX86, type CompareResult, type CpuDef } from '../emulator/cpu-x86.js';
import { buildDomainCapsXml, hostModelCpu, hostModelFeatureNames, hvModels } from '../emulator/domain-caps.js';
import type { DriverCore } from './core.js';

export const CPU_MAP_DIR = '/usr/share/libvirt/cpu_map';

let x86Map: X86Map | undefined;
const readMapFile = (name: string): string => readFileSync(join(CPU_MAP_DIR, name), 'utf8');
export function cpuMap(): X86Map {
  x86Map ??= loadX86Map(readMapFile);
  return x86Map;
}

/** virDomainVirtType names (an unknown one is refused by name) */
const VIRT_TYPES = new Set(['none', 'qemu', 'kqemu', 'kvm', 'xen', 'lxc', 'uml', 'openvz', 'test', 'vmware', 'hyperv', 'vbox', 'phyp', 'parallels', 'bhyve', 'vz', 'hvf']);
const X86 = new Set(['i686', 'x86_64']);

interface Lookup { caps: QemuCaps; emulator: string; arch: string; virttype: 'qemu' | 'kvm'; machine: string }

/** virQEMUCapsCacheLookupDefault: defaults and libvirt's refusals for emulator, arch, virt type, machine */
async function lookupDefault(core: DriverCore, emulator: string | null, arch: string | null, virttype: string | null, machine: string | null): Promise<Lookup> {
  if (virttype !== null && !VIRT_TYPES.has(virttype)) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unknown virttype: ${virttype}`);
  if (arch !== null && !parseArch(arch)) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unknown architecture: ${arch}`);
  const wanted = arch ?? 'x86_64';
  if (emulator === null && !X86.has(wanted)) {
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `unable to find any emulator to serve '${wanted}' architecture`);
  }
  const bin = emulator ?? core.defaultEmulator;
  const caps = await core.caps.get(bin);
  if (!X86.has(wanted)) throw new MpvirtError('VIR_ERR_INVALID_ARG', `architecture from emulator 'x86_64' doesn't match given architecture '${wanted}'`);
  const capsType = caps.extra?.cpu.kvm ? 'kvm' : 'qemu';
  const vt = virttype ?? capsType;
  if ((vt === 'kvm' || vt === 'hvf') && capsType === 'qemu') throw new MpvirtError('VIR_ERR_INVALID_ARG', `the accel '${vt}' is not supported by '${bin}' on this host`);
  if (vt !== 'qemu' && vt !== 'kvm') throw new MpvirtError('VIR_ERR_INVALID_ARG', `the machine '${machine ?? ''}' is not supported by emulator '${bin}'`);
  let m: string;
  if (machine !== null) {
    const found = resolveMachine(caps, machine);
    if (!found || found.name === 'none' && machine !== 'none') throw new MpvirtError('VIR_ERR_INVALID_ARG', `the machine '${machine}' is not supported by emulator '${bin}'`);
    m = found.name;
  } else {
    m = (caps.machines.find((x) => x.isDefault) ?? caps.machines[0])?.name ?? '';
  }
  return { caps, emulator: bin, arch: wanted, virttype: vt, machine: m };
}

const ARCH_NAMES = new Set(['alpha', 'armv6l', 'armv7l', 'armv7b', 'aarch64', 'cris', 'i686', 'ia64', 'lm32', 'loongarch64', 'm68k', 'microblaze', 'microblazeel', 'mips', 'mipsel', 'mips64', 'mips64el', 'openrisc', 'parisc', 'parisc64', 'ppc', 'ppcle', 'ppc64', 'ppc64le', 'ppcemb', 'riscv32', 'riscv64', 's390', 's390x', 'sh4', 'sh4eb', 'sparc', 'sparc64', 'unicore32', 'x86_64', 'xtensa', 'xtensaeb']);
const parseArch = (a: string): boolean => ARCH_NAMES.has(a);

/** virHostCPUGetKVMMaxVCPUs: KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPUS), else KVM_CAP_NR_VCPUS */
let kvmMax: number | null | undefined;
function kvmMaxVcpus(): number | undefined {
  if (kvmMax !== undefined) return kvmMax ?? undefined;
  kvmMax = null;
  let fd: number | undefined;
  try {
    fd = openSync('/dev/kvm', 'r+');
    const ioctl = koffi.load('libc.so.6').func('int ioctl(int, unsigned long, unsigned long)') as (fd: number, req: number, arg: number) => number;
    const KVM_CHECK_EXTENSION = 0xae03;
    const n = ioctl(fd, KVM_CHECK_EXTENSION, 66);
    kvmMax = n > 0 ? n : Math.max(0, ioctl(fd, KVM_CHECK_EXTENSION, 9)) || null;
  } catch {
    kvmMax = null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return kvmMax ?? undefined;
}

export async function getDomainCapabilities(core: DriverCore, emulator: string | null, arch: string | null, machine: string | null, virttype: string | null, flags: number): Promise<string> {
  checkFlags(flags, 0, 'virConnectGetDomainCapabilities');
  const l = await lookupDefault(core, emulator, arch, virttype, machine);
  const kvm = l.virttype === 'kvm' ? kvmMaxVcpus() : undefined;
  return buildDomainCapsXml(l.caps, cpuMap(), { emulator: l.emulator, arch: l.arch, virttype: l.virttype, machine: l.machine, ...(kvm === undefined ? {} : { kvmMaxVcpus: kvm }) });
}

/** virCPUGetModels: cpu_map's models of the arch's section; arches without models accept any */
export function getCpuModelNames(arch: string, flags: number): string[] {
  checkFlags(flags, 0, 'virConnectGetCPUModelNames');
  if (!parseArch(arch)) throw new MpvirtError('VIR_ERR_INVALID_ARG', `cannot find architecture ${arch}`);
  if (X86.has(arch)) return cpuMapModelNames(readMapFile, 'x86');
  if (arch === 'ppc64' || arch === 'ppc64le') return cpuMapModelNames(readMapFile, 'ppc64');
  return [];
}

// ------------------------------------------------------------------ the host CPU

/** One CPUID leaf from the kernel's cpuid driver: the offset is the leaf, the subleaf in the high word */
function readCpuid(fd: number, leaf: number, subleaf: number): [number, number, number, number] {
  const b = Buffer.alloc(16);
  readSync(fd, b, 0, 16, (BigInt(subleaf) << 32n) | BigInt(leaf));
  return [b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12)];
}

/**
 * virCPUx86GetHost's data, limited to the leaves libvirt's map names (leaf 0 for the vendor,
 * leaf 1 for the signature and every leaf a feature lives in): decoding reads nothing else.
 */
function hostCpuData(map: X86Map): CpuData {
  const data: CpuData = new Map();
  const fd = openSync('/dev/cpu/0/cpuid', 'r');
  try {
    const maxBasic = readCpuid(fd, 0, 0)[0];
    const maxExt = readCpuid(fd, 0x80000000, 0)[0];
    const leaves = new Set(['0:0', '1:0']);
    for (const f of map.features) for (const k of f.data.keys()) if (k.startsWith('c:')) leaves.add(k.slice(2));
    for (const l of leaves) {
      const [leaf, sub] = l.split(':').map(Number) as [number, number];
      if (leaf >= 0x80000000 ? leaf > maxExt : leaf > maxBasic) continue;
      const [eax, ebx, ecx, edx] = readCpuid(fd, leaf, sub);
      dataAdd(data, cpuidItem(leaf, sub, { eax, ebx, ecx, edx }));
    }
  } finally {
    closeSync(fd);
  }
  return data;
}

let hostCpuCache: CpuDef | undefined;
/** The host CPU `virsh capabilities` of libvirt reports (virCPUGetHost, type host). */
function hostCpu(): CpuDef {
  if (hostCpuCache) return hostCpuCache;
  const map = cpuMap();
  let data: CpuData;
  try {
    data = hostCpuData(map);
  } catch (e) {
    throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `cannot read the host CPUID: ${(e as Error).message}`, { cause: e });
  }
  hostCpuCache = { ...decodeX86(map, data, { type: 'host' }), arch: 'x86_64' };
  return hostCpuCache;
}

const VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE = 1;
const COMPARE_FLAGS = VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE | 2;
const RESULT_NUMBER: Record<CompareResult, number> = { incompatible: 0, identical: 1, superset: 2 };

/** virCPUx86Compare: an incompatible CPU is an error with its reason when the caller asked so */
function compareResult(r: { result: CompareResult; message?: string }, flags: number): number {
  if (r.result === 'incompatible' && flags & VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE) throw new MpvirtError('VIR_ERR_CPU_INCOMPATIBLE', r.message ?? '');
  return RESULT_NUMBER[r.result];
}

/** `virsh cpu-compare`: the CPU against the host CPU */
export function compareCpu(xml: string, flags: number): number {
  checkFlags(flags, COMPARE_FLAGS, 'virConnectCompareCPU');
  return compareResult(compareX86(cpuMap(), hostCpu(), parseCpuXml(xml, 'auto')), flags);
}

/** `virsh hypervisor-cpu-compare`: the CPU against the host-model CPU of the virt type */
export async function compareHypervisorCpu(core: DriverCore, emulator: string | null, arch: string | null, machine: string | null, virttype: string | null, xml: string, flags: number): Promise<number> {
  checkFlags(flags, COMPARE_FLAGS, 'virConnectCompareHypervisorCPU');
  const l = await lookupDefault(core, emulator, arch, virttype, machine);
  const hv = hostModelCpu(cpuMap(), l.caps.extra?.cpu[l.virttype === 'kvm' ? 'kvm' : 'tcg']);
  if (!hv) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `QEMU '${l.emulator}' does not support reporting CPU model for virttype '${l.virttype}'`);
  return compareResult(compareX86(cpuMap(), hv, parseCpuXml(xml, 'auto')), flags);
}

const BASELINE_EXPAND = 1;
const BASELINE_MIGRATABLE = 2;
/** virQEMUCapsCPUFilterFeatures: features QEMU never gets from libvirt */
const QEMU_DROPPED = new Set(['cmt', 'mbm_total', 'mbm_local', 'osxsave', 'ospke']);

function parseList(xmls: readonly string[], type: 'host' | 'auto'): CpuDef[] {
  if (xmls.length === 0) throw new MpvirtError('VIR_ERR_INVALID_ARG', 'no CPUs given');
  return xmls.map((x) => parseCpuXml(x, type));
}

function checkModels(cpus: readonly CpuDef[]): void {
  cpus.forEach((c, i) => { if (!c.model) throw new MpvirtError('VIR_ERR_INVALID_ARG', `no CPU model specified at index ${i}`); });
}

/** `virsh cpu-baseline`: host CPUs' baseline over all of libvirt's models */
export function baselineCpu(xmls: readonly string[], flags: number): string {
  checkFlags(flags, BASELINE_EXPAND | BASELINE_MIGRATABLE, 'virConnectBaselineCPU');
  if (flags & BASELINE_EXPAND) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', 'expanding CPU features is not supported by mpvirt');
  const cpus = parseList(xmls, 'host');
  checkModels(cpus);
  const b = baselineX86(cpuMap(), cpus, undefined, undefined, (flags & BASELINE_MIGRATABLE) !== 0);
  return formatGuestCpu({ ...b, features: b.features.filter((f) => !QEMU_DROPPED.has(f.name)) });
}

/** `virsh hypervisor-cpu-baseline`: the baseline over the models QEMU offers for the virt type */
export async function baselineHypervisorCpu(core: DriverCore, emulator: string | null, arch: string | null, machine: string | null, virttype: string | null, xmls: readonly string[], flags: number): Promise<string> {
  checkFlags(flags, BASELINE_EXPAND | BASELINE_MIGRATABLE, 'virConnectBaselineHypervisorCPU');
  if (flags & BASELINE_EXPAND) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', 'expanding CPU features is not supported by mpvirt');
  const cpus = parseList(xmls, 'auto');
  const l = await lookupDefault(core, emulator, arch, virttype, machine);
  const accel = l.caps.extra?.cpu[l.virttype === 'kvm' ? 'kvm' : 'tcg'];
  const models = hvModels(accel);
  if (models.length === 0) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `QEMU '${l.emulator}' does not support any CPU models for virttype '${l.virttype}'`);
  checkModels(cpus);
  // QEMU's property list carries no migratability libvirt would filter again (virQEMUCapsGetCPUFeatures)
  const b = baselineX86(cpuMap(), cpus, models, hostModelFeatureNames(accel), false);
  return formatGuestCpu({ ...b, fallback: 'forbid' });
}
