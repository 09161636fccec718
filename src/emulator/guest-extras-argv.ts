/**
 * argv for what virt-install writes into every Linux guest besides disks and NICs: power
 * management (`<pm>`), the virtio-serial controller and guest-agent channels, and the virtio
 * RNG. Pure functions of the definition, like device-argv.ts; the channel socket lives in the
 * domain's runtime directory, which the daemon creates.
 */
import { unsupportedConfig } from '../errors.js';
import { addressOf } from '../domainxml/defaults/devices.js';
import type { ControllerDef, DomainDef, RawDevice } from '../domainxml/model.js';
import { attr, elementChildren, textOf, type XElement } from '../domainxml/xmltree.js';
import { pciPlacement } from './device-argv.js';
import type { ChildFds } from './child-fds.js';
import { checkSocketPath, jsonArg, optList } from './qemu-args.js';

const child = (el: XElement, name: string): XElement | undefined => elementChildren(el).find((c) => c.name === name);

/** `<pm>`: suspend-to-mem / suspend-to-disk switched off or on in the ACPI PM device. */
export function pmArgs(def: DomainDef, q35: boolean): string[] {
  const pm = def.extraTop.find((t) => t.element.ns === null && t.element.local === 'pm')?.element;
  if (!pm) return [];
  const dev = q35 ? 'ICH9-LPC' : 'PIIX4_PM';
  const argv: string[] = [];
  for (const [el, prop] of [['suspend-to-mem', 'disable_s3'], ['suspend-to-disk', 'disable_s4']] as const) {
    const enabled = attr(child(pm, el) ?? pm, 'enabled');
    if (enabled === 'no' || enabled === 'yes') argv.push('-global', `${dev}.${prop}=${enabled === 'no' ? 1 : 0}`);
  }
  return argv;
}

const raws = (def: DomainDef, name: string): RawDevice[] =>
  def.devices.filter((d): d is RawDevice => d.kind === 'raw' && d.element.name === name);

/** The virtio-serial controllers. */
export function virtioSerialControllerArgs(c: ControllerDef, q35: boolean): string[] {
  return ['-device', jsonArg({ driver: 'virtio-serial-pci', id: c.alias ?? `virtio-serial${c.index ?? 0}`, ...pciPlacement(c.address, q35, `controller virtio-serial ${c.index ?? 0}`) })];
}

/** Where a unix channel's socket is when the definition names none (libvirt picks one too). */
export function channelSocketPath(runDir: string, name: string): string {
  return `${runDir}/${name}`;
}

/** Guest-agent style channels: a unix socket the daemon's side listens on, a virtserialport. */
export function channelArgs(def: DomainDef, runDir: string, fds: ChildFds): string[] {
  const argv: string[] = [];
  raws(def, 'channel').forEach((ch, i) => {
    const el = ch.element;
    const target = child(el, 'target');
    const type = attr(el, 'type');
    if ((type !== 'unix' && type !== 'spicevmc') || attr(target ?? el, 'type') !== 'virtio') {
      throw unsupportedConfig(`channel type '${type}' is not supported`);
    }
    const name = target ? attr(target, 'name') : undefined;
    const a = addressOf(ch);
    const port = a?.fields.find(([k]) => k === 'port')?.[1];
    const controller = a?.fields.find(([k]) => k === 'controller')?.[1] ?? '0';
    const id = `charchannel${i}`;
    if (type === 'spicevmc') {
      // SPICE's agent channel: the display server itself is the other end
      argv.push('-chardev', optList([['', 'spicevmc'], ['id', id], ['name', 'vdagent']]));
    } else {
      const path = attr(child(el, 'source') ?? el, 'path') ?? channelSocketPath(runDir, name ?? `channel${i}`);
      argv.push('-chardev', optList([['', 'socket'], ['id', id], ['fd', fds.listen(checkSocketPath(path))], ['server', true], ['wait', false]]));
    }
    argv.push('-device', jsonArg({ driver: 'virtserialport', bus: `virtio-serial${controller}.0`, nr: port === undefined ? undefined : Number(port), chardev: id, id: `channel${i}`, name }));
  });
  return argv;
}

const RNG_SOURCES = new Set(['/dev/urandom', '/dev/random', '/dev/hwrng']);

/** `<rng model='virtio'>` with a random or builtin backend. */
export function rngArgs(def: DomainDef, q35: boolean): string[] {
  const argv: string[] = [];
  raws(def, 'rng').forEach((r, i) => {
    const backend = child(r.element, 'backend');
    const model = backend ? attr(backend, 'model') : undefined;
    const obj = `objrng${i}`;
    if (model === 'random') {
      const file = textOf(backend!).trim() || '/dev/urandom';
      if (!RNG_SOURCES.has(file)) throw unsupportedConfig(`rng backend '${file}' is not supported`);
      argv.push('-object', jsonArg({ 'qom-type': 'rng-random', id: obj, filename: file }));
    } else if (model === 'builtin') {
      argv.push('-object', jsonArg({ 'qom-type': 'rng-builtin', id: obj }));
    } else {
      throw unsupportedConfig(`rng backend model '${model}' is not supported`);
    }
    argv.push('-device', jsonArg({ driver: 'virtio-rng-pci', rng: obj, id: `rng${i}`, ...pciPlacement(addressOf(r), q35, `rng ${i}`) }));
  });
  return argv;
}
