/**
 * `virConnectGetCapabilities`: the host and the one guest type mpvirt runs
 * (hvm on x86_64, with the default emulator's machine types), formatted as
 * libvirt 9.0's virCapabilitiesFormatXML formats them, so virt-install,
 * virt-manager and ansible read it as they read libvirt's QEMU driver.
 *
 * Two parts: readHost() gathers what the host is (sysfs, /proc, os), and
 * buildCapabilitiesXml() is a pure function of that and the probed QEMU caps.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import type { QemuCaps, QemuMachine } from '../emulator/caps.js';

export interface HostCpu {
  id: number;
  socket: number;
  die: number;
  core: number;
  /** thread_siblings_list, e.g. `0,2` or `0-1` */
  siblings: string;
}

export interface HostCell {
  id: number;
  memoryKiB: number;
  /** page size KiB → number of pages of that size */
  pages: Array<{ sizeKiB: number; count: number }>;
  /** node id → distance */
  distances: Array<{ id: number; value: number }>;
  cpus: HostCpu[];
}

export interface HostInfo {
  uuid: string;
  arch: string;
  vendor?: string;
  topology: { sockets: number; dies: number; cores: number; threads: number };
  /** page sizes in KiB, smallest first */
  pageSizes: number[];
  cells: HostCell[];
  iommu: boolean;
  /** /dev/kvm exists and this process may open it */
  kvmUsable: boolean;
}

// ------------------------------------------------------------------ the host

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A UUID libvirt would accept as the host's: well formed and not all one digit (virUUIDIsValid). */
function validUuid(u: string | undefined): string | undefined {
  const v = u?.toLowerCase();
  if (!v || !UUID_RE.test(v)) return undefined;
  return new Set(v.replaceAll('-', '')).size > 1 ? v : undefined;
}

/**
 * The host UUID: the DMI product UUID when readable (what libvirt uses), else
 * /etc/machine-id formatted as a UUID, else one derived from the host name.
 * Stable across daemon restarts in every case.
 */
export function hostUuid(): string {
  const dmi = validUuid(read('/sys/class/dmi/id/product_uuid'));
  if (dmi) return dmi;
  const mid = read('/etc/machine-id')?.toLowerCase();
  const hex = mid && /^[0-9a-f]{32}$/.test(mid) ? mid : createHash('sha256').update(`mpvirt:${hostname()}`).digest('hex').slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** `0-3,8` → [0,1,2,3,8] */
function parseCpuList(s: string | undefined): number[] {
  if (!s) return [];
  const out: number[] = [];
  for (const part of s.split(',')) {
    const [a, b] = part.split('-').map((n) => Number.parseInt(n, 10));
    if (a === undefined || Number.isNaN(a)) continue;
    for (let i = a; i <= (b === undefined || Number.isNaN(b) ? a : b); i++) out.push(i);
  }
  return out;
}

const SYS_CPU = '/sys/devices/system/cpu';
const SYS_NODE = '/sys/devices/system/node';

function hostCpu(id: number): HostCpu {
  const t = (f: string): number | undefined => {
    const v = Number.parseInt(read(`${SYS_CPU}/cpu${id}/topology/${f}`) ?? '', 10);
    return Number.isNaN(v) || v < 0 ? undefined : v;
  };
  return { id, socket: t('physical_package_id') ?? 0, die: t('die_id') ?? 0, core: t('core_id') ?? id, siblings: read(`${SYS_CPU}/cpu${id}/topology/thread_siblings_list`) ?? String(id) };
}

/** Huge page sizes (KiB) and, per NUMA node (or the whole host for node -1), how many are configured. */
function hugePages(node: number): Array<{ sizeKiB: number; count: number }> {
  const dir = node < 0 ? '/sys/kernel/mm/hugepages' : `${SYS_NODE}/node${node}/hugepages`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => /^hugepages-(\d+)kB$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ sizeKiB: Number(m[1]), count: Number.parseInt(read(`${dir}/${m[0]}/nr_hugepages`) ?? '0', 10) || 0 }))
    .sort((a, b) => a.sizeKiB - b.sizeKiB);
}

function cellPages(memoryKiB: number, huge: Array<{ sizeKiB: number; count: number }>): HostCell['pages'] {
  const hugeKiB = huge.reduce((s, h) => s + h.sizeKiB * h.count, 0);
  return [{ sizeKiB: 4, count: Math.max(0, Math.floor((memoryKiB - hugeKiB) / 4)) }, ...huge];
}

function numaCells(allCpus: number[]): HostCell[] {
  let nodes: number[] = [];
  try {
    nodes = readdirSync(SYS_NODE)
      .map((n) => /^node(\d+)$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    /* no NUMA information: one cell */
  }
  const cells: HostCell[] = [];
  for (const id of nodes) {
    const cpuIds = parseCpuList(read(`${SYS_NODE}/node${id}/cpulist`)).filter((c) => allCpus.includes(c));
    const mem = /MemTotal:\s+(\d+)\s*kB/.exec(read(`${SYS_NODE}/node${id}/meminfo`) ?? '');
    const memoryKiB = mem ? Number(mem[1]) : 0;
    const distances = (read(`${SYS_NODE}/node${id}/distance`) ?? '')
      .split(/\s+/)
      .map((v, i) => ({ id: nodes[i] ?? i, value: Number.parseInt(v, 10) }))
      .filter((d) => d.value > 0);
    cells.push({ id, memoryKiB, pages: cellPages(memoryKiB, hugePages(id)), distances, cpus: cpuIds.map(hostCpu) });
  }
  if (cells.length > 0 && cells.every((c) => c.memoryKiB > 0)) return cells;
  const memoryKiB = Math.floor(totalmem() / 1024);
  return [{ id: 0, memoryKiB, pages: cellPages(memoryKiB, hugePages(-1)), distances: [], cpus: allCpus.map(hostCpu) }];
}

function cpuVendor(): string | undefined {
  const v = /^vendor_id\s*:\s*(\S+)/m.exec(read('/proc/cpuinfo') ?? '')?.[1];
  return v === 'GenuineIntel' ? 'Intel' : v === 'AuthenticAMD' ? 'AMD' : v === 'HygonGenuine' ? 'Hygon' : undefined;
}

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function hasIommu(): boolean {
  try {
    return readdirSync('/sys/kernel/iommu_groups').length > 0;
  } catch {
    return false;
  }
}

/** What the host is, read from sysfs and /proc (falling back to os.cpus() and os.totalmem()). */
export function readHost(): HostInfo {
  const ids = cpus().map((_, i) => i);
  const cells = numaCells(ids);
  const all = cells.flatMap((c) => c.cpus);
  const sockets = new Set(all.map((c) => c.socket)).size || 1;
  const dies = new Set(all.map((c) => `${c.socket}/${c.die}`)).size / sockets || 1;
  const cores = new Set(all.map((c) => `${c.socket}/${c.die}/${c.core}`)).size / (sockets * dies) || 1;
  const threads = Math.max(1, ...all.map((c) => parseCpuList(c.siblings).length));
  const vendor = cpuVendor();
  return {
    uuid: hostUuid(),
    arch: process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch,
    ...(vendor === undefined ? {} : { vendor }),
    topology: { sockets, dies: Math.max(1, Math.round(dies)), cores: Math.max(1, Math.round(cores)), threads },
    pageSizes: [4, ...hugePages(-1).map((h) => h.sizeKiB)],
    cells,
    iommu: hasIommu(),
    kvmUsable: kvmUsable(),
  };
}

// ------------------------------------------------------------------ the XML

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/**
 * libvirt's machine list (virQEMUCapsGetMachineTypesCaps): QEMU's default
 * machine first, `none` left out, an alias listed under its own name with
 * `canonical=`, preceded by the canonical name when that is not listed.
 */
export function guestMachines(machines: readonly QemuMachine[]): Array<{ name: string; canonical?: string; maxCpus: number }> {
  const usable = machines.filter((m) => m.name !== 'none');
  const def = usable.findIndex((m) => m.isDefault);
  const ordered = def > 0 ? [usable[def]!, ...usable.slice(0, def), ...usable.slice(def + 1)] : usable;
  const list = ordered.map((m) => (m.alias ? { name: m.alias, canonical: m.name, maxCpus: m.cpuMax } : { name: m.name, maxCpus: m.cpuMax }));
  const out: typeof list = [];
  for (const m of list) {
    if (m.canonical !== undefined && !list.some((o) => o.name === m.canonical)) out.push({ name: m.canonical, maxCpus: m.maxCpus });
    out.push(m);
  }
  return out;
}

export interface GuestInfo {
  emulator: string;
  caps: Pick<QemuCaps, 'machines' | 'accelerators'>;
}

/** KVM is offered when the emulator has the accelerator and this process can use /dev/kvm. */
export function offersKvm(host: Pick<HostInfo, 'kvmUsable'>, guest: GuestInfo): boolean {
  return host.kvmUsable && guest.caps.accelerators.includes('kvm');
}

/** The capabilities document, byte for byte in libvirt 9.0's layout (blank lines between sections included). */
export function buildCapabilitiesXml(host: HostInfo, guest: GuestInfo): string {
  const o: string[] = ['<capabilities>', '', '  <host>', `    <uuid>${host.uuid}</uuid>`, '    <cpu>', `      <arch>${esc(host.arch)}</arch>`];
  if (host.vendor) o.push(`      <vendor>${esc(host.vendor)}</vendor>`);
  const t = host.topology;
  o.push(`      <topology sockets='${t.sockets}' dies='${t.dies}' cores='${t.cores}' threads='${t.threads}'/>`);
  for (const size of host.pageSizes) o.push(`      <pages unit='KiB' size='${size}'/>`);
  o.push('    </cpu>', '    <power_management/>', `    <iommu support='${host.iommu ? 'yes' : 'no'}'/>`);
  // no <migration_features>: libvirt writes it only for a driver that can migrate (offline at least)
  o.push('    <topology>', `      <cells num='${host.cells.length}'>`);
  for (const c of host.cells) {
    o.push(`        <cell id='${c.id}'>`, `          <memory unit='KiB'>${c.memoryKiB}</memory>`);
    for (const p of c.pages) o.push(`          <pages unit='KiB' size='${p.sizeKiB}'>${p.count}</pages>`);
    if (c.distances.length > 0) {
      o.push('          <distances>');
      for (const d of c.distances) o.push(`            <sibling id='${d.id}' value='${d.value}'/>`);
      o.push('          </distances>');
    }
    o.push(`          <cpus num='${c.cpus.length}'>`);
    for (const p of c.cpus) {
      o.push(`            <cpu id='${p.id}' socket_id='${p.socket}' die_id='${p.die}' core_id='${p.core}' siblings='${esc(p.siblings)}'/>`);
    }
    o.push('          </cpus>', '        </cell>');
  }
  o.push('      </cells>', '    </topology>');
  // mpvirt applies no security labels: libvirt's 'none' driver
  o.push('    <secmodel>', '      <model>none</model>', '      <doi>0</doi>', '    </secmodel>', '  </host>', '');

  o.push('  <guest>', '    <os_type>hvm</os_type>', "    <arch name='x86_64'>", '      <wordsize>64</wordsize>', `      <emulator>${esc(guest.emulator)}</emulator>`);
  for (const m of guestMachines(guest.caps.machines)) {
    const canonical = m.canonical === undefined ? '' : ` canonical='${esc(m.canonical)}'`;
    const max = m.maxCpus > 0 ? ` maxCpus='${m.maxCpus}'` : '';
    o.push(`      <machine${canonical}${max}>${esc(m.name)}</machine>`);
  }
  o.push("      <domain type='qemu'/>");
  if (offersKvm(host, guest)) o.push("      <domain type='kvm'/>");
  o.push('    </arch>');
  // virQEMUCapsInitGuestFromBinary's features for x86_64, in virCapsGuestFeatureType order
  o.push(
    '    <features>',
    "      <acpi default='on' toggle='yes'/>",
    "      <apic default='on' toggle='no'/>",
    '      <cpuselection/>',
    '      <deviceboot/>',
    "      <disksnapshot default='on' toggle='no'/>",
    '    </features>',
    '  </guest>',
    '',
    '</capabilities>',
    '',
  );
  return o.join('\n');
}

/**
 * `virConnectGetMaxVcpus(type)`: the most vCPUs a domain of that virt type can
 * have, i.e. the cpu-max of QEMU's default machine. libvirt's own wording for
 * a type it does not know.
 */
export function maxVcpusFor(type: string | null, guest: GuestInfo): number | undefined {
  if (type !== null && !['qemu', 'kvm'].includes(type.toLowerCase())) return undefined;
  const machines = guest.caps.machines.filter((m) => m.name !== 'none');
  const def = machines.find((m) => m.isDefault) ?? machines.find((m) => m.alias === 'q35') ?? machines[0];
  return def?.cpuMax;
}
