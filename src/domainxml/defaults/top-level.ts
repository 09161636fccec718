/**
 * Define-time defaults outside `<devices>`: what qemuDomainDefPostParse and the generic
 * post-parse fill in for an x86_64 guest (placement, currentMemory, on_* actions, emulator,
 * machine type, the default CPU model), and libvirt's order of the top-level elements the
 * model keeps verbatim.
 */
import type { CpuDef, DomainDef, TopLevelExtra } from '../model.js';
import { TOP_LEVEL_ORDER } from '../model.js';
import type { DefineCaps } from './caps.js';
import type { XElement } from '../xmltree.js';

const NO_EXTRA = { attrs: [], children: [] };

/** libvirt's full top-level order (virDomainDefFormatInternalSetRootName), for verbatim elements. */
const LIBVIRT_TOP_ORDER = [
  'name', 'uuid', 'genid', 'title', 'description', 'metadata', 'maxMemory', 'memory', 'currentMemory', 'blkiotune',
  'memtune', 'memoryBacking', 'vcpu', 'vcpus', 'iothreads', 'iothreadids', 'defaultiothread', 'cputune', 'numatune',
  'resource', 'sysinfo', 'bootloader', 'bootloader_args', 'os', 'idmap', 'features', 'cpu', 'clock', 'on_poweroff',
  'on_reboot', 'on_crash', 'on_lockfailure', 'pm', 'perf', 'devices', 'seclabel', 'keywrap', 'launchSecurity',
];
const TOP_RANK = new Map(LIBVIRT_TOP_ORDER.map((n, i) => [n, i]));

/** Anchor each verbatim top-level element after the typed element libvirt writes before it. */
export function reanchorTopLevel(def: DomainDef): TopLevelExtra[] {
  const typed = TOP_LEVEL_ORDER.filter((n) => isWritten(def, n));
  return def.extraTop.map((t) => {
    const rank = t.element.ns === null ? TOP_RANK.get(t.element.local) : undefined;
    if (rank === undefined) return t; // foreign (e.g. qemu:commandline): where the user put it
    let after: string | null = null;
    for (const n of typed) if ((TOP_RANK.get(n) ?? -1) < rank) after = n;
    return { after, element: t.element };
  });
}

function isWritten(def: DomainDef, n: (typeof TOP_LEVEL_ORDER)[number]): boolean {
  switch (n) {
    case 'name': case 'uuid': case 'memory': case 'vcpu': case 'os': case 'devices': return true;
    case 'title': return def.title !== undefined;
    case 'description': return def.description !== undefined;
    case 'metadata': return def.metadata !== undefined;
    case 'currentMemory': return def.currentMemory !== undefined;
    case 'memoryBacking': return def.memoryBacking !== undefined;
    case 'features': return def.features !== undefined;
    case 'cpu': return def.cpu !== undefined;
    case 'clock': return def.clock !== undefined;
    case 'on_poweroff': return def.onPoweroff !== undefined;
    case 'on_reboot': return def.onReboot !== undefined;
    case 'on_crash': return def.onCrash !== undefined;
  }
}

/** The machine type: the default if none, an alias resolved to the machine it stands for. */
export function machineFor(def: DomainDef, caps: DefineCaps, resolveAliases: boolean): string | undefined {
  const m = def.os.machine;
  if (m === undefined) return caps.machines.find((x) => x.isDefault)?.name;
  if (!resolveAliases) return m;
  return caps.machines.find((x) => x.alias === m)?.name ?? m;
}

/**
 * qemuDomainDefSetDefaultCPU: an x86 guest without a CPU model gets the machine type's default
 * CPU (qemu64 for QEMU 7.2's pc and q35), as `custom`/`exact` with check `none`.
 */
function defaultCpu(def: DomainDef, caps: DefineCaps, machine: string | undefined): CpuDef | undefined {
  const cpu = def.cpu;
  if (cpu && ((cpu.mode ?? 'custom') !== 'custom' || cpu.model)) return cpu;
  const m = caps.machines.find((x) => x.name === machine || x.alias === machine);
  const type = m?.defaultCpuType;
  if (!type) return cpu;
  const model = type.replace(/-x86_64-cpu$/, '');
  return {
    ...(cpu ?? { extra: NO_EXTRA }),
    mode: 'custom',
    match: cpu?.match ?? 'exact',
    check: 'none',
    model: { name: model, fallback: 'forbid', extra: NO_EXTRA },
  };
}

/** qemuDomainDefCPUPostParse's check and fallback defaults for a CPU the user wrote. */
function cpuPostParse(cpu: CpuDef | undefined, virtType: string): CpuDef | undefined {
  if (!cpu) return cpu;
  const mode = cpu.mode ?? 'custom';
  const out: CpuDef = { ...cpu, mode };
  if (mode === 'custom' && cpu.model) {
    out.match = cpu.match ?? 'exact';
    // TCG checks nothing against the host; KVM checks what it can
    out.check = cpu.check ?? (virtType === 'kvm' ? 'partial' : 'none');
    out.model = { ...cpu.model, fallback: cpu.model.fallback ?? 'allow' };
  } else if (mode === 'host-model') {
    out.check = cpu.check ?? 'partial';
  } else if (mode === 'host-passthrough' || mode === 'maximum') {
    out.check = cpu.check ?? 'none';
    // QEMU 2.11+ has the CPU property, so libvirt records the migratable default (of
    // host-passthrough only: 'maximum' is never migratable)
    if (mode === 'host-passthrough' && !cpu.extra.attrs.some((a) => a.name === 'migratable')) {
      out.extra = { ...cpu.extra, attrs: [...cpu.extra.attrs, { name: 'migratable', ns: null, value: 'on' }] };
    }
  }
  return out;
}

/** virDomainDefBootOrderPostParse: an HVM guest with no boot order at all boots from disk. */
function hasDeviceBoot(def: DomainDef): boolean {
  return def.devices.some((d) =>
    d.kind === 'raw' ? d.element.children.some((c) => c.kind === 'element' && c.name === 'boot') : 'bootOrder' in d && d.bootOrder !== undefined);
}

const ATTR_ORDER: Readonly<Record<string, readonly string[]>> = {
  feature: ['policy', 'name'],
  topology: ['sockets', 'dies', 'clusters', 'cores', 'threads'],
};

/** `<cpu>` children libvirt re-writes with its own attribute order. */
function canonicalCpuChildren(cpu: CpuDef): CpuDef {
  const children = cpu.extra.children.map((c) => {
    const order = c.ns === null ? ATTR_ORDER[c.local] : undefined;
    if (!order) return c;
    const rank = (n: string): number => (order.indexOf(n) < 0 ? order.length : order.indexOf(n));
    return { ...c, attrs: [...c.attrs].sort((a, b) => rank(a.name) - rank(b.name)) };
  });
  return { ...cpu, extra: { attrs: cpu.extra.attrs, children } };
}

/** The order libvirt writes `<features>` in (virDomainFeature). */
const FEATURE_ORDER = [
  'acpi', 'apic', 'pae', 'hap', 'viridian', 'privnet', 'hyperv', 'kvm', 'pvspinlock', 'capabilities', 'pmu', 'vmport',
  'gic', 'smm', 'ioapic', 'hpt', 'vmcoreinfo', 'htm', 'nested-hv', 'msrs', 'ccf-assist', 'xen', 'cfpc', 'sbbc', 'ibs',
  'tcg', 'async-teardown',
];
export function sortFeatures(features: readonly XElement[]): XElement[] {
  const rank = (f: XElement): number => (f.ns === null && FEATURE_ORDER.includes(f.local) ? FEATURE_ORDER.indexOf(f.local) : FEATURE_ORDER.length);
  return features.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map((x) => x.f);
}

/** `<hyperv>` is libvirt's 'custom' mode unless it says otherwise; its mode comes first. */
function featureDefaults(f: XElement): XElement {
  if (f.ns !== null || f.local !== 'hyperv' || f.attrs.some((a) => a.name === 'mode')) return f;
  return { ...f, attrs: [{ name: 'mode', ns: null, value: 'custom' }, ...f.attrs] };
}

export function topLevelDefaults(def: DomainDef, caps: DefineCaps, resolveAliases: boolean): DomainDef {
  const machine = machineFor(def, caps, resolveAliases);
  const userCpu = def.cpu && (def.cpu.mode ?? 'custom') === 'custom' && !def.cpu.model ? def.cpu : cpuPostParse(def.cpu, def.type);
  const cpu = defaultCpu({ ...def, ...(userCpu ? { cpu: userCpu } : {}) }, caps, machine);
  const out: DomainDef = {
    ...def,
    os: { ...def.os, ...(machine !== undefined ? { machine } : {}), arch: def.os.arch ?? 'x86_64' },
    vcpu: { ...def.vcpu, placement: def.vcpu.placement ?? 'static' },
    currentMemory: def.currentMemory ?? { kib: def.memory.kib, extra: NO_EXTRA },
    onPoweroff: def.onPoweroff ?? 'destroy',
    onReboot: def.onReboot ?? 'restart',
    onCrash: def.onCrash ?? 'destroy',
    emulator: def.emulator ?? caps.binary,
    clock: def.clock ?? { offset: 'utc', extra: NO_EXTRA },
  };
  if (cpu) out.cpu = canonicalCpuChildren(cpu);
  if (def.features) out.features = sortFeatures(def.features.map(featureDefaults));
  if (out.os.type === 'hvm' && out.os.boot.length === 0 && !hasDeviceBoot(out)) out.os = { ...out.os, boot: ['hd'] };
  return out;
}
