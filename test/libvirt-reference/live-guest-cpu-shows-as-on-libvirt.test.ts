// A running guest's `<cpu>` against mpvirtd and a private libvirtd in the same run: after the
// start both daemons ask QEMU which CPUID features the vCPU really got and rewrite the live
// `<cpu>` (libvirt's qemuProcessUpdateAndVerifyCPU): extra features `require`, missing ones
// `disable`, check='full'. Each CPU definition is defined and started on both daemons, and the live
// `<cpu>` element of dumpxml (or the refusal of the start) must be the same; the inactive one too.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sideBySide, type VirshOut } from './side-by-side.js';

const s = sideBySide('livecpu');

const CASES: ReadonlyArray<readonly [string, string]> = [
  ['qemu64', "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>"],
  ['nehalem', "<cpu mode='custom' match='exact'><model fallback='allow'>Nehalem</model></cpu>"],
  ['westmere', "<cpu><model>Westmere</model></cpu>"],
  ['nocpu', ''],
  ['topology', "<cpu><topology sockets='1' dies='1' cores='1' threads='1'/></cpu>"],
  ['skylake', "<cpu mode='custom' match='exact'><model fallback='allow'>Skylake-Client-IBRS</model></cpu>"],
  ['hostmodel', "<cpu mode='host-model'/>"],
  ['maximum', "<cpu mode='maximum'/>"],
  ['full', "<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>qemu64</model></cpu>"],
  ['partial', "<cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>Nehalem</model></cpu>"],
];

const domainXml = (name: string, i: number, cpu: string): string => `<domain type='qemu'>
  <name>lc-${name}</name>
  <uuid>7c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4${String(i).padStart(2, '0')}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  ${cpu}
  <devices>
    <memballoon model='none'/>
  </devices>
</domain>
`;

const cpuEl = (xml: string): string => /\n *(<cpu\b[^>]*\/>|<cpu\b[^>]*>[\s\S]*?<\/cpu>)/.exec(xml)?.[1] ?? '(no <cpu>)';
/** an error's text the same on both: libvirt names its own daemon's domain, mpvirtd's own */
const errText = (o: VirshOut): string => o.stderr.trim();

describe('the live <cpu> of a running guest', () => {
  it('is the one libvirt shows for each CPU definition', async () => {
    const rows: string[] = [];
    let alike = 0;
    for (const [i, [name, cpu]] of CASES.entries()) {
      const file = join(s.work, `${name}.xml`);
      writeFileSync(file, domainXml(name, i, cpu));
      const dom = `lc-${name}`;
      const dt = s.theirs('define', file);
      const dour = await s.ours('define', file);
      expect(dt.code, `theirs define ${name}: ${dt.stderr}`).toBe(0);
      expect(dour.code, `ours define ${name}: ${dour.stderr}`).toBe(0);
      const st = s.theirs('start', dom);
      const so = await s.ours('start', dom);
      let theirs: string;
      let ours: string;
      if (st.code !== 0 || so.code !== 0) {
        theirs = st.code === 0 ? 'started' : `refused: ${errText(st)}`;
        ours = so.code === 0 ? 'started' : `refused: ${errText(so)}`;
      } else {
        theirs = cpuEl(s.theirs('dumpxml', dom).stdout);
        ours = cpuEl((await s.ours('dumpxml', dom)).stdout);
      }
      // and the inactive definition is left as it was
      const it = cpuEl(s.theirs('dumpxml', dom, '--inactive').stdout);
      const io = cpuEl((await s.ours('dumpxml', dom, '--inactive')).stdout);
      s.theirs('destroy', dom);
      await s.ours('destroy', dom);
      s.theirs('undefine', dom);
      await s.ours('undefine', dom);
      if (theirs === ours && it === io) {
        alike++;
        rows.push(`  alike ${name}:\n${theirs.replace(/^/gm, '    ')}`);
      } else rows.push(`  DIFFERS ${name}\n    ours   ${JSON.stringify(ours)}\n    theirs ${JSON.stringify(theirs)}\n    inactive ours ${JSON.stringify(io)}\n    inactive theirs ${JSON.stringify(it)}`);
    }
    console.log(`live <cpu>: ${alike} of ${CASES.length} CPU definitions show as on libvirt\n${rows.join('\n')}`);
    expect(alike).toBe(CASES.length);
  }, 600_000);
});
