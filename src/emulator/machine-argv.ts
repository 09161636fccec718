/**
 * argv for the machine-wide settings Windows and Linux templates write: the CPU model with its
 * paravirtual timers and Hyper-V enlightenments, the clock (RTC drift, PIT tick policy, HPET),
 * and SMM. Pure functions of the definition, built as libvirt's qemuBuildCpuCommandLine,
 * qemuBuildClockCommandLine and qemuBuildMachineCommandLine build them.
 */
import { unsupportedConfig } from '../errors.js';
import type { DomainDef } from '../domainxml/model.js';
import { HYPERV_FEATURES } from '../domainxml/supported-raw.js';
import { attr, elementChildren, type XElement } from '../domainxml/xmltree.js';

const timers = (def: DomainDef): XElement[] => (def.clock?.extra.children ?? []).filter((c) => c.ns === null && c.local === 'timer');
const timer = (def: DomainDef, name: string): XElement | undefined => timers(def).find((t) => attr(t, 'name') === name);
const feature = (def: DomainDef, name: string): XElement | undefined => (def.features ?? []).find((f) => f.ns === null && f.local === name);

function cpuModel(def: DomainDef, accel: string): string {
  const cpu = def.cpu;
  // 'max' is every feature the accelerator can give; TCG has no host CPU to pass through (the
  // driver refuses host-passthrough there, as libvirt does) and gives host-model its maximum
  if (cpu?.mode === 'maximum') return 'max';
  if (cpu?.mode === 'host-passthrough' || cpu?.mode === 'host-model') return accel === 'kvm' ? 'host' : 'max';
  return cpu?.model?.name || 'qemu64';
}

type Opt = readonly [string, string | boolean];

/** libvirt's virQEMUCapsCPUFeaturesX86: feature names libvirt spells differently from QEMU. */
export const QEMU_FEATURE_NAMES: Readonly<Record<string, string>> = {
  cmp_legacy: 'cmp-legacy', ds_cpl: 'ds-cpl', fxsr_opt: 'fxsr-opt', kvm_pv_eoi: 'kvm-pv-eoi',
  kvm_pv_unhalt: 'kvm-pv-unhalt', lahf_lm: 'lahf-lm', nodeid_msr: 'nodeid-msr', pclmuldq: 'pclmulqdq',
  perfctr_core: 'perfctr-core', perfctr_nb: 'perfctr-nb', tsc_adjust: 'tsc-adjust',
};

/**
 * `<cpu><feature policy=… name=…/>` as QEMU properties, in document order: force/require turn
 * the feature on, disable/forbid off, optional leaves the model's default. A guest CPU's feature
 * without a policy is required (virCPUDefParseXML).
 */
function cpuFeatureOpts(def: DomainDef): Opt[] {
  const out: Opt[] = [];
  for (const f of (def.cpu?.extra.children ?? []).filter((c) => c.ns === null && c.local === 'feature')) {
    const name = attr(f, 'name');
    if (!name) continue;
    const policy = attr(f, 'policy') ?? 'require';
    const qemu = QEMU_FEATURE_NAMES[name] ?? name;
    if (policy === 'force' || policy === 'require') out.push([qemu, true]);
    else if (policy === 'disable' || policy === 'forbid') out.push([qemu, false]);
  }
  return out;
}

/**
 * `-cpu MODEL,…` as optList pairs (so a model name or vendor id stays one value): timers
 * first, then the Hyper-V enlightenments in libvirt's order.
 */
export function cpuOpts(def: DomainDef, accel: string): Opt[] {
  const parts: Opt[] = [['', cpuModel(def, accel)]];
  const on = (name: string): void => void parts.push([name, true]);
  const migratable = def.cpu?.extra.attrs.find((a) => a.name === 'migratable')?.value;
  if (migratable === 'off' && (def.cpu?.mode === 'host-passthrough' || def.cpu?.mode === 'maximum')) parts.push(['migratable', false]);
  parts.push(...cpuFeatureOpts(def));
  for (const t of timers(def)) {
    const present = attr(t, 'present');
    if (attr(t, 'name') === 'kvmclock' && present !== undefined) parts.push(['kvmclock', present === 'yes']);
    if (attr(t, 'name') === 'hypervclock' && present === 'yes') on('hv-time');
  }
  // <apic eoi='on|off'/>: the paravirtual end-of-interrupt
  const eoi = attr(feature(def, 'apic') ?? { attrs: [] } as unknown as XElement, 'eoi');
  if (eoi === 'on' || eoi === 'off') parts.push(['kvm-pv-eoi', eoi === 'on']);
  const hv = feature(def, 'hyperv');
  if (hv && (attr(hv, 'state') ?? 'on') === 'on') {
    if ((attr(hv, 'mode') ?? 'custom') === 'passthrough') on('hv-passthrough');
    const kids = elementChildren(hv);
    for (const name of HYPERV_FEATURES) {
      const f = kids.find((k) => k.name === name);
      if (!f || attr(f, 'state') !== 'on') continue;
      if (name === 'spinlocks') {
        const retries = Number(attr(f, 'retries') ?? 4095);
        if (!Number.isInteger(retries) || retries < 4095) throw unsupportedConfig(`Hyper-V spinlock retries must be at least 4095, not '${attr(f, 'retries')}'`);
        parts.push(['hv-spinlocks', `0x${retries.toString(16)}`]);
      } else if (name === 'vendor_id') {
        const value = attr(f, 'value') ?? '';
        if (!/^[A-Za-z0-9 ]{1,12}$/.test(value)) throw unsupportedConfig(`Hyper-V vendor_id '${value}' must be 1-12 letters, digits or spaces`);
        parts.push(['hv-vendor-id', value]);
      } else {
        on(`hv-${name}`);
        const direct = name === 'stimer' ? elementChildren(f).find((k) => k.name === 'direct') : undefined;
        if (direct && attr(direct, 'state') === 'on') on('hv-stimer-direct');
      }
    }
  }
  const pmu = feature(def, 'pmu');
  if (pmu) parts.push(['pmu', (attr(pmu, 'state') ?? 'on') === 'on']);
  return parts;
}

/** Machine properties from features and timers: HPET off, SMM on/off. */
export function machineProps(def: DomainDef): Array<readonly [string, string | boolean | undefined]> {
  const smm = feature(def, 'smm');
  const hpet = timer(def, 'hpet');
  return [
    ['smm', smm ? (attr(smm, 'state') ?? 'on') === 'on' : undefined],
    ['hpet', hpet && attr(hpet, 'present') === 'no' ? false : undefined],
  ];
}

const RTC_CLOCK: Readonly<Record<string, string>> = { guest: 'vm', wall: 'host', realtime: 'rt' };

/** `-rtc base=…[,clock=…][,driftfix=slew]` and the PIT's lost-tick policy. */
export function clockArgs(def: DomainDef, accel: string): string[] {
  const rtc = timer(def, 'rtc');
  const pit = timer(def, 'pit');
  const track = rtc ? attr(rtc, 'track') : undefined;
  const parts = [`base=${def.clock?.offset === 'localtime' ? 'localtime' : 'utc'}`];
  if (track !== undefined) parts.push(`clock=${RTC_CLOCK[track] ?? 'vm'}`);
  if (rtc && attr(rtc, 'tickpolicy') === 'catchup') parts.push('driftfix=slew');
  const argv = ['-rtc', parts.join(',')];
  // the policy belongs to KVM's in-kernel PIT; TCG's PIT has no such property
  const policy = pit ? attr(pit, 'tickpolicy') : undefined;
  if (policy !== undefined && accel === 'kvm') argv.push('-global', `kvm-pit.lost_tick_policy=${policy}`);
  return argv;
}
