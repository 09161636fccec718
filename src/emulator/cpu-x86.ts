/**
 * libvirt 9.0's x86 CPU driver algorithms (src/cpu/cpu_x86.c), pure over a loaded cpu map:
 * decoding CPUID data into a model plus features (x86Decode, used for the host-model CPU of
 * domain capabilities and for the host CPU), comparing a CPU with a host or hypervisor CPU
 * (x86Compute) and computing a baseline (virCPUx86Baseline).
 */
import { MpvirtError } from '../errors.js';
import {
  dataAdd, dataCopy, dataIntersect, dataIsEmpty, dataIsSubset, dataSignature, dataSubtract, signatureParts,
  signaturesMatch, vendorData, type CpuData, type X86Map, type X86Model, type X86Vendor,
} from './cpu-map.js';

export type FeaturePolicy = 'force' | 'require' | 'optional' | 'disable' | 'forbid';
export interface CpuFeature { name: string; policy: FeaturePolicy | undefined }

/** The parts of libvirt's virCPUDef these algorithms read and write. */
export interface CpuDef {
  type: 'host' | 'guest';
  mode?: 'custom' | 'host-model' | 'host-passthrough' | 'maximum';
  match?: 'minimum' | 'exact' | 'strict';
  check?: string;
  fallback?: 'allow' | 'forbid';
  arch?: string;
  model?: string;
  vendor?: string;
  features: CpuFeature[];
}

/** One CPU model as the hypervisor reports it (virDomainCapsCPUModel). */
export interface HvModel { name: string; usable: boolean; blockers: string[] }

export type CompareResult = 'incompatible' | 'identical' | 'superset';

/** x86DataToCPUFeatures: the map's features contained in `d`, in map order, removed from `d` */
function dataToFeatures(map: X86Map, d: CpuData, policy: FeaturePolicy, out: CpuFeature[]): void {
  for (const f of map.features) {
    if (dataIsSubset(d, f.data)) {
      dataSubtract(d, f.data);
      if (!out.some((o) => o.name === f.name)) out.push({ name: f.name, policy });
    }
  }
}

/** x86DataToVendor: the vendor whose string is in leaf 0, cleared from `d` */
function dataToVendor(map: X86Map, d: CpuData): X86Vendor | undefined {
  for (const v of map.vendors) {
    if (dataIsSubset(d, v.data)) {
      dataSubtract(d, v.data);
      return v;
    }
  }
  return undefined;
}

/** x86DataToCPU: `model` plus the features `data` has beyond it, minus those it lacks (and blockers) */
function dataToCpu(map: X86Map, data: CpuData, model: X86Model, hv: HvModel | undefined, type: CpuDef['type']): CpuDef {
  const copy = dataCopy(data);
  const modelData = dataCopy(model.data);
  const vendor = dataToVendor(map, copy);
  dataSubtract(copy, modelData);
  dataSubtract(modelData, data);
  for (const b of hv?.blockers ?? []) {
    const f = map.featureByName.get(b);
    if (f && !dataIsSubset(copy, f.data)) dataAdd(modelData, f.data);
  }
  const features: CpuFeature[] = [];
  dataToFeatures(map, copy, 'require', features);
  dataToFeatures(map, modelData, 'disable', features);
  // virCPUx86DisableRemovedFeatures: a guest CPU always names what its model no longer has
  if (type === 'guest') for (const r of model.removedFeatures) if (!features.some((f) => f.name === r)) features.push({ name: r, policy: 'disable' });
  return { type, model: model.name, ...(vendor ? { vendor: vendor.name } : {}), features };
}

const BASE_PENALTY = 2;

/** virCPUx86CompareCandidateFeatureList */
function betterFeatureList(current: CpuDef, candidate: CpuDef, isPreferred: boolean): boolean {
  const score = (c: CpuDef): { total: number; disabled: number } => {
    if (c.type === 'host') return { total: c.features.length, disabled: 0 };
    let enabled = c.features.length;
    let disabled = 0;
    let penalty = BASE_PENALTY;
    // libvirt's loop bound shrinks with each disabled feature, so the last ones go unseen: kept as is
    for (let i = 0; i < enabled; i++) {
      if (c.features[i]!.policy === 'disable') {
        enabled--;
        disabled += penalty++;
      }
    }
    return { total: enabled + disabled, disabled };
  };
  // libvirt scores the current CPU with the candidate's type
  const cur = score({ ...current, type: candidate.type });
  const cand = score(candidate);
  if (cand.total < cur.total || (cand.total === cur.total && cand.disabled < cur.disabled)) return true;
  return isPreferred && cand.disabled < cur.disabled;
}

/** x86DecodeUseCandidate: 0 current is better, 1 candidate is, 2 candidate is the preferred one */
function useCandidate(current: X86Model | undefined, cpuCurrent: CpuDef | undefined, candidate: X86Model, cpuCandidate: CpuDef, signature: number, preferred: readonly string[] | undefined): 0 | 1 | 2 {
  if (cpuCandidate.type === 'host' && !candidate.decodeHost) return 0;
  if (cpuCandidate.type === 'guest' && !candidate.decodeGuest) return 0;
  if (cpuCandidate.type === 'host') {
    if (cpuCandidate.features.some((f) => f.policy === 'disable')) return 0;
    for (const f of cpuCandidate.features) f.policy = undefined;
  }
  let isPreferred = false;
  if (preferred) {
    isPreferred = preferred.includes(cpuCandidate.model ?? '');
    if (isPreferred && preferred.length === 1) return 2;
  }
  if (!cpuCurrent || !current) return 1;
  if (signature) {
    const curMatch = signaturesMatch(current.signatures, signature);
    const candMatch = signaturesMatch(candidate.signatures, signature);
    if (curMatch && !candMatch) return 0;
    if (!curMatch && candMatch) return 1;
  }
  return betterFeatureList(cpuCurrent, cpuCandidate, isPreferred) ? 1 : 0;
}

/** x86DataFilterTSX: Intel family 6 models with broken TSX lose hle and rtm */
function filterTsx(map: X86Map, d: CpuData, vendor: X86Vendor | undefined): void {
  if (vendor?.name !== 'Intel') return;
  const { family, model, stepping } = signatureParts(d.get('c:1:0')?.[0] ?? 0);
  if (family === 6 && ((model === 63 && stepping < 4) || model === 60 || model === 69 || model === 70)) {
    for (const n of ['hle', 'rtm']) {
      const f = map.featureByName.get(n);
      if (f) dataSubtract(d, f.data);
    }
  }
}

export interface DecodeOptions {
  /** the hypervisor's models: only these are candidates (with their blockers) */
  models?: readonly HvModel[];
  preferred?: readonly string[];
  /** guest CPUs keep feature policies and list removed features; host CPUs do neither */
  type: CpuDef['type'];
  fallback?: CpuDef['fallback'];
  migratable?: boolean;
}

/** x86Decode: the best model for `cpuData` (newest first) and the features it differs by. */
export function decodeX86(map: X86Map, cpuData: CpuData, opts: DecodeOptions): CpuDef {
  const data = dataCopy(cpuData);
  const vendor = dataToVendor(map, data);
  const signature = dataSignature(data);
  filterTsx(map, data, vendor);
  const preferred = opts.preferred && opts.preferred.length > 0 ? opts.preferred : undefined;
  let model: X86Model | undefined;
  let cpuModel: CpuDef | undefined;
  for (let i = map.models.length - 1; i >= 0; i--) {
    const candidate = map.models[i]!;
    const hv = opts.models?.find((m) => m.name === candidate.name);
    if (opts.models && !hv) {
      if (preferred?.length === 1 && candidate.name === preferred[0] && opts.fallback !== 'allow') {
        throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `CPU model ${preferred[0]} is not supported by hypervisor`);
      }
      continue;
    }
    if (vendor && candidate.vendor && vendor !== candidate.vendor) continue;
    const cpuCandidate = dataToCpu(map, data, candidate, hv, opts.type);
    const rc = useCandidate(model, cpuModel, candidate, cpuCandidate, signature, preferred);
    if (rc) {
      cpuModel = cpuCandidate;
      model = candidate;
      if (rc === 2) break;
    }
  }
  if (!cpuModel) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'Cannot find suitable CPU model for given data');
  let features = cpuModel.features;
  if (opts.migratable) features = features.filter((f) => map.featureByName.get(f.name)?.migratable !== false);
  return { type: opts.type, model: cpuModel.model!, ...(vendor ? { vendor: vendor.name } : {}), features };
}

/** x86ModelFromCPU: the data of a CPU's model and features of one policy (-1 = as the CPU runs) */
function modelFromCpu(map: X86Map, cpu: CpuDef, policy: FeaturePolicy | -1): { data: CpuData; vendor?: X86Vendor } {
  if (cpu.type === 'host' && policy !== 'require' && policy !== -1) return { data: new Map() };
  let data: CpuData = new Map();
  let vendor: X86Vendor | undefined;
  if (cpu.model && (policy === 'require' || policy === -1)) {
    const m = map.modelByName.get(cpu.model);
    if (!m) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Unknown CPU model ${cpu.model}`);
    data = dataCopy(m.data);
    vendor = m.vendor;
  }
  for (const f of cpu.features) {
    const fpol = f.policy ?? 'require';
    if ((policy === -1 && fpol === 'optional') || (policy !== -1 && fpol !== policy)) continue;
    const feat = map.featureByName.get(f.name);
    if (!feat) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Unknown CPU feature ${f.name}`);
    if (policy === -1 && (fpol === 'disable' || fpol === 'forbid')) dataSubtract(data, feat.data);
    else dataAdd(data, feat.data);
  }
  return { data, ...(vendor ? { vendor } : {}) };
}

/** x86ModelCompare, item by item: equal, superset, subset or unrelated */
function modelCompare(a: CpuData, b: CpuData): 'equal' | 'superset' | 'subset' | 'unrelated' {
  let result: 'equal' | 'superset' | 'subset' | 'unrelated' = 'equal';
  const contains = (x: readonly number[], y: readonly number[]): boolean => x.every((w, i) => ((w & y[i]!) >>> 0) === y[i]);
  const step = (x: CpuData, y: CpuData, whenMissing: 'superset' | 'subset'): boolean => {
    for (const [k, v1] of x) {
      let match: 'superset' | 'subset' = whenMissing;
      const v2 = y.get(k);
      if (v2) {
        if (v1.every((w, i) => w === v2[i])) continue;
        if (!contains(v1, v2)) match = whenMissing === 'superset' ? 'subset' : 'superset';
      }
      if (result === 'equal') result = match;
      else if (result !== match) return false;
    }
    return true;
  };
  if (!step(a, b, 'superset') || !step(b, a, 'subset')) return 'unrelated';
  return result;
}

const X86_ARCHS = new Set(['i686', 'x86_64']);

/** x86FeatureNames: the map's features whose bits are all in `d`, in map order */
const featureNames = (map: X86Map, d: CpuData): string => map.features.filter((f) => dataIsSubset(d, f.data)).map((f) => f.name).join(', ');

/** x86Compute: the result, and for an incompatible CPU libvirt's reason (shown with --error). */
export function compareX86(map: X86Map, host: CpuDef, cpu: CpuDef): { result: CompareResult; message?: string } {
  const no = (message: string): { result: CompareResult; message: string } => ({ result: 'incompatible', message });
  if (cpu.arch !== undefined && !X86_ARCHS.has(cpu.arch)) return no(`CPU arch ${cpu.arch} does not match host arch`);
  if (cpu.vendor && (!host.vendor || cpu.vendor !== host.vendor)) return no(`host CPU vendor does not match required CPU vendor ${cpu.vendor}`);
  const hostModel = modelFromCpu(map, host, -1).data;
  const [force, require, optional, disable, forbid] = (['force', 'require', 'optional', 'disable', 'forbid'] as const).map((p) => modelFromCpu(map, cpu, p).data);
  dataIntersect(forbid!, hostModel);
  if (!dataIsEmpty(forbid!)) return no(`Host CPU provides forbidden features: ${featureNames(map, forbid!)}`);
  for (const d of [force!, optional!, disable!]) dataSubtract(require!, d);
  const r = modelCompare(hostModel, require!);
  if (r === 'subset' || r === 'unrelated') {
    dataSubtract(require!, hostModel);
    return no(`Host CPU does not provide required features: ${featureNames(map, require!)}`);
  }
  const diff = dataCopy(hostModel);
  for (const d of [optional!, require!, disable!, force!]) dataSubtract(diff, d);
  const result: CompareResult = dataIsEmpty(diff) ? 'identical' : 'superset';
  if (result === 'superset' && cpu.type === 'guest' && cpu.match === 'strict') return no(`Host CPU does not strictly match guest CPU: Extra features: ${featureNames(map, diff)}`);
  return { result };
}

/** virCPUx86Baseline: the richest CPU all `cpus` can run, decoded over `models` when given. */
export function baselineX86(map: X86Map, cpus: readonly CpuDef[], models: readonly HvModel[] | undefined, features: readonly string[] | undefined, migratable: boolean): CpuDef {
  const first = cpus[0]!;
  const base = modelFromCpu(map, first, -1).data;
  let outputVendor = first.vendor !== undefined;
  let vendor: X86Vendor | undefined;
  if (first.vendor) {
    vendor = map.vendors.find((v) => v.name === first.vendor);
    if (!vendor) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `Unknown CPU vendor ${first.vendor}`);
  }
  const names: string[] = first.model ? [first.model] : [];
  for (const c of cpus.slice(1)) {
    if (c.model && !names.includes(c.model)) names.push(c.model);
    const m = modelFromCpu(map, c, -1);
    if (c.vendor && m.vendor && c.vendor !== m.vendor.name) {
      throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `CPU vendor ${m.vendor.name} of model ${c.model} differs from vendor ${c.vendor}`);
    }
    let vn = c.vendor;
    if (!vn) {
      outputVendor = false;
      vn = m.vendor?.name;
    }
    if (vn) {
      if (!vendor) {
        vendor = map.vendors.find((v) => v.name === vn);
        if (!vendor) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `Unknown CPU vendor ${vn}`);
      } else if (vendor.name !== vn) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', 'CPU vendors do not match');
    }
    dataIntersect(base, m.data);
  }
  if (features) {
    const fd: CpuData = new Map();
    for (const n of features) {
      const f = map.featureByName.get(n);
      if (f) dataAdd(fd, f.data);
    }
    dataIntersect(base, fd);
  }
  if (dataIsEmpty(base)) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', 'CPUs are incompatible');
  if (vendor) dataAdd(base, vendorData(vendorString(vendor)));
  const cpu = decodeX86(map, base, { type: 'guest', ...(models ? { models } : {}), preferred: names, migratable });
  return {
    ...cpu, type: 'guest', match: 'exact',
    ...(names.length === 1 && cpu.model === names[0] ? { fallback: 'forbid' as const } : {}),
    ...(outputVendor ? {} : { vendor: undefined }),
  };
}

/** The 12-character vendor string back from a vendor's leaf 0 data. */
function vendorString(v: X86Vendor): string {
  const w = v.data.get('c:0:0') ?? [0, 0, 0, 0];
  const b = Buffer.alloc(12);
  b.writeUInt32LE(w[1], 0);
  b.writeUInt32LE(w[3], 4);
  b.writeUInt32LE(w[2], 8);
  return b.toString('latin1');
}
