// virt-manager's domain editor and cloud schedulers read `virsh domcapabilities`; `cpu-models`,
// `cpu-compare`, `cpu-baseline` and the hypervisor variants decide guest CPUs. Against mpvirtd
// and a private libvirtd in the same run: the same stdout, stderr and exit code — except where
// mpvirtd deliberately narrows libvirt's domain capabilities to what it runs (domain-caps.ts,
// the MPVIRT notes): libvirt's side is narrowed the same way (domain-caps-narrowing.ts) before comparing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { narrowAsMpvirt } from '../emulator/domain-caps-narrowing.js';
import { sideBySide, type VirshOut } from './side-by-side.js';

const s = sideBySide('domcaps');

describe('domain capabilities and CPU models', () => {
  it('print as on libvirt', async () => {
    const file = (name: string, text: string): string => {
      const p = join(s.work, name);
      writeFileSync(p, text);
      return p;
    };
    const hostCpu = /<cpu>[\s\S]*?<\/cpu>/.exec(s.theirs('capabilities').stdout)?.[0] ?? '';
    const ourHostCpu = /<cpu>[\s\S]*?<\/cpu>/.exec((await s.ours('capabilities')).stdout)?.[0] ?? '';
    const files = {
      guest: file('guest.xml', "<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>\n"),
      hoststyle: file('hoststyle.xml', '<cpu><arch>x86_64</arch><model>qemu64</model></cpu>\n'),
      host: file('host.xml', hostCpu + '\n'),
      ourhost: file('ourhost.xml', ourHostCpu + '\n'),
      strict: file('strict.xml', "<cpu match='strict'><model>qemu64</model><feature policy='forbid' name='sse2'/></cpu>\n"),
      vendor: file('vendor.xml', "<cpu match='minimum'><model>Haswell</model><vendor>Intel</vendor></cpu>\n"),
      nomodel: file('nomodel.xml', "<cpu mode='host-model'/>\n"),
      broken: file('broken.xml', '<cpu><model>qemu64</cpu>\n'),
    };
    const cases: string[][] = [
      ['domcapabilities'], ['domcapabilities', '--virttype', 'qemu'], ['domcapabilities', '--virttype', 'kvm'],
      ['domcapabilities', '--machine', 'q35'], ['domcapabilities', '--machine', 'pc'], ['domcapabilities', '--machine', 'pc-q35-7.2'],
      ['domcapabilities', '--arch', 'x86_64'], ['domcapabilities', '--emulatorbin', '/usr/bin/qemu-system-x86_64'],
      ['domcapabilities', '--virttype', 'qemu', '--machine', 'q35', '--arch', 'x86_64', '--emulatorbin', '/usr/bin/qemu-system-x86_64'],
      ['domcapabilities', '--machine', 'nosuch'], ['domcapabilities', '--virttype', 'bogus'], ['domcapabilities', '--arch', 'bogus'],
      ['cpu-models', 'x86_64'], ['cpu-models', 'i686'], ['cpu-models', 'aarch64'], ['cpu-models', 'bogus'],
    ];
    for (const f of Object.values(files)) {
      cases.push(['cpu-compare', f], ['cpu-baseline', f], ['hypervisor-cpu-compare', f], ['hypervisor-cpu-baseline', f]);
      cases.push(['hypervisor-cpu-compare', '--virttype', 'qemu', f], ['hypervisor-cpu-baseline', '--virttype', 'qemu', f]);
      cases.push(['cpu-compare', '--error', f], ['hypervisor-cpu-compare', '--error', f], ['hypervisor-cpu-compare', '--error', '--virttype', 'qemu', f]);
    }
    const diffs: string[] = [];
    for (const c of cases) {
      const o = await s.ours(...c);
      const t: VirshOut = s.theirs(...c);
      const want = c[0] === 'domcapabilities' ? { ...t, stdout: narrowAsMpvirt(t.stdout) } : t;
      if (o.code !== want.code || o.stdout !== want.stdout || o.stderr !== want.stderr) {
        const ol = o.stdout.split('\n');
        const tl = want.stdout.split('\n');
        const lines: string[] = [];
        for (let i = 0; i < Math.max(ol.length, tl.length) && lines.length < 30; i++) if (ol[i] !== tl[i]) lines.push(`    ${i + 1}: ours ${JSON.stringify(ol[i])} theirs ${JSON.stringify(tl[i])}`);
        diffs.push(`${c.join(' ')}: code ${o.code}/${want.code}\n  stderr ours ${JSON.stringify(o.stderr)} theirs ${JSON.stringify(want.stderr)}\n${lines.join('\n')}`);
      }
    }
    console.log(`domain capabilities and CPU models: ${cases.length - diffs.length} of ${cases.length} alike\n${diffs.join('\n')}`);
    expect(diffs).toEqual([]);
  }, 300_000);
});
