// virt-install --import against mpvirtd as its users run it (qemu+unix:// with mpvirtd's socket, so
// virtinst picks its QEMU defaults): with a disk on an lsilogic controller in a fresh directory it
// creates and starts a dir pool for that directory, starts the guest as a transient domain, defines
// it while it runs, and leaves it persistent and running, the controller in a remote process of
// its own that exists. --print-xml defines nothing. virt-xml's cold edits (add and remove a SCSI
// disk, edit a disk, edit the title) land in the definition.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../driver/harness.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

function virtInstall(args: string[], tool = '/usr/bin/virt-install'): Promise<{ code: number; out: string }> {
  const env = { PATH: '/usr/bin:/bin', HOME: r.h.dir, XDG_CONFIG_HOME: join(r.h.dir, 'xdg'), XDG_CACHE_HOME: join(r.h.dir, 'xdg'), LC_ALL: 'C' };
  return new Promise((resolve) =>
    execFile(tool, ['--connect', `qemu+unix:///system?socket=${r.socket}`, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout + stderr })));
}

describe('virt-install --import', () => {
  it('creates the pool, runs the guest with its lsilogic disk in a remote process, and leaves it persistent', async () => {
    const dir = join(r.h.dir, 'images');
    mkdirSync(dir);
    const common = ['--import', '--memory', '256', '--vcpus', '1', '--osinfo', 'linux2022', '--virt-type', 'qemu',
      '--disk', `path=${join(dir, 'vi1.img')},size=0.05,bus=scsi`, '--controller', 'scsi,model=lsilogic', '--network', 'none', '--graphics', 'none', '--noautoconsole'];
    const dry = await virtInstall(['--name', 'vi0', ...common, '--print-xml']);
    expect(dry.code, dry.out).toBe(0);
    expect((await r.virsh(['list', '--all', '--name'])).stdout.trim()).toBe('');

    const res = await virtInstall(['--name', 'vi1', ...common]);
    expect(res.code, res.out).toBe(0);
    expect(res.out).toContain('Domain creation completed.');
    const obj = r.driver.lookupByName('vi1');
    r.h.track(obj);
    const info = (await r.virsh(['dominfo', 'vi1'])).stdout;
    expect(info).toMatch(/State:\s+running/);
    expect(info).toMatch(/Persistent:\s+yes/);
    const xml = (await r.virsh(['dumpxml', 'vi1'])).stdout;
    const m = /<mpq:process rid="([^"]+)" pid="(\d+)" state="running"[\s\S]*?<mpq:device alias="(ua-[^"]+)"\/>/.exec(xml);
    expect(m, xml).not.toBeNull();
    expect(xml).toMatch(new RegExp(`<controller type='scsi' index='0' model='lsilogic'>\\s*<alias name='${m![3]}'/>`));
    expect(pidAlive(Number(m![2]))).toBe(true);
    expect((await r.virsh(['pool-list', '--all', '--name'])).stdout.trim()).toBe('images');
    expect((await r.virsh(['vol-list', 'images'])).stdout).toContain(join(dir, 'vi1.img'));
    await r.driver.destroy(obj);
    expect((await r.virsh(['list', '--all', '--name'])).stdout.trim()).toBe('vi1'); // persistent: still defined

    // virt-xml: cold edits land in the definition
    const xmlTool = (...a: string[]): Promise<{ code: number; out: string }> => virtInstall(['vi1', ...a], '/usr/bin/virt-xml');
    for (const edit of [
      ['--add-device', '--disk', `path=${join(dir, 'data.img')},size=0.05,bus=scsi`],
      ['--edit', '--disk', 'cache=none'],
      ['--edit', '--metadata', 'title=db server'],
    ]) {
      const e = await xmlTool(...edit);
      expect(e.code, `${edit.join(' ')}: ${e.out}`).toBe(0);
      expect(e.out).toContain("Domain 'vi1' defined successfully.");
    }
    let inactive = (await r.virsh(['dumpxml', '--inactive', 'vi1'])).stdout;
    expect(inactive).toContain('<title>db server</title>');
    expect(inactive).toMatch(/<driver name='qemu' type='qcow2'[^>]* cache='none'\/>\s*<source file='[^']*vi1.img'\/>/);
    expect(inactive).toMatch(/<source file='[^']*data.img'\/>\s*<target dev='sdb' bus='scsi'\/>/);
    const rm = await xmlTool('--remove-device', '--disk', '2');
    expect(rm.code, rm.out).toBe(0);
    inactive = (await r.virsh(['dumpxml', '--inactive', 'vi1'])).stdout;
    expect(inactive).not.toContain('data.img');
    expect(inactive).toContain('vi1.img');
  }, 180_000);
});
