/**
 * The running guest's `<cpu>` as libvirt 9.0 shows it (qemu_process.c qemuProcessUpdateAndVerifyCPU,
 * right after the vCPU info is refreshed and before the vCPUs are pinned): the daemon asks the main
 * QEMU which CPUID features the first vCPU really got (qemu_monitor_json.c qemuMonitorJSONGetGuestCPU
 * — every boolean QOM property and `unavailable-features` —, or, for a QEMU without
 * `unavailable-features`, qemuMonitorJSONGetGuestCPUx86's `feature-words` / `filtered-features`),
 * refuses the start where libvirt does, and rewrites the live definition. The computation is pure
 * (src/emulator/cpu-live.ts); this file does the monitor calls and the XML model.
 */
import { MpvirtError } from '../errors.js';
import type { CpuDef as XmlCpuDef, DomainDef } from '../domainxml/model.js';
import { attr, elementChildren, makeElement, textNode, textOf, type XElement } from '../domainxml/xmltree.js';
import { HYPERV_FEATURES } from '../domainxml/supported-raw.js';
import type { QemuCaps } from '../emulator/caps.js';
import type { QemuAccelCpu } from '../emulator/caps-cpu.js';
import type { CpuData, X86Map } from '../emulator/cpu-map.js';
import type { CpuDef, FeaturePolicy } from '../emulator/cpu-x86.js';
import {
  cpuDataFromFeatureNames, cpuDataFromFeatureWords, liveGuestCpu, preparedGuestCpu, verifyGuestCpu,
  type GuestCpuAsks, type QmpFeatureWord,
} from '../emulator/cpu-live.js';
import { hostModelCpu, hostModelFeatureNames } from '../emulator/domain-caps.js';
import type { QmpClient } from '../emulator/qmp.js';
import type { DriverCore } from './core.js';
import { cpuMap } from './domain-capabilities.js';
import type { DomainObject } from './domain-object.js';

const X86 = new Set(['i686', 'x86_64']);
/** qemuProcessGetVCPUQOMPath's fallback when QEMU named no vCPU */
const FIRST_CPU = '/machine/unattached/device[0]';
const POLICIES = new Set<string>(['force', 'require', 'optional', 'disable', 'forbid']);

interface QomProp { name: string; type: string }
interface QmpCpuFast { 'cpu-index': number; 'qom-path'?: string }
/** the monitor calls made here (a recorded session stands in for QEMU in tests) */
export type CpuMonitor = Pick<QmpClient, 'execute'>;
interface GuestCpuData { enabled: CpuData | undefined; disabled: CpuData | undefined }

const qmpClass = (e: unknown): string | undefined => (e instanceof MpvirtError ? e.qmp?.class : undefined);

/** qom-list of the vCPU: undefined when QEMU has no such object (libvirt's DeviceNotFound case) */
async function qomList(qmp: CpuMonitor, path: string, tolerated: readonly string[]): Promise<QomProp[] | undefined> {
  try {
    return await qmp.execute<QomProp[]>('qom-list', { path });
  } catch (e) {
    if (tolerated.includes(qmpClass(e) ?? '')) return undefined;
    throw e;
  }
}

/**
 * qemuProcessFetchGuestCPU. The boolean properties are read one qom-get each, as libvirt reads
 * them (QEMU 7.2 has no bulk read of an object's properties); they are sent together, QEMU answers
 * them in order.
 */
export async function fetchGuestCpu(qmp: CpuMonitor, map: X86Map, generic: boolean): Promise<GuestCpuData> {
  const cpus = await qmp.execute<QmpCpuFast[]>('query-cpus-fast');
  const path = cpus.find((c) => c['cpu-index'] === 0)?.['qom-path'] ?? FIRST_CPU;
  if (generic) {
    const props = (await qomList(qmp, path, ['DeviceNotFound'])) ?? [];
    const bools = props.filter((p) => p.type === 'bool').map((p) => p.name);
    const values = await Promise.all(bools.map((property) => qmp.execute<unknown>('qom-get', { path, property })));
    const enabled = cpuDataFromFeatureNames(map, bools.filter((_, i) => values[i] === true));
    const unavailable = await qmp.execute<string[]>('qom-get', { path, property: 'unavailable-features' });
    return { enabled, disabled: cpuDataFromFeatureNames(map, unavailable) };
  }
  // qemuMonitorJSONCheckCPUx86: no vCPU object or no feature-words means QEMU cannot tell (-2)
  const props = await qomList(qmp, path, ['DeviceNotFound', 'CommandNotFound']);
  if (!props?.some((p) => p.name === 'feature-words')) return { enabled: undefined, disabled: undefined };
  const words = (property: string): Promise<QmpFeatureWord[]> => qmp.execute<QmpFeatureWord[]>('qom-get', { path, property });
  return { enabled: cpuDataFromFeatureWords(await words('feature-words')), disabled: cpuDataFromFeatureWords(await words('filtered-features')) };
}

// ------------------------------------------------------------------ the XML model ⇄ libvirt's virCPUDef

const cpuChildren = (cpu: XmlCpuDef, local: string): XElement[] => cpu.extra.children.filter((c) => c.ns === null && c.local === local);

function toCpuDef(cpu: XmlCpuDef): CpuDef {
  const vendor = cpuChildren(cpu, 'vendor')[0];
  const features = cpuChildren(cpu, 'feature').map((f) => {
    const p = attr(f, 'policy') ?? 'require';
    return { name: attr(f, 'name') ?? '', policy: (POLICIES.has(p) ? p : 'require') as FeaturePolicy };
  });
  return {
    type: 'guest',
    mode: (cpu.mode ?? 'custom') as NonNullable<CpuDef['mode']>,
    ...(cpu.match ? { match: cpu.match as NonNullable<CpuDef['match']> } : {}),
    ...(cpu.check ? { check: cpu.check } : {}),
    ...(cpu.model?.fallback ? { fallback: cpu.model.fallback as NonNullable<CpuDef['fallback']> } : {}),
    ...(cpu.model?.name ? { model: cpu.model.name } : {}),
    ...(vendor && textOf(vendor) ? { vendor: textOf(vendor) } : {}),
    features,
  };
}

/**
 * The updated CPU back into the kept element: attributes and model typed, the vendor first among
 * the untyped children (virCPUDefFormatBuf writes it right after the model), the features where
 * the first one stood (else before `<numa>`, else last), in libvirt's list order.
 */
function fromCpuDef(orig: XmlCpuDef, cpu: CpuDef): XmlCpuDef {
  const features = cpu.features.map((f) => makeElement('feature', [['policy', f.policy ?? 'require'], ['name', f.name]]));
  const kept = orig.extra.children;
  const firstFeature = kept.findIndex((c) => c.ns === null && c.local === 'feature');
  const numa = kept.findIndex((c) => c.ns === null && c.local === 'numa');
  const others = kept.filter((c) => c.ns !== null || (c.local !== 'feature' && c.local !== 'vendor'));
  const before = (i: number): number => kept.slice(0, i).filter((c) => others.includes(c)).length;
  const at = firstFeature >= 0 ? before(firstFeature) : numa >= 0 ? before(numa) : others.length;
  const children = [...others.slice(0, at), ...features, ...others.slice(at)];
  const vendor = cpu.vendor ? [makeElement('vendor', [], [textNode(cpu.vendor)])] : [];
  return {
    ...orig,
    ...(cpu.mode ? { mode: cpu.mode } : {}),
    ...(cpu.match ? { match: cpu.match } : {}),
    ...(cpu.check ? { check: cpu.check } : {}),
    ...(cpu.model ? { model: { name: cpu.model, ...(cpu.fallback ? { fallback: cpu.fallback } : {}), extra: orig.model?.extra ?? { attrs: [], children: [] } } } : {}),
    extra: { attrs: orig.extra.attrs, children: [...vendor, ...children] },
  };
}

/** What qemuProcessVerifyCPU reads of `<features>`, under the conditions the argv passes them on. */
function asksOf(def: DomainDef): GuestCpuAsks {
  const feats = (def.features ?? []).filter((f) => f.ns === null);
  const pv = feats.find((f) => f.local === 'pvspinlock');
  const hv = feats.find((f) => f.local === 'hyperv');
  const on = hv && (attr(hv, 'state') ?? 'on') === 'on' ? elementChildren(hv).filter((k) => attr(k, 'state') === 'on') : [];
  const stimer = on.find((k) => k.name === 'stimer');
  const direct = stimer ? elementChildren(stimer).find((k) => k.name === 'direct') : undefined;
  return {
    pvspinlock: pv !== undefined && (attr(pv, 'state') ?? 'on') === 'on',
    hyperv: HYPERV_FEATURES.filter((n) => n !== 'spinlocks' && n !== 'vendor_id' && on.some((k) => k.name === n)),
    stimerDirect: direct !== undefined && attr(direct, 'state') === 'on',
  };
}

/** QEMU_CAPS_CPU_UNAVAILABLE_FEATURES: query-cpu-definitions named each model's missing features */
const hasUnavailableFeatures = (accel: QemuAccelCpu | undefined): boolean =>
  (accel?.definitions ?? []).some((d) => d.usable || d.blockers.length > 0);

export interface LiveCpuResult { def: DomainDef; warnings: string[] }

/**
 * The live definition with the `<cpu>` libvirt shows once QEMU runs, or libvirt's refusal (the
 * caller fails the start). A guest that is not x86 or whose QEMU cannot tell is left as it is.
 */
export async function withLiveCpu(def: DomainDef, caps: QemuCaps, map: X86Map, qmp: CpuMonitor): Promise<LiveCpuResult> {
  const accel = caps.extra?.cpu[def.type === 'kvm' ? 'kvm' : 'tcg'];
  const generic = hasUnavailableFeatures(accel);
  if (!generic && !X86.has(def.os.arch ?? '')) return { def, warnings: [] };
  const data = await fetchGuestCpu(qmp, map, generic);
  const defined = def.cpu ? toCpuDef(def.cpu) : undefined;
  const warnings = verifyGuestCpu(map, asksOf(def), defined, data.enabled);
  // only a topology: libvirt neither prepares nor updates it
  if (!def.cpu || !defined || (defined.mode === 'custom' && !defined.model)) return { def, warnings };
  if (defined.mode === 'host-model' && !hostModelCpu(map, accel)) {
    // qemuProcessUpdateGuestCPU's virQEMUCapsIsCPUModeSupported
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `CPU mode 'host-model' for ${def.os.arch ?? 'x86_64'} ${def.type} domain on x86_64 host is not supported by hypervisor`);
  }
  const prepared = preparedGuestCpu(map, defined, hostModelCpu(map, accel), hostModelFeatureNames(accel));
  const live = liveGuestCpu(map, prepared, data.enabled, data.disabled);
  // host-passthrough and maximum not checked in full: libvirt leaves them as defined
  if (!live && defined.mode !== 'custom' && defined.mode !== 'host-model') return { def, warnings };
  return { def: { ...def, cpu: fromCpuDef(def.cpu, live ?? prepared) }, warnings };
}

/** start.ts's step after the ptys: the live definition gets the CPU its main QEMU made. */
export async function refreshLiveCpu(core: DriverCore, obj: DomainObject): Promise<void> {
  const rt = obj.runtime;
  const def = obj.liveDef;
  if (!rt || !def) return;
  const caps = await core.caps.get(def.emulator ?? core.defaultEmulator);
  const r = await withLiveCpu(def, caps, cpuMap(), rt.main.qmp);
  // libvirt's VIR_WARN: the daemon's log, not the guest's
  for (const w of r.warnings) core.log.warn({ domain: obj.name }, w);
  if (obj.liveDef && r.def.cpu !== def.cpu) obj.liveDef = { ...obj.liveDef, ...(r.def.cpu ? { cpu: r.def.cpu } : {}) };
}
