/**
 * libvirt's define-time defaults as one pure function of (definition, probed capabilities),
 * like its post-parse callbacks and qemuDomainAssignAddresses: what `virsh define` +
 * `dumpxml --inactive` show, and the addresses the guest keeps at every boot.
 *
 * Machine aliases (`q35`) are resolved to the versioned type they stand for now (`pc-q35-7.2`),
 * as libvirt always does; its own test suite strips the aliases from its capabilities, which
 * `resolveMachineAliases: false` reproduces. `newDomain` is libvirt's: a domain defined now
 * (not one read back from disk) also gets USB port addresses.
 */
import type { ControllerDef, DomainDef } from '../model.js';
import type { DefineCaps } from './caps.js';
import { sortDevices } from './devices.js';
import { assignDriveAddresses, assignUsbAddresses, assignVirtioSerialAddresses } from './drive-addresses.js';
import { implicitDevices } from './implicit-devices.js';
import { assignMacAddresses, type MacRandom } from './mac-addresses.js';
import { assignPciAddresses } from './pci-addresses.js';
import { reanchorTopLevel, topLevelDefaults } from './top-level.js';

export type { DefineCaps, DefineMachine } from './caps.js';
export type { MacRandom } from './mac-addresses.js';

export interface DefineDefaultsOptions {
  /** default true */
  resolveMachineAliases?: boolean;
  /** default false */
  newDomain?: boolean;
  /** where a generated MAC address's random bytes come from; default crypto.randomBytes */
  macRandom?: MacRandom;
}

/** Where libvirt's parser puts controller `c` among those parsed before it. */
function insertAt(list: readonly ControllerDef[], c: ControllerDef): number {
  // virDomainControllerInsertPreAlloced: backwards through the controllers of the same type
  let at = -1;
  for (let i = list.length - 1; i >= 0; i--) {
    const cur = list[i]!;
    if (cur.type !== c.type) continue;
    if (c.index === undefined) return i + 1;
    if ((cur.index ?? -1) > c.index) at = i;
    else if (at === -1) at = i + 1;
  }
  return at === -1 ? list.length : at;
}

/**
 * The order libvirt's parser gives controllers: each one goes after the last of its type with a
 * lower index (so a live XML fed back to define has its controllers of one type together).
 */
export function arrangeParsedControllers(def: DomainDef): DomainDef {
  const ctrls = def.devices.filter((d): d is ControllerDef => d.kind === 'controller');
  const arranged: ControllerDef[] = [];
  for (const c of ctrls) arranged.splice(insertAt(arranged, c), 0, c);
  if (arranged.every((c, i) => c === ctrls[i])) return def;
  let k = 0;
  return { ...def, devices: def.devices.map((d) => (d.kind === 'controller' ? arranged[k++]! : d)) };
}

export function applyDefineDefaults(input: DomainDef, caps: DefineCaps, opts: DefineDefaultsOptions = {}): DomainDef {
  // libvirt draws a missing MAC while it parses the interface, before any other default
  const withMacs = { ...input, devices: assignMacAddresses(input.devices, opts.macRandom) };
  let def = topLevelDefaults(arrangeParsedControllers(withMacs), caps, opts.resolveMachineAliases ?? true);
  def = implicitDevices(def, caps);
  def = { ...def, devices: assignVirtioSerialAddresses(assignDriveAddresses(def.devices)) };
  if (opts.newDomain) def = { ...def, devices: assignUsbAddresses(def.devices) };
  def = { ...def, devices: sortDevices(def.devices) };
  def = assignPciAddresses(def);
  def = { ...def, devices: sortDevices(def.devices) };
  return { ...def, extraTop: reanchorTopLevel(def) };
}
