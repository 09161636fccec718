/**
 * Device hot-plug commands, as tools/virsh-domain.c writes them: attach-device, detach-device,
 * detach-device-alias, update-device, attach-disk, detach-disk, attach-interface,
 * detach-interface, change-media, domif-setlink. The XML virsh builds or cuts out of the domain
 * comes from build-device-xml.ts and device-xml.ts.
 */
import '../../libvirt/domain-config.js';
import type { Domain } from '../../libvirt/domain.js';
import { commonOpt, type CmdDef, type OptDef, type ParsedCommand } from '../vsh/command-def.js';
import { exclusive, optBool, optString, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { readXmlFile, withDomain } from './commands-lifecycle.js';
import { buildDiskXml, buildInterfaceXml } from './build-device-xml.js';
import { childAttr, domainDevices, findDisk, nodeToString, parseXml, updateDiskXml, type DiskUpdate } from './device-xml.js';

type Cmd = CmdDef<Ctl>;

const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });
const str = (name: string, help: string): OptDef => ({ name, type: 'string', help });
const persistentOpt: OptDef = bool('persistent', 'make live change persistent');
const impactOpts = (): OptDef[] => [commonOpt.config('affect next boot'), commonOpt.live('affect running domain'), commonOpt.current('affect current domain')];
const fileOpt = commonOpt.file('XML file');

/** The usual --persistent/--config/--live/--current checks; the flags and whether --current was given. */
function impact(cmd: ParsedCommand, withPersistent = true): { flags: number; current: boolean; persistent: boolean } {
  if (withPersistent) exclusive(cmd, 'persistent', 'current');
  exclusive(cmd, 'current', 'live');
  exclusive(cmd, 'current', 'config');
  const persistent = withPersistent && optBool(cmd, 'persistent');
  const flags = (optBool(cmd, 'config') || persistent ? 2 : 0) | (optBool(cmd, 'live') ? 1 : 0);
  return { flags, current: optBool(cmd, 'current'), persistent };
}

/** --persistent on a running domain: the live one too. */
const withLive = (dom: Domain, i: { flags: number; persistent: boolean }): number =>
  i.persistent && dom.isActive() ? i.flags | 1 : i.flags;

/** The *Flags call, or the flagless one when neither flags nor --current were given (as virsh does). */
function attach(dom: Domain, xml: string, flags: number, current: boolean): void {
  if (flags || current) dom.attachDevice(xml, flags);
  else dom.attachDeviceCurrent(xml);
}
function detach(dom: Domain, xml: string, flags: number, current: boolean): void {
  if (flags || current) dom.detachDevice(xml, flags);
  else dom.detachDeviceCurrent(xml);
}

const ok = (ctl: Ctl, failed: string, fn: () => void): boolean => attempt(ctl, failed, () => (fn(), true)) !== undefined;

const attachDisk: Cmd = {
  name: 'attach-disk', help: 'attach disk device', desc: 'Attach new disk device.',
  opts: [
    commonOpt.domain(),
    { name: 'source', type: 'data', required: true, emptyOk: true, help: 'source of disk device or name of network disk' },
    { name: 'target', type: 'data', required: true, help: 'target of disk device' },
    str('targetbus', 'target bus of disk device'), str('driver', 'driver of disk device'), str('subdriver', 'subdriver of disk device'),
    str('iothread', 'IOThread to be used by supported device'), str('cache', 'cache mode of disk device'), str('io', 'io policy of disk device'),
    str('type', 'target device type'), { name: 'shareable', type: 'alias', help: 'mode=shareable' }, str('mode', 'mode of device reading and writing'),
    str('sourcetype', 'type of source (block|file|network)'), str('serial', 'serial of disk device'), str('wwn', 'wwn of disk device'),
    str('alias', 'custom alias name of disk device'), bool('rawio', 'needs rawio capability'), str('address', 'address of disk device'),
    bool('multifunction', 'use multifunction pci under specified address'), bool('print-xml', 'print XML document rather than attach the disk'),
    str('source-protocol', 'protocol used by disk device source'), str('source-host-name', 'host name for source of disk device'),
    str('source-host-transport', 'host transport for source of disk device'), str('source-host-socket', 'host socket for source of disk device'),
    persistentOpt, ...impactOpts(),
  ],
  handler: (ctl, cmd) => {
    const i = impact(cmd);
    const requires = (a: string, b: string): void => {
      if (optBool(cmd, a) && !optBool(cmd, b)) throw new VshError(`Option --${b} is required by option --${a}`);
    };
    requires('source-host-name', 'source-protocol');
    requires('source-host-transport', 'source-protocol');
    requires('source-host-socket', 'source-protocol');
    requires('source-host-socket', 'source-host-transport');
    exclusive(cmd, 'source-host-name', 'source-host-socket');
    const s = (n: string): string | undefined => optString(cmd, n);
    const xml = buildDiskXml({
      source: s('source')!, target: s('target')!, driver: s('driver'), subdriver: s('subdriver'), type: s('type'), mode: s('mode'), iothread: s('iothread'),
      cache: s('cache'), io: s('io'), serial: s('serial'), wwn: s('wwn'), address: s('address'), targetbus: s('targetbus'), alias: s('alias'),
      sourcetype: s('sourcetype'), sourceProtocol: s('source-protocol'), hostName: s('source-host-name'), hostTransport: s('source-host-transport'),
      hostSocket: s('source-host-socket'), rawio: optBool(cmd, 'rawio'), multifunction: optBool(cmd, 'multifunction'),
    });
    if (optBool(cmd, 'print-xml')) {
      ctl.print(xml);
      return true;
    }
    return withDomain(ctl, cmd, (dom) => {
      if (!ok(ctl, 'Failed to attach disk', () => attach(dom, xml, withLive(dom, i), i.current))) return false;
      ctl.printExtra('Disk attached successfully\n');
      return true;
    });
  },
};

const attachInterface: Cmd = {
  name: 'attach-interface', help: 'attach network interface', desc: 'Attach new network interface.',
  opts: [
    commonOpt.domain(), { name: 'type', type: 'data', required: true, help: 'network interface type' },
    { name: 'source', type: 'data', required: true, help: 'source of network interface' },
    str('target', 'target network name'), str('mac', 'MAC address'), str('script', 'script used to bridge network interface'), str('model', 'model type'),
    str('alias', 'custom alias name of interface device'), str('inbound', "control domain's incoming traffics"), str('outbound', "control domain's outgoing traffics"),
    persistentOpt, ...impactOpts(), bool('print-xml', 'print XML document rather than attach the interface'),
    bool('managed', 'libvirt will automatically detach/attach the device from/to host'), str('source-mode', 'mode attribute of <source/> element'),
  ],
  handler: (ctl, cmd) => {
    const i = impact(cmd);
    const s = (n: string): string | undefined => optString(cmd, n);
    const o = { type: s('type')!, source: s('source')!, target: s('target'), mac: s('mac'), script: s('script'), model: s('model'), alias: s('alias'),
      inbound: s('inbound'), outbound: s('outbound'), sourceMode: s('source-mode'), managed: optBool(cmd, 'managed') };
    const xml = buildInterfaceXml(o);
    if (optBool(cmd, 'print-xml')) {
      ctl.print(xml);
      return true;
    }
    return withDomain(ctl, cmd, (dom) => {
      if (!ok(ctl, 'Failed to attach interface', () => attach(dom, xml, withLive(dom, i), i.current))) return false;
      ctl.printExtra('Interface attached successfully\n');
      return true;
    });
  },
};

/** virshDomainDetachInterface: the one interface of `type` (and `mac`) in `doc`, detached or printed. */
function detachInterfaceFrom(ctl: Ctl, dom: Domain, doc: string, flags: number, current: boolean, type: string, mac: string | undefined, print: boolean): boolean {
  const parsed = parseXml(doc);
  if (!parsed) {
    ctl.error('Failed to get interface information');
    return false;
  }
  const nodes = domainDevices(parsed, 'interface').filter((n) => n.getAttribute('type') === type && n.hasAttribute('type'));
  if (nodes.length === 0) {
    ctl.error(`No interface found whose type is ${type}`);
    return false;
  }
  let match;
  if (mac !== undefined) {
    for (const n of nodes) {
      const m = childAttr(n, 'mac', 'address');
      if (m !== undefined && macEqual(m, mac)) {
        if (match) {
          ctl.error(`Domain has multiple interfaces matching MAC address ${mac}. You must use detach-device and specify the device pci address to remove it.`);
          return false;
        }
        match = n;
      }
    }
  } else {
    if (nodes.length > 1) {
      ctl.error(`Domain has ${nodes.length} interfaces. Please specify which one to detach using --mac`);
      return false;
    }
    match = nodes[0];
  }
  if (!match) {
    ctl.error(`No interface with MAC address ${mac} was found`);
    return false;
  }
  const xml = nodeToString(match);
  if (print) {
    ctl.print(xml);
    return true;
  }
  return attempt(ctl, undefined, () => (detach(dom, xml, flags, current), true)) !== undefined;
}

/** virMacAddrCompare: the six hex numbers compared, whatever their case or zero padding. */
function macEqual(a: string, b: string): boolean {
  const parse = (s: string): number[] | undefined => {
    const parts = s.split(':');
    if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
    return parts.map((p) => parseInt(p, 16));
  };
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return a.toLowerCase() === b.toLowerCase();
  return x.every((v, k) => v === y[k]);
}

const detachInterface: Cmd = {
  name: 'detach-interface', help: 'detach network interface', desc: 'Detach network interface.',
  opts: [commonOpt.domain(), { name: 'type', type: 'data', required: true, help: 'network interface type' }, str('mac', 'MAC address'),
    persistentOpt, ...impactOpts(), bool('print-xml', 'print XML document rather than detach the interface')],
  handler: (ctl, cmd) => {
    const i = impact(cmd);
    const print = optBool(cmd, 'print-xml');
    return withDomain(ctl, cmd, (dom) => {
      let done = false;
      const run = (): boolean => {
        const type = optString(cmd, 'type')!;
        const mac = optString(cmd, 'mac');
        const affectConfig = optBool(cmd, 'config') || i.persistent;
        if (affectConfig) {
          const doc = attempt(ctl, undefined, () => dom.xml({ inactive: true }));
          if (doc === undefined) return false;
          if (!detachInterfaceFrom(ctl, dom, doc, 2, i.current, type, mac, print)) return false;
          done = true;
        }
        const affectLive = optBool(cmd, 'live') || (i.persistent && dom.isActive());
        if (affectLive || !affectConfig) {
          const doc = attempt(ctl, undefined, () => dom.xml());
          if (doc === undefined) return false;
          done = detachInterfaceFrom(ctl, dom, doc, affectLive ? 1 : 0, i.current, type, mac, print);
        }
        return done;
      };
      const r = run();
      if (print) return r;
      if (!r) ctl.error('Failed to detach interface');
      else ctl.printExtra('Interface detached successfully\n');
      return r;
    });
  },
};

const detachDisk: Cmd = {
  name: 'detach-disk', help: 'detach disk device', desc: 'Detach disk device.',
  opts: [commonOpt.domain(), { name: 'target', type: 'data', required: true, help: 'target of disk device' }, persistentOpt, ...impactOpts(),
    bool('print-xml', 'print XML document rather than detach the disk')],
  handler: (ctl, cmd) => {
    const i = impact(cmd);
    return withDomain(ctl, cmd, (dom) => {
      const target = optString(cmd, 'target')!;
      const doc = attempt(ctl, undefined, () => dom.xml({ inactive: i.flags === 2 }));
      if (doc === undefined) return false;
      const flags = withLive(dom, i);
      const xml = nodeToString(findDisk(doc, target, false));
      if (optBool(cmd, 'print-xml')) {
        ctl.print(xml);
        return true;
      }
      if (!ok(ctl, 'Failed to detach disk', () => detach(dom, xml, flags, i.current))) return false;
      ctl.printExtra('Disk detached successfully\n');
      return true;
    });
  },
};

/** attach-device, detach-device, update-device: a device XML from a file. */
function fromFile(name: string, help: string, desc: string, verb: 'attach' | 'detach' | 'update'): Cmd {
  const opts = [commonOpt.domain(), fileOpt, persistentOpt, ...impactOpts()];
  if (verb === 'update') opts.push(bool('force', 'force device update'));
  return {
    name, help, desc, opts,
    handler: (ctl, cmd) => {
      const i = impact(cmd);
      // attach-device reads --file before looking at the domain's state, the others after
      return withDomain(ctl, cmd, (dom) => {
        const from = optString(cmd, 'file')!;
        const flags = withLive(dom, i);
        const xml = readXmlFile(from);
        if (verb === 'attach') {
          if (!ok(ctl, `Failed to attach device from ${from}`, () => attach(dom, xml, flags, i.current))) return false;
          ctl.printExtra('Device attached successfully\n');
        } else if (verb === 'detach') {
          if (!ok(ctl, `Failed to detach device from ${from}`, () => detach(dom, xml, flags, i.current))) return false;
          ctl.printExtra('Device detached successfully\n');
        } else {
          if (!ok(ctl, `Failed to update device from ${from}`, () => dom.updateDevice(xml, flags | (optBool(cmd, 'force') ? 4 : 0)))) return false;
          ctl.printExtra('Device updated successfully\n');
        }
        return true;
      });
    },
  };
}

const changeMediaOpts: OptDef[] = [
  commonOpt.domain(), { name: 'path', type: 'data', required: true, help: 'Fully-qualified path or target of disk device' },
  str('source', 'source of the media'), bool('eject', 'Eject the media'), bool('insert', 'Insert the media'), bool('update', 'Update the media'),
  ...[commonOpt.current('can be either or both of --live and --config, depends on implementation hypervisor driver'),
    commonOpt.live('alter live configuration of running domain'), commonOpt.config('alter persistent configuration, effect observed on next boot')],
  bool('force', 'force media changing'), bool('print-xml', 'print XML document rather than change media'), bool('block', 'source media is a block device'),
];

const changeMedia: Cmd = {
  name: 'change-media', help: 'Change media of CD or floppy drive', desc: 'Change media of CD or floppy drive.',
  opts: changeMediaOpts,
  handler: (ctl, cmd) => {
    let [eject, insert, update] = ['eject', 'insert', 'update'].map((n) => optBool(cmd, n)) as [boolean, boolean, boolean];
    exclusive(cmd, 'eject', 'insert');
    exclusive(cmd, 'eject', 'update');
    exclusive(cmd, 'insert', 'update');
    exclusive(cmd, 'eject', 'block');
    const source = optString(cmd, 'source');
    // the docs say: update without a source is eject
    if (update && source === undefined) {
      update = false;
      eject = true;
    }
    let action: DiskUpdate = 'update';
    let success = 'Successfully updated media.';
    if (eject) [action, success] = ['eject', 'Successfully ejected media.'];
    if (insert) [action, success] = ['insert', 'Successfully inserted media.'];
    if (update || (!eject && !insert)) [action, success] = ['update', 'Successfully updated media.'];
    exclusive(cmd, 'current', 'live');
    exclusive(cmd, 'current', 'config');
    const flags = (optBool(cmd, 'config') ? 2 : 0) | (optBool(cmd, 'live') ? 1 : 0) | (optBool(cmd, 'force') ? 4 : 0);
    return withDomain(ctl, cmd, (dom) => {
      const path = optString(cmd, 'path')!;
      const doc = attempt(ctl, undefined, () => dom.xml({ inactive: (flags & 2) !== 0 }));
      if (doc === undefined) return false;
      const xml = updateDiskXml(findDisk(doc, path, true), source, optBool(cmd, 'block'), path, action);
      if (optBool(cmd, 'print-xml')) {
        ctl.print(xml);
        return true;
      }
      if (!ok(ctl, `Failed to complete action ${action} on media`, () => dom.updateDevice(xml, flags))) return false;
      ctl.print(success);
      return true;
    });
  },
};

const domifSetlink: Cmd = {
  name: 'domif-setlink', help: 'set link state of a virtual interface',
  desc: "Set link state of a domain's virtual interface. This command wraps usage of update-device command.",
  opts: [commonOpt.domain(), { name: 'interface', type: 'data', required: true, help: 'interface device (MAC Address)' },
    { name: 'state', type: 'data', required: true, help: 'new state of the device' }, { name: 'persistent', type: 'alias', help: 'config' },
    commonOpt.config('affect next boot'), bool('print-xml', 'print XML document rather than set the interface link state')],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const iface = optString(cmd, 'interface')!;
    const state = optString(cmd, 'state')!;
    if (state !== 'up' && state !== 'down') throw new VshError(`invalid link state '${state}'`);
    const config = optBool(cmd, 'config');
    let flags = config ? 2 : 1;
    if (!dom.isActive()) flags = 2;
    const xml = attempt(ctl, undefined, () => dom.xml({ inactive: config }));
    if (xml === undefined) throw new VshError('Failed to get domain description xml');
    const doc = parseXml(xml);
    if (!doc) throw new VshError('Failed to parse domain description xml');
    const nodes = domainDevices(doc, 'interface');
    if (nodes.length === 0) throw new VshError('Failed to extract interface information or no interfaces found');
    const same = (v: string | undefined): boolean => v !== undefined && v.toLowerCase() === iface.toLowerCase();
    const node = nodes.find((n) => same(childAttr(n, 'mac', 'address')) || same(childAttr(n, 'target', 'dev')));
    if (!node) throw new VshError(`interface '${iface}' not found`);
    let link = [...node.childNodes].find((c) => c.nodeType === 1 && c.nodeName === 'link') as ReturnType<typeof doc.createElement> | undefined;
    if (!link) {
      link = doc.createElement('link');
      node.appendChild(link);
    }
    link.setAttribute('state', state);
    const out = nodeToString(node);
    if (optBool(cmd, 'print-xml')) {
      ctl.print(out);
      return true;
    }
    if (!ok(ctl, 'Failed to update interface link state', () => dom.updateDevice(out, flags))) return false;
    ctl.printExtra('Device updated successfully\n');
    return true;
  }),
};

export const deviceCommands: Cmd[] = [
  fromFile('attach-device', 'attach device from an XML file', 'Attach device from an XML <file>.', 'attach'),
  fromFile('detach-device', 'detach device from an XML file', 'Detach device from an XML <file>', 'detach'),
  fromFile('update-device', 'update device from an XML file', 'Update device from an XML <file>.', 'update'),
  {
    name: 'detach-device-alias', help: 'detach device from an alias', desc: 'Detach device identified by the given alias from a domain',
    opts: [commonOpt.domain(), { name: 'alias', type: 'data', required: true, help: 'device alias' }, ...impactOpts()],
    handler: (ctl, cmd) => {
      const i = impact(cmd, false);
      return withDomain(ctl, cmd, (dom) => {
        const alias = optString(cmd, 'alias')!;
        if (!ok(ctl, `Failed to detach device with alias ${alias}`, () => dom.detachDeviceAlias(alias, i.flags))) return false;
        ctl.printExtra('Device detach request sent successfully\n');
        return true;
      });
    },
  },
  attachDisk, detachDisk, attachInterface, detachInterface, changeMedia, domifSetlink,
];
