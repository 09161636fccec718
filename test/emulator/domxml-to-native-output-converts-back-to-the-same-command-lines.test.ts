// domxml-to-native → domxml-from-native round-trips everything domxml-to-native emits: for every
// launch-plan fixture and every libvirt 9.0 test domain mpvirt can launch, the printed command
// lines convert back to domain XML whose command lines (after define's defaults) are the same,
// byte for byte. What libvirt-style command lines have that domain XML cannot say is refused by
// name, never dropped.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { DomainDef } from '../../src/domainxml/model.js';
import { findUnsupported } from '../../src/domainxml/supported.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { planWithPaths, renderNativeArgv } from '../../src/emulator/native.js';
import { domainXmlFromNative } from '../../src/emulator/native-import.js';
import { corpusDir } from '../domainxml/helpers.js';
import type { QemuCaps } from '../../src/emulator/caps.js';

const plansDir = join(import.meta.dirname, '../fixtures/emulator/plans');
const caps: QemuCaps = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/emulator/caps-qemu-7.2.json'), 'utf8'));
const toNative = (def: DomainDef): string => renderNativeArgv(planWithPaths(buildLaunchPlan(def, caps, { runDir: `/run/mpvirt/qemu/${def.name}` })));
const defined = (xml: string): DomainDef => applyDefineDefaults(parseDomainXml(xml), caps, { newDomain: true });

/** The to-native text of a definition, or undefined when mpvirt does not launch it. */
function nativeOf(file: string): string | undefined {
  try {
    const def = parseDomainXml(readFileSync(file, 'utf8'));
    return findUnsupported(def).length === 0 ? toNative(applyDefineDefaults(def, caps, { newDomain: true })) : undefined;
  } catch {
    return undefined;
  }
}

function firstDiff(a: string, b: string): string {
  const x = a.split(' ');
  const y = b.split(' ');
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  return `word ${i}: ${JSON.stringify(x[i])} became ${JSON.stringify(y[i])}`;
}

const remoteXml = `<domain type='qemu'><name>rt</name><memory unit='MiB'>256</memory><vcpu>2</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>
<metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'>
  <mpq:process rid='db'><mpq:device alias='ua-hba-db'/><mpq:on-crash action='restart'/></mpq:process>
  <mpq:process rid='logs'><mpq:device alias='ua-hba-logs'/><mpq:emulator>/opt/qemu/bin/qemu-system-x86_64</mpq:emulator><mpq:sandbox mode='off'/></mpq:process>
</mpq:remote></metadata>
<devices><controller type='scsi' index='0' model='lsilogic'><alias name='ua-hba-db'/></controller>
<controller type='scsi' index='1' model='lsilogic'><alias name='ua-hba-logs'/></controller>
<disk type='file' device='disk'><source file='/srv/boot.qcow2'/><driver name='qemu' type='qcow2'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>
<disk type='file' device='disk'><source file='/srv/db,1.img'/><target dev='sda' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>
<disk type='block' device='disk'><source dev='/dev/vg/logs'/><target dev='sdb' bus='scsi'/><readonly/><address type='drive' controller='1' bus='0' target='0' unit='2'/></disk>
<disk type='file' device='disk'><source file='/srv/scratch.img'/><target dev='vdb' bus='virtio'/></disk>
</devices></domain>`;

describe('domxml-to-native output converts back to the same command lines', () => {
  it('round-trips every launch-plan fixture and every libvirt test domain mpvirt launches, byte for byte', () => {
    const files = [
      ...readdirSync(plansDir).filter((f) => f.endsWith('.xml')).map((f) => join(plansDir, f)),
      ...readdirSync(corpusDir).filter((f) => f.endsWith('.xml')).map((f) => join(corpusDir, f)),
    ];
    const failures: string[] = [];
    let compared = 0;
    for (const file of files) {
      const first = nativeOf(file);
      if (first === undefined) continue;
      compared++;
      try {
        const again = toNative(defined(domainXmlFromNative(first)));
        if (again !== first) failures.push(`${file}: ${firstDiff(first, again)}`);
      } catch (e) {
        failures.push(`${file}: ${(e as Error).message}`);
      }
    }
    console.log(`domxml-to-native → domxml-from-native → domxml-to-native: ${compared - failures.length} of ${compared} identical`);
    expect(compared).toBeGreaterThan(200);
    expect(failures).toEqual([]);
  });

  it('brings back remote processes with their rids, policies, emulators, sandboxes and disk order', () => {
    const first = toNative(defined(remoteXml));
    const back = defined(domainXmlFromNative(first));
    expect(back.metadata?.remote?.processes.map((p) => [p.rid, p.devices, p.onCrash, p.emulator, p.sandbox])).toEqual([
      ['db', ['ua-hba-db'], 'restart', undefined, undefined],
      ['logs', ['ua-hba-logs'], undefined, '/opt/qemu/bin/qemu-system-x86_64', 'off'],
    ]);
    // the remote processes' disks go back between the main QEMU's, where they were
    expect(back.devices.filter((d) => d.kind === 'disk').map((d) => d.kind === 'disk' && [d.source?.path, d.target.bus])).toEqual([
      ['/srv/boot.qcow2', 'virtio'], ['/srv/db,1.img', 'scsi'], ['/dev/vg/logs', 'scsi'], ['/srv/scratch.img', 'virtio'],
    ]);
    expect(toNative(back)).toBe(first);
  });

  it('refuses what domain XML cannot say, naming it', () => {
    const main = (extra: string): string => `/usr/bin/qemu-system-x86_64 -name guest=x,debug-threads=on -machine pc-q35-7.2,usb=off -accel tcg -m 128 ${extra}`;
    const cases: Array<[string, RegExp]> = [
      [main(`-blockdev '{"driver":"file","filename":"/a.img","node-name":"libvirt-1-storage"}' -blockdev '{"node-name":"libvirt-1-format","driver":"raw","file":"libvirt-1-storage"}' -device '{"driver":"virtio-blk-pci","drive":"libvirt-1-format","id":"virtio-disk0","rerror":"stop","bus":"pcie.0","addr":"0x3"}'`), /the -device virtio-blk-pci property 'rerror'/],
      [main(`-blockdev '{"driver":"file","filename":"/dev/fdset/1","node-name":"libvirt-1-storage"}' -blockdev '{"node-name":"libvirt-1-format","driver":"raw","file":"libvirt-1-storage"}' -device '{"driver":"virtio-blk-pci","drive":"libvirt-1-format","id":"virtio-disk0","bus":"pcie.0","addr":"0x3"}'`), /the image '\/dev\/fdset\/1' \(an fd set the daemon passes/],
      [main(`-add-fd fd=5,set=1 -device '{"driver":"usb-storage","id":"u"}'`), /-add-fd/],
      [main(`-device '{"driver":"usb-storage","id":"u"}'`), /cannot convert -device usb-storage to domain XML/],
      [main(`-netdev '{"type":"tap","id":"hostnet0"}' -device '{"driver":"e1000e","netdev":"hostnet0","id":"net0","bus":"pcie.0","addr":"0x2"}'`), /-netdev tap/],
      [main(`-spice port=5901,addr=0.0.0.0,seamless-migration=on -device '{"driver":"qxl-vga","id":"video0","bus":"pcie.0","addr":"0x1"}'`), /-spice display with a password/],
      [main(`-device '{"driver":"x-pci-proxy-dev","id":"ua-lsi0","fd":"3","bus":"pcie.0","addr":"0x4"}'`), /x-pci-proxy-dev 'ua-lsi0', which no remote process serves/],
      [main(`-chardev pty,id=charserial0 -device '{"driver":"virtio-balloon-pci","id":"balloon0","bus":"pcie.0","addr":"0x5"}'`), /-chardev 'charserial0', which no device uses/],
      [main(`-numa node,memdev=pc.ram -device '{"driver":"VGA","id":"video0","bus":"pcie.0","addr":"0x1"}'`), /the option '-numa'/],
      [main(`-device '{"driver":"VGA","id":"video0","bus":"pcie.0"}'`), /without a PCI address/],
      [`${main(`-device '{"driver":"VGA","id":"video0","bus":"pcie.0","addr":"0x1"}'`)}\n${main('-S')}`, /2 main QEMU command lines/],
    ];
    for (const [argv, err] of cases) expect(() => domainXmlFromNative(argv), argv).toThrow(err);
  });
});
