/**
 * The probe's extra queries for domain capabilities and the CPU APIs — all read-only and safe
 * (qemu-multiprocess.md §14): `query-cpu-definitions`, `query-cpu-model-expansion` (static,
 * twice, and under KVM the full expansion with `hv-passthrough` for the Hyper-V list),
 * `query-commands`, `query-tpm-types`, `query-kvm`. libvirt probes the same way: one QEMU with
 * KVM for the kvm half, and a TCG one (caps_7.2.0.x86_64.replies shows both sessions).
 */
import { isMpvirtError } from '../errors.js';
import {
  cpuDefinitionsFromReply, hostModelFromReplies, hypervFromExpansion,
  type QemuAccelCpu, type QemuExtraCaps, type QmpCpuDefinitionInfo, type QmpCpuModelExpansion,
} from './caps-cpu.js';
import type { QmpClient } from './qmp.js';

/** A command QEMU refuses (unknown, unsupported here) answers undefined; a dead monitor still throws. */
async function optional<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isMpvirtError(e) && e.qmp !== undefined) return undefined;
    throw e;
  }
}

/** The CPU half for one accelerator: `max` under TCG, `host` under KVM (virQEMUCapsProbeQMPHostCPU). */
export async function probeAccelCpu(qmp: QmpClient, accel: 'tcg' | 'kvm'): Promise<{ cpu: QemuAccelCpu; hyperv?: string[] }> {
  const model = accel === 'kvm' ? 'host' : 'max';
  const expand = (type: 'static' | 'full', props?: Record<string, boolean>) =>
    optional(qmp.execute<QmpCpuModelExpansion>('query-cpu-model-expansion', { type, model: props ? { name: model, props } : { name: model } }));
  const defs = await optional(qmp.execute<QmpCpuDefinitionInfo[]>('query-cpu-definitions'));
  const mig = await expand('static');
  const all = mig ? await expand('static', { migratable: false }) : undefined;
  const cpu: QemuAccelCpu = { definitions: cpuDefinitionsFromReply(defs ?? []), ...(mig ? { hostModel: hostModelFromReplies(mig, all) } : {}) };
  if (accel !== 'kvm') return { cpu };
  const full = await expand('full', { migratable: false, 'hv-passthrough': true });
  return { cpu, ...(full ? { hyperv: hypervFromExpansion(full) } : {}) };
}

/** What the TCG probe adds: its CPU half, the commands and TPM backends. */
export async function probeExtraTcg(qmp: QmpClient): Promise<QemuExtraCaps> {
  const { cpu } = await probeAccelCpu(qmp, 'tcg');
  const commands = (await optional(qmp.execute<Array<{ name: string }>>('query-commands'))) ?? [];
  const tpm = (await optional(qmp.execute<string[]>('query-tpm-types'))) ?? [];
  return { cpu: { tcg: cpu }, commands: commands.map((c) => c.name).sort(), tpmTypes: [...tpm] };
}

/** The KVM probe's half, when `query-kvm` says KVM is enabled in that QEMU. */
export async function probeExtraKvm(qmp: QmpClient): Promise<{ cpu: QemuAccelCpu; hyperv?: string[] } | undefined> {
  const kvm = await optional(qmp.execute<{ enabled: boolean; present: boolean }>('query-kvm'));
  if (!kvm?.enabled) return undefined;
  return probeAccelCpu(qmp, 'kvm');
}
