// ansible (Debian's, with community.libvirt.virt) drives mpvirtd as it drives libvirt: the example
// playbook docs/examples/ansible-guest-lifecycle.yml defines a guest whose lsilogic disk mpvirtd
// puts in a remote process, starts it, reads its status, info and XML, destroys and undefines it;
// every task ok or changed, and while it ran the remote QEMU existed.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start(), 60_000);
afterAll(() => r.cleanup(), 60_000);

function playbook(extra: Record<string, string>): Promise<{ code: number; out: string }> {
  const home = join(r.h.dir, 'ansible-home');
  mkdirSync(home, { recursive: true });
  const env = { PATH: '/usr/bin:/bin', HOME: home, LC_ALL: 'C.UTF-8', ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCAL_TEMP: join(home, 'tmp'), ANSIBLE_RETRY_FILES_ENABLED: '0', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3' };
  const args = ['-i', 'localhost,', '-c', 'local', join(projectRoot, 'docs/examples/ansible-guest-lifecycle.yml'), ...Object.entries(extra).flatMap(([k, v]) => ['-e', `${k}=${v}`])];
  return new Promise((resolve) => execFile('/usr/bin/ansible-playbook', args, { env, timeout: 180_000 }, (err, stdout, stderr) =>
    resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout + stderr })));
}

describe('ansible community.libvirt.virt', () => {
  it('defines, starts, queries, destroys and undefines a guest: all ok or changed', async () => {
    const img = join(r.h.dir, 'ans.img');
    writeFileSync(img, Buffer.alloc(16 << 20));
    const xml = join(r.h.dir, 'ans.xml');
    writeFileSync(xml, `<domain type='qemu'><name>ans1</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><controller type='scsi' model='lsilogic'/><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img}'/><target dev='sda' bus='scsi'/></disk><memballoon model='none'/></devices></domain>`);
    let remotes: number[] = [];
    // while the playbook runs, note the domain's remote process (it is gone again at the end)
    const watch = setInterval(() => {
      try {
        const obj = r.driver.lookupByName('ans1');
        if (obj.runtime) remotes = obj.runtime.remotes.map((x) => x.handle.pid);
      } catch { /* not defined yet, or gone */ }
    }, 20);
    const res = await playbook({ libvirt_uri: `qemu+unix:///system?socket=${r.socket}`, guest_xml: xml, guest: 'ans1' });
    clearInterval(watch);
    console.log(res.out.split('\n').filter((l) => /^(TASK|ok|changed|failed|fatal|localhost|\s+"msg")/.test(l)).join('\n'));
    expect(res.code, res.out).toBe(0);
    // define, start and destroy change something; the module reports its commands (undefine too) as ok
    expect(res.out).toMatch(/localhost\s+: ok=8\s+changed=3\s+unreachable=0\s+failed=0/);
    expect(res.out).toContain('"msg": "status=running state=running remote=True"');
    expect(remotes.length).toBe(1);
    expect(() => r.driver.lookupByName('ans1')).toThrow(/no domain/);
  }, 240_000);
});
