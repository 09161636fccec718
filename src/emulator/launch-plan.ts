/**
 * The multi-process launch plan: a pure function from a domain definition and
 * the QEMU capabilities to the exact argv of every process and how they are
 * linked. Nothing here touches the OS; the driver spawns what the plan says.
 */
import { MpvirtError, unsupportedConfig } from '../errors.js';
import type { ControllerDef, DiskDef, DomainDef, InterfaceDef } from '../domainxml/model.js';
import { hasMultiprocess, resolveMachine, type QemuCaps } from './caps.js';
import { chardevArg, controllerArgs, diskArgs, diskNodeNumbers, floppyControllerArgs, pciPlacement } from './device-argv.js';
import { audioArgs, graphicsArgs, inputArgs, redirdevArgs, soundArgs, videoArgs, watchdogArgs } from './display-argv.js';
import { clockArgs, cpuOpts, machineProps } from './machine-argv.js';
import { checkSocketPath, jsonArg, optList, type JsonValue } from './qemu-args.js';
import { sourceBridge } from '../domainxml/net.js';
import { channelArgs, pmArgs, rngArgs, virtioSerialControllerArgs } from './guest-extras-argv.js';
import { ChildFds, type PlannedFile, type PlannedListener, type PlannedTap } from './child-fds.js';
import { monitorArgs, remoteArgs, REMOTE_LINK_FD, SANDBOX_ARG } from './remote-argv.js';

export interface LaunchPaths {
  /** the domain's runtime directory (QMP sockets live here) */
  runDir: string;
  /** optional: SeaBIOS/firmware debug console output (isa-debugcon on port 0x402) */
  firmwareLog?: string;
}

export interface RemotePlan {
  rid: string;
  /** user alias of the device, also its QEMU id on both sides */
  alias: string;
  binary: string;
  argv: string[];
  qmpPath: string;
  /** fd number of the link socket in the remote */
  linkFd: number;
  /** fd number of the other end of the link in the main QEMU */
  mainLinkFd: number;
  /** target devs of the disks this process serves */
  disks: string[];
  onCrash: 'destroy' | 'preserve' | 'restart';
  /** files the daemon opens and sockets it binds for this process, at their child fds */
  files: PlannedFile[];
  listeners: PlannedListener[];
}

export interface MainPlan {
  binary: string;
  argv: string[];
  qmpPath: string;
  files: PlannedFile[];
  listeners: PlannedListener[];
  /** taps the daemon creates on host bridges for the guest's NICs, at their child fds */
  taps: PlannedTap[];
}

export interface LaunchPlan {
  main: MainPlan;
  remotes: RemotePlan[];
}

const BOOT_LETTERS: Readonly<Record<string, string>> = { hd: 'c', cdrom: 'd', network: 'n', fd: 'a' };
const NIC_MODELS: Readonly<Record<string, string>> = { virtio: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e', rtl8139: 'rtl8139' };


function machineOf(def: DomainDef, caps: QemuCaps): { name: string; q35: boolean } {
  const requested = def.os.machine ?? 'q35';
  const m = resolveMachine(caps, requested);
  if (!m) throw unsupportedConfig(`Emulator '${caps.binary}' does not support machine type '${requested}'`);
  return { name: m.name, q35: /q35/.test(m.name) };
}

function accelOf(def: DomainDef, caps: QemuCaps): string {
  const accel = def.type === 'kvm' ? 'kvm' : def.type === 'qemu' ? 'tcg' : undefined;
  if (accel === undefined || !caps.accelerators.includes(accel)) {
    throw unsupportedConfig(`domain type '${def.type}' is not available with ${caps.binary}`);
  }
  return accel;
}

/** Models whose tap gets IFF_VNET_HDR (libvirt's qemuInterfaceIsVnetCompatModel). */
const VNET_HDR_MODELS = new Set(['virtio', 'e1000e']);

/** The backend of a NIC: QEMU's user-mode stack, or a tap the daemon creates on a host bridge. */
function netdevOf(nic: InterfaceDef, id: string, alias: string, fds: ChildFds): { [key: string]: JsonValue } {
  if (nic.type === 'user') return { type: 'user', id };
  // a network interface runs on the bridge its network's port named at start (driver/networks.ts)
  const bridge = nic.type === 'bridge' || nic.type === 'network' ? sourceBridge(nic) : undefined;
  if (bridge === undefined) {
    throw unsupportedConfig(nic.type === 'bridge'
      ? "interface type 'bridge' needs the host bridge it joins: <source bridge='BRIDGE'/>"
      : nic.type === 'network'
        ? "interface type 'network' has no bridge: its network was not resolved"
        : `interface type '${nic.type}' is not supported; use <interface type='bridge'> with a host bridge or <interface type='user'>`);
  }
  if (nic.mac === undefined) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `interface '${alias}' has no MAC address; its definition must be defined again to get one`);
  const ifname = nic.target?.dev;
  const fd = fds.tap({ alias, bridge, ...(ifname !== undefined ? { ifname } : {}), mac: nic.mac, vnetHdr: VNET_HDR_MODELS.has(nic.model ?? '') });
  return { type: 'tap', fd: String(fd), id };
}

function nicArgs(nic: InterfaceDef, i: number, q35: boolean, fds: ChildFds): string[] {
  const driver = NIC_MODELS[nic.model ?? (q35 ? 'e1000e' : 'rtl8139')];
  if (!driver) throw unsupportedConfig(`interface model '${nic.model}' is not supported`);
  const netdev = `hostnet${i}`;
  const id = nic.alias ?? `net${i}`;
  return [
    '-netdev', jsonArg(netdevOf(nic, netdev, id, fds)),
    '-device', jsonArg({ driver, netdev, id, mac: nic.mac, bootindex: nic.bootOrder, ...pciPlacement(nic.address, q35, `interface ${i}`) }),
  ];
}

function serialArgs(def: DomainDef, fds: ChildFds): string[] {
  const argv: string[] = [];
  const serials = def.devices.filter((d) => d.kind === 'serial');
  // A console on serial port 0 is the same port (libvirt's rule); otherwise it becomes one.
  const consoles = def.devices.filter((d) => d.kind === 'console');
  const ports = serials.length > 0 ? serials : consoles.slice(0, 1);
  ports.forEach((s, i) => {
    if (s.kind !== 'serial' && s.kind !== 'console') return;
    if (s.kind === 'console' && s.target?.type !== undefined && s.target.type !== 'serial') {
      throw unsupportedConfig(`console target type '${s.target.type}' is not supported`);
    }
    const port = s.kind === 'serial' ? (s.target?.port ?? i) : 0;
    const id = `charserial${port}`;
    argv.push('-chardev', chardevArg(s.type, id, s.source?.fields, fds));
    argv.push('-device', jsonArg({ driver: 'isa-serial', chardev: id, id: s.alias ?? `serial${port}`, index: port }));
  });
  return argv;
}

function mainArgs(def: DomainDef, caps: QemuCaps, paths: LaunchPaths, qmpPath: string, remotes: RemotePlan[], diskNumbers: Map<DiskDef, number>, fds: ChildFds): string[] {
  const machine = machineOf(def, caps);
  const accel = accelOf(def, caps);
  const features = new Set((def.features ?? []).map((f) => f.local));
  const vmportOff = (def.features ?? []).some((f) => f.local === 'vmport' && f.attrs.some((a) => a.name === 'state' && a.value === 'off'));
  const memMiB = Math.ceil(def.memory.kib / 1024); // libvirt aligns guest RAM to 1 MiB on x86
  const shared = remotes.length > 0 || def.memoryBacking?.source === 'memfd' || def.memoryBacking?.access === 'shared';
  const vcpus = def.vcpu.current ?? def.vcpu.count;

  const argv: string[] = [
    '-name', optList([['guest', def.name], ['debug-threads', true]]),
    '-S',
    '-machine', optList([
      ['', machine.name], ['usb', false], ['dump-guest-core', false], ['memory-backend', 'pc.ram'],
      ['acpi', features.has('acpi') ? undefined : false], ['vmport', vmportOff ? false : undefined], ...machineProps(def),
    ]),
    '-accel', accel,
    '-cpu', optList(cpuOpts(def, accel)),
    '-m', String(memMiB),
    '-object', jsonArg(
      shared
        ? { 'qom-type': 'memory-backend-memfd', id: 'pc.ram', share: true, size: memMiB * 1024 * 1024 }
        : { 'qom-type': 'memory-backend-ram', id: 'pc.ram', size: memMiB * 1024 * 1024 },
    ),
    '-overcommit', 'mem-lock=off',
    '-smp', optList([['', vcpus], ['maxcpus', def.vcpu.count !== vcpus ? def.vcpu.count : undefined], ['sockets', def.vcpu.count], ['cores', 1], ['threads', 1]]),
    '-uuid', def.uuid,
    '-no-user-config',
    '-nodefaults',
    ...monitorArgs(qmpPath, fds),
    ...clockArgs(def, accel),
    '-no-shutdown',
  ];
  if (def.onReboot === 'destroy') argv.push('-no-reboot');
  argv.push(...pmArgs(def, machine.q35));
  const bootDevs = def.os.boot.map((b) => BOOT_LETTERS[b]).filter((x): x is string => x !== undefined);
  const perDeviceBoot = def.devices.some((d) => (d.kind === 'disk' || d.kind === 'interface') && d.bootOrder !== undefined);
  argv.push('-boot', perDeviceBoot || bootDevs.length === 0 ? 'strict=on' : optList([['order', bootDevs.join('')], ['strict', true]]));
  if (def.os.kernel !== undefined) argv.push('-kernel', def.os.kernel);
  if (def.os.initrd !== undefined) argv.push('-initrd', def.os.initrd);
  if (def.os.cmdline !== undefined) argv.push('-append', def.os.cmdline);

  const remoteAliases = new Set(remotes.map((r) => r.alias));
  // PCI controllers first, by index, so that every bus exists before a device names it (as libvirt)
  const ctrls = def.devices.filter((d): d is ControllerDef => d.kind === 'controller' && !remoteAliases.has(d.alias ?? ''));
  const pci = ctrls.filter((c) => c.type === 'pci').sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  for (const c of [...pci, ...ctrls.filter((c) => c.type !== 'pci')]) {
    argv.push(...(c.type === 'virtio-serial' ? virtioSerialControllerArgs(c, machine.q35) : controllerArgs(c, machine.q35)));
  }
  for (const r of remotes) {
    // the proxy stands where the controller it serves is defined: the guest sees that slot
    const ctrl = def.devices.find((d): d is ControllerDef => d.kind === 'controller' && d.alias === r.alias);
    argv.push('-device', jsonArg({ driver: 'x-pci-proxy-dev', id: r.alias, fd: String(r.mainLinkFd), ...pciPlacement(ctrl?.address, machine.q35, `controller '${r.alias}'`) }));
  }
  argv.push(...floppyControllerArgs(def, machine.q35));
  const remoteDisks = new Set(remotes.flatMap((r) => r.disks));
  for (const d of def.devices) {
    if (d.kind === 'disk' && !remoteDisks.has(d.target.dev)) argv.push(...diskArgs(def, d, diskNumbers.get(d)!, machine.q35, fds).argv);
  }
  def.devices.filter((d): d is InterfaceDef => d.kind === 'interface').forEach((nic, i) => argv.push(...nicArgs(nic, i, machine.q35, fds)));
  const spicevmc = def.devices.some((d) => d.kind === 'raw' && (d.element.name === 'channel' || d.element.name === 'redirdev') && d.element.attrs.some((a) => a.name === 'type' && a.value === 'spicevmc'));
  if (spicevmc && !def.devices.some((d) => d.kind === 'graphics' && d.type === 'spice')) {
    throw unsupportedConfig("a spicevmc channel or USB redirection needs a SPICE display (<graphics type='spice'>)");
  }
  argv.push(...serialArgs(def, fds), ...channelArgs(def, paths.runDir, fds), ...inputArgs(def, machine.q35), ...audioArgs(def));
  argv.push(...graphicsArgs(def, paths.runDir), ...videoArgs(def, machine.q35), ...soundArgs(def, machine.q35));
  argv.push(...redirdevArgs(def), ...watchdogArgs(def, machine.q35));
  for (const d of def.devices) {
    if (d.kind === 'memballoon' && d.model === 'virtio') {
      argv.push('-device', jsonArg({ driver: 'virtio-balloon-pci', id: d.alias ?? 'balloon0', ...pciPlacement(d.address, machine.q35, 'memballoon') }));
    }
  }
  argv.push(...rngArgs(def, machine.q35));
  if (paths.firmwareLog !== undefined) {
    argv.push('-chardev', optList([['', 'file'], ['id', 'charfirmware'], ['path', fds.file(paths.firmwareLog, 'truncate')]]));
    argv.push('-device', jsonArg({ driver: 'isa-debugcon', iobase: 0x402, chardev: 'charfirmware' }));
  }
  if (caps.sandbox) argv.push('-sandbox', SANDBOX_ARG);
  argv.push(...fds.addFdArgs(), '-msg', 'timestamp=on');
  return argv;
}

/**
 * on-crash restart unplugs and re-plugs the remote's proxy while the guest runs (replug.md): the
 * guest must do ACPI PCI hot-plug, on a slot that has it — any but q35's pcie.0.
 */
function assertRestartable(def: DomainDef, q35: boolean, r: RemotePlan): void {
  const what = `on-crash action 'restart' of remote process '${r.rid}'`;
  if (!(def.features ?? []).some((f) => f.local === 'acpi')) {
    throw unsupportedConfig(`${what} needs <features><acpi/></features>: the guest releases the device of a dead remote through ACPI hot-plug`);
  }
  const ctrl = def.devices.find((d): d is ControllerDef => d.kind === 'controller' && d.alias === r.alias);
  const bus = ctrl?.address?.fields.find(([k]) => k === 'bus')?.[1];
  if (q35 && ctrl?.address?.type === 'pci' && Number(bus ?? 0) === 0) {
    throw unsupportedConfig(`${what} needs controller '${r.alias}' on a hot-pluggable slot, which pcie.0 (bus 0) has none of: leave its address to mpvirt, which puts it behind a pcie-to-pci-bridge as libvirt does`);
  }
}

/** Build the launch plan. Throws MpvirtError for anything that cannot be launched. */
export function buildLaunchPlan(def: DomainDef, caps: QemuCaps, paths: LaunchPaths): LaunchPlan {
  const processes = def.metadata?.remote?.processes ?? [];
  if (processes.length > 0 && !hasMultiprocess(caps)) {
    throw unsupportedConfig(`${caps.binary} has no multi-process support (needs -machine x-remote)`);
  }
  const binary = def.emulator ?? caps.binary;
  // disk node numbers are libvirt's (the last disk is libvirt-1), the same in both processes
  // and in the live XML's source index
  const diskNumbers = diskNodeNumbers(def);
  const remotes: RemotePlan[] = processes.map((p, i) => {
    const qmpPath = checkSocketPath(`${paths.runDir}/remote-${p.rid}.qmp`);
    const r = remoteArgs(def, p, caps, qmpPath, diskNumbers);
    return {
      rid: p.rid,
      alias: p.devices[0]!,
      binary: p.emulator ?? binary,
      argv: r.argv,
      qmpPath,
      linkFd: REMOTE_LINK_FD,
      mainLinkFd: 3 + i,
      disks: r.disks.map((d) => d.target.dev),
      onCrash: p.onCrash ?? 'destroy',
      files: r.fds.files,
      listeners: r.fds.listeners,
    };
  });
  for (const r of remotes) if (r.onCrash === 'restart') assertRestartable(def, machineOf(def, caps).q35, r);
  const qmpPath = checkSocketPath(`${paths.runDir}/monitor.qmp`);
  // fds 3.. are the links to the remotes; what the daemon opens for the main QEMU follows
  const fds = new ChildFds(3 + remotes.length);
  const argv = mainArgs(def, caps, paths, qmpPath, remotes, diskNumbers, fds);
  return { main: { binary, argv, qmpPath, files: fds.files, listeners: fds.listeners, taps: fds.taps }, remotes };
}
