/**
 * `virsh attach-device` / `detach-device` / `attach-disk` / `detach-disk` of a disk, live and/or
 * persistent, as libvirt's qemu_hotplug.c does it for SCSI disks: the checks first (nothing
 * reaches QEMU or the definitions before every one passed), then on the monitor of the process
 * that serves the disk's controller — a remote process or the main QEMU — the image passed as
 * an fd (`add-fd`), its two block nodes and the `scsi-hd` frontend; the reverse with `device_del`,
 * `DEVICE_DELETED`, `blockdev-del`. The guest learns of a new SCSI disk by rescanning its bus.
 */
import { resolveVolumes } from './volumes.js';
import { closeSync, constants, openSync } from 'node:fs';
import { diskAlias } from '../domainxml/aliases.js';
import { assignDriveAddresses } from '../domainxml/defaults/drive-addresses.js';
import { diskSourceIndex, formatDomainXml, withoutLiveState } from '../domainxml/index.js';
import type { DeviceDef, DiskDef, DomainDef } from '../domainxml/model.js';
import { parseDevices } from '../domainxml/parse-devices.js';
import { makeElement, parseXmlDocument } from '../domainxml/xmltree.js';
import { ChildFds, type FileAccess } from '../emulator/child-fds.js';
import { diskArgs, driveAddress, findController } from '../emulator/device-argv.js';
import type { QmpClient } from '../emulator/qmp.js';
import { MpvirtError } from '../errors.js';
import { affected, persistentDef, savePersistentDef } from './affect.js';
import { imageHasNoBacking } from './block-info.js';
import type { DriverCore } from './core.js';
import { prepareDefinition } from './definition.js';
import type { DomainObject } from './domain-object.js';
import { findDisk, monitorForDisk, nextNodeIndex, removeFdSet } from './media.js';
import { writeStatus } from './stop.js';
import { deviceDeleted } from './device-deleted.js';

/** libvirt's QEMU_UNPLUG_TIMEOUT: how long a detach waits for QEMU's DEVICE_DELETED */
const UNPLUG_TIMEOUT_MS = 5000;

/** The one `<disk>` of an attach/detach XML; any other device is not (yet) hot-pluggable here. */
function parseDiskDevice(xml: string, verb: 'attach' | 'detach', live: boolean): DiskDef {
  const el = parseXmlDocument(xml);
  if (el.name !== 'disk') {
    throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `${live ? 'live' : 'persistent'} ${verb} of device '${el.name}' is not supported`);
  }
  const d = parseDevices(makeElement('devices', [], [el])).devices[0];
  if (!d || d.kind !== 'disk') throw new MpvirtError('VIR_ERR_XML_ERROR', 'cannot parse the disk');
  return d;
}

/** virDomainDiskInsert: after the last disk of the same bus whose target sorts before it. */
function insertDisk(def: DomainDef, disk: DiskDef): DomainDef {
  const devices = [...def.devices];
  const disks = devices.map((d, i) => [d, i] as const).filter((x): x is readonly [DiskDef, number] => x[0].kind === 'disk');
  let at = disks.length ? disks[disks.length - 1]![1] + 1 : 0;
  for (let k = disks.length - 1; k >= 0; k--) {
    const [d, i] = disks[k]!;
    if ((d.target.bus ?? 'virtio') !== (disk.target.bus ?? 'virtio')) continue;
    if (d.target.dev.length > disk.target.dev.length || (d.target.dev.length === disk.target.dev.length && d.target.dev > disk.target.dev)) at = i;
  }
  devices.splice(at, 0, disk);
  return { ...def, devices };
}

const withoutDevice = (def: DomainDef, dev: DeviceDef): DomainDef => ({ ...def, devices: def.devices.filter((d) => d !== dev) });

/** The disk as define would fill it in (drive address, driver), taken from the prepared definition. */
async function preparedDisk(core: DriverCore, base: DomainDef, disk: DiskDef): Promise<{ def: DomainDef; disk: DiskDef }> {
  const def = await prepareDefinition(core, formatDomainXml(insertDisk(withoutLiveState(base), disk)), false);
  return { def, disk: findDisk(def, disk.target.dev)! };
}

/** Records the image a disk's argv would open, so the daemon can pass it with add-fd instead. */
class HotplugFds extends ChildFds {
  opened: { path: string; access: FileAccess } | undefined;
  constructor() {
    super(3);
  }
  override file(path: string, access: FileAccess): string {
    this.opened = { path, access };
    return '/dev/fdset/PENDING';
  }
}

type Json = Record<string, unknown>;

/** blockdev-add (storage, format) and device_add arguments for the disk, as its start argv has them. */
function hotplugCommands(def: DomainDef, disk: DiskDef, n: number, writeCacheOff: boolean): { storage?: Json; format?: Json; device: Json; image?: { path: string; readOnly: boolean } } {
  const fds = new HotplugFds();
  const args = diskArgs(def, disk, n, /q35/.test(def.os.machine ?? ''), fds, { writeCacheOff });
  const objs: Array<[string, Json]> = [];
  for (let i = 0; i < args.argv.length; i += 2) objs.push([args.argv[i]!, JSON.parse(args.argv[i + 1]!) as Json]);
  const blockdevs = objs.filter(([o]) => o === '-blockdev').map(([, j]) => j);
  const device = objs.find(([o]) => o === '-device')![1];
  return {
    ...(blockdevs[0] ? { storage: blockdevs[0] } : {}),
    ...(blockdevs[1] ? { format: blockdevs[1] } : {}),
    device,
    ...(fds.opened ? { image: { path: fds.opened.path, readOnly: fds.opened.access === 'read' } } : {}),
  };
}

/** The checks of a live SCSI attach (libvirt's qemuDomainAttachSCSIDisk), before anything changes. */
function checkLiveAttach(obj: DomainObject, live: DomainDef, disk: DiskDef): QmpClient {
  if (findDisk(live, disk.target.dev)) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `target ${disk.target.dev} already exists`);
  const bus = disk.target.bus ?? 'virtio';
  if (bus !== 'scsi') throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `disk bus '${bus}' cannot be hotplugged.`);
  if (disk.device !== 'disk') throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `disk device type '${disk.device}' cannot be hotplugged.`);
  const at = driveAddress(disk);
  const used = live.devices.some((d) => d.kind === 'disk' && d.target.bus === 'scsi' && (() => {
    const o = driveAddress(d);
    return o.controller === at.controller && o.bus === at.bus && o.target === at.target && o.unit === at.unit;
  })());
  if (used) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'Domain already contains a disk with that address');
  if (!findController(live, 'scsi', at.controller)) {
    // libvirt would hot-plug a new controller here; mpvirt wants it attached on its own first
    throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `no SCSI controller with index ${at.controller} for disk '${disk.target.dev}': attach the controller first`);
  }
  return monitorForDisk(obj, live, disk);
}

/** Opens the image as QEMU will use it: the open is the check (missing, unreadable). */
function openImage(image: { path: string; readOnly: boolean }): number {
  try {
    return openSync(image.path, image.readOnly ? constants.O_RDONLY : constants.O_RDWR);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as NodeJS.ErrnoException).code === 'EACCES' ? 'Permission denied' : (e as Error).message;
    throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `Cannot access storage file '${image.path}': ${why}`, { cause: e });
  }
}

/** Plug the disk into the running process; every step undone if a later one fails. */
async function plugLive(qmp: QmpClient, cmds: ReturnType<typeof hotplugCommands>, fd: number | undefined, opaque: string): Promise<void> {
  const undo: Array<() => Promise<unknown>> = [];
  try {
    if (cmds.storage && fd !== undefined) {
      const r = await qmp.execute<{ 'fdset-id': number }>('add-fd', { opaque }, { fds: [fd] });
      undo.push(() => removeFdSet(qmp, opaque));
      await qmp.execute('blockdev-add', { ...cmds.storage, filename: `/dev/fdset/${r['fdset-id']}` });
      undo.push(() => qmp.execute('blockdev-del', { 'node-name': cmds.storage!['node-name'] }));
    }
    if (cmds.format) {
      await qmp.execute('blockdev-add', cmds.format);
      undo.push(() => qmp.execute('blockdev-del', { 'node-name': cmds.format!['node-name'] }));
    }
    await qmp.execute('device_add', cmds.device);
  } catch (e) {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    throw e;
  }
}

/** virDomainAttachDeviceFlags of a disk, inside the domain's job. */
export async function attachDisk(core: DriverCore, obj: DomainObject, xml: string, flags: number): Promise<void> {
  const { live, config } = affected(obj, flags & 3);
  const disk = parseDiskDevice(xml, 'attach', live);
  // every check of both definitions before anything changes
  let newConfig: DomainDef | undefined;
  if (config) {
    const cfg = persistentDef(obj);
    if (findDisk(cfg, disk.target.dev)) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `target ${disk.target.dev} already exists`);
    newConfig = (await preparedDisk(core, cfg, disk)).def;
  }
  let plug: { qmp: QmpClient; cmds: ReturnType<typeof hotplugCommands>; shown: DiskDef; liveDef: DomainDef; n: number } | undefined;
  if (live) {
    const liveDef = obj.liveDef ?? obj.def;
    if (findDisk(liveDef, disk.target.dev)) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `target ${disk.target.dev} already exists`);
    const addressed = assignDriveAddresses([disk])[0] as DiskDef;
    // the hot-plug checks first: define's own (below) would word a missing controller its way
    checkLiveAttach(obj, liveDef, addressed);
    const prepared = (await preparedDisk(core, liveDef, addressed)).disk;
    const qmp = checkLiveAttach(obj, liveDef, prepared);
    const alias = prepared.alias ?? diskAlias(prepared, liveDef)!;
    // a volume disk runs on its volume's path, resolved now as at start
    const withAlias = resolveVolumes({ ...liveDef, devices: [{ ...prepared, alias }] }, core.volumes).devices[0] as DiskDef;
    const n = nextNodeIndex(liveDef);
    // a disk of a remote that is restarted on a crash has no write cache, as its others (remote-argv.ts)
    const restartable = obj.runtime!.remotes.some((r) => r.qmp === qmp && r.onCrash === 'restart');
    const cmds = hotplugCommands(insertDisk(liveDef, withAlias), withAlias, n, restartable);
    const shown: DiskDef = withAlias.source
      ? {
          ...withAlias,
          source: { ...withAlias.source, extra: { ...withAlias.source.extra, attrs: [...withAlias.source.extra.attrs, { name: 'index', ns: null, value: String(n) }] } },
          extra: imageHasNoBacking(withAlias) ? { ...withAlias.extra, children: [...withAlias.extra.children, makeElement('backingStore')] } : withAlias.extra,
        }
      : withAlias;
    plug = { qmp, cmds, shown, liveDef, n };
  }
  if (plug) {
    const fd = plug.cmds.image ? openImage(plug.cmds.image) : undefined;
    try {
      await plugLive(plug.qmp, plug.cmds, fd, `libvirt-${plug.n}-storage`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    obj.liveDef = insertDisk(plug.liveDef, plug.shown);
    await writeStatus(core, obj);
    core.events.emit('device-added', { dom: obj.ref(), alias: plug.shown.alias! });
  }
  if (newConfig) {
    await savePersistentDef(core, obj, newConfig);
  }
}

/** virDomainDetachDeviceFlags of a disk, inside the domain's job. */
export async function detachDisk(core: DriverCore, obj: DomainObject, xml: string, flags: number): Promise<void> {
  const { live, config } = affected(obj, flags & 3);
  const match = parseDiskDevice(xml, 'detach', live);
  let newConfig: DomainDef | undefined;
  if (config) {
    const cfg = persistentDef(obj);
    const d = findDisk(cfg, match.target.dev);
    if (!d) throw new MpvirtError('VIR_ERR_DEVICE_MISSING', `no target device ${match.target.dev}`);
    newConfig = withoutDevice(cfg, d);
  }
  let unplug: { qmp: QmpClient; disk: DiskDef; liveDef: DomainDef } | undefined;
  if (live) {
    const liveDef = obj.liveDef ?? obj.def;
    const d = findDisk(liveDef, match.target.dev);
    if (!d) throw new MpvirtError('VIR_ERR_DEVICE_MISSING', `disk ${match.target.dev} not found`);
    if ((d.target.bus ?? 'virtio') !== 'scsi') throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `disk bus '${d.target.bus ?? 'virtio'}' cannot be hotunplugged.`);
    unplug = { qmp: monitorForDisk(obj, liveDef, d), disk: d, liveDef };
  }
  if (unplug) {
    const { qmp, disk } = unplug;
    const id = disk.alias ?? diskAlias(disk, unplug.liveDef)!;
    const deleted = deviceDeleted(qmp, id, UNPLUG_TIMEOUT_MS);
    try {
      await qmp.execute('device_del', { id });
    } catch (e) {
      deleted.cancel();
      throw e;
    }
    if (await deleted.done) {
      const n = diskSourceIndex(disk);
      if (n !== undefined) {
        // best effort, as libvirt's chain detach: a node QEMU already dropped is no error
        await qmp.execute('blockdev-del', { 'node-name': `libvirt-${n}-format` }).catch(() => undefined);
        await qmp.execute('blockdev-del', { 'node-name': `libvirt-${n}-storage` }).catch(() => undefined);
        await removeFdSet(qmp, `libvirt-${n}-storage`);
      }
      obj.liveDef = withoutDevice(obj.liveDef ?? unplug.liveDef, disk);
      await writeStatus(core, obj);
      core.events.emit('device-removed', { dom: obj.ref(), alias: id });
    }
  }
  if (newConfig) {
    await savePersistentDef(core, obj, newConfig);
  }
}
