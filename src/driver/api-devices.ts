/**
 * The driver's device APIs: attach/detach of disks (disk-hotplug.ts), update-device (a removable
 * drive's medium, media.ts) and domblkinfo (block-info.ts), from the process that really serves
 * each disk.
 */
import type { DriverCore } from './core.js';
import { diskByPath, readBlockInfo, readBlockInfoLive, type BlockInfo } from './block-info.js';
import type { DomainObject } from './domain-object.js';
import { runJob } from './domain-job.js';
import { attachDisk, detachDisk } from './disk-hotplug.js';
import { attachController, detachController } from './controller-hotplug.js';
import { parseXmlDocument } from '../domainxml/xmltree.js';
import { monitorForDisk, updateDeviceFlags as updateMedia } from './media.js';
import { updateInterface } from './interface-update.js';

/** virDomainUpdateDeviceFlags: a removable drive's medium (live and/or persistent), a NIC's link (live). */
export function updateDeviceFlags(core: DriverCore, obj: DomainObject, xml: string, flags: number): Promise<void> {
  const el = parseXmlDocument(xml);
  return runJob(core, obj, 'remoteDispatchDomainUpdateDeviceFlags', () => (el.name === 'interface' ? updateInterface(core, obj, el, flags) : updateMedia(core, obj, xml, flags)));
}

/** virDomainGetBlockInfo, from the image the running (or next) guest uses. */
export async function blockInfo(obj: DomainObject, path: string): Promise<BlockInfo> {
  const def = obj.liveDef ?? obj.def;
  const disk = diskByPath(def, path);
  const index = Number(disk.source?.extra.attrs.find((a) => a.name === 'index')?.value);
  if (!obj.active || !obj.runtime || !Number.isInteger(index)) return readBlockInfo(def, path);
  return readBlockInfoLive(monitorForDisk(obj, def, disk), disk, index);
}

/**
 * virDomainAttachDeviceFlags: a disk, live (into the process serving its controller) and/or
 * persistent; or a SCSI controller (a new remote process for it when it is isolated).
 */
export function attachDeviceFlags(core: DriverCore, obj: DomainObject, xml: string, flags: number): Promise<void> {
  const el = parseXmlDocument(xml);
  return runJob(core, obj, 'remoteDispatchDomainAttachDeviceFlags', () => (el.name === 'controller' ? attachController(core, obj, el, flags) : attachDisk(core, obj, xml, flags)));
}

/** virDomainDetachDeviceFlags: a disk or a SCSI controller, live and/or persistent. */
export function detachDeviceFlags(core: DriverCore, obj: DomainObject, xml: string, flags: number): Promise<void> {
  const el = parseXmlDocument(xml);
  return runJob(core, obj, 'remoteDispatchDomainDetachDeviceFlags', () => (el.name === 'controller' ? detachController(core, obj, el, flags) : detachDisk(core, obj, xml, flags)));
}
