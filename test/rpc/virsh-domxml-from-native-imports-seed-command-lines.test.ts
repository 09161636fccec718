// `virsh domxml-from-native qemu-argv` (the real virsh, RPC 135) turns the seed's forking-mode
// command line into domain XML as define keeps it, which then defines; an option it cannot
// express is refused with libvirt's error format, naming the option. What domxml-to-native prints
// converts back: the same command lines again, and a definition with the same remote processes.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

describe('virsh domxml-from-native qemu-argv', () => {
  it('imports the seed example with its remote process, and the result defines', async () => {
    const argv = join(r.h.dir, 'seed.sh');
    copyFileSync(join(import.meta.dirname, '../fixtures/emulator/seed-forking-mode.sh'), argv);
    const res = await r.virsh(['domxml-from-native', 'qemu-argv', argv]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('<name>OL7.4</name>');
    expect(res.stdout).toMatch(/<mpq:process rid="8">\n\s*<mpq:device alias="ua-lsi0"\/>/);
    expect(res.stdout).toContain("<source file='/root/remote-process-disk.img'/>");
    const xml = join(r.h.dir, 'seed.xml');
    writeFileSync(xml, res.stdout);
    const def = await r.virsh(['define', xml]);
    expect(def.code, def.stderr).toBe(0);
    expect((await r.virsh(['dumpxml', 'OL7.4'])).stdout).toBe(res.stdout);
  });

  it('refuses an option it cannot express, naming it', async () => {
    const argv = join(r.h.dir, 'net.sh');
    writeFileSync(argv, 'qemu-system-x86_64 -name n -netdev user,id=n0\n');
    const res = await r.virsh(['domxml-from-native', 'qemu-argv', argv]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe("error: unsupported configuration: cannot convert the option '-netdev' to domain XML\n");
  });

  it('converts what domxml-to-native prints back into the same command lines and remote processes', async () => {
    const xml = join(r.h.dir, 'rt.xml');
    writeFileSync(xml, `<domain type='qemu'><name>rt</name><memory unit='MiB'>256</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>
<metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'><mpq:process rid='db'><mpq:device alias='ua-db'/><mpq:on-crash action='restart'/></mpq:process></mpq:remote></metadata>
<devices><controller type='scsi' index='0' model='lsilogic'><alias name='ua-db'/></controller>
<disk type='file' device='disk'><source file='${join(r.h.dir, 'db.img')}'/><target dev='sda' bus='scsi'/></disk>
<disk type='file' device='disk'><source file='${join(r.h.dir, 'boot.img')}'/><target dev='vda' bus='virtio'/></disk>
<serial type='pty'/><graphics type='vnc' port='5907' listen='127.0.0.1'/></devices></domain>`);
    const first = await r.virsh(['domxml-to-native', 'qemu-argv', '--xml', xml]);
    expect(first.code, first.stderr).toBe(0);
    const argv = join(r.h.dir, 'rt.sh');
    writeFileSync(argv, first.stdout);
    const back = await r.virsh(['domxml-from-native', 'qemu-argv', argv]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/<mpq:process rid="db">\n\s*<mpq:device alias="ua-db"\/>\n\s*<mpq:on-crash action="restart"\/>/);
    const xml2 = join(r.h.dir, 'rt-back.xml');
    writeFileSync(xml2, back.stdout);
    const again = await r.virsh(['domxml-to-native', 'qemu-argv', '--xml', xml2]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(first.stdout);
    const def = await r.virsh(['define', xml2]);
    expect(def.code, def.stderr).toBe(0);
    expect((await r.virsh(['domxml-to-native', 'qemu-argv', '--domain', 'rt'])).stdout).toBe(first.stdout);
  });
});
