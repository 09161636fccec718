/**
 * The probed capabilities domain capabilities and the CPU APIs need, and how they are read
 * from QMP replies (pure): per accelerator the CPU definitions (`query-cpu-definitions`) and
 * the host-model expansion (`query-cpu-model-expansion` of `max` under TCG, `host` under KVM,
 * asked twice as libvirt's virQEMUCapsProbeQMPHostCPU asks, to learn each feature's
 * migratability), plus the QMP commands, TPM backends and Hyper-V enlightenments QEMU offers.
 */

export interface QemuCpuDefinition {
  name: string;
  usable: boolean;
  /** `unavailable-features`, already in libvirt's spelling */
  blockers: string[];
}

export interface QemuCpuProperty {
  /** QEMU's name, e.g. `cmp-legacy` */
  name: string;
  value: boolean | number | string;
  /** false: enabled only with `migratable: false` */
  migratable?: boolean;
}

export interface QemuAccelCpu {
  definitions: QemuCpuDefinition[];
  /** the static expansion (`base` plus properties), undefined when QEMU gave none */
  hostModel?: QemuCpuProperty[];
}

export interface QemuExtraCaps {
  /** TCG, and KVM when QEMU could start with `-accel kvm` here */
  cpu: { tcg?: QemuAccelCpu; kvm?: QemuAccelCpu };
  /** `query-commands` */
  commands: string[];
  /** `query-tpm-types` */
  tpmTypes: string[];
  /** Hyper-V enlightenments the KVM full expansion enables (`hv-` prefix dropped); undefined without KVM */
  hyperv?: string[];
}

/** virQEMUCapsCPUFeaturesX86: QEMU spellings libvirt's cpu_map names differently */
const QEMU_TO_LIBVIRT: Readonly<Record<string, string>> = {
  'cmp-legacy': 'cmp_legacy', 'ds-cpl': 'ds_cpl', 'fxsr-opt': 'fxsr_opt', 'kvm-pv-eoi': 'kvm_pv_eoi',
  'kvm-pv-unhalt': 'kvm_pv_unhalt', 'lahf-lm': 'lahf_lm', 'nodeid-msr': 'nodeid_msr', pclmulqdq: 'pclmuldq',
  'perfctr-core': 'perfctr_core', 'perfctr-nb': 'perfctr_nb', 'tsc-adjust': 'tsc_adjust',
};
export const featureFromQemu = (name: string): string => QEMU_TO_LIBVIRT[name] ?? name;

export interface QmpCpuDefinitionInfo { name: string; 'unavailable-features'?: string[] }
export interface QmpCpuModelExpansion { model: { name: string; props?: Record<string, unknown> } }

export function cpuDefinitionsFromReply(r: readonly QmpCpuDefinitionInfo[]): QemuCpuDefinition[] {
  return r.map((d) => {
    const blockers = (d['unavailable-features'] ?? []).map(featureFromQemu);
    return { name: d.name, usable: d['unavailable-features'] !== undefined && blockers.length === 0, blockers };
  });
}

/**
 * virQEMUCapsProbeQMPHostCPU: the migratable expansion's properties, a feature that only the
 * `migratable: false` expansion enables being marked non-migratable.
 */
export function hostModelFromReplies(migratable: QmpCpuModelExpansion, all: QmpCpuModelExpansion | undefined): QemuCpuProperty[] {
  const nm = all?.model.props ?? {};
  const out: QemuCpuProperty[] = [];
  for (const [name, v] of Object.entries(migratable.model.props ?? {})) {
    if (typeof v !== 'boolean' && typeof v !== 'number' && typeof v !== 'string') continue;
    const p: QemuCpuProperty = { name, value: v };
    if (typeof v === 'boolean' && all && typeof nm[name] === 'boolean') {
      if (v) p.migratable = true;
      else if (nm[name] === true) {
        p.value = true;
        p.migratable = false;
      }
    }
    out.push(p);
  }
  return out;
}

/** libvirt's virDomainHyperv names, in its enum order (domain capabilities list them so) */
export const HYPERV_FEATURES = ['relaxed', 'vapic', 'spinlocks', 'vpindex', 'runtime', 'synic', 'stimer', 'reset', 'vendor_id', 'frequencies', 'reenlightenment', 'tlbflush', 'ipi', 'evmcs', 'avic'];

/** virQEMUCapsProbeHypervCapabilities over the full expansion with `hv-passthrough` */
export function hypervFromExpansion(full: QmpCpuModelExpansion): string[] {
  const on = new Set<string>();
  for (const [name, v] of Object.entries(full.model.props ?? {})) {
    if (!name.startsWith('hv-')) continue;
    const n = name.slice(3);
    const known = HYPERV_FEATURES.includes(n) ? n : n.replaceAll('-', '_');
    if (!HYPERV_FEATURES.includes(known)) continue;
    if (v === true || (typeof v === 'number' && v > 0) || (typeof v === 'string')) on.add(known);
  }
  return HYPERV_FEATURES.filter((f) => on.has(f));
}
