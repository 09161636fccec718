/**
 * `virsh domif-setlink` (virDomainUpdateDeviceFlags of an `<interface>`): a running guest's NIC
 * link goes up or down (QMP set_link), as libvirt's qemuDomainChangeNet does it when nothing but
 * `<link state>` differs. Other changes to a NIC are refused, nothing changed. The NIC is the main
 * QEMU's: no remote process is involved.
 */
import type { InterfaceDef } from '../domainxml/model.js';
import { parseDevices } from '../domainxml/parse-devices.js';
import { makeElement, type XElement } from '../domainxml/xmltree.js';
import { MpvirtError } from '../errors.js';
import { affected } from './affect.js';
import type { DriverCore } from './core.js';
import type { DomainObject } from './domain-object.js';
import { writeStatus } from './stop.js';

const linkOf = (n: InterfaceDef): 'up' | 'down' =>
  n.extra.children.find((c) => c.name === 'link')?.attrs.find((a) => a.name === 'state')?.value === 'down' ? 'down' : 'up';

/** The NIC without its link state and without what only the live XML carries, for comparing. */
function comparable(n: InterfaceDef): string {
  const { alias: _a, address: _ad, target: _t, ...rest } = n;
  const bare: InterfaceDef = { ...rest, extra: { attrs: n.extra.attrs, children: n.extra.children.filter((c) => c.name !== 'link') } };
  return JSON.stringify(bare);
}

function withLink(n: InterfaceDef, state: 'up' | 'down'): InterfaceDef {
  const children: XElement[] = n.extra.children.filter((c) => c.name !== 'link');
  if (state === 'down') children.push(makeElement('link', [['state', 'down']]));
  return { ...n, extra: { attrs: n.extra.attrs, children } };
}

export async function updateInterface(core: DriverCore, obj: DomainObject, el: XElement, flags: number): Promise<void> {
  const { live, config } = affected(obj, flags);
  const upd = parseDevices(makeElement('devices', [], [el])).devices[0];
  if (!upd || upd.kind !== 'interface') throw new MpvirtError('VIR_ERR_XML_ERROR', 'unsupported interface definition');
  if (config) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', 'changing an interface in the persistent definition is not supported by mpvirtd; use --live');
  if (!live) return;
  const def = obj.liveDef ?? obj.def;
  const idx = def.devices.findIndex((d) => d.kind === 'interface' && d.mac !== undefined && d.mac.toLowerCase() === upd.mac?.toLowerCase());
  if (idx < 0) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `no device matching MAC address ${upd.mac ?? ''} found`);
  const cur = def.devices[idx] as InterfaceDef;
  if (comparable(cur) !== comparable({ ...upd, mac: cur.mac })) {
    throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', 'cannot modify network device configuration');
  }
  const state = linkOf(upd);
  if (state === linkOf(cur)) return;
  if (!cur.alias) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', 'device alias not found: cannot set link state');
  await obj.runtime!.main.qmp.execute('set_link', { name: cur.alias, up: state === 'up' });
  const devices = [...def.devices];
  devices[idx] = withLink(cur, state);
  obj.liveDef = { ...def, devices };
  await writeStatus(core, obj);
}
