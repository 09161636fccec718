/**
 * What libvirt 9.0 makes of a running guest's CPU (src/cpu/cpu_x86.c virCPUx86UpdateLive,
 * src/cpu/cpu.c virCPUUpdateLive, the checks of src/qemu/qemu_process.c
 * qemuProcessUpdateAndVerifyCPU), pure over the cpu map and what QEMU answered about the vCPU:
 * features QEMU enabled beyond the definition become `require`, those it could not give become
 * `disable`, and `check` becomes `full`. The driver asks the monitor (src/driver/live-cpu.ts).
 */
import { MpvirtError } from '../errors.js';
import { featureFromQemu } from './caps-cpu.js';
import { cpuidItem, dataAdd, dataIsEmpty, dataIsSubset, dataSubtract, type CpuData, type X86Map, type X86Model } from './cpu-map.js';
import type { CpuDef, CpuFeature, FeaturePolicy } from './cpu-x86.js';

/**
 * cpu_x86.c x86_kvm_features: names QEMU reports that libvirt checks without them being in the
 * cpu map (KVM_FEATURE_DEF: leaf, eax, edx). hv-vapic's 0x30 includes hv-relaxed's bit, as in libvirt.
 */
const INTERNAL: ReadonlyArray<readonly [string, number, number, number]> = [
  ['kvm_pv_unhalt', 0x40000001, 0x80, 0], ['hv-runtime', 0x40000003, 0x1, 0], ['hv-synic', 0x40000003, 0x4, 0],
  ['hv-stimer', 0x40000003, 0x8, 0], ['hv-relaxed', 0x40000003, 0x20, 0], ['hv-vapic', 0x40000003, 0x30, 0],
  ['hv-vpindex', 0x40000003, 0x40, 0], ['hv-reset', 0x40000003, 0x80, 0], ['hv-frequencies', 0x40000003, 0x800, 0],
  ['hv-reenlightenment', 0x40000003, 0x2000, 0], ['hv-tlbflush', 0x40000004, 0x4, 0], ['hv-avic', 0x40000004, 0x200, 0],
  ['hv-ipi', 0x40000004, 0x400, 0], ['hv-evmcs', 0x40000004, 0x4000, 0], ['hv-stimer-direct', 0x40000003, 0, 0x80000],
];
const internalData = new Map(INTERNAL.map(([n, leaf, eax, edx]) => [n, cpuidItem(leaf, 0, { eax, edx })]));

/** x86FeatureFind, then x86FeatureFindInternal */
function featureData(map: X86Map, name: string): CpuData | undefined {
  return map.featureByName.get(name)?.data ?? internalData.get(name);
}

/**
 * qemuMonitorJSONGetGuestCPU's data (QEMU with `unavailable-features`, as 7.2): the vCPU's boolean
 * QOM properties that are true, and its `unavailable-features`, each name in libvirt's spelling
 * (virQEMUCapsCPUFeatureFromQEMU) added through virCPUx86DataAddFeature, which skips names it does
 * not know (QEMU's CPU has many booleans that are no CPUID feature: `check`, `pmu`, `x-…`).
 */
export function cpuDataFromFeatureNames(map: X86Map, names: Iterable<string>): CpuData {
  const d: CpuData = new Map();
  for (const n of names) {
    const f = featureData(map, featureFromQemu(n));
    if (f) dataAdd(d, f);
  }
  return d;
}

/** One element of QEMU's `feature-words` / `filtered-features` (X86CPUFeatureWordInfo). */
export interface QmpFeatureWord {
  'cpuid-input-eax': number;
  'cpuid-input-ecx'?: number;
  'cpuid-register': string;
  features: number;
}

const REGISTERS = new Set(['EAX', 'EBX', 'ECX', 'EDX']);

/** qemuMonitorJSONParseCPUx86Features: the older path, for a QEMU without `unavailable-features`. */
export function cpuDataFromFeatureWords(words: readonly QmpFeatureWord[]): CpuData {
  const d: CpuData = new Map();
  for (const w of words) {
    const reg = w['cpuid-register'];
    if (!REGISTERS.has(reg)) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `unknown CPU register '${reg}'`);
    const key = reg.toLowerCase() as 'eax' | 'ebx' | 'ecx' | 'edx';
    dataAdd(d, cpuidItem(w['cpuid-input-eax'], w['cpuid-input-ecx'] ?? 0, { [key]: w.features }));
  }
  return d;
}

const unknownModel = (name: string): MpvirtError => new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Unknown CPU model ${name}`);

/** x86ModelFromCPU(cpu, map, -1 or one policy) for a guest CPU: the model's data with its features applied. */
function modelData(map: X86Map, cpu: CpuDef, policy: FeaturePolicy | -1): CpuData {
  const data: CpuData = new Map();
  if (cpu.model && (policy === 'require' || policy === -1)) {
    const m = map.modelByName.get(cpu.model);
    if (!m) throw unknownModel(cpu.model);
    dataAdd(data, m.data);
  }
  for (const f of cpu.features) {
    const fpol = f.policy ?? 'require';
    if ((policy === -1 && fpol === 'optional') || (policy !== -1 && fpol !== policy)) continue;
    const fd = map.featureByName.get(f.name);
    if (!fd) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Unknown CPU feature ${f.name}`);
    if (policy !== -1 || fpol === 'force' || fpol === 'require') dataAdd(data, fd.data);
    else if (fpol === 'disable' || fpol === 'forbid') dataSubtract(data, fd.data);
  }
  return data;
}

/** virCPUDefUpdateFeature: a listed feature gets the policy, another one is appended. */
function updateFeature(features: CpuFeature[], name: string, policy: FeaturePolicy): void {
  const f = features.find((x) => x.name === name);
  if (f) f.policy = policy;
  else features.push({ name, policy });
}

/** virCPUx86DisableRemovedFeatures: what the model no longer has is named disabled (if not listed). */
function disableRemoved(cpu: CpuDef, model: X86Model | undefined): void {
  for (const r of model?.removedFeatures ?? []) if (!cpu.features.some((f) => f.name === r)) cpu.features.push({ name: r, policy: 'disable' });
}

/**
 * virCPUx86UpdateLive: the definition rewritten to the vCPU QEMU made, or (check full) libvirt's
 * refusal when they differ. `disabled` is what QEMU could not give of what it was asked for.
 */
export function updateLiveX86(map: X86Map, input: CpuDef, enabled: CpuData, disabled: CpuData | undefined): CpuDef {
  const cpu: CpuDef = { ...input, features: input.features.map((f) => ({ ...f })) };
  const passthrough = cpu.mode === 'host-passthrough' || cpu.mode === 'maximum';
  const model = modelData(map, cpu, -1);
  const modelDisabled = passthrough ? modelData(map, cpu, 'disable') : undefined;
  const off = disabled ?? new Map();
  const added: string[] = [];
  const removed: string[] = [];
  for (const f of map.features) {
    let expected: 'require' | 'disable' | undefined;
    if (dataIsSubset(model, f.data)) expected = 'require';
    else if (!passthrough || dataIsSubset(modelDisabled!, f.data)) expected = 'disable';
    if (expected === 'disable' && dataIsSubset(enabled, f.data)) {
      if (cpu.check === 'full') added.push(f.name);
      else updateFeature(cpu.features, f.name, 'require');
    }
    if (dataIsSubset(off, f.data) || (expected === 'require' && !dataIsSubset(enabled, f.data))) {
      if (cpu.check === 'full') removed.push(f.name);
      else updateFeature(cpu.features, f.name, 'disable');
    }
  }
  disableRemoved(cpu, cpu.model ? map.modelByName.get(cpu.model) : undefined);
  const fail = (d: string): MpvirtError => new MpvirtError('VIR_ERR_OPERATION_FAILED', `guest CPU doesn't match specification${d}`);
  if (added.length > 0 && removed.length > 0) throw fail(`: extra features: ${added.join(',')}, missing features: ${removed.join(',')}`);
  if (added.length > 0) throw fail(`: extra features: ${added.join(',')}`);
  if (removed.length > 0) throw fail(`: missing features: ${removed.join(',')}`);
  if (cpu.check === 'full' && !dataIsEmpty(off)) throw fail('');
  return cpu;
}

/**
 * qemuProcessUpdateLiveGuestCPU over virCPUUpdateLive: a custom CPU (host-model has become one
 * before the start) or one checked in full is updated and then shown with check='full'; any other
 * (host-passthrough, maximum) is left as defined. A `<cpu>` with only a topology is never touched.
 */
export function liveGuestCpu(map: X86Map, cpu: CpuDef | undefined, enabled: CpuData | undefined, disabled: CpuData | undefined): CpuDef | undefined {
  if (!enabled || !cpu || (cpu.mode === 'custom' && !cpu.model)) return undefined;
  if (cpu.mode !== 'custom' && cpu.check !== 'full') return undefined;
  return { ...updateLiveX86(map, cpu, enabled, disabled), check: 'full' };
}

/** What qemuProcessVerifyCPU checks besides the CPU definition: `<features>` the guest asked for. */
export interface GuestCpuAsks {
  /** `<pvspinlock state='on'/>` */
  pvspinlock: boolean;
  /** `<hyperv>` children with state='on', libvirt's names, spinlocks and vendor_id left out */
  hyperv: string[];
  /** `<stimer state='on'><direct state='on'/></stimer>` */
  stimerDirect: boolean;
}

/**
 * qemuProcessVerifyKVMFeatures, qemuProcessVerifyHypervFeatures, qemuProcessVerifyCPUFeatures:
 * the start fails when QEMU's vCPU lacks what the definition insists on. Returns the warnings
 * libvirt only logs (relaxed, vapic).
 */
export function verifyGuestCpu(map: X86Map, asks: GuestCpuAsks, cpu: CpuDef | undefined, enabled: CpuData | undefined): string[] {
  if (!enabled) return [];
  const has = (name: string): boolean => {
    const d = featureData(map, name);
    if (!d) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `unknown CPU feature ${name}`);
    return dataIsSubset(enabled, d);
  };
  const unsupported = (d: string): MpvirtError => new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', d);
  if (asks.pvspinlock && !has('kvm_pv_unhalt')) throw unsupported("host doesn't support paravirtual spinlocks");
  const warnings: string[] = [];
  for (const h of asks.hyperv) {
    if (has(`hv-${h}`)) {
      if (h === 'stimer' && asks.stimerDirect && !has('hv-stimer-direct')) throw unsupported("host doesn't support hyperv stimer 'direct' feature");
      continue;
    }
    if (h === 'relaxed' || h === 'vapic') warnings.push(`host doesn't support hyperv '${h}' feature`);
    else throw unsupported(`host doesn't support hyperv '${h}' feature`);
  }
  if (!cpu || (cpu.mode === 'custom' && !cpu.model)) return warnings;
  const invtsc = map.featureByName.get('invtsc');
  if (invtsc && dataIsSubset(modelData(map, cpu, -1), invtsc.data) && !has('invtsc')) throw unsupported("host doesn't support invariant TSC");
  return warnings;
}

/** virQEMUCapsCPUFilterFeatures: features libvirt never passes to QEMU, dropped from the definition */
const NEVER_PASSED = new Set(['cmt', 'mbm_total', 'mbm_local', 'osxsave', 'ospke']);

/**
 * What qemuProcessUpdateGuestCPU does to the definition before QEMU starts, for the live XML:
 * host-model becomes the host-model CPU (x86UpdateHostModel: custom, exact, its model, vendor and
 * features, the guest's own features over them), a named model's fallback becomes forbid (QEMU
 * gets exactly it), removed features are named disabled, and features QEMU never gets go
 * (`qemuFeatures`: what QEMU's expansion knows; an unknown disabled one is implicitly disabled).
 */
export function preparedGuestCpu(map: X86Map, cpu: CpuDef, hostModel: CpuDef | undefined, qemuFeatures: readonly string[] | undefined): CpuDef {
  let out: CpuDef = { ...cpu, features: cpu.features.map((f) => ({ ...f })) };
  if (out.mode === 'custom' && !out.model) return out;
  if (out.mode === 'host-model') {
    if (!hostModel) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', 'unknown host CPU model');
    const features = hostModel.features.map((f) => ({ ...f }));
    for (const f of out.features) updateFeature(features, f.name, f.policy ?? 'require');
    const { vendor: _guestVendor, ...rest } = out;
    out = { ...rest, mode: 'custom', match: 'exact', ...(hostModel.model ? { model: hostModel.model } : {}), ...(hostModel.vendor ? { vendor: hostModel.vendor } : {}), features };
  }
  if (out.mode === 'custom') {
    if (out.model && !map.modelByName.has(out.model)) throw unknownModel(out.model);
    disableRemoved(out, out.model ? map.modelByName.get(out.model) : undefined);
    out.fallback = 'forbid';
  }
  out.features = out.features.filter((f) => !NEVER_PASSED.has(f.name));
  if (qemuFeatures) {
    const known = new Set(qemuFeatures);
    out.features = out.features.filter((f) => (f.policy !== 'disable' && f.policy !== 'forbid') || known.has(f.name));
  }
  return out;
}
