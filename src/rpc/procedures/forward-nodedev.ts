/**
 * The node device procedures (remote_protocol.x: virsh nodedev-*), forwarded to the host's node
 * device driver (forward-common.ts). A device handle is its name, as on the wire. Detaching a
 * PCI device from the host (nodedev-detach, -reattach, -reset) is the hypervisor driver's job
 * in libvirt, and mpvirt does not assign host devices: those stay NO_SUPPORT.
 */
import type { Connection } from '../../libvirt/connection.js';
import type { NodeDevice } from '../../libvirt/nodedev.js';
import '../../libvirt/nodedev.js';
import * as x from '../xdr.js';
import { checkMax, forward } from './forward-common.js';
import type { Procedure } from './types.js';

const LIST_MAX = 65536; // REMOTE_NODE_DEVICE_LIST_MAX
const CAPS_LIST_MAX = 65536; // REMOTE_NODE_DEVICE_CAPS_LIST_MAX

const nonnullDev = x.struct({ name: x.string() });
const devRet = x.struct({ dev: nonnullDev });
const byName = x.struct({ name: x.string() });

function onDev<T>(c: Connection, name: string, fn: (d: NodeDevice) => T): T {
  using d = c.lookupNodeDeviceByName(name);
  return fn(d);
}

const ret = (d: NodeDevice): { dev: { name: string } } => {
  try {
    return { dev: { name: d.name } };
  } finally {
    d.free();
  }
};

/**
 * The devices with capability `cap` (all for null), for the legacy calls: virNodeListDevices is
 * the same filter as virConnectListAllNodeDevices with that capability's flag, which the driver
 * applies to a device's capabilities list; here the capabilities are read per device.
 */
function devNames(c: Connection, cap: string | null): string[] {
  return c.listAllNodeDevices().map((d) => {
    const keep = cap === null || d.capabilities().includes(cap);
    const name = d.name;
    d.free();
    return keep ? name : null;
  }).filter((n): n is string => n !== null);
}

const D = 'nodedev' as const;

export const forwardedNodeDeviceProcedures: Procedure[] = [
  forward(D, 111, 'NODE_NUM_OF_DEVICES', 'virNodeNumOfDevices', x.struct({ cap: x.optional(x.string()), flags: x.uint }), x.struct({ num: x.int }), true,
    (c, a) => ({ num: devNames(c, a.cap).length })),
  forward(D, 112, 'NODE_LIST_DEVICES', 'virNodeListDevices', x.struct({ cap: x.optional(x.string()), maxnames: x.int, flags: x.uint }),
    x.struct({ names: x.array(x.string(), LIST_MAX) }), true, (c, a) => {
      checkMax(a.maxnames, LIST_MAX, 'REMOTE_NODE_DEVICE_LIST_MAX');
      return { names: devNames(c, a.cap).slice(0, a.maxnames) };
    }),
  forward(D, 285, 'CONNECT_LIST_ALL_NODE_DEVICES', 'virConnectListAllNodeDevices', x.struct({ need_results: x.int, flags: x.uint }),
    x.struct({ devices: x.array(nonnullDev, LIST_MAX), ret: x.uint }), true, (c, a) => {
      const all = c.listAllNodeDevices(a.flags);
      const devices = a.need_results ? all.map((d) => ({ name: d.name })) : [];
      for (const d of all) d.free();
      return { devices, ret: all.length };
    }),
  forward(D, 113, 'NODE_DEVICE_LOOKUP_BY_NAME', 'virNodeDeviceLookupByName', byName, devRet, true, (c, a) => ret(c.lookupNodeDeviceByName(a.name))),
  forward(D, 297, 'NODE_DEVICE_LOOKUP_SCSI_HOST_BY_WWN', 'virNodeDeviceLookupSCSIHostByWWN', x.struct({ wwnn: x.string(), wwpn: x.string(), flags: x.uint }), devRet, true,
    (c, a) => ret(c.lookupScsiHostByWWN(a.wwnn, a.wwpn, a.flags))),
  forward(D, 114, 'NODE_DEVICE_GET_XML_DESC', 'virNodeDeviceGetXMLDesc', x.struct({ name: x.string(), flags: x.uint }), x.struct({ xml: x.string() }), true,
    (c, a) => onDev(c, a.name, (d) => ({ xml: d.xml(a.flags) }))),
  forward(D, 115, 'NODE_DEVICE_GET_PARENT', 'virNodeDeviceGetParent', byName, x.struct({ parentName: x.optional(x.string()) }), true,
    (c, a) => onDev(c, a.name, (d) => ({ parentName: d.parent }))),
  forward(D, 116, 'NODE_DEVICE_NUM_OF_CAPS', 'virNodeDeviceNumOfCaps', byName, x.struct({ num: x.int }), true,
    (c, a) => onDev(c, a.name, (d) => ({ num: d.capabilities().length }))),
  forward(D, 117, 'NODE_DEVICE_LIST_CAPS', 'virNodeDeviceListCaps', x.struct({ name: x.string(), maxnames: x.int }), x.struct({ names: x.array(x.string(), CAPS_LIST_MAX) }), true,
    (c, a) => {
      checkMax(a.maxnames, CAPS_LIST_MAX, 'REMOTE_NODE_DEVICE_CAPS_LIST_MAX');
      return onDev(c, a.name, (d) => ({ names: d.capabilities().slice(0, a.maxnames) }));
    }),
  forward(D, 123, 'NODE_DEVICE_CREATE_XML', 'virNodeDeviceCreateXML', x.struct({ xml_desc: x.string(), flags: x.uint }), devRet, false, (c, a) => ret(c.createNodeDevice(a.xml_desc, a.flags))),
  forward(D, 428, 'NODE_DEVICE_DEFINE_XML', 'virNodeDeviceDefineXML', x.struct({ xml_desc: x.string(), flags: x.uint }), devRet, false, (c, a) => ret(c.defineNodeDevice(a.xml_desc, a.flags))),
  forward(D, 124, 'NODE_DEVICE_DESTROY', 'virNodeDeviceDestroy', byName, x.none, false, (c, a) => onDev(c, a.name, (d) => d.destroy())),
  forward(D, 429, 'NODE_DEVICE_UNDEFINE', 'virNodeDeviceUndefine', x.struct({ name: x.string(), flags: x.uint }), x.none, false, (c, a) => onDev(c, a.name, (d) => d.undefine(a.flags))),
  forward(D, 430, 'NODE_DEVICE_CREATE', 'virNodeDeviceCreate', x.struct({ name: x.string(), flags: x.uint }), x.none, false, (c, a) => onDev(c, a.name, (d) => d.start(a.flags))),
  // libvirt checks read-only access for reading a device's autostart too (libvirt-nodedev.c)
  forward(D, 433, 'NODE_DEVICE_GET_AUTOSTART', 'virNodeDeviceGetAutostart', byName, x.struct({ autostart: x.int }), false,
    (c, a) => onDev(c, a.name, (d) => ({ autostart: d.autostart ? 1 : 0 }))),
  forward(D, 434, 'NODE_DEVICE_SET_AUTOSTART', 'virNodeDeviceSetAutostart', x.struct({ name: x.string(), autostart: x.int }), x.none, false,
    (c, a) => onDev(c, a.name, (d) => void (d.autostart = a.autostart !== 0))),
  forward(D, 435, 'NODE_DEVICE_IS_PERSISTENT', 'virNodeDeviceIsPersistent', byName, x.struct({ persistent: x.int }), true,
    (c, a) => onDev(c, a.name, (d) => ({ persistent: d.isPersistent() ? 1 : 0 }))),
  forward(D, 436, 'NODE_DEVICE_IS_ACTIVE', 'virNodeDeviceIsActive', byName, x.struct({ active: x.int }), true,
    (c, a) => onDev(c, a.name, (d) => ({ active: d.isActive() ? 1 : 0 }))),
];
