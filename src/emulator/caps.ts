/**
 * What a QEMU binary can do, as probed over QMP. The launch plan reads only
 * this, never the binary itself.
 */
import type { QemuExtraCaps } from './caps-cpu.js';

export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
}

export interface QemuMachine {
  name: string;
  alias?: string;
  isDefault: boolean;
  cpuMax: number;
  /** the CPU a guest of this machine type gets by default, e.g. `qemu64-x86_64-cpu` */
  defaultCpuType?: string;
}

export interface QemuCaps {
  binary: string;
  version: QemuVersion;
  /** distribution package string, e.g. "Debian 1:7.2+dfsg-7+deb12u18" */
  package: string;
  machines: QemuMachine[];
  /** QOM type names of devices, objects, accelerators */
  devices: string[];
  objects: string[];
  accelerators: string[];
  /** `-sandbox` is available (QEMU built with seccomp) */
  sandbox: boolean;
  /** CPU models and host-model expansions per accelerator, QMP commands (caps-cpu.ts); domain capabilities read them */
  extra?: QemuExtraCaps;
}

/** Multi-process support needs the remote machine, the remote object and the proxy device. */
export function hasMultiprocess(caps: QemuCaps): boolean {
  return (
    caps.machines.some((m) => m.name === 'x-remote') &&
    caps.objects.includes('x-remote-object') &&
    caps.devices.includes('x-pci-proxy-dev') &&
    caps.objects.includes('memory-backend-memfd')
  );
}

/** Resolve a machine alias (`q35`, `pc`) to the machine's real name. */
export function resolveMachine(caps: QemuCaps, name: string): QemuMachine | undefined {
  return caps.machines.find((m) => m.name === name || m.alias === name);
}
