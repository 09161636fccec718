// The parser keeps everything; findUnsupported/assertSupported name what would
// change the guest if mpvirt ignored it, so define can refuse it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertSupported, findUnsupported, formatDomainXml, parseDomainXml } from '../../src/domainxml/index.js';
import { fixturesDir } from './helpers.js';

const base = (devices: string, extraTop = ''): string =>
  `<domain type='kvm'><name>a</name><memory>65536</memory><os><type arch='x86_64' machine='q35'>hvm</type></os>${extraTop}<devices>${devices}</devices></domain>`;

describe('findUnsupported', () => {
  it('accepts the remote-lsilogic fixture as it is', () => {
    const def = parseDomainXml(readFileSync(join(fixturesDir, 'valid', 'remote-lsilogic.xml'), 'utf8'));
    expect(findUnsupported(def)).toEqual([]);
    expect(() => assertSupported(def)).not.toThrow();
  });

  it('names a hostdev, keeps it in the model and in the output', () => {
    const xml = base("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>");
    const def = parseDomainXml(xml);
    expect(findUnsupported(def)).toEqual([
      { path: '/domain/devices/hostdev', reason: "device <hostdev type='pci'> is not supported: it passes a host device through, which mpvirt does not do" },
    ]);
    expect(() => assertSupported(def)).toThrow(
      "unsupported configuration: device <hostdev type='pci'> is not supported: it passes a host device through, which mpvirt does not do (/domain/devices/hostdev)",
    );
    expect(formatDomainXml(def)).toContain("<hostdev mode='subsystem' type='pci'>");
  });

  it('refuses qemu:commandline passthrough and a network disk, counting the rest', () => {
    const xml = base(
      "<disk type='network' device='disk'><source protocol='nbd' name='x'><host name='h'/></source><target dev='vda' bus='virtio'/></disk><watchdog model='diag288'/>",
      "<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-S'/></qemu:commandline>",
    );
    const def = parseDomainXml(xml);
    const items = findUnsupported(def);
    expect(items.map((i) => i.path)).toEqual(['/domain/qemu:commandline', '/domain/devices/disk', '/domain/devices/watchdog']);
    expect(() => assertSupported(def)).toThrow(/\(and 2 more: \/domain\/devices\/disk, \/domain\/devices\/watchdog\)/);
  });

  it('accepts host-side tuning that does not change the guest', () => {
    const def = parseDomainXml(base('', "<memtune><hard_limit unit='KiB'>1048576</hard_limit></memtune><seclabel type='none'/>"));
    expect(findUnsupported(def)).toEqual([]);
  });

  it('names unsupported values of typed devices', () => {
    const def = parseDomainXml(
      base(
        "<controller type='scsi' index='0' model='buslogic'/><graphics type='sdl'/><disk type='file' device='lun'><source file='/f.img'/><target dev='sda' bus='usb'/></disk>",
      ),
    );
    expect(findUnsupported(def).map((i) => i.reason)).toEqual([
      "SCSI controller model 'buslogic' is not supported",
      "graphics type 'sdl' is not supported",
      "disk device 'lun' is not supported",
      "disk bus 'usb' is not supported",
    ]);
  });

  it('names what it cannot do with the devices and features Windows and desktop templates write', () => {
    const def = parseDomainXml(
      base(
        "<graphics type='spice' port='5900' tlsPort='5901' autoport='no'/><graphics type='vnc' passwd='secret'/>" +
          "<sound model='usb'/><watchdog model='i6300esb' action='dump'/><redirdev bus='usb' type='tcp'/>" +
          "<channel type='pty'><target type='virtio' name='x'/></channel><audio id='1' type='alsa'/>",
      ).replace('<devices>', "<features><hyperv><relaxed state='on'/><xmm_input state='on'/></hyperv><smm state='on'><tseg unit='MiB'>48</tseg></smm></features><clock offset='utc'><timer name='tsc' frequency='1'/></clock><devices>"),
    );
    expect(findUnsupported(def).map((i) => i.reason)).toEqual([
      'Hyper-V enlightenment <xmm_input> is not supported',
      '<tseg> in <smm> is not supported',
      "timer 'tsc' is not supported",
      'a SPICE TLS port needs certificates, which mpvirt does not configure',
      'graphics passwords are not supported',
      "sound model 'usb' is not supported",
      "watchdog action 'dump' is not supported",
      "redirdev type 'tcp' on bus 'usb' is not supported",
      "channel type 'pty' with target 'virtio' is not supported",
      "audio type 'alsa' is not supported",
    ]);
  });

  it('names an unknown child inside a typed device', () => {
    const def = parseDomainXml(base("<disk type='file' device='disk'><source file='/x.img'/><target dev='vda' bus='virtio'/><encryption format='luks'/></disk>"));
    expect(findUnsupported(def)).toEqual([{ path: '/domain/devices/disk/encryption', reason: '<encryption> in <disk> is not supported' }]);
  });
});
