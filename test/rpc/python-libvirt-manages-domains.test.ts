// python3-libvirt (the real binding over libvirt's C library) manages
// mpvirtd: open, define, create, lookup, info, state, XMLDesc, listAllDomains,
// destroy, undefine, coded errors, and lifecycle events delivered through
// domainEventRegisterAny with the default event loop.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

function runPython(args: string[]): Promise<{ lines: Array<Record<string, unknown>>; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/python3', [join(projectRoot, 'test/rpc/python/lifecycle_client.py'), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ lines, stderr, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 });
    });
  });
}

describe('python3-libvirt', () => {
  it('drives the whole lifecycle and receives the events', async () => {
    const xmlFile = join(r.h.dir, 'py.xml');
    writeFileSync(xmlFile, r.h.xml('pydom'));
    const { lines, stderr, code } = await runPython([r.uri(), xmlFile]);
    const step = (name: string): Record<string, unknown> => lines.find((l) => l.step === name) ?? {};
    expect(code, stderr).toBe(0);
    expect(step('open')).toMatchObject({ type: 'QEMU', alive: 1 });
    expect(step('define')).toMatchObject({ name: 'pydom', id: -1, active: 0, persistent: 1 });
    expect(step('create')).toMatchObject({ id: 1, state: [1, 1], info: [1, 131072, 131072, 1], ostype: 'hvm' });
    expect(step('xml')).toEqual({ step: 'xml', has_mpq: true, live_id: true });
    expect(step('list')).toMatchObject({ names: ['pydom'] });
    expect(step('destroy')).toMatchObject({ state: [5, 2] });
    expect(step('destroy-again')).toMatchObject({ code: 55, message: 'Requested operation is not valid: domain is not running' });
    expect(step('lookup-gone')).toMatchObject({ code: 42 });
    // Defined Added, Resumed Unpaused, Started Booted, Shutdown Finished (host), Stopped Destroyed, Undefined Removed
    expect(step('events').events).toEqual([
      ['pydom', 0, 0],
      ['pydom', 4, 0],
      ['pydom', 2, 0],
      ['pydom', 6, 2],
      ['pydom', 5, 1],
      ['pydom', 1, 0],
    ]);
    expect(step('done')).toEqual({ step: 'done' });
  });

  it('attachDevice and detachDevice (procedures 8 and 13, not only their _FLAGS variants) reach the driver', async () => {
    const xmlFile = join(r.h.dir, 'dev.xml');
    writeFileSync(xmlFile, r.h.xml('devdom'));
    expect((await r.virsh(['define', xmlFile])).code).toBe(0);
    const script = [
      'import json, libvirt, sys',
      'libvirt.registerErrorHandler(lambda *a: None, None)',
      'c = libvirt.open(sys.argv[1]); d = c.lookupByName("devdom"); out = {}',
      "disk = \"<disk type='file' device='disk'><source file='/nonexistent.img'/><target dev='vdz' bus='virtio'/></disk>\"",
      'for name, fn in (("attach", d.attachDevice), ("detach", d.detachDevice)):',
      '    try:',
      '        fn(disk); out[name] = "ok"',
      '    except libvirt.libvirtError as e:',
      '        out[name] = [e.get_error_code(), e.get_error_message()]',
      'print(json.dumps(out))',
    ].join('\n');
    const res = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
      execFile('/usr/bin/python3', ['-c', script, r.uri()], { timeout: 60_000 }, (_e, stdout, stderr) => resolve({ stdout, stderr })));
    // libvirt's qemuDomainAttachDevice is AFFECT_LIVE: an inactive domain refuses it as not running
    expect(JSON.parse(res.stdout), res.stderr).toEqual({
      attach: [55, 'Requested operation is not valid: domain is not running'],
      detach: [55, 'Requested operation is not valid: domain is not running'],
    });
  });

  it('updateDeviceFlags refuses flags libvirt does not know, before looking at the device, and changes nothing', async () => {
    const xmlFile = join(r.h.dir, 'upd.xml');
    writeFileSync(xmlFile, r.h.xml('upddom'));
    expect((await r.virsh(['define', xmlFile])).code).toBe(0);
    const before = await r.virsh(['dumpxml', '--inactive', 'upddom']);
    const script = [
      'import json, libvirt, sys',
      'libvirt.registerErrorHandler(lambda *a: None, None)',
      'c = libvirt.open(sys.argv[1]); d = c.lookupByName("upddom"); out = []',
      "nic = \"<interface type='user'><mac address='52:54:00:00:00:01'/><link state='down'/></interface>\"",
      'for flags in (0x8, 0x100 | 2):',
      '    try:',
      '        d.updateDeviceFlags(nic, flags); out.append("ok")',
      '    except libvirt.libvirtError as e:',
      '        out.append([e.get_error_code(), e.get_error_message()])',
      'print(json.dumps(out))',
    ].join('\n');
    const res = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
      execFile('/usr/bin/python3', ['-c', script, r.uri()], { timeout: 60_000 }, (_e, stdout, stderr) => resolve({ stdout, stderr })));
    // qemuDomainUpdateDeviceFlags: virCheckFlags(AFFECT_LIVE | AFFECT_CONFIG | DEVICE_MODIFY_FORCE)
    expect(JSON.parse(res.stdout), res.stderr).toEqual([
      [8, 'invalid argument: unsupported flags (0x8) in function qemuDomainUpdateDeviceFlags'],
      [8, 'invalid argument: unsupported flags (0x100) in function qemuDomainUpdateDeviceFlags'],
    ]);
    expect((await r.virsh(['dumpxml', '--inactive', 'upddom'])).stdout).toBe(before.stdout);
  });
});
