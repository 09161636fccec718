/**
 * The typed model of a libvirt domain definition.
 *
 * The model covers what the driver acts on; everything else in the document is
 * kept in `extra` fields (unknown attributes and child elements of a typed
 * element) or as `RawDevice`/`TopLevelExtra` entries, and written back verbatim.
 * Strings are kept raw: escaping for QEMU options or file paths is the argv
 * builder's job, never this layer's.
 */
import type { XAttr, XElement } from './xmltree.js';

export const MPQ_NS = 'http://mpvirt.org/schemas/domain/mpqemu/1.0';
export const MPQ_PREFIX = 'mpq';

/** What a typed element did not understand, kept in document order. */
export interface Extra {
  readonly attrs: readonly XAttr[];
  readonly children: readonly XElement[];
}

export const NO_EXTRA: Extra = Object.freeze({ attrs: [], children: [] });

/** One `<address>`: its type and the remaining attributes in document order. */
export interface AddressDef {
  type: string;
  fields: Array<readonly [string, string]>;
  extra: Extra;
}

export interface MemorySize {
  /** size in KiB, after applying the unit (libvirt rounds up to whole KiB) */
  kib: number;
  /** attributes other than `unit` (e.g. dumpCore) */
  extra: Extra;
}

export interface VcpuDef {
  count: number;
  placement?: string;
  cpuset?: string;
  current?: number;
  extra: Extra;
}

export interface OsDef {
  type: string;
  arch?: string;
  machine?: string;
  typeExtra: Extra;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  /** `<boot dev=…/>` entries in order */
  boot: string[];
  extra: Extra;
}

export interface CpuDef {
  mode?: string;
  match?: string;
  check?: string;
  model?: { name: string; fallback?: string; extra: Extra };
  extra: Extra;
}

export interface ClockDef {
  offset?: string;
  extra: Extra;
}

export interface MemoryBackingDef {
  /** `<source type=…/>`: file | anonymous | memfd */
  source?: string;
  /** `<access mode=…/>`: shared | private */
  access?: string;
  extra: Extra;
}

interface DeviceCommon {
  alias?: string;
  address?: AddressDef;
  extra: Extra;
}

export interface DiskDef extends DeviceCommon {
  kind: 'disk';
  /** file | block; volume: a storage pool's volume not resolved yet (a definition) */
  type: 'file' | 'block' | 'volume';
  /**
   * `<disk type='volume'>`: the pool and volume (`<source pool= volume=>`, other attributes in
   * `extra`). Kept once the domain runs: its definition then has the volume's path in `source` and
   * its real type in `type`, and the XML still shows the volume, as libvirt's does.
   */
  volume?: { pool: string; name: string; extra: Extra };
  /** disk | cdrom | floppy | lun */
  device: string;
  driver?: { name?: string; format?: string; extra: Extra };
  /** the source path (`file=` or `dev=`); absent for an empty cdrom */
  source?: { path: string; extra: Extra };
  /** live XML only: the node number of an empty drive's medium slot (`<source index='N'/>`) */
  emptySourceIndex?: number;
  target: { dev: string; bus?: string; extra: Extra };
  readonly: boolean;
  shareable: boolean;
  serial?: string;
  bootOrder?: number;
}

export interface ControllerDef extends DeviceCommon {
  kind: 'controller';
  /** scsi | pci | usb | sata | ide | virtio-serial | … */
  type: string;
  /** absent when the document leaves it to libvirt's numbering */
  index?: number;
  model?: string;
}

export interface InterfaceDef extends DeviceCommon {
  kind: 'interface';
  /** user | network | bridge | … */
  type: string;
  mac?: string;
  /** `<source>` attributes in order (network=, bridge=, …) */
  source?: { fields: Array<readonly [string, string]>; extra: Extra };
  /**
   * `<target dev=…/>`: the host-side device (a bridge interface's tap). A name libvirt would
   * generate (vnet…) exists only in the live XML; define drops it, as libvirt's parser does.
   */
  target?: { dev?: string; extra: Extra };
  model?: string;
  bootOrder?: number;
}

export interface CharDeviceDef extends DeviceCommon {
  kind: 'serial' | 'console';
  /** pty | file | stdio | unix | null | … */
  type: string;
  /** `<source>` attributes in order (path=, mode=, …) */
  source?: { fields: Array<readonly [string, string]>; extra: Extra };
  target?: { type?: string; port?: number; extra: Extra };
  /** live XML: `tty='/dev/pts/N'` */
  tty?: string;
}

export interface GraphicsDef extends DeviceCommon {
  kind: 'graphics';
  /** vnc | spice | sdl | … */
  type: string;
  /** -1 asks for automatic allocation, as in libvirt */
  port?: number;
  autoport?: string;
  listen?: string;
}

export interface VideoDef extends DeviceCommon {
  kind: 'video';
  /** `<model type=…>`: none | vga | virtio | …; absent when the document names none */
  model?: string;
  modelExtra: Extra;
}

export interface MemballoonDef extends DeviceCommon {
  kind: 'memballoon';
  model: string;
}

export interface InputDef extends DeviceCommon {
  kind: 'input';
  type: string;
  bus?: string;
}

/** A device element the model does not type; written back verbatim. */
export interface RawDevice {
  kind: 'raw';
  element: XElement;
}

export type DeviceDef =
  | DiskDef
  | ControllerDef
  | InterfaceDef
  | CharDeviceDef
  | GraphicsDef
  | VideoDef
  | MemballoonDef
  | InputDef
  | RawDevice;

export type OnCrashAction = 'destroy' | 'preserve' | 'restart';

/** What the driver knows of a running remote process: live XML only, never persisted. */
export interface RemoteProcessLive {
  pid?: number;
  /** the supervisor's state: starting, running, hung, crashed, … */
  state?: string;
  /** the process's QMP socket */
  monitor?: string;
  /** the unprivileged user and group it runs as */
  uid?: number;
  gid?: number;
  /** the namespaces of its own it runs in, comma-separated (net,ipc,uts) */
  jail?: string;
  /** how often on-crash restart replaced it in this run */
  restarts?: number;
}

export interface RemoteProcessDef {
  rid: string;
  live?: RemoteProcessLive;
  /** user aliases of the devices served by this process */
  devices: string[];
  emulator?: string;
  onCrash?: OnCrashAction;
  sandbox?: 'on' | 'off';
}

/** Our `<mpq:remote>` element in `<metadata>`. */
export interface RemoteDef {
  /** prefix the document used for our namespace (kept so output looks like input) */
  prefix: string;
  /** `auto='off'` opts the domain out of automatic isolation */
  auto?: 'on' | 'off';
  processes: RemoteProcessDef[];
}

export interface MetadataDef {
  remote?: RemoteDef;
  /** every other metadata child, in order, verbatim */
  others: XElement[];
}

/**
 * An element directly under `<domain>` that the model does not type, with the
 * name of the known element it followed, so it is written back in place.
 */
export interface TopLevelExtra {
  after: string | null;
  element: XElement;
}

export interface DomainDef {
  /** `<domain type=…>`: kvm | qemu | … */
  type: string;
  /** live XML only */
  id?: number;
  name: string;
  uuid: string;
  title?: string;
  description?: string;
  metadata?: MetadataDef;
  memory: MemorySize;
  currentMemory?: MemorySize;
  memoryBacking?: MemoryBackingDef;
  vcpu: VcpuDef;
  os: OsDef;
  /** `<features>` children, in order, verbatim (acpi, apic, pae, …) */
  features?: XElement[];
  cpu?: CpuDef;
  clock?: ClockDef;
  onPoweroff?: string;
  onReboot?: string;
  onCrash?: string;
  emulator?: string;
  devices: DeviceDef[];
  /** unknown attributes of `<domain>` (including namespace declarations) */
  rootAttrs: readonly XAttr[];
  extraTop: TopLevelExtra[];
}

/** Order in which libvirt writes the top-level elements we type. */
export const TOP_LEVEL_ORDER = [
  'name',
  'uuid',
  'title',
  'description',
  'metadata',
  'memory',
  'currentMemory',
  'memoryBacking',
  'vcpu',
  'os',
  'features',
  'cpu',
  'clock',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'devices',
] as const;
export type TopLevelName = (typeof TOP_LEVEL_ORDER)[number];
