/**
 * Semantic rules of a domain definition, checked after parsing: names that
 * become file names, unique aliases, the rules of our `<mpq:remote>` element,
 * disk addresses, and shared memory for remote processes. The first broken
 * rule is reported, in libvirt's wording where libvirt has one.
 */
import { MpvirtError, unsupportedConfig, xmlError } from '../errors.js';
import type { ControllerDef, DeviceDef, DiskDef, DomainDef } from './model.js';
import { deviceAlias } from './parse-devices.js';

const RID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const USER_ALIAS_RE = /^ua-[A-Za-z0-9_-]+$/;
/** name + `.xml` must fit in one path component */
const MAX_NAME_BYTES = 250;

export function validateDomainName(name: string): void {
  const where = '/domain/name';
  if (name === '') throw new MpvirtError('VIR_ERR_NO_NAME', '', { where });
  if (name.includes('/')) throw xmlError(`name '${name}' cannot contain '/'`, { where });
  if (name.startsWith('.')) throw xmlError(`name '${name}' cannot start with '.'`, { where });
  const ctl = /[\u0000-\u001f\u007f]/.exec(name);
  if (ctl) {
    const hex = ctl[0].charCodeAt(0).toString(16).padStart(2, '0');
    throw xmlError(`name cannot contain control characters (found \\x${hex})`, { where });
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw xmlError(`name is longer than ${MAX_NAME_BYTES} bytes`, { where });
  }
}

function checkUniqueAliases(devices: readonly DeviceDef[]): void {
  const seen = new Set<string>();
  const serials = new Set(devices.filter((d) => d.kind === 'serial').map(deviceAlias));
  for (const d of devices) {
    const alias = deviceAlias(d);
    if (alias === undefined) continue;
    // a console on a serial port is that port and shares its alias (as libvirt allows)
    if (d.kind === 'console' && (d.target?.type === undefined || d.target.type === 'serial') && serials.has(alias)) continue;
    if (seen.has(alias)) throw unsupportedConfig(`non unique alias detected: ${alias}`, { where: '/domain/devices' });
    seen.add(alias);
  }
}

const DRIVE_BUS_CONTROLLER: Readonly<Record<string, string>> = { scsi: 'scsi', sata: 'sata', ide: 'ide' };

/** The controller a disk's drive address points at, or undefined if it has none. */
export function diskControllerIndex(disk: DiskDef): number | undefined {
  if (!disk.address || disk.address.type !== 'drive') return undefined;
  const field = disk.address.fields.find(([k]) => k === 'controller');
  // libvirt's default for a drive address without controller= is controller 0
  return field ? Number(field[1]) : 0;
}

function checkDiskControllers(devices: readonly DeviceDef[]): void {
  const controllers = devices.filter((d): d is ControllerDef => d.kind === 'controller');
  for (const d of devices) {
    if (d.kind !== 'disk') continue;
    const type = d.target.bus === undefined ? undefined : DRIVE_BUS_CONTROLLER[d.target.bus];
    const index = diskControllerIndex(d);
    if (type === undefined || index === undefined || !Number.isSafeInteger(index)) continue;
    const exists = controllers.some((c) => c.type === type && (c.index ?? 0) === index);
    // Controller 0 of each bus may be implicit: the machine type provides it
    // (q35's AHCI, pc's IDE) or libvirt adds it, so only a missing index > 0
    // is a definition error.
    if (!exists && index > 0) {
      throw xmlError(
        `disk '${d.target.dev}' is addressed to ${type} controller ${index}, which the domain does not define`,
        { where: `/domain/devices/disk[target/@dev='${d.target.dev}']/address/@controller` },
      );
    }
  }
}

function checkRemote(def: DomainDef): void {
  const remote = def.metadata?.remote;
  if (!remote || remote.processes.length === 0) return;
  const byAlias = new Map<string, DeviceDef>();
  for (const d of def.devices) {
    const a = deviceAlias(d);
    if (a !== undefined) byAlias.set(a, d);
  }
  const rids = new Set<string>();
  const placed = new Map<string, string>(); // alias -> rid
  for (const p of remote.processes) {
    const where = `/domain/metadata/mpq:remote/mpq:process[@rid='${p.rid}']`;
    if (!RID_RE.test(p.rid)) {
      throw xmlError(`invalid rid '${p.rid}' in <mpq:process>: expected 1 to 32 characters from [A-Za-z0-9_-]`, { where });
    }
    if (rids.has(p.rid)) throw xmlError(`duplicate rid '${p.rid}' in <mpq:remote>`, { where });
    rids.add(p.rid);
    if (p.devices.length === 0) {
      throw xmlError(`remote process '${p.rid}' has no <mpq:device>`, { where });
    }
    if (p.devices.length > 1) {
      throw unsupportedConfig(
        `remote process '${p.rid}' has ${p.devices.length} devices, but QEMU serves one device per remote process (x-remote-object)`,
        { where },
      );
    }
    for (const alias of p.devices) {
      if (!USER_ALIAS_RE.test(alias)) {
        throw xmlError(`<mpq:device alias='${alias}'> in remote process '${p.rid}' must name a user alias (starting with 'ua-')`, { where });
      }
      const other = placed.get(alias);
      if (other !== undefined) {
        throw xmlError(`device '${alias}' is placed in both remote process '${other}' and '${p.rid}'`, { where });
      }
      placed.set(alias, p.rid);
      const dev = byAlias.get(alias);
      if (!dev) {
        throw xmlError(`<mpq:device alias='${alias}'> in remote process '${p.rid}' names no device of this domain`, { where });
      }
      if (dev.kind !== 'controller' || dev.type !== 'scsi' || dev.model !== 'lsilogic') {
        const what = dev.kind === 'controller' ? `a ${dev.type} controller${dev.model ? ` with model='${dev.model}'` : ''}` : `a <${dev.kind === 'raw' ? dev.element.name : dev.kind}>`;
        throw unsupportedConfig(
          `device '${alias}' cannot run in remote process '${p.rid}': only SCSI controllers with model='lsilogic' can, and it is ${what}`,
          { where },
        );
      }
    }
  }
  const mb = def.memoryBacking;
  if (mb?.access === 'private') {
    throw unsupportedConfig(
      "remote processes need guest memory shared with them, but <memoryBacking> asks for <access mode='private'/>",
      { where: '/domain/memoryBacking/access' },
    );
  }
  if (mb?.source === 'anonymous') {
    throw unsupportedConfig(
      "remote processes need guest memory shared through a file descriptor, but <memoryBacking> asks for <source type='anonymous'/>",
      { where: '/domain/memoryBacking/source' },
    );
  }
}

/** Throws the first rule the definition breaks. */
export function validateDomainDef(def: DomainDef): void {
  validateDomainName(def.name);
  checkUniqueAliases(def.devices);
  checkRemote(def);
  checkDiskControllers(def.devices);
}
