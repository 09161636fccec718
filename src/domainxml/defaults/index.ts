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
import type { DomainDef } from '../model.js';
import type { DefineCaps } from './caps.js';
import { sortDevices } from './devices.js';
import { assignDriveAddresses, assignUsbAddresses, assignVirtioSerialAddresses } from './drive-addresses.js';
import { implicitDevices } from './implicit-devices.js';
import { assignPciAddresses } from './pci-addresses.js';
import { reanchorTopLevel, topLevelDefaults } from './top-level.js';

export type { DefineCaps, DefineMachine } from './caps.js';

export interface DefineDefaultsOptions {
  /** default true */
  resolveMachineAliases?: boolean;
  /** default false */
  newDomain?: boolean;
}

export function applyDefineDefaults(input: DomainDef, caps: DefineCaps, opts: DefineDefaultsOptions = {}): DomainDef {
  let def = topLevelDefaults(input, caps, opts.resolveMachineAliases ?? true);
  def = implicitDevices(def, caps);
  def = { ...def, devices: assignVirtioSerialAddresses(assignDriveAddresses(def.devices)) };
  if (opts.newDomain) def = { ...def, devices: assignUsbAddresses(def.devices) };
  def = { ...def, devices: sortDevices(def.devices) };
  def = assignPciAddresses(def);
  def = { ...def, devices: sortDevices(def.devices) };
  return { ...def, extraTop: reanchorTopLevel(def) };
}
