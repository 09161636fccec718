/**
 * What the define-time defaults need to know of the QEMU binary: its path and machine types
 * (with aliases and default CPU types). The emulator layer's probed capabilities have this
 * shape; the XML layer only names it, so it never depends on how it was probed.
 */
export interface DefineMachine {
  name: string;
  alias?: string;
  isDefault: boolean;
  /** `default-cpu-type` of query-machines, e.g. `qemu64-x86_64-cpu` */
  defaultCpuType?: string;
}

export interface DefineCaps {
  binary: string;
  machines: readonly DefineMachine[];
  /** QOM device types; decides the default video model (cirrus when `cirrus-vga` exists) */
  devices?: readonly string[];
}

/** q35 machine types are PCIe (pcie-root); pc/i440fx are conventional PCI (pci-root). */
export function isQ35(machine: string | undefined): boolean {
  return machine !== undefined && (machine === 'q35' || machine.startsWith('pc-q35'));
}
