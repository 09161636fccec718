// `virsh domxml-from-native qemu-argv` (the real virsh, RPC 135) turns the seed's forking-mode
// command line into domain XML as define keeps it, which then defines; an option it cannot
// express is refused with libvirt's error format, naming the option.
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
});
