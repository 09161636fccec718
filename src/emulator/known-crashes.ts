/**
 * QEMU combinations known to crash at start, refused before anything is spawned (issue 16 item 6).
 * Each rule is decided from the main QEMU's probed capabilities (its version and accelerators) and
 * the domain, never from a binary's path, and says why and what works instead.
 *
 * - Main QEMU 8.2 or later under TCG with any `x-pci-proxy-dev` (../shared/notes/qemu-versions.md):
 *   upstream "kvm: require KVM_IRQFD for kernel irqchip" (2023-10, in 8.2) dropped the
 *   `kvm_irqfds_enabled()` guard that made `hw/remote/proxy.c`'s `setup_irqfd →
 *   kvm_irqchip_add_irqfd_notifier_gsi` a no-op without KVM; under TCG it now reaches
 *   `kvm_vm_ioctl` with no KVM state and the main QEMU dies with SIGSEGV within seconds, printing
 *   nothing. It needs KVM compiled in (without it the irqfd call is a stub that just fails), so a
 *   QEMU whose accelerators do not include `kvm` is not refused. KVM works; so does a main QEMU up to
 *   8.1 with a newer remote (the link protocol is the same across these versions).
 */
import { unsupportedConfig } from '../errors.js';
import type { QemuCaps, QemuVersion } from './caps.js';

/** The first main QEMU whose proxy crashes under TCG. */
export const PROXY_TCG_CRASH_SINCE: QemuVersion = { major: 8, minor: 2, micro: 0 };

/** What a start is about to run, as far as the rules need it. */
export interface StartShape {
  /** the domain's type: `kvm` runs under KVM, `qemu` under TCG */
  domainType: string;
  /** the remote processes the main QEMU gets a proxy for, with the device each serves */
  remotes: Array<{ rid: string; alias: string }>;
}

const atLeast = (v: QemuVersion, w: QemuVersion): boolean =>
  v.major !== w.major ? v.major > w.major : v.minor !== w.minor ? v.minor > w.minor : v.micro >= w.micro;

const versionText = (v: QemuVersion): string => `${v.major}.${v.minor}.${v.micro}`;

/**
 * Throws VIR_ERR_CONFIG_UNSUPPORTED when `mainCaps` (the main QEMU's capabilities) with this shape
 * is a combination known to crash; returns otherwise.
 */
export function refuseKnownCrashes(mainCaps: QemuCaps, shape: StartShape): void {
  const underTcg = shape.domainType !== 'kvm';
  if (shape.remotes.length === 0 || !underTcg) return;
  if (!atLeast(mainCaps.version, PROXY_TCG_CRASH_SINCE) || !mainCaps.accelerators.includes('kvm')) return;
  const which = shape.remotes.map((r) => `'${r.rid}' (device '${r.alias}')`).join(', ');
  throw unsupportedConfig(
    `QEMU ${versionText(mainCaps.version)} (${mainCaps.binary}) crashes under TCG with a remote device: from QEMU 8.2 on, ` +
    `the main QEMU's x-pci-proxy-dev sets up KVM irqfds without KVM in use and dies with SIGSEGV ` +
    `(remote process${shape.remotes.length > 1 ? 'es' : ''} ${which}); ` +
    "use <domain type='kvm'>, or a main QEMU up to 8.1 in <emulator> (remote processes may run a newer QEMU through <mpq:emulator>)",
    { domain: 'QEMU' },
  );
}
