/**
 * What mpvirt can run. The parser preserves everything; this module lists the
 * preserved or typed content that would change the guest if mpvirt silently
 * ignored it, so the driver can refuse it at define time
 * (`unsupported configuration: …`) instead of booting a different machine.
 *
 * Content that only tunes the host side (security labels, cgroup tuning,
 * foreign metadata) is harmless to ignore and accepted.
 */
import { unsupportedConfig } from '../errors.js';
import type { DeviceDef, DomainDef, Extra, InterfaceDef } from './model.js';
import { sourceBridge } from './net.js';
import { featureProblem, rawDeviceProblem, timerProblem } from './supported-raw.js';

export interface UnsupportedItem {
  /** where it is, e.g. `/domain/devices/hostdev` */
  path: string;
  /** why it cannot be run */
  reason: string;
}

/** Top-level elements mpvirt may ignore without changing the guest. */
const HARMLESS_TOP = new Set(['pm', 'seclabel', 'resource', 'memtune', 'blkiotune', 'cputune', 'numatune', 'perf', 'on_lockfailure']);

const SUPPORTED_FEATURES = new Set(['acpi', 'apic', 'pae', 'vmport', 'pmu', 'hap', 'hyperv', 'smm']);

/** Child elements of typed elements that are harmless to ignore, or acted on from the element's extra (a `<cpu>`'s `<feature>`s by machine-argv.ts), per element. */
const HARMLESS_CHILDREN: Readonly<Record<string, ReadonlySet<string>>> = {
  disk: new Set(['iotune', 'backingStore']),
  cpu: new Set(['topology', 'feature']),
  memoryBacking: new Set(['hugepages', 'nosharepages', 'locked', 'discard', 'allocation']),
  os: new Set(['bootmenu']),
  controller: new Set(['driver', 'model', 'target']),
  // listen addresses are acted on; the SPICE tuning elements are QEMU options
  graphics: new Set(['listen', 'image', 'jpeg', 'zlib', 'playback', 'streaming', 'mouse', 'clipboard', 'filetransfer']),
  interface: new Set(),
  serial: new Set(),
  console: new Set(),
  video: new Set(),
  memballoon: new Set(['stats']),
  input: new Set(),
};

/** Values the launch plan can build, per device kind. */
const SUPPORTED: Readonly<Record<string, ReadonlySet<string>>> = {
  domainType: new Set(['kvm', 'qemu']),
  osType: new Set(['hvm']),
  arch: new Set(['x86_64']),
  diskDevice: new Set(['disk', 'cdrom', 'floppy']),
  diskBus: new Set(['scsi', 'virtio', 'sata', 'ide', 'fdc']),
  diskFormat: new Set(['raw', 'qcow2']),
  controller: new Set(['scsi', 'pci', 'usb', 'sata', 'ide', 'fdc', 'virtio-serial']),
  scsiModel: new Set(['lsilogic', 'virtio-scsi']),
  // 'network' is resolved through the host's network driver at start (driver/networks.ts)
  interface: new Set(['user', 'bridge', 'network']),
  nicModel: new Set(['virtio', 'e1000', 'e1000e', 'rtl8139']),
  // 'stdio' would tie the guest's console to the daemon's own stdio
  chardev: new Set(['pty', 'file', 'null', 'unix']),
  pciModel: new Set(['pci-root', 'pcie-root', 'pcie-root-port', 'pcie-to-pci-bridge', 'pci-bridge']),
  usbModel: new Set(['qemu-xhci', 'nec-xhci', 'piix3-uhci', 'none']),
  graphics: new Set(['vnc', 'spice']),
  video: new Set(['none', 'vga', 'virtio', 'cirrus', 'qxl', 'bochs', 'ramfb']),
  memballoon: new Set(['virtio', 'none']),
};

function extraChildren(owner: string, path: string, extra: Extra, out: UnsupportedItem[]): void {
  const harmless = HARMLESS_CHILDREN[owner] ?? new Set<string>();
  for (const c of extra.children) {
    if (c.ns !== null || harmless.has(c.local)) continue;
    out.push({ path: `${path}/${c.name}`, reason: `<${c.name}> in <${owner}> is not supported` });
  }
}

function checkValue(set: keyof typeof SUPPORTED, value: string | undefined, path: string, what: string, out: UnsupportedItem[]): void {
  if (value !== undefined && !SUPPORTED[set]!.has(value)) out.push({ path, reason: `${what} '${value}' is not supported` });
}

/**
 * A virtual network is resolved at start through the host's network driver to the bridge its
 * port plugs into (driver/networks.ts); define only needs the network's name, as libvirt's
 * parser requires it (virXMLPropStringRequired).
 */
function interfaceProblem(d: InterfaceDef): string | undefined {
  if (d.type === 'network' && !d.source?.fields.some(([k]) => k === 'network')) return "Missing required attribute 'network' in element 'source'";
  if (d.type === 'bridge' && !sourceBridge(d)) return "interface type 'bridge' needs the host bridge it joins: <source bridge='BRIDGE'/>";
  return undefined;
}

function checkDevice(d: DeviceDef, out: UnsupportedItem[]): void {
  if (d.kind === 'raw') {
    const reason = rawDeviceProblem(d.element);
    if (reason !== undefined) out.push({ path: `/domain/devices/${d.element.name}`, reason });
    return;
  }
  const path = `/domain/devices/${d.kind}`;
  switch (d.kind) {
    case 'disk':
      checkValue('diskDevice', d.device, path, 'disk device', out);
      checkValue('diskBus', d.target.bus, `${path}/target`, 'disk bus', out);
      checkValue('diskFormat', d.driver?.format, `${path}/driver`, 'disk format', out);
      if (d.driver?.name !== undefined && d.driver.name !== 'qemu') out.push({ path: `${path}/driver`, reason: `disk driver '${d.driver.name}' is not supported` });
      // `<backingStore/>` alone says "no backing chain"; a described chain is not run
      for (const b of d.extra.children.filter((c) => c.ns === null && c.local === 'backingStore')) {
        if (b.attrs.length > 0 || b.children.some((c) => c.kind === 'element')) out.push({ path: `${path}/backingStore`, reason: 'a disk backing chain in the definition is not supported' });
      }
      break;
    case 'controller':
      checkValue('controller', d.type, path, 'controller type', out);
      if (d.type === 'scsi') checkValue('scsiModel', d.model, path, 'SCSI controller model', out);
      if (d.type === 'pci') checkValue('pciModel', d.model, path, 'PCI controller model', out);
      if (d.type === 'usb') checkValue('usbModel', d.model, path, 'USB controller model', out);
      break;
    case 'interface': {
      const reason = interfaceProblem(d);
      if (reason !== undefined) out.push({ path, reason });
      else checkValue('interface', d.type, path, 'interface type', out);
      checkValue('nicModel', d.model, `${path}/model`, 'interface model', out);
      break;
    }
    case 'serial':
    case 'console':
      checkValue('chardev', d.type, path, `${d.kind} type`, out);
      if (d.kind === 'console' && d.target?.type !== undefined && d.target.type !== 'serial') {
        out.push({ path: `${path}/target`, reason: `console target type '${d.target.type}' is not supported` });
      }
      break;
    case 'graphics': {
      checkValue('graphics', d.type, path, 'graphics type', out);
      const tls = Number(d.extra.attrs.find((a) => a.name === 'tlsPort')?.value ?? 0);
      if (tls > 0) out.push({ path, reason: 'a SPICE TLS port needs certificates, which mpvirt does not configure' });
      // a display that silently ignored its password would be open to anyone who can reach it
      if (d.extra.attrs.some((a) => a.name === 'passwd')) out.push({ path, reason: 'graphics passwords are not supported' });
      for (const l of d.extra.children.filter((c) => c.ns === null && c.local === 'listen')) {
        const type = l.attrs.find((a) => a.name === 'type')?.value ?? 'address';
        if (!['address', 'socket', 'none'].includes(type) || (type === 'none' && d.type !== 'spice')) {
          out.push({ path: `${path}/listen`, reason: `graphics listen type '${type}' is not supported` });
        }
      }
      break;
    }
    case 'video':
      checkValue('video', d.model, path, 'video model', out);
      break;
    case 'memballoon':
      checkValue('memballoon', d.model, path, 'memballoon model', out);
      break;
    case 'input': {
      const ps2 = d.bus === 'ps2' && (d.type === 'mouse' || d.type === 'keyboard');
      const other = (d.bus === 'usb' || d.bus === 'virtio') && ['tablet', 'mouse', 'keyboard'].includes(d.type);
      if (!ps2 && !other) out.push({ path, reason: `input device type '${d.type}'${d.bus ? ` on bus '${d.bus}'` : ''} is not supported` });
      break;
    }
  }
  extraChildren(d.kind, path, d.extra, out);
}

/** Everything in the definition mpvirt cannot run faithfully, in document order. */
export function findUnsupported(def: DomainDef): UnsupportedItem[] {
  const out: UnsupportedItem[] = [];
  checkValue('domainType', def.type, '/domain/@type', 'domain type', out);
  checkValue('osType', def.os.type, '/domain/os/type', 'OS type', out);
  checkValue('arch', def.os.arch, '/domain/os/type/@arch', 'architecture', out);
  extraChildren('os', '/domain/os', def.os.extra, out);
  for (const t of def.extraTop) {
    if (t.element.ns === null && HARMLESS_TOP.has(t.element.local)) continue;
    out.push({ path: `/domain/${t.element.name}`, reason: `<${t.element.name}> is not supported` });
  }
  for (const f of def.features ?? []) {
    const reason = f.ns === null && SUPPORTED_FEATURES.has(f.local) ? featureProblem(f) : `feature <${f.name}> is not supported`;
    if (reason !== undefined) out.push({ path: `/domain/features/${f.name}`, reason });
  }
  if (def.cpu) extraChildren('cpu', '/domain/cpu', def.cpu.extra, out);
  for (const c of def.clock?.extra.children ?? []) {
    const reason = c.ns === null && c.local === 'timer' ? timerProblem(c) : `<${c.name}> in <clock> is not supported`;
    if (reason !== undefined) out.push({ path: `/domain/clock/${c.name}`, reason });
  }
  if (def.memoryBacking) extraChildren('memoryBacking', '/domain/memoryBacking', def.memoryBacking.extra, out);
  for (const d of def.devices) checkDevice(d, out);
  return out;
}

/** Refuse a definition with anything mpvirt cannot run, naming the first such element. */
export function assertSupported(def: DomainDef): void {
  const items = findUnsupported(def);
  const first = items[0];
  if (!first) return;
  const more = items.length > 1 ? ` (and ${items.length - 1} more: ${items.slice(1, 4).map((i) => i.path).join(', ')}${items.length > 4 ? ', …' : ''})` : '';
  throw unsupportedConfig(`${first.reason} (${first.path})${more}`, { where: first.path });
}
