/**
 * libvirt's device aliases for a running domain (qemu_alias.c): what the live XML shows as
 * `<alias name=…/>` and what the argv uses as QEMU ids, so both name a device alike. User
 * aliases (`ua-…`) are kept; every other device gets libvirt's generated name. Pure; applied
 * at start. A definition never stores generated aliases ({@link withoutGeneratedAliases}).
 */
import { isQ35 } from './defaults/caps.js';
import { addressField, addressOf, deviceName } from './defaults/devices.js';
import { diskNameToIndex } from './defaults/drive-addresses.js';
import type { ControllerDef, DeviceDef, DomainDef } from './model.js';
import { attr, makeElement, type XElement } from './xmltree.js';

export const USER_ALIAS_PREFIX = 'ua-';

function rawAlias(el: XElement): string | undefined {
  const a = el.children.find((c): c is XElement => c.kind === 'element' && c.name === 'alias');
  return a ? attr(a, 'name') : undefined;
}

function aliasOf(d: DeviceDef): string | undefined {
  return d.kind === 'raw' ? rawAlias(d.element) : d.alias;
}

function withAlias(d: DeviceDef, alias: string | undefined): DeviceDef {
  if (d.kind !== 'raw') {
    if (alias === undefined) {
      const { alias: _a, ...rest } = d;
      return rest as DeviceDef;
    }
    return { ...d, alias };
  }
  const kept = d.element.children.filter((c) => !(c.kind === 'element' && c.name === 'alias'));
  if (alias === undefined) return { ...d, element: { ...d.element, children: kept } };
  const at = kept.findIndex((c) => c.kind === 'element' && c.name === 'address');
  const el = makeElement('alias', [['name', alias]]);
  const children = at < 0 ? [...kept, el] : [...kept.slice(0, at), el, ...kept.slice(at)];
  return { ...d, element: { ...d.element, children } };
}

/** libvirt's name for a controller (qemuAssignDeviceControllerAlias). */
export function controllerAlias(c: ControllerDef, q35: boolean): string {
  const i = c.index ?? 0;
  switch (c.type) {
    case 'pci': return i === 0 ? (c.model === 'pcie-root' || q35 ? 'pcie.0' : 'pci.0') : `pci.${i}`;
    case 'usb': return i === 0 ? 'usb' : `usb${i}`;
    case 'ide': return i === 0 ? 'ide' : `ide${i}`;
    case 'sata': return i === 0 && q35 ? 'ide' : `sata${i}`;
    case 'fdc': return `fdc${i}`;
    default: return `${c.type}${i}`;
  }
}

/** libvirt's name for a disk, from its bus and drive address (qemuAssignDeviceDiskAlias). */
export function diskAlias(d: DeviceDef, def: DomainDef): string | undefined {
  if (d.kind !== 'disk') return undefined;
  const a = addressOf(d);
  // a definition without a drive address (written before define filled them in) names its
  // unit by the target name, as the argv places it
  const n = (k: string): number => Number(addressField(a, k) ?? (k === 'unit' ? diskNameToIndex(d.target.dev) ?? 0 : 0));
  switch (d.target.bus) {
    case 'virtio': return `virtio-disk${diskNameToIndex(d.target.dev) ?? 0}`;
    case 'scsi': {
      const ctrl = def.devices.find((c): c is ControllerDef => c.kind === 'controller' && c.type === 'scsi' && (c.index ?? 0) === n('controller'));
      // lsilogic disks are named by controller, bus and unit; other HBAs add the target
      return !ctrl || ctrl.model === 'lsilogic' || ctrl.model === undefined
        ? `scsi${n('controller')}-${n('bus')}-${n('unit')}`
        : `scsi${n('controller')}-${n('bus')}-${n('target')}-${n('unit')}`;
    }
    case 'sata': return `sata${n('controller')}-${n('bus')}-${n('unit')}`;
    case 'ide': return `ide${n('controller')}-${n('bus')}-${n('unit')}`;
    case 'fdc': return `fdc${n('controller')}-${n('bus')}-${n('unit')}`;
    default: return undefined;
  }
}

/** Every device named as libvirt names it for a running domain. */
export function assignAliases(def: DomainDef): DomainDef {
  const q35 = isQ35(def.os.machine);
  const counters = new Map<string, number>();
  const next = (kind: string): number => {
    const n = counters.get(kind) ?? 0;
    counters.set(kind, n + 1);
    return n;
  };
  let serialIndex = 0;
  const serialAliases: string[] = [];
  const devices = def.devices.map((d) => {
    const name = deviceName(d);
    const have = aliasOf(d);
    // counters advance for every device of a kind, named or not, as libvirt's do
    let generated: string | undefined;
    switch (name) {
      case 'disk': generated = diskAlias(d, def); break;
      case 'controller': generated = d.kind === 'controller' ? controllerAlias(d, q35) : undefined; break;
      case 'interface': generated = `net${next('net')}`; break;
      case 'serial': generated = `serial${serialIndex++}`; serialAliases.push(have ?? generated); break;
      case 'console': generated = undefined; break; // below: a console is its serial port
      case 'channel': generated = `channel${next('channel')}`; break;
      case 'input': generated = `input${next('input')}`; break;
      case 'video': generated = `video${next('video')}`; break;
      case 'sound': generated = `sound${next('sound')}`; break;
      case 'memballoon': generated = d.kind === 'memballoon' && d.model === 'none' ? undefined : 'balloon0'; break;
      case 'rng': generated = `rng${next('rng')}`; break;
      case 'watchdog': generated = 'watchdog0'; break;
      case 'redirdev': generated = `redir${next('redir')}`; break;
      default: generated = undefined;
    }
    if (have !== undefined || generated === undefined) return d;
    return withAlias(d, generated);
  });
  let consoleIndex = 0;
  const named = devices.map((d) => {
    if (deviceName(d) !== 'console' || aliasOf(d) !== undefined) return d;
    const i = consoleIndex++;
    const target = d.kind === 'console' ? d.target?.type : undefined;
    if ((target === undefined || target === 'serial') && serialAliases[i] !== undefined) return withAlias(d, serialAliases[i]);
    return withAlias(d, `console${i}`);
  });
  return { ...def, devices: named };
}

/** What define stores: user aliases only (libvirt drops the others from an inactive definition). */
export function withoutGeneratedAliases(def: DomainDef): DomainDef {
  let changed = false;
  const devices = def.devices.map((d) => {
    const a = aliasOf(d);
    if (a === undefined || a.startsWith(USER_ALIAS_PREFIX)) return d;
    changed = true;
    return withAlias(d, undefined);
  });
  return changed ? { ...def, devices } : def;
}
