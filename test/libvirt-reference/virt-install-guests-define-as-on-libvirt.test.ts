// What users' tools write, defined on mpvirtd and on libvirt's own daemon in the same run:
// the real virt-install (--print-xml, answering from a private libvirtd) writes q35 and i440fx
// Linux guests with an lsilogic disk; each defines on both daemons, and mpvirtd's
// `dumpxml --inactive` equals libvirtd's apart from what the isolation policy adds (the
// <mpq:remote> placement and the controller's user alias). Then each starts on mpvirtd with
// its disk controller in a remote process. These machines' /dev/kvm cannot boot a guest, so
// the documents are rewritten to type 'qemu' with a named CPU model before either daemon sees
// them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcHarness, VIRSH } from '../rpc/harness.js';
import { startPrivateLibvirtd, type PrivateLibvirtd } from './private-libvirtd.js';

const VIRT_INSTALL = '/usr/bin/virt-install';
const r = new RpcHarness();
let lv: PrivateLibvirtd;
let work: string;

beforeAll(async () => {
  await r.start();
  work = mkdtempSync(join(tmpdir(), 'mpvirt-vi-'));
  lv = await startPrivateLibvirtd(join(work, 'lv'));
}, 300_000);
afterAll(async () => {
  await lv?.stop();
  await r.cleanup();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

const lvVirsh = (...args: string[]): string =>
  execFileSync(VIRSH, ['-c', lv.uri, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: work } });

function virtInstall(name: string, machine: string, disk: string): string {
  const xml = execFileSync(VIRT_INSTALL, [
    '--connect', lv.uri, '--print-xml', '--osinfo', 'linux2022', '--import', '--name', name, '--memory', '256', '--vcpus', '1',
    '--machine', machine, '--controller', 'scsi,model=lsilogic', '--disk', `path=${disk},bus=scsi,format=raw`,
    '--network', 'none', '--graphics', 'none', '--noautoconsole',
  ], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: work } });
  // TCG here: kvm → qemu, host-passthrough → a named model
  return xml.replace('<domain type="kvm">', '<domain type="qemu">').replace('<cpu mode="host-passthrough"/>', '<cpu mode="custom"><model>qemu64</model></cpu>');
}

/** The device aliases of a live XML, in document order. */
const aliases = (xml: string): string[] => [...xml.matchAll(/<alias name='([^']*)'\/>/g)].map((m) => m[1]!);

/** mpvirtd's own additions: the isolation policy's placement and the alias it gives the HBA. */
function withoutIsolation(xml: string): string {
  return xml
    .replace(/\n *<mpq:remote[\s\S]*?<\/mpq:remote>/, '')
    .replace(/\n *<metadata>\n *<\/metadata>/, '')
    .replace(/\n *<alias name='ua-scsi0'\/>/, '');
}

describe('virt-install guests on mpvirtd and on libvirtd', () => {
  for (const [machine, label] of [['q35', 'q35'], ['pc', 'i440fx']] as const) {
    it(`a ${label} Linux guest with an lsilogic disk defines as libvirt defines it, and starts`, async () => {
      const name = `vi-${label}`;
      const disk = join(work, `${name}.img`);
      writeFileSync(disk, Buffer.alloc(0));
      execFileSync('truncate', ['-s', '16M', disk]);
      const xml = virtInstall(name, machine, disk);
      const file = join(work, `${name}.xml`);
      writeFileSync(file, xml);

      lvVirsh('define', file);
      const theirs = lvVirsh('dumpxml', '--inactive', name);
      lvVirsh('start', name);
      const theirLive = lvVirsh('dumpxml', name);
      lvVirsh('destroy', name);
      lvVirsh('undefine', name);

      expect(await r.run('define', file)).toMatchObject({ code: 0 });
      const ours = (await r.virsh(['dumpxml', '--inactive', name])).stdout;
      expect(ours).toContain("<mpq:process rid=");
      expect(withoutIsolation(ours)).toBe(theirs);

      const start = await r.virsh(['start', name]);
      expect(start.stderr).toBe('');
      expect(start.code).toBe(0);
      expect((await r.virsh(['domstate', name])).stdout.trim()).toBe('running');
      // the live XML names every device as libvirt's does (the HBA has the policy's user alias)
      const ourLive = (await r.virsh(['dumpxml', name])).stdout;
      expect(aliases(ourLive).map((a) => (a === 'ua-scsi0' ? 'scsi0' : a))).toEqual(aliases(theirLive));
      expect(ourLive).toContain("<alias name='ua-scsi0'/>");
      // the pty serial console as libvirt shows it, pty numbers aside
      const chr = (x: string): string => (/ *<serial type='pty'>[\s\S]*<\/console>/.exec(x)?.[0] ?? '').replace(/\/dev\/pts\/\d+/g, '/dev/pts/N');
      expect(chr(ourLive)).toContain("tty='/dev/pts/N'");
      expect(chr(ourLive)).toBe(chr(theirLive));
      // and a define of that live XML stores none of the generated ones
      writeFileSync(join(work, `${name}.live.xml`), ourLive);
      const redefine = await r.run('define', join(work, `${name}.live.xml`));
      expect(redefine.stderr).toBe('');
      expect(aliases((await r.virsh(['dumpxml', '--inactive', name])).stdout)).toEqual(['ua-scsi0']);
      expect((await r.virsh(['destroy', name])).code).toBe(0);
      expect((await r.virsh(['undefine', name])).code).toBe(0);
    }, 120_000);
  }
});
