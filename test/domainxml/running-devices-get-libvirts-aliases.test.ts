// libvirt's names for the devices of a running domain (qemu_alias.c), assigned to the completed
// definition: generated names for everything, user aliases kept, a console sharing its serial
// port's alias; define stores only the user aliases. (Compared with a running libvirtd guest in
// test/libvirt-reference/virt-install-guests-define-as-on-libvirt.test.ts.)
import { describe, expect, it } from 'vitest';
import { assignAliases, withoutGeneratedAliases } from '../../src/domainxml/aliases.js';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { formatDomainXml, parseDomainXml } from '../../src/domainxml/index.js';
import { recordedQemu72Caps } from '../emulator/recorded-qemu-7.2.js';

const XML = `<domain type='qemu'>
  <name>al</name><uuid>8c9dc8d3-ac47-4d76-b054-c28724f828d5</uuid>
  <memory>262144</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/x.img'/><target dev='sda' bus='scsi'/></disk>
    <disk type='file' device='disk'><source file='/y.img'/><target dev='vdb' bus='virtio'/></disk>
    <controller type='scsi' model='lsilogic'><alias name='ua-hba'/></controller>
    <interface type='user'><model type='virtio'/></interface>
    <console type='pty'/>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <input type='tablet' bus='usb'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>`;

const aliases = (xml: string): string[] => [...xml.matchAll(/<alias name='([^']*)'\/>/g)].map((m) => m[1]!);

describe('aliases of a running domain', () => {
  const def = applyDefineDefaults(parseDomainXml(XML), recordedQemu72Caps(), { newDomain: true });
  const live = formatDomainXml(assignAliases(def));

  it("are libvirt's generated names in document order, user aliases kept", () => {
    expect(aliases(live)).toEqual([
      'scsi0-0-0', 'virtio-disk1', 'ua-hba', 'usb', 'ide', 'pcie.0', 'virtio-serial0',
      'pci.1', 'pci.2', 'pci.3', 'pci.4', 'pci.5', 'pci.6', 'pci.7', 'pci.8', 'pci.9',
      'net0', 'serial0', 'serial0', 'channel0', 'input0', 'input1', 'input2', 'balloon0', 'rng0',
    ]);
  });

  it('round-trip through live XML and leave only user aliases in what define stores', () => {
    const back = parseDomainXml(live); // the shared serial0 is not a duplicate
    expect(aliases(formatDomainXml(withoutGeneratedAliases(back)))).toEqual(['ua-hba']);
    expect(formatDomainXml(assignAliases(withoutGeneratedAliases(back)))).toBe(live);
  });
});
