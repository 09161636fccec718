// domxml-from-native's importer (src/emulator/native-import.ts): the seed's forking-mode command
// line converts (golden file), and so do variants — other names, ids, rids, sizes, paths, -vnc,
// -numa, memory-backend-file, `,,`-escaped command= strings; what cannot be expressed is refused
// with an error naming the option.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import { domainXmlFromSeedArgv } from '../../src/emulator/native-seed-import.js';
import { qemuOpts, shellWords } from '../../src/emulator/native-words.js';

const fixtures = join(import.meta.dirname, '../fixtures/emulator');

describe('seed command lines to domain XML', () => {
  it("converts the seed document's example exactly (golden file), and the result parses", () => {
    const xml = domainXmlFromSeedArgv(readFileSync(join(fixtures, 'seed-forking-mode.sh'), 'utf8'));
    expect(xml).toBe(readFileSync(join(fixtures, 'seed-forking-mode.xml'), 'utf8'));
    const def = parseDomainXml(xml);
    expect(def.metadata?.remote?.processes.map((p) => [p.rid, p.devices])).toEqual([['8', ['ua-lsi0']]]);
  });

  it('splits words as a shell does and options as QEMU does', () => {
    expect(shellWords(`a "b c"d 'e f' g\\ h \\\n i # comment\n j`)).toEqual(['a', 'b cd', 'e f', 'g h', 'i', 'j']);
    expect(qemuOpts('id=x,,y,file=/a,,b,readonly')).toEqual([['id', 'x,y'], ['file', '/a,b'], ['readonly', 'on']]);
    expect(qemuOpts('q35,accel=tcg', 'type')).toEqual([['type', 'q35'], ['accel', 'tcg']]);
  });

  it('converts variants: names, rids, sizes, paths, several remotes, -vnc, a commas-in-paths command', () => {
    const xml = domainXmlFromSeedArgv(`/usr/bin/qemu-system-x86_64 -name web-1 -machine pc,accel=tcg -smp 4 -m 3G \\
      -object memory-backend-memfd,id=ram,size=3G,share=on -numa node,memdev=ram -vnc 127.0.0.1:7 \\
      -device lsi53c895a,id=hba-a,remote,rid=disk-a,command=qemu-scsi-dev \\
      -device scsi-hd,drive=da,bus=hba-a.0,scsi-id=3,remote,rid=disk-a \\
      -device lsi53c895a,id=hba-b,rid=11 -device scsi-hd,drive=db,bus=hba-b.0,rid=11 \\
      -remote rid=disk-a,exec=qemu-scsi-dev,command="-drive id=da,,format=qcow2,,file=/srv/images/a,,,,b.qcow2 -monitor unix:/run/x,,server,,nowait" \\
      -remote rid=11,exec=qemu-scsi-dev,command="-drive id=db,,file=/srv/b.img,,readonly=on"`);
    const def = parseDomainXml(xml);
    expect(def.name).toBe('web-1');
    expect(def.type).toBe('qemu');
    expect(def.memory.kib).toBe(3 * 1024 * 1024);
    expect(def.vcpu.count).toBe(4);
    expect(xml).toContain("<graphics type='vnc' port='5907' autoport='no' listen='127.0.0.1'/>");
    expect(def.metadata?.remote?.processes.map((p) => [p.rid, p.devices])).toEqual([['disk-a', ['ua-hba-a']], ['11', ['ua-hba-b']]]);
    expect(xml).toContain("<driver name='qemu' type='qcow2'/><source file='/srv/images/a,b.qcow2'/><target dev='sda' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='3'/>");
    expect(xml).toContain("<source file='/srv/b.img'/><target dev='sdb' bus='scsi'/><readonly/><address type='drive' controller='1' bus='0' target='0' unit='0'/>");
  });

  it('refuses what it cannot express, naming the option', () => {
    const cases: Array<[string, RegExp]> = [
      ['-name x -netdev user,id=n0', /option '-netdev'/],
      ['-name x -device e1000,id=n0', /-device e1000/],
      ['-name x -drive file=/a.img,if=virtio,id=d', /-drive if=virtio/],
      ['-name x -object memory-backend-file,id=a,size=1G -object memory-backend-file,id=b,size=1G -numa node,memdev=a -numa node,memdev=b', /-numa/],
      ['-name x -object secret,id=s', /-object secret/],
      ['-name x -device lsi53c895a,id=l,rid=1 -remote rid=1,command="-netdev user,,id=n"', /'-netdev' in the command of remote 1/],
      ['-name x -device lsi53c895a,id=l -device scsi-hd,drive=nope,bus=l.0', /drive 'nope', which no -drive defines/],
      ['-name x -vnc unix:/tmp/v', /-vnc 'unix:\/tmp\/v'/],
      ['-name "x', /unterminated double quote/],
    ];
    for (const [argv, err] of cases) expect(() => domainXmlFromSeedArgv(argv), argv).toThrow(err);
  });

  it('converts an upstream pair: a -machine x-remote process and the main QEMU that proxies its device', () => {
    const remote = (n: number) => `qemu-system-x86_64 -machine x-remote -nodefaults -nographic -monitor none -serial none \\
  -qmp unix:remote${n}.qmp,server=on,wait=off -device lsi53c895a,id=lsi${n} \\
  -drive id=d${n},file=/srv/disk${n}.img,format=raw,if=none -device scsi-hd,id=d${n}-hd,drive=d${n},bus=lsi${n}.0,scsi-id=${n} \\
  -object x-remote-object,id=robj-lsi${n},devid=lsi${n},fd=3`;
    const main = `qemu-system-x86_64 -name pair -machine q35,accel=tcg,memory-backend=mem -m 256 \\
  -object memory-backend-memfd,id=mem,size=256M,share=on -device x-pci-proxy-dev,id=lsi0,fd=3 -device x-pci-proxy-dev,id=lsi1,fd=4 \\
  -display none -nodefaults -serial none -monitor none -qmp unix:proxy.qmp,server=on,wait=off`;
    const def = parseDomainXml(domainXmlFromSeedArgv(`${remote(0)}\n\n${remote(1)}\n\n${main}\n`));
    expect(def.name).toBe('pair');
    expect(def.metadata?.remote?.processes.map((p) => [p.rid, p.devices])).toEqual([['robj-lsi0', ['ua-lsi0']], ['robj-lsi1', ['ua-lsi1']]]);
    const disks = def.devices.filter((d) => d.kind === 'disk');
    expect(disks.map((d) => d.kind === 'disk' && [d.source?.path, d.address?.fields])).toEqual([
      ['/srv/disk0.img', [['controller', '0'], ['bus', '0'], ['target', '0'], ['unit', '0']]],
      ['/srv/disk1.img', [['controller', '1'], ['bus', '0'], ['target', '0'], ['unit', '1']]],
    ]);
    // a proxy without its remote, a remote nobody proxies, a remote without a link object
    expect(() => domainXmlFromSeedArgv(main)).toThrow(/x-pci-proxy-dev 'lsi0', which no remote process serves/);
    expect(() => domainXmlFromSeedArgv(`${remote(0)}\n${main.replace('-device x-pci-proxy-dev,id=lsi0,fd=3 ', '').replace('-device x-pci-proxy-dev,id=lsi1,fd=4 ', '')}`)).toThrow(/the remote device 'lsi0', which no x-pci-proxy-dev/);
    expect(() => domainXmlFromSeedArgv(`${remote(0).replace(/-object .*$/, '')}\n${main}`)).toThrow(/x-pci-proxy-dev 'lsi0', which no remote process serves|without an x-remote-object/);
    expect(() => domainXmlFromSeedArgv(`${remote(0).replace('-device lsi53c895a', '-device e1000')}\n${main}`)).toThrow(/-device e1000/);
  });
});
