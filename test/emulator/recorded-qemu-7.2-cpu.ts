/**
 * The CPU half of libvirt 9.0's recorded QEMU 7.2 probe (caps_7.2.0.x86_64.replies): its first
 * monitor session ran QEMU with KVM, the second with TCG; each asked for the CPU definitions and
 * the static host-model expansions mpvirt's probe asks for (caps-cpu-probe.ts).
 */
import {
  cpuDefinitionsFromReply, hostModelFromReplies, hypervFromExpansion,
  type QemuAccelCpu, type QemuExtraCaps, type QmpCpuDefinitionInfo, type QmpCpuModelExpansion,
} from '../../src/emulator/caps-cpu.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { recordedQemu72Caps, recordedSession } from './recorded-qemu-7.2.js';

type Step = ReturnType<typeof recordedSession>[number];

function accelCpu(steps: Step[]): { cpu: QemuAccelCpu; hyperv?: string[] } {
  const defs = steps.find((s) => s.command.execute === 'query-cpu-definitions')?.reply.return as QmpCpuDefinitionInfo[];
  const exp = steps.filter((s) => s.command.execute === 'query-cpu-model-expansion');
  const isStatic = (s: Step): boolean => s.command.arguments?.['type'] === 'static';
  const props = (s: Step): Record<string, unknown> | undefined => (s.command.arguments?.['model'] as { props?: Record<string, unknown> }).props;
  const mig = exp.find((s) => isStatic(s) && !props(s))?.reply.return as QmpCpuModelExpansion;
  const all = exp.find((s) => isStatic(s) && props(s)?.['migratable'] === false)?.reply.return as QmpCpuModelExpansion;
  const full = exp.find((s) => s.command.arguments?.['type'] === 'full')?.reply.return as QmpCpuModelExpansion | undefined;
  return { cpu: { definitions: cpuDefinitionsFromReply(defs), hostModel: hostModelFromReplies(mig, all) }, ...(full ? { hyperv: hypervFromExpansion(full) } : {}) };
}

export function recordedExtraCaps(): QemuExtraCaps {
  const session = recordedSession();
  const second = session.findIndex((s, i) => i > 0 && s.command.execute === 'qmp_capabilities');
  const kvm = accelCpu(session.slice(0, second));
  const tcg = accelCpu(session.slice(second));
  const commands = (session.find((s) => s.command.execute === 'query-commands')?.reply.return as Array<{ name: string }>).map((c) => c.name).sort();
  const tpmTypes = session.find((s) => s.command.execute === 'query-tpm-types')?.reply.return as string[];
  return { cpu: { kvm: kvm.cpu, tcg: tcg.cpu }, commands, tpmTypes, ...(kvm.hyperv ? { hyperv: kvm.hyperv } : {}) };
}

export function recordedQemu72CapsWithCpu(): QemuCaps {
  return { ...recordedQemu72Caps(), extra: recordedExtraCaps() };
}
