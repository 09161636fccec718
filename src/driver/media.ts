/**
 * `virsh change-media` and `update-device` of a disk: virDomainUpdateDeviceFlags for removable
 * media (cdrom, floppy), live and/or persistent, as libvirt's qemuDomainChangeDiskLive and
 * qemuDomainChangeMediaBlockdev do it: open the tray, remove the medium, delete the old nodes,
 * add the new image's nodes and insert them, close the tray — on the monitor of the process
 * that serves the drive (the main QEMU, or the remote process of its HBA).
 */
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { parseDevices } from '../domainxml/parse-devices.js';
import type { ControllerDef, DiskDef, DomainDef } from '../domainxml/model.js';
import { makeElement, parseXmlDocument } from '../domainxml/xmltree.js';
import { diskAlias } from '../domainxml/aliases.js';
import type { QmpClient, QmpEvent } from '../emulator/qmp.js';
import { MpvirtError } from '../errors.js';
import { diskSourceIndex } from '../domainxml/index.js';
import { affected, persistentDef, savePersistentDef } from './affect.js';
import { imageHasNoBacking } from './block-info.js';
import type { DriverCore } from './core.js';
import { writeStatus } from './stop.js';
import type { DomainObject } from './domain-object.js';

/** VIR_DOMAIN_DEVICE_MODIFY_FORCE: open a tray the guest locked */
export const MODIFY_FORCE = 1 << 2;
/** libvirt's CHANGE_MEDIA_TIMEOUT: how long a guest may take to let its tray open */
const TRAY_TIMEOUT_MS = 5000;

/** The one `<disk>` of an update-device XML, typed as define types it. */
export function parseDiskUpdate(xml: string): DiskDef {
  const el = parseXmlDocument(xml);
  if (el.name !== 'disk') {
    throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `live update of device '${el.name}' is not supported`);
  }
  const { devices } = parseDevices(makeElement('devices', [], [el]));
  const d = devices[0];
  if (!d || d.kind !== 'disk') throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', 'disk source type is not supported for update');
  return d;
}

export function findDisk(def: DomainDef, dev: string): DiskDef | undefined {
  return def.devices.find((d): d is DiskDef => d.kind === 'disk' && d.target.dev === dev);
}

/** What may differ between a disk and its update: the medium (libvirt's qemuDomainDiskChangeSupported). */
function checkChange(orig: DiskDef, upd: DiskDef): void {
  const field = (name: string, a: unknown, b: unknown): void => {
    if (b !== undefined && a !== b) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `cannot modify field '${name}' of the disk`);
  };
  field('device', orig.device, upd.device);
  field('bus', orig.target.bus, upd.target.bus);
  field('serial', orig.serial, upd.serial);
  if ((upd.source?.path ?? null) !== (orig.source?.path ?? null) && orig.device !== 'cdrom' && orig.device !== 'floppy') {
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', 'disk source can be changed only in removable drives');
  }
}

/** The disk with the update's medium (and its format), nothing else changed. */
function withMedium(orig: DiskDef, upd: DiskDef): DiskDef {
  const out: DiskDef = { ...orig, type: upd.type };
  delete out.emptySourceIndex;
  if (upd.source) out.source = { path: upd.source.path, extra: { attrs: upd.source.extra.attrs.filter((a) => a.name !== 'index'), children: [] } };
  else delete out.source;
  // the update's format stays, even for an eject (libvirt keeps it for the next medium)
  const format = upd.driver?.format ?? (upd.source ? 'raw' : undefined);
  out.driver = { name: orig.driver?.name ?? 'qemu', ...(format !== undefined ? { format } : {}), extra: orig.driver?.extra ?? { attrs: [], children: [] } };
  // the old chain's terminator belongs to the old image
  out.extra = { ...orig.extra, children: orig.extra.children.filter((c) => !(c.ns === null && c.local === 'backingStore')) };
  return out;
}

const replaceDisk = (def: DomainDef, orig: DiskDef, next: DiskDef): DomainDef => ({ ...def, devices: def.devices.map((d) => (d === orig ? next : d)) });

/** The monitor of the process that emulates the disk's controller. */
export function monitorForDisk(obj: DomainObject, def: DomainDef, disk: DiskDef): QmpClient {
  const rt = obj.runtime!;
  const bus = disk.target.bus;
  if (bus === 'scsi') {
    const idx = Number(disk.address?.fields.find(([k]) => k === 'controller')?.[1] ?? 0);
    const ctrl = def.devices.find((c): c is ControllerDef => c.kind === 'controller' && c.type === 'scsi' && (c.index ?? 0) === idx);
    const remote = rt.remotes.find((r) => r.alias === ctrl?.alias);
    // a crashed or hung remote (kept by on-crash preserve) serves nothing
    if (remote && remote.supervisor.state !== 'running') {
      throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `the remote process serving controller '${ctrl!.alias}' is not running`);
    }
    if (remote) return remote.qmp;
    if (ctrl?.alias && def.metadata?.remote?.processes.some((p) => p.devices.includes(ctrl.alias!))) {
      throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `the remote process serving controller '${ctrl.alias}' is not running`);
    }
  }
  return rt.main.qmp;
}

/** Resolves when QEMU reports the drive's tray open, or fails after libvirt's timeout. */
function trayOpened(qmp: QmpClient, id: string): { done: Promise<void>; cancel: () => void } {
  let cancel = (): void => {};
  const done = new Promise<void>((resolve, reject) => {
    const onEvent = (ev: QmpEvent): void => {
      const data = ev.data as { id?: string; 'tray-open'?: boolean };
      if (ev.event === 'DEVICE_TRAY_MOVED' && data.id === id && data['tray-open'] === true) finish();
    };
    const timer = setTimeout(() => {
      qmp.off('event', onEvent);
      reject(new MpvirtError('VIR_ERR_OPERATION_FAILED', `timed out waiting to open tray of '${id}'`));
    }, TRAY_TIMEOUT_MS);
    const finish = (): void => {
      clearTimeout(timer);
      qmp.off('event', onEvent);
      resolve();
    };
    cancel = finish;
    qmp.on('event', onEvent);
  });
  return { done, cancel };
}

/** An image opened by the daemon and added to a new fd set of the process: its `/dev/fdset/N`. */
export async function passImage(qmp: QmpClient, path: string, readOnly: boolean, opaque: string): Promise<string> {
  let fd: number;
  try {
    fd = openSync(path, readOnly ? constants.O_RDONLY : constants.O_RDWR);
  } catch (e) {
    throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `Cannot access storage file '${path}': ${(e as Error).message}`, { cause: e });
  }
  try {
    const r = await qmp.execute<{ 'fdset-id': number }>('add-fd', { opaque }, { fds: [fd] });
    return `/dev/fdset/${r['fdset-id']}`;
  } finally {
    closeSync(fd);
  }
}

/** Drop the fd set an image was passed in (found by its opaque name), once its nodes are gone. */
export async function removeFdSet(qmp: QmpClient, opaque: string): Promise<void> {
  const sets = await qmp.execute<Array<{ 'fdset-id': number; fds: Array<{ opaque?: string }> }>>('query-fdsets').catch(() => []);
  for (const s of sets) {
    if (s.fds.some((f) => f.opaque === opaque)) await qmp.execute('remove-fd', { 'fdset-id': s['fdset-id'] }).catch(() => undefined);
  }
}

/** Swap the medium of a running drive; `nodeIndex` numbers the new image's -blockdev nodes. */
async function changeMediumLive(qmp: QmpClient, id: string, orig: DiskDef, next: DiskDef, nodeIndex: number, oldIndex: number | undefined, force: boolean): Promise<void> {
  const tray = trayOpened(qmp, id);
  try {
    await qmp.execute('blockdev-open-tray', { id, force });
    const blocks = await qmp.execute<Array<{ qdev?: string; tray_open?: boolean }>>('query-block');
    // a tray-less drive (a floppy) ignores open-tray and has no tray_open: nothing to wait for
    if (force || blocks.find((b) => b.qdev === id)?.tray_open !== false) tray.cancel();
    await tray.done;
  } finally {
    tray.cancel();
  }
  await qmp.execute('blockdev-remove-medium', { id });
  if (orig.source && oldIndex !== undefined) {
    // best effort, as libvirt's chain detach: a node QEMU already dropped is no error
    await qmp.execute('blockdev-del', { 'node-name': `libvirt-${oldIndex}-format` }).catch(() => undefined);
    await qmp.execute('blockdev-del', { 'node-name': `libvirt-${oldIndex}-storage` }).catch(() => undefined);
    await removeFdSet(qmp, `libvirt-${oldIndex}-storage`);
  }
  if (next.source) {
    const storage = `libvirt-${nodeIndex}-storage`;
    const format = `libvirt-${nodeIndex}-format`;
    const readOnly = next.readonly || next.device === 'cdrom';
    // the daemon opens the image and hands QEMU the fd (QEMU may not reach the path itself)
    const filename = await passImage(qmp, next.source.path, readOnly, storage);
    await qmp.execute('blockdev-add', { driver: next.type === 'block' ? 'host_device' : 'file', filename, 'node-name': storage, 'read-only': readOnly, discard: 'unmap' });
    try {
      await qmp.execute('blockdev-add', { 'node-name': format, 'read-only': readOnly, driver: next.driver?.format ?? 'raw', file: storage });
      await qmp.execute('blockdev-insert-medium', { id, 'node-name': format });
    } catch (e) {
      await qmp.execute('blockdev-del', { 'node-name': format }).catch(() => undefined);
      await qmp.execute('blockdev-del', { 'node-name': storage }).catch(() => undefined);
      await removeFdSet(qmp, storage);
      throw e;
    }
  }
  await qmp.execute('blockdev-close-tray', { id });
}

/** The next free node number of a running domain (libvirt's nodenameindex keeps counting). */
export function nextNodeIndex(def: DomainDef): number {
  const disks = def.devices.filter((d): d is DiskDef => d.kind === 'disk');
  return Math.max(disks.length, ...disks.map((d) => diskSourceIndex(d) ?? 0)) + 1;
}

export interface MediaChange {
  /** the new live definition, when the live one changed */
  live?: DomainDef;
  /** the new persistent definition, when it changed */
  config?: DomainDef;
}

/** Check and apply a disk update; the caller runs it as a job and stores what it returns. */
export async function updateDisk(obj: DomainObject, xml: string, flags: number): Promise<MediaChange> {
  const upd = parseDiskUpdate(xml);
  const { live, config } = affected(obj, flags & 3);
  if (upd.source && !existsSync(upd.source.path)) {
    throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `Cannot access storage file '${upd.source.path}': No such file or directory`);
  }
  const out: MediaChange = {};
  // everything is checked against both definitions before anything changes
  const cfgDef = config ? persistentDef(obj) : undefined;
  const cfgDisk = cfgDef ? findDisk(cfgDef, upd.target.dev) : undefined;
  if (cfgDef && !cfgDisk) throw new MpvirtError('VIR_ERR_INVALID_ARG', `target ${upd.target.dev} doesn't exist.`);
  if (cfgDisk) checkChange(cfgDisk, upd);
  const liveDef = live ? obj.liveDef ?? obj.def : undefined;
  const liveDisk = liveDef ? findDisk(liveDef, upd.target.dev) : undefined;
  if (liveDef && !liveDisk) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `disk '${upd.target.dev}' not found`);
  if (liveDisk) checkChange(liveDisk, upd);

  if (liveDef && liveDisk && (upd.source?.path ?? null) !== (liveDisk.source?.path ?? null)) {
    const id = liveDisk.alias ?? diskAlias(liveDisk, liveDef)!;
    const n = nextNodeIndex(liveDef);
    const next = withMedium(liveDisk, upd);
    await changeMediumLive(monitorForDisk(obj, liveDef, liveDisk), id, liveDisk, next, n, diskSourceIndex(liveDisk), (flags & MODIFY_FORCE) !== 0);
    // shown as a running disk is: its node number, a raw image's chain terminator
    const raw = imageHasNoBacking(next);
    const shown: DiskDef = next.source
      ? {
          ...next,
          source: { ...next.source, extra: { ...next.source.extra, attrs: [...next.source.extra.attrs, { name: 'index', ns: null, value: String(n) }] } },
          extra: raw ? { ...next.extra, children: [...next.extra.children, makeElement('backingStore')] } : next.extra,
        }
      : { ...next, emptySourceIndex: n };
    out.live = replaceDisk(liveDef, liveDisk, shown);
  }
  if (cfgDef && cfgDisk) out.config = replaceDisk(cfgDef, cfgDisk, withMedium(cfgDisk, upd));
  return out;
}

/** The whole update, run inside the domain's job: check, change QEMU, then store both definitions. */
export async function updateDeviceFlags(core: DriverCore, obj: DomainObject, xml: string, flags: number): Promise<void> {
  const change = await updateDisk(obj, xml, flags);
  if (change.config) {
    await savePersistentDef(core, obj, change.config);
  }
  if (change.live) {
    obj.liveDef = change.live;
    await writeStatus(core, obj);
  }
}
