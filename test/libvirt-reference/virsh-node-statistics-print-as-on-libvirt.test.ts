// Host statistics tools poll (virt-manager, scripts): `virsh nodememstats`, `nodecpustats`
// (also per CPU and --percent) and `freecell` (one cell, --all), against mpvirtd and a private
// libvirtd in the same run: the same fields, layout and exit codes, and the same refusals; the
// numbers themselves move between two reads and are compared as numbers, not text.
import { describe, expect, it } from 'vitest';
import { sideBySide } from './side-by-side.js';

const s = sideBySide('nodestats');
const shape = (t: string): string => t.replace(/[ \t]*\d+(\.\d+)?( ?%)?/g, ' N');

describe('virsh node statistics', () => {
  it('print the same fields as on libvirt, and refuse the same', async () => {
    const cases = [
      ['nodememstats'], ['nodememstats', '--cell', '0'], ['nodememstats', '--cell', '7'],
      ['nodecpustats'], ['nodecpustats', '--cpu', '0'], ['nodecpustats', '--cpu', '4096'], ['nodecpustats', '--percent'],
      ['freecell'], ['freecell', '--all'], ['freecell', '--cellno', '0'], ['freecell', '--cellno', '9'],
    ];
    const diffs: string[] = [];
    for (const c of cases) {
      const o = await s.ours(...c);
      const t = s.theirs(...c);
      const a = { code: o.code, stdout: shape(o.stdout), stderr: o.stderr };
      const b = { code: t.code, stdout: shape(t.stdout), stderr: t.stderr };
      if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${c.join(' ')}:\n  ours   ${JSON.stringify(o)}\n  theirs ${JSON.stringify(t)}`);
    }
    console.log(`node statistics: ${cases.length - diffs.length} of ${cases.length} alike\n${diffs.join('\n')}`);
    expect(diffs).toEqual([]);
    // the values are the host's: total memory as libvirt reads it, free within what moves meanwhile
    const num = (out: string, field: string): number => Number(new RegExp(`^${field}\\s*:\\s*(\\d+)`, 'm').exec(out)?.[1]);
    const [o, t] = [(await s.ours('nodememstats')).stdout, s.theirs('nodememstats').stdout];
    expect(num(o, 'total')).toBe(num(t, 'total'));
    expect(Math.abs(num(o, 'free') - num(t, 'free'))).toBeLessThan(num(t, 'total') / 10);
  }, 120_000);
});
