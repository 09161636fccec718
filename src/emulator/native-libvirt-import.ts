/**
 * domxml-from-native for libvirt-style command lines: what domxml-to-native prints (each remote
 * process, then the main QEMU), and the command lines libvirt itself runs. The inverse of
 * launch-plan.ts, machine-argv.ts and remote-argv.ts for the machine, its remote processes and
 * their links; devices are native-devices-import.ts's and native-disks-import.ts's. What the
 * daemon provides itself (monitors, sandbox, message timestamps) is left to it; what domain XML
 * cannot say is refused by name.
 */
import { HYPERV_FEATURES } from '../domainxml/supported-raw.js';
import { MPQ_NS } from '../domainxml/model.js';
import { bool, CONTROLLER_DRIVERS, controllerIndex, controllerXml, isPlainDevice, num, onlyProps, pciAddress, plainDevicesXml, str, type ControllerRef, type ImportContext } from './native-devices-import.js';
import { DISK_DRIVERS, disksXml, type NativeDisk } from './native-disks-import.js';
import { graphicsXml } from './native-graphics-import.js';
import { optionProps, type NativeCommand, type NativeProps } from './native-words.js';
import { cannotConvert, el, type XmlText } from './native-xml.js';
import { QEMU_FEATURE_NAMES } from './machine-argv.js';

const LIBVIRT_FEATURE_NAMES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(QEMU_FEATURE_NAMES).map(([l, q]) => [q, l]));

const WITH_VALUE = new Set(['name', 'machine', 'accel', 'cpu', 'm', 'object', 'overcommit', 'smp', 'uuid', 'chardev', 'mon', 'rtc', 'boot', 'device', 'blockdev',
  'audiodev', 'display', 'sandbox', 'msg', 'spice', 'vnc', 'netdev', 'global', 'watchdog-action', 'kernel', 'initrd', 'append', 'add-fd']);
/** Options that say nothing a definition holds: the daemon always passes them (or decides them). */
const DAEMON_FLAGS = new Set(['S', 'no-user-config', 'nodefaults', 'no-shutdown']);

interface NativeOption { opt: string; value: string }

/** A process's options in order; `-opt` flags have an empty value. */
function optionsOf(args: readonly string[]): NativeOption[] {
  const out: NativeOption[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) cannotConvert(`the argument '${a}'`);
    const opt = a.replace(/^--?/, '');
    if (WITH_VALUE.has(opt)) {
      const value = args[++i] ?? cannotConvert(`${a} without a value`);
      out.push({ opt, value });
    } else if (DAEMON_FLAGS.has(opt) || opt === 'no-reboot') out.push({ opt, value: '' });
    else cannotConvert(`the option '${a}'`);
  }
  return out;
}

/** Is this a libvirt-style command line (JSON device syntax, -blockdev)? */
export function isLibvirtStyle(commands: readonly NativeCommand[]): boolean {
  return commands.some(({ args: c }) => c.some((w, i) => w === '-blockdev' || (['-device', '-object', '-netdev', '-audiodev'].includes(c[i - 1] ?? '') && w.startsWith('{'))));
}

const isRemote = (o: readonly NativeOption[]): boolean => o.some((x) => x.opt === 'machine' && (optionProps(x.value, 'type')['type'] === 'x-remote'));

interface RemoteIn { rid: string; alias: string; binary: string; sandbox: boolean; disks: NativeDisk[] }

/** A `-machine x-remote` process: its controller, its disks, its link object. */
function readRemote(binary: string, options: readonly NativeOption[]): RemoteIn {
  const blockdevs = new Map<string, NativeProps>();
  const frontends: NativeProps[] = [];
  let alias: string | undefined;
  let link: NativeProps | undefined;
  let sandbox = false;
  for (const { opt, value } of options) {
    if (opt === 'device') {
      const p = optionProps(value, 'driver');
      const driver = str(p, 'driver')!;
      if (driver === 'lsi53c895a') {
        onlyProps('-device lsi53c895a', p, ['driver', 'id']);
        if (alias !== undefined) cannotConvert('a remote process with two devices');
        alias = str(p, 'id') ?? cannotConvert('-device lsi53c895a without an id');
      } else if (DISK_DRIVERS.has(driver) && driver.startsWith('scsi-')) frontends.push(p);
      else cannotConvert(`-device ${driver} in a remote process`);
    } else if (opt === 'blockdev') {
      const p = optionProps(value);
      blockdevs.set(str(p, 'node-name') ?? cannotConvert('-blockdev without a node-name'), p);
    } else if (opt === 'object') {
      const p = optionProps(value, 'qom-type');
      if (str(p, 'qom-type') !== 'x-remote-object') cannotConvert(`-object ${str(p, 'qom-type')} in a remote process`);
      onlyProps('-object x-remote-object', p, ['qom-type', 'id', 'devid', 'fd']);
      link = p;
    } else if (opt === 'sandbox') sandbox = true;
    else if (!(opt === 'chardev' && optionProps(value, 'backend')['id'] === 'charmonitor') && !['name', 'machine', 'mon', 'display', 'msg', ...DAEMON_FLAGS].includes(opt)) {
      cannotConvert(`'-${opt}' in a remote process`);
    }
  }
  if (alias === undefined) return cannotConvert('a remote process without a device');
  if (link === undefined) return cannotConvert(`remote device '${alias}' without an x-remote-object`);
  if (str(link, 'devid') !== alias) cannotConvert(`x-remote-object '${str(link, 'id')}' for device '${str(link, 'devid')}', which its process does not have`);
  const id = str(link, 'id') ?? cannotConvert('-object x-remote-object without an id');
  const rid = id.startsWith('mpvirt-robj-') ? id.slice('mpvirt-robj-'.length) : id;
  return { rid, alias, binary, sandbox, disks: frontends.map((frontend) => ({ frontend, blockdevs, rid })) };
}

/** Every option of the main QEMU, sorted by what it becomes. */
interface MainIn {
  binary: string;
  props: Map<string, NativeProps>;
  globals: Map<string, string>;
  flags: Set<string>;
  devices: NativeProps[];
  blockdevs: Map<string, NativeProps>;
  chardevs: Map<string, NativeProps>;
  netdevs: Map<string, NativeProps>;
  objects: Map<string, NativeProps>;
  audiodevs: NativeProps[];
  graphics: Array<{ opt: 'vnc' | 'spice'; props: NativeProps }>;
  kernel: Map<string, string>;
  uuid?: string;
  watchdogAction?: string;
}

function readMain(binary: string, options: readonly NativeOption[]): MainIn {
  const m: MainIn = { binary, props: new Map(), globals: new Map(), flags: new Set(), devices: [], blockdevs: new Map(), chardevs: new Map(), netdevs: new Map(), objects: new Map(), audiodevs: [], graphics: [], kernel: new Map() };
  const IMPLIED: Readonly<Record<string, string>> = { m: 'size', name: 'guest', machine: 'type', cpu: 'model', smp: 'cpus', rtc: 'base', boot: 'order', accel: 'accel', overcommit: 'mode', display: 'type', msg: 'mode', sandbox: 'mode' };
  for (const { opt, value } of options) {
    switch (opt) {
      case 'device': m.devices.push(optionProps(value, 'driver')); break;
      case 'blockdev': { const p = optionProps(value); m.blockdevs.set(str(p, 'node-name') ?? cannotConvert('-blockdev without a node-name'), p); break; }
      case 'chardev': { const p = optionProps(value, 'backend'); m.chardevs.set(str(p, 'id') ?? cannotConvert('-chardev without an id'), p); break; }
      case 'netdev': { const p = optionProps(value, 'type'); m.netdevs.set(str(p, 'id') ?? cannotConvert('-netdev without an id'), p); break; }
      case 'object': { const p = optionProps(value, 'qom-type'); m.objects.set(str(p, 'id') ?? cannotConvert('-object without an id'), p); break; }
      case 'audiodev': m.audiodevs.push(optionProps(value, 'driver')); break;
      case 'vnc': case 'spice': m.graphics.push({ opt, props: optionProps(value, opt === 'vnc' ? 'where' : 'kind') }); break;
      case 'global': {
        const eq = value.indexOf('=');
        if (eq < 0) cannotConvert(`-global '${value}'`);
        m.globals.set(value.slice(0, eq), value.slice(eq + 1));
        break;
      }
      case 'watchdog-action': m.watchdogAction = value; break;
      case 'uuid': m.uuid = value; break;
      case 'kernel': case 'initrd': case 'append': m.kernel.set(opt, value); break;
      case 'mon': break; // the daemon's own monitor (its chardev is charmonitor)
      case 'add-fd': cannotConvert(`-add-fd (an fd the daemon passes; convert domxml-to-native's output, which names the file)`); break;
      default:
        if (DAEMON_FLAGS.has(opt) || opt === 'no-reboot') m.flags.add(opt);
        else {
          if (m.props.has(opt)) cannotConvert(`a second -${opt}`);
          m.props.set(opt, optionProps(value, IMPLIED[opt]));
        }
    }
  }
  m.chardevs.delete('charmonitor');
  return m;
}

const BOOT_DEVS: Readonly<Record<string, string>> = { c: 'hd', d: 'cdrom', n: 'network', a: 'fd' };
const RTC_TRACK: Readonly<Record<string, string>> = { vm: 'guest', host: 'wall', rt: 'realtime' };

/** `-machine`, `-accel`, `-cpu`, `-m`, `-smp`, `-rtc`, `-boot`, `-global`: the domain's top level. */
function machineXml(m: MainIn, q35Out: { q35: boolean }, hasRemotes: boolean) {
  const p = (k: string): NativeProps => m.props.get(k) ?? {};
  const machine = p('machine');
  onlyProps('-machine', machine, ['type', 'usb', 'dump-guest-core', 'memory-backend', 'acpi', 'vmport', 'smm', 'hpet']);
  const type = str(machine, 'type') ?? cannotConvert('a main QEMU without -machine');
  q35Out.q35 = /q35/.test(type);
  const accel = str(p('accel'), 'accel') ?? 'tcg';
  if (accel !== 'kvm' && accel !== 'tcg') cannotConvert(`-accel ${accel}`);
  onlyProps('-accel', p('accel'), ['accel']);
  // guest RAM: -m and its backend object; a shared memfd without remote processes is asked for
  const memMiB = num(p('m'), 'size') ?? cannotConvert('a main QEMU without -m');
  onlyProps('-m', p('m'), ['size']);
  const backendId = str(machine, 'memory-backend');
  const backend = backendId === undefined ? undefined : m.objects.get(backendId) ?? cannotConvert(`-machine memory-backend='${backendId}', which no -object defines`);
  if (backendId !== undefined) m.objects.delete(backendId);
  if (backend) onlyProps(`-object ${str(backend, 'qom-type')}`, backend, ['qom-type', 'id', 'share', 'size']);
  const memfd = backend !== undefined && str(backend, 'qom-type') === 'memory-backend-memfd';
  if (backend && !memfd && str(backend, 'qom-type') !== 'memory-backend-ram') cannotConvert(`-object ${str(backend, 'qom-type')} as guest RAM`);
  const smp = p('smp');
  onlyProps('-smp', smp, ['cpus', 'maxcpus', 'sockets', 'cores', 'threads']);
  const cpus = num(smp, 'cpus') ?? 1;
  const [sockets, cores, threads] = [num(smp, 'sockets'), num(smp, 'cores') ?? 1, num(smp, 'threads') ?? 1];
  const max = num(smp, 'maxcpus') ?? (sockets ?? cpus) * cores * threads;

  const cpu = p('cpu');
  const model = str(cpu, 'model') ?? 'qemu64';
  const hyperv: XmlText[] = [];
  const timers: XmlText[] = [];
  const cpuFeatures: XmlText[] = [];
  let hvPassthrough = false;
  let eoi: string | undefined;
  let pmu: string | undefined;
  for (const [k, v] of Object.entries(cpu)) {
    if (k === 'model' || k === 'migratable') continue;
    const on = v === true || v === 'on';
    const onOff = on || v === false || v === 'off';
    if (k === 'kvm-pv-eoi' && onOff) eoi = on ? 'on' : 'off';
    else if (k === 'pmu' && onOff) pmu = on ? 'on' : 'off';
    else if (k === 'kvmclock') timers.push(el('timer', { name: 'kvmclock', present: on ? 'yes' : 'no' }));
    else if (k === 'hv-time' && on) timers.push(el('timer', { name: 'hypervclock', present: 'yes' }));
    else if (k === 'hv-passthrough' && on) hvPassthrough = true;
    else if (k === 'hv-spinlocks') hyperv.push(el('spinlocks', { state: 'on', retries: Number(v) }));
    else if (k === 'hv-vendor-id') hyperv.push(el('vendor_id', { state: 'on', value: String(v) }));
    else if (k === 'hv-stimer-direct') continue;
    else if (k.startsWith('hv-') && on && (HYPERV_FEATURES as readonly string[]).includes(k.slice(3))) {
      const name = k.slice(3);
      hyperv.push(el(name, { state: 'on' }, name === 'stimer' && bool(cpu, 'hv-stimer-direct') === true && el('direct', { state: 'on' })));
    } else if (onOff && !k.startsWith('hv-')) {
      // a CPUID feature of the model, in libvirt's spelling (machine-argv.ts translates it back)
      cpuFeatures.push(el('feature', { policy: on ? 'require' : 'disable', name: LIBVIRT_FEATURE_NAMES[k] ?? k }));
    } else cannotConvert(`the -cpu property '${k}'`);
  }
  const migratable = bool(cpu, 'migratable') === false ? 'off' : undefined;
  const topology = (cores !== 1 || threads !== 1) && el('topology', { sockets: max / cores / threads, dies: undefined, cores, threads });
  const named = model !== 'qemu64' || cpuFeatures.length > 0;
  const cpuEl = model === 'host' ? el('cpu', { mode: 'host-passthrough', migratable }, topology, ...cpuFeatures)
    : model === 'max' ? el('cpu', { mode: 'maximum', migratable }, topology, ...cpuFeatures)
    : named || topology
      ? el('cpu', named ? { mode: 'custom', match: 'exact' } : {}, named && el('model', { fallback: 'forbid' }, model), topology, ...cpuFeatures)
      : undefined;

  const rtc = p('rtc');
  onlyProps('-rtc', rtc, ['base', 'clock', 'driftfix']);
  const base = str(rtc, 'base') ?? 'utc';
  if (base !== 'utc' && base !== 'localtime') cannotConvert(`-rtc base=${base}`);
  const track = str(rtc, 'clock');
  if (track !== undefined || str(rtc, 'driftfix') !== undefined) {
    if (str(rtc, 'driftfix') !== undefined && str(rtc, 'driftfix') !== 'slew') cannotConvert(`-rtc driftfix=${str(rtc, 'driftfix')}`);
    timers.push(el('timer', { name: 'rtc', track: track === undefined ? undefined : RTC_TRACK[track] ?? cannotConvert(`-rtc clock=${track}`), tickpolicy: str(rtc, 'driftfix') ? 'catchup' : undefined }));
  }
  const pit = m.globals.get('kvm-pit.lost_tick_policy');
  if (pit !== undefined) timers.push(el('timer', { name: 'pit', tickpolicy: pit }));
  if (bool(machine, 'hpet') === false) timers.push(el('timer', { name: 'hpet', present: 'no' }));

  const pmDev = q35Out.q35 ? 'ICH9-LPC' : 'PIIX4_PM';
  const pm = (['disable_s3', 'disable_s4'] as const).map((k, i) => {
    const v = m.globals.get(`${pmDev}.${k}`);
    return v === undefined ? undefined : el(i === 0 ? 'suspend-to-mem' : 'suspend-to-disk', { enabled: v === '1' ? 'no' : 'yes' });
  });
  for (const g of m.globals.keys()) if (!['kvm-pit.lost_tick_policy', `${pmDev}.disable_s3`, `${pmDev}.disable_s4`, 'isa-fdc.bootindexA', 'isa-fdc.bootindexB'].includes(g)) cannotConvert(`-global ${g}`);

  const boot = p('boot');
  onlyProps('-boot', boot, ['order', 'strict']);
  const order = [...(str(boot, 'order') ?? '')].map((c) => BOOT_DEVS[c] ?? cannotConvert(`-boot order=${str(boot, 'order')}`));
  const acpi = bool(machine, 'acpi') !== false;
  const smm = bool(machine, 'smm');
  const features = [acpi && el('acpi'), eoi !== undefined && el('apic', { eoi }),
    (hyperv.length > 0 || hvPassthrough) && el('hyperv', { mode: hvPassthrough ? 'passthrough' : undefined }, ...hyperv),
    pmu !== undefined && el('pmu', { state: pmu }),
    bool(machine, 'vmport') === false && el('vmport', { state: 'off' }), smm !== undefined && el('smm', { state: smm ? 'on' : 'off' })].filter((x): x is XmlText => x !== false);
  for (const k of ['overcommit', 'display', 'msg', 'sandbox'] as const) {
    const v = m.props.get(k);
    if (k === 'overcommit' && v && str(v, 'mem-lock') !== 'off') cannotConvert(`-overcommit mem-lock=${str(v, 'mem-lock')}`);
    if (k === 'display' && v && str(v, 'type') !== 'none') cannotConvert(`-display ${str(v, 'type')}`);
  }
  for (const k of m.props.keys()) if (!['name', 'machine', 'accel', 'cpu', 'm', 'smp', 'rtc', 'boot', 'overcommit', 'display', 'msg', 'sandbox'].includes(k)) cannotConvert(`the option '-${k}'`);

  return {
    type: accel === 'kvm' ? 'kvm' : 'qemu',
    name: str(p('name'), 'guest') ?? cannotConvert('a main QEMU without -name'),
    uuid: m.uuid,
    memory: el('memory', { unit: 'KiB' }, String(memMiB * 1024)),
    memoryBacking: memfd && !hasRemotes && el('memoryBacking', {}, el('source', { type: 'memfd' }), el('access', { mode: 'shared' })),
    vcpu: el('vcpu', { placement: 'static', current: max !== cpus ? cpus : undefined }, String(max)),
    os: el('os', {}, el('type', { arch: 'x86_64', machine: type }, 'hvm'),
      m.kernel.has('kernel') && el('kernel', {}, m.kernel.get('kernel')!), m.kernel.has('initrd') && el('initrd', {}, m.kernel.get('initrd')!),
      m.kernel.has('append') && el('cmdline', {}, m.kernel.get('append')!), ...order.map((dev) => el('boot', { dev }))),
    features: features.length > 0 && el('features', {}, ...features),
    cpu: cpuEl,
    clock: el('clock', { offset: base }, ...timers),
    onReboot: m.flags.has('no-reboot') && el('on_reboot', {}, 'destroy'),
    pm: pm.some((x) => x) && el('pm', {}, ...pm),
  };
}

/** The domain XML for libvirt-style command lines: any number of remotes and one main QEMU. */
export function domainXmlFromLibvirtArgv(commands: readonly NativeCommand[]): string {
  const procs = commands.map((c) => ({ binary: c.binary ?? cannotConvert('a command line without its QEMU binary'), options: optionsOf(c.args) }));
  const remotes = procs.filter((p) => isRemote(p.options)).map((p) => readRemote(p.binary, p.options));
  const mains = procs.filter((p) => !isRemote(p.options));
  if (mains.length !== 1) cannotConvert(`${mains.length} main QEMU command lines (one is expected, with any number of -machine x-remote ones)`);
  const main = readMain(mains[0]!.binary, mains[0]!.options);
  if (!/(^|\/)qemu-system-x86_64$/.test(main.binary)) cannotConvert(`the emulator '${main.binary}' (x86_64 guests only)`);
  const q35 = { q35: false };
  const top = machineXml(main, q35, remotes.length > 0);

  // every controller by its QEMU id, with the index libvirt gave it
  const ctx: ImportContext = { q35: q35.q35, controllers: new Map(), chardevs: main.chardevs, netdevs: main.netdevs, objects: main.objects };
  const mainCtrls = main.devices.filter((d) => str(d, 'driver')! in CONTROLLER_DRIVERS);
  const allCtrls: Array<{ id: string; type: string }> = [
    ...mainCtrls.map((d) => ({ id: str(d, 'id') ?? cannotConvert(`-device ${str(d, 'driver')} without an id`), type: CONTROLLER_DRIVERS[str(d, 'driver')!]!.type })),
    ...remotes.map((r) => ({ id: r.alias, type: 'scsi' })),
  ];
  const taken = (type: string): Set<number> => new Set([...ctx.controllers.values()].filter((c) => c.type === type).map((c) => c.index));
  // the machine's own: q35's AHCI is `ide` (SATA controller 0), pc's IDE is `ide`
  ctx.controllers.set('ide', q35.q35 ? { type: 'sata', index: 0 } : { type: 'ide', index: 0 });
  for (const c of allCtrls.filter((x) => !x.id.startsWith('ua-'))) ctx.controllers.set(c.id, { type: c.type, index: controllerIndex(c.type, c.id, taken(c.type)) });
  const allDisks: NativeDisk[] = [...main.devices.filter((d) => DISK_DRIVERS.has(str(d, 'driver')!)).map((frontend) => ({ frontend, blockdevs: main.blockdevs })), ...remotes.flatMap((r) => r.disks)];
  for (const c of allCtrls.filter((x) => x.id.startsWith('ua-'))) {
    // a user-aliased HBA's index shows in its disks' libvirt ids (scsi1-0-0)
    const fromDisk = allDisks.map((d) => (str(d.frontend, 'bus')?.startsWith(`${c.id}.`) ? new RegExp(`^${c.type}(\\d+)-`).exec(str(d.frontend, 'id') ?? '') : null)).find((x) => x);
    const index = fromDisk && !taken(c.type).has(Number(fromDisk[1])) ? Number(fromDisk[1]) : controllerIndex(c.type, c.id, taken(c.type));
    ctx.controllers.set(c.id, { type: c.type, index } satisfies ControllerRef);
  }
  for (const c of allCtrls) if (allCtrls.filter((x) => x.id === c.id).length > 1) cannotConvert(`two controllers with the id '${c.id}'`);

  // each remote's proxy in the main QEMU gives its controller's slot
  const proxies = new Map<string, NativeProps>();
  for (const d of main.devices.filter((x) => str(x, 'driver') === 'x-pci-proxy-dev')) {
    onlyProps('-device x-pci-proxy-dev', d, ['driver', 'id', 'fd', 'bus', 'addr', 'multifunction']);
    const id = str(d, 'id') ?? cannotConvert('-device x-pci-proxy-dev without an id');
    if (!remotes.some((r) => r.alias === id)) cannotConvert(`x-pci-proxy-dev '${id}', which no remote process serves`);
    proxies.set(id, d);
  }
  for (const r of remotes) if (!proxies.has(r.alias)) cannotConvert(`the remote device '${r.alias}', which no x-pci-proxy-dev of the main QEMU proxies`);

  const floppyBoot = new Map<number, number>();
  for (const d of main.devices.filter((x) => str(x, 'driver') === 'isa-fdc')) {
    onlyProps('-device isa-fdc', d, ['driver', 'bootindexA', 'bootindexB']);
    for (const [k, unit] of [['bootindexA', 0], ['bootindexB', 1]] as const) if (num(d, k) !== undefined) floppyBoot.set(unit, num(d, k)!);
  }
  for (const [k, unit] of [['isa-fdc.bootindexA', 0], ['isa-fdc.bootindexB', 1]] as const) if (main.globals.has(k)) floppyBoot.set(unit, Number(main.globals.get(k)));
  for (const d of main.devices) {
    const driver = str(d, 'driver')!;
    if (!(driver in CONTROLLER_DRIVERS) && !DISK_DRIVERS.has(driver) && !isPlainDevice(driver) && driver !== 'x-pci-proxy-dev' && driver !== 'isa-fdc') cannotConvert(`-device ${driver}`);
  }

  const controllers = [
    ...mainCtrls.map((d) => controllerXml(ctx, d, undefined)),
    ...remotes.map((r) => el('controller', { type: 'scsi', index: ctx.controllers.get(r.alias)!.index, model: 'lsilogic' }, el('alias', { name: r.alias }), pciAddress(ctx, proxies.get(r.alias)!, `controller '${r.alias}'`))),
  ];
  const plain = plainDevicesXml(ctx, main.devices.filter((d) => isPlainDevice(str(d, 'driver')!)), main.watchdogAction);
  const has = (driver: string): boolean => main.devices.some((d) => str(d, 'driver') === driver);
  const hasVideo = main.devices.some((d) => ['virtio-vga', 'virtio-gpu-pci', 'cirrus-vga', 'ramfb', 'bochs-display', 'qxl-vga', 'qxl', 'VGA'].includes(str(d, 'driver')!));
  const graphics = graphicsXml(main.graphics, main.audiodevs);
  // libvirt adds what a definition does not rule out: say "none" where the command line has none
  const implicitNone = [
    !mainCtrls.some((d) => CONTROLLER_DRIVERS[str(d, 'driver')!]!.type === 'usb') && el('controller', { type: 'usb', index: 0, model: 'none' }),
    graphics.length > 0 && !hasVideo && el('video', {}, el('model', { type: 'none' })),
    !has('virtio-balloon-pci') && el('memballoon', { model: 'none' }),
  ].filter((x): x is XmlText => x !== false);
  const audio = main.audiodevs.map((a) => {
    onlyProps('-audiodev', a, ['id', 'driver']);
    const m = /^audio(\d+)$/.exec(str(a, 'id') ?? '') ?? cannotConvert(`-audiodev id '${str(a, 'id')}'`);
    return el('audio', { id: Number(m[1]), type: str(a, 'driver') });
  });
  const usedChardevs = new Set(main.devices.map((d) => str(d, 'chardev')).filter((x): x is string => x !== undefined));
  for (const id of main.chardevs.keys()) if (!usedChardevs.has(id)) cannotConvert(`-chardev '${id}', which no device uses`);
  for (const [id, o] of main.objects) if (!main.devices.some((d) => str(d, 'rng') === id)) cannotConvert(`-object ${str(o, 'qom-type')} '${id}'`);

  const metadata = (remotes.length > 0 || mainCtrls.some((d) => str(d, 'driver') === 'lsi')) && el('metadata', {},
    el('mpq:remote', { 'xmlns:mpq': MPQ_NS, auto: mainCtrls.some((d) => str(d, 'driver') === 'lsi') ? 'off' : undefined },
      ...remotes.map((r) => el('mpq:process', { rid: r.rid }, el('mpq:device', { alias: r.alias }),
        r.binary !== main.binary && el('mpq:emulator', {}, r.binary),
        r.disks.some((d) => str(d.frontend, 'write-cache') === 'off') && el('mpq:on-crash', { action: 'restart' }),
        !r.sandbox && el('mpq:sandbox', { mode: 'off' })))));
  const dom = el('domain', { type: top.type },
    el('name', {}, top.name), top.uuid !== undefined && el('uuid', {}, top.uuid), metadata, top.memory, top.memoryBacking, top.vcpu, top.os, top.features, top.cpu, top.clock, top.onReboot, top.pm,
    el('devices', {}, el('emulator', {}, main.binary), ...controllers, ...disksXml(ctx, allDisks, floppyBoot), ...plain, ...audio, ...graphics, ...implicitNone));
  return `${dom.xml}\n`;
}

