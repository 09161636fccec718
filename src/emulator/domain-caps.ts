/**
 * `virsh domcapabilities`: libvirt 9.0's domain capabilities of one emulator, machine and virt
 * type (src/qemu/qemu_capabilities.c virQEMUCapsFillDomainCaps, formatted as
 * src/conf/domain_capabilities.c virDomainCapsFormat), built from the probed capabilities alone.
 *
 * Every enum lists its values in the order of libvirt's C enum (the format walks the bits), so
 * the tables below keep those orders. Where libvirt's answer would promise something mpvirt
 * refuses at define (src/domainxml/supported.ts), the answer is narrowed to what mpvirt runs —
 * the only deliberate differences from libvirt; each is marked MPVIRT below.
 */
import type { QemuCaps } from './caps.js';
import { featureFromQemu, type QemuAccelCpu } from './caps-cpu.js';
import { cpuidItem, dataAdd, makeSignature, vendorData, type CpuData, type X86Map } from './cpu-map.js';
import { formatFeatures } from './cpu-def.js';
import { decodeX86, type CpuDef, type HvModel } from './cpu-x86.js';

export interface DomainCapsRequest {
  emulator: string;
  arch: string;
  virttype: 'qemu' | 'kvm';
  /** the canonical machine name */
  machine: string;
  /** KVM_CAP_MAX_VCPUS of the host (virHostCPUGetKVMMaxVCPUs); only read for kvm */
  kvmMaxVcpus?: number;
}

const has = (caps: QemuCaps, dev: string): boolean => caps.devices.includes(dev) || caps.objects.includes(dev);

/** virQEMUCapsGetCPUModels as hvModels: what QEMU reports for the accelerator */
export function hvModels(accel: QemuAccelCpu | undefined): HvModel[] {
  return (accel?.definitions ?? []).map((d) => ({ name: d.name, usable: d.usable, blockers: d.blockers }));
}

/** virQEMUCapsGetCPUModelX86Data: the expansion's enabled features, vendor and signature as CPUID data */
function expansionData(map: X86Map, accel: QemuAccelCpu): CpuData {
  const data: CpuData = new Map();
  let family = 0;
  let model = 0;
  let stepping = 0;
  for (const p of accel.hostModel ?? []) {
    const name = featureFromQemu(p.name);
    if (typeof p.value === 'boolean') {
      const f = p.value ? map.featureByName.get(name) : undefined;
      if (f) dataAdd(data, f.data);
    } else if (typeof p.value === 'string' && name === 'vendor' && p.value.length === 12) dataAdd(data, vendorData(p.value));
    else if (typeof p.value === 'number') {
      if (name === 'family') family = p.value;
      else if (name === 'model') model = p.value;
      else if (name === 'stepping') stepping = p.value;
    }
  }
  dataAdd(data, cpuidItem(1, 0, { eax: makeSignature(family, model, stepping) }));
  return data;
}

/**
 * virQEMUCapsInitHostCPUModel's reported CPU: the host-model expansion decoded over QEMU's models
 * (type guest, custom, exact, fallback forbid); undefined when QEMU gave no expansion.
 */
export function hostModelCpu(map: X86Map, accel: QemuAccelCpu | undefined): CpuDef | undefined {
  if (!accel?.hostModel) return undefined;
  const cpu = decodeX86(map, expansionData(map, accel), { type: 'guest', models: hvModels(accel), fallback: 'allow' });
  return { ...cpu, mode: 'custom', match: 'exact', fallback: 'forbid' };
}

/** QEMU's enabled-or-known feature names for a baseline (virQEMUCapsGetCPUFeatures, all properties) */
export function hostModelFeatureNames(accel: QemuAccelCpu | undefined): string[] | undefined {
  return accel?.hostModel?.map((p) => featureFromQemu(p.name));
}

function enumXml(name: string, values: readonly string[], indent: string): string[] {
  if (values.length === 0) return [`${indent}<enum name='${name}'/>`];
  return [`${indent}<enum name='${name}'>`, ...values.map((v) => `${indent}  <value>${v}</value>`), `${indent}</enum>`];
}

/** a device or feature element: `<name supported='yes'>` with enums, or `<name supported='no'/>` */
function section(name: string, enums: ReadonlyArray<readonly [string, readonly string[]]> | undefined, indent: string): string[] {
  if (!enums) return [`${indent}<${name} supported='no'/>`];
  if (enums.length === 0) return [`${indent}<${name} supported='yes'/>`];
  return [`${indent}<${name} supported='yes'>`, ...enums.flatMap(([n, v]) => enumXml(n, v, `${indent}  `)), `${indent}</${name}>`];
}

const pick = (order: readonly string[], on: (v: string) => boolean): string[] => order.filter(on);

function cpuXml(caps: QemuCaps, map: X86Map, req: DomainCapsRequest): string[] {
  const accel = caps.extra?.cpu[req.virttype === 'kvm' ? 'kvm' : 'tcg'];
  const o = ['  <cpu>'];
  // virQEMUCapsIsCPUModeSupported: host-passthrough needs an accelerator; maximum is always there
  if (req.virttype === 'kvm') {
    o.push("    <mode name='host-passthrough' supported='yes'>", ...enumXml('hostPassthroughMigratable', ['on', 'off'], '      '), '    </mode>');
  } else o.push("    <mode name='host-passthrough' supported='no'/>");
  o.push("    <mode name='maximum' supported='yes'>", ...enumXml('maximumMigratable', ['on', 'off'], '      '), '    </mode>');
  const host = hostModelCpu(map, accel);
  if (host) {
    o.push("    <mode name='host-model' supported='yes'>", `      <model fallback='forbid'>${host.model}</model>`);
    if (host.vendor) o.push(`      <vendor>${host.vendor}</vendor>`);
    o.push(...formatFeatures(host.features, '      '), '    </mode>');
  } else o.push("    <mode name='host-model' supported='no'/>");
  const known = new Set(map.models.map((m) => m.name));
  const custom = (accel?.definitions ?? []).filter((d) => known.has(d.name) && d.name !== 'host');
  if (custom.length > 0) {
    o.push("    <mode name='custom' supported='yes'>");
    for (const d of custom) o.push(`      <model usable='${d.usable ? 'yes' : 'no'}' vendor='${map.modelByName.get(d.name)?.vendor?.name ?? 'unknown'}'>${d.name}</model>`);
    o.push('    </mode>');
  } else o.push("    <mode name='custom' supported='no'/>");
  o.push('  </cpu>');
  return o;
}

/** The document, byte for byte in libvirt's layout. */
export function buildDomainCapsXml(caps: QemuCaps, map: X86Map, req: DomainCapsRequest): string {
  const m = caps.machines.find((x) => x.name === req.machine);
  let maxVcpus = m?.cpuMax ?? 0;
  if (req.virttype === 'kvm' && req.kvmMaxVcpus !== undefined) maxVcpus = Math.min(maxVcpus, req.kvmMaxVcpus);
  const q35 = /^pc-q35-|^q35$/.test(req.machine);
  const transitional = has(caps, 'virtio-blk-pci-transitional');
  const spice = caps.extra?.commands.includes('query-spice') ?? false;
  const o = [
    '<domainCapabilities>', `  <path>${req.emulator}</path>`, `  <domain>${req.virttype}</domain>`,
    `  <machine>${req.machine}</machine>`, `  <arch>${req.arch}</arch>`, `  <vcpu max='${maxVcpus}'/>`,
    // MPVIRT: <iothreads> is refused at define (supported.ts), libvirt says yes with an iothread object
    "  <iothreads supported='no'/>",
    // no firmware descriptors are read: mpvirt boots QEMU's own BIOS only
    "  <os supported='yes'>", "    <enum name='firmware'/>",
    // MPVIRT: <loader> in <os> is refused at define; libvirt offers rom and pflash loaders
    "    <loader supported='no'/>", '  </os>',
    ...cpuXml(caps, map, req),
    // virQEMUCapsFillDomainMemoryBackingCaps, VIR_DOMAIN_MEMORY_SOURCE order
    "  <memoryBacking supported='yes'>", ...enumXml('sourceType', pick(['file', 'anonymous', 'memfd'], (v) => v !== 'memfd' || has(caps, 'memory-backend-memfd')), '    '), '  </memoryBacking>',
    '  <devices>',
    // virQEMUCapsFillDomainDeviceDiskCaps. MPVIRT: no 'lun' device and no 'usb' bus (refused at define)
    ...section('disk', [
      ['diskDevice', ['disk', 'cdrom', 'floppy']],
      ['bus', pick(['ide', 'fdc', 'scsi', 'virtio', 'sata'], (v) => (v === 'ide' ? !q35 : v === 'sata' ? has(caps, 'ich9-ahci') : true))],
      ['model', transitional ? ['virtio', 'virtio-transitional', 'virtio-non-transitional'] : ['virtio']],
    ], '    '),
    // MPVIRT: only vnc and spice run (libvirt adds sdl, egl-headless, dbus)
    ...section('graphics', [['type', pick(['vnc', 'spice'], (v) => (v === 'spice' ? spice : caps.extra?.commands.includes('query-vnc') ?? true))]], '    '),
    // virQEMUCapsFillDomainDeviceVideoCaps, VIR_DOMAIN_VIDEO_TYPE order. MPVIRT: no vmvga
    ...section('video', [['modelType', pick(['vga', 'cirrus', 'qxl', 'virtio', 'none', 'bochs', 'ramfb'], (v) =>
      v === 'none' || has(caps, { vga: 'VGA', cirrus: 'cirrus-vga', qxl: 'qxl-vga', virtio: 'virtio-gpu-pci', bochs: 'bochs-display', ramfb: 'ramfb' }[v] ?? v))]], '    '),
    // MPVIRT: host devices are not passed through
    ...section('hostdev', undefined, '    '),
    // MPVIRT: rng model virtio with the random or builtin backend only (no transitional models, no egd)
    ...section('rng', has(caps, 'virtio-rng-pci') ? [['model', ['virtio']], ['backendModel', pick(['random', 'builtin'], (v) => has(caps, `rng-${v}`))]] : undefined, '    '),
    // MPVIRT: no file system daemons, no TPM emulator or passthrough
    ...section('filesystem', undefined, '    '),
    ...section('tpm', undefined, '    '),
    ...section('redirdev', has(caps, 'usb-redir') ? [['bus', ['usb']]] : undefined, '    '),
    // MPVIRT: channels are unix sockets or SPICE's agent (no pty channels)
    ...section('channel', [['type', spice ? ['unix', 'spicevmc'] : ['unix']]], '    '),
    '  </devices>',
    '  <features>', "    <gic supported='no'/>",
    // MPVIRT: <vmcoreinfo>, <genid> and backing chains in the definition are refused at define
    "    <vmcoreinfo supported='no'/>", "    <genid supported='no'/>", "    <backingStoreInput supported='no'/>",
    `    <backup supported='${caps.extra?.commands.includes('block-export-add') ? 'yes' : 'no'}'/>`,
    // launch security and SGX EPC sections are refused at define; libvirt says no on this host too
    "    <sev supported='no'/>", "    <sgx supported='no'/>",
    // virQEMUCapsProbeHypervCapabilities: no enlightenment found (or no KVM probe), no element at all
    ...(caps.extra?.hyperv && caps.extra.hyperv.length > 0 ? section('hyperv', [['features', caps.extra.hyperv]], '    ') : []),
    '  </features>', '</domainCapabilities>', '',
  ];
  return o.join('\n');
}
