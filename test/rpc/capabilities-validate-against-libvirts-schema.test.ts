/**
 * `virsh capabilities` (CONNECT_GET_CAPABILITIES, which virt-install,
 * virt-xml and virt-manager need on every connection): libvirt's layout,
 * valid against libvirt's own capability.rng (virt-xml-validate), the host's
 * stable UUID and CPUs, the default emulator's machine types listed as
 * libvirt lists them, and a kvm domain type only where KVM is usable.
 * Plus `virsh maxvcpus`, and `virsh domcapabilities` against domaincaps.rng.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestMachines, hostUuid } from '../../src/driver/capabilities.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const kvmUsable = (): boolean => {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

describe('virsh capabilities', () => {
  it("validates against libvirt's capability.rng and has libvirt's layout", async () => {
    const res = await r.virsh(['capabilities']);
    expect([res.code, res.stderr]).toEqual([0, '']);
    const xml = res.stdout.replace(/\n\n$/, '');
    const file = join(r.h.dir, 'caps.xml');
    writeFileSync(file, xml);
    const v = spawnSync('/usr/bin/virt-xml-validate', [file, 'capability'], { encoding: 'utf8' });
    expect([v.status, v.stdout + v.stderr]).toEqual([0, `${file} validates\n`]);
    expect(xml).toMatch(/^<capabilities>\n\n {2}<host>\n {4}<uuid>[0-9a-f-]{36}<\/uuid>\n {4}<cpu>\n {6}<arch>x86_64<\/arch>\n/);
    expect(xml).toContain('\n  </host>\n\n  <guest>\n    <os_type>hvm</os_type>\n    <arch name=\'x86_64\'>\n      <wordsize>64</wordsize>\n');
    expect(xml).toContain('    <secmodel>\n      <model>none</model>\n      <doi>0</doi>\n    </secmodel>\n');
    expect(xml).toContain(
      "    <features>\n      <acpi default='on' toggle='yes'/>\n      <apic default='on' toggle='no'/>\n      <cpuselection/>\n" +
      "      <deviceboot/>\n      <disksnapshot default='on' toggle='no'/>\n    </features>\n  </guest>\n\n</capabilities>\n",
    );
    // the same document on a read-only connection, and from one call to the next (stable host UUID)
    expect((await r.virsh(['capabilities'], { readOnly: true })).stdout).toBe(res.stdout);
    expect(xml).toContain(`<uuid>${hostUuid()}</uuid>`);
  });

  it("describes this host's CPUs and the emulator's machine types; kvm only where usable", async () => {
    const xml = (await r.virsh(['capabilities'])).stdout;
    expect(Number(/<cpus num='(\d+)'>/.exec(xml)?.[1] ?? 0)).toBe(cpus().length);
    expect([...xml.matchAll(/<cpu id='(\d+)' socket_id=/g)].map((m) => Number(m[1]))).toEqual(cpus().map((_, i) => i));
    const caps = await r.driver.caps.get(r.driver.defaultEmulator);
    expect(xml).toContain(`<emulator>${r.driver.defaultEmulator}</emulator>`);
    const listed = [...xml.matchAll(/<machine(?: canonical='([^']+)')? maxCpus='(\d+)'>([^<]+)<\/machine>/g)].map((m) => ({
      name: m[3]!, ...(m[1] ? { canonical: m[1] } : {}), maxCpus: Number(m[2]),
    }));
    expect(listed).toEqual(guestMachines(caps.machines));
    // QEMU's default machine first; every machine but 'none'; each alias after its canonical name
    const def = caps.machines.find((m) => m.isDefault)!;
    expect(listed[0]!.name).toBe(def.name);
    expect(new Set(listed.map((m) => m.canonical ?? m.name))).toEqual(new Set(caps.machines.filter((m) => m.name !== 'none').map((m) => m.name)));
    const q35 = caps.machines.find((m) => m.alias === 'q35')!;
    const qi = listed.findIndex((m) => m.name === 'q35');
    expect(listed[qi]).toEqual({ name: 'q35', canonical: q35.name, maxCpus: q35.cpuMax });
    expect(listed.findIndex((m) => m.name === q35.name)).toBeLessThan(qi);
    const domains = [...xml.matchAll(/<domain type='(\w+)'\/>/g)].map((m) => m[1]);
    expect(domains).toEqual(caps.accelerators.includes('kvm') && kvmUsable() ? ['qemu', 'kvm'] : ['qemu']);
  });

  it('inserts a canonical name libvirt would otherwise miss, before its alias', () => {
    expect(guestMachines([
      { name: 'none', isDefault: false, cpuMax: 1 },
      { name: 'm-2.0', alias: 'm', isDefault: false, cpuMax: 8 },
      { name: 'old-1.0', isDefault: false, cpuMax: 4 },
      { name: 'pc-9', alias: 'pc', isDefault: true, cpuMax: 255 },
    ])).toEqual([
      { name: 'pc-9', maxCpus: 255 },
      { name: 'pc', canonical: 'pc-9', maxCpus: 255 },
      { name: 'm-2.0', maxCpus: 8 },
      { name: 'm', canonical: 'm-2.0', maxCpus: 8 },
      { name: 'old-1.0', maxCpus: 4 },
    ]);
  });
});

describe('virsh maxvcpus and domcapabilities', () => {
  it("maxvcpus is the default machine's cpu-max; unknown types are refused as libvirt refuses them", async () => {
    const caps = await r.driver.caps.get(r.driver.defaultEmulator);
    const max = caps.machines.find((m) => m.isDefault)!.cpuMax;
    for (const args of [['maxvcpus'], ['maxvcpus', '--type', 'kvm'], ['maxvcpus', '--type', 'qemu']]) {
      expect(await r.virsh(args)).toMatchObject({ code: 0, stdout: `${max}\n\n`, stderr: '' });
    }
    expect(await r.virsh(['maxvcpus', '--type', 'xen'])).toMatchObject({ code: 1, stdout: '\n', stderr: "error: invalid argument: unknown type 'xen'\n" });
  });

  it("domcapabilities validates against libvirt's domaincaps.rng, for each virt type mpvirtd runs", async () => {
    for (const args of [[], ['--virttype', 'qemu', '--machine', 'q35']]) {
      const res = await r.virsh(['domcapabilities', ...args]);
      expect([res.code, res.stderr]).toEqual([0, '']);
      const file = join(r.h.dir, 'domcaps.xml');
      writeFileSync(file, res.stdout.replace(/\n\n$/, ''));
      const v = spawnSync('/usr/bin/virt-xml-validate', [file, 'domaincaps'], { encoding: 'utf8' });
      expect([v.status, v.stdout + v.stderr]).toEqual([0, `${file} validates\n`]);
      expect(res.stdout).toContain('<path>/usr/bin/qemu-system-x86_64</path>');
    }
  });
});
