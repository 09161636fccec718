/**
 * libvirt's define-time defaults as one pure function of (definition, probed capabilities),
 * like its post-parse callbacks and qemuDomainAssignAddresses: what `virsh define` +
 * `dumpxml --inactive` show, and the addresses the guest keeps at every boot.
 *
 * `abiUpdate` is libvirt's VIR_DOMAIN_DEF_PARSE_ABI_UPDATE: set for a new definition (define,
 * create), when a machine alias such as `q35` is fixed to the versioned type it stands for now.
 */
import type { DomainDef } from '../model.js';
import type { DefineCaps } from './caps.js';
import { sortDevices } from './devices.js';
import { assignDriveAddresses, assignVirtioSerialAddresses } from './drive-addresses.js';
import { implicitDevices } from './implicit-devices.js';
import { assignPciAddresses } from './pci-addresses.js';
import { reanchorTopLevel, topLevelDefaults } from './top-level.js';

export type { DefineCaps, DefineMachine } from './caps.js';

export interface DefineDefaultsOptions {
  abiUpdate?: boolean;
}

export function applyDefineDefaults(input: DomainDef, caps: DefineCaps, opts: DefineDefaultsOptions = {}): DomainDef {
  let def = topLevelDefaults(input, caps, opts.abiUpdate ?? false);
  def = implicitDevices(def, caps);
  def = { ...def, devices: assignVirtioSerialAddresses(assignDriveAddresses(def.devices)) };
  def = { ...def, devices: sortDevices(def.devices) };
  def = assignPciAddresses(def);
  def = { ...def, devices: sortDevices(def.devices) };
  return { ...def, extraTop: reanchorTopLevel(def) };
}
