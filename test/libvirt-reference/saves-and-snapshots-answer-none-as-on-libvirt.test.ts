// What virt-manager and scripts ask about saved state and snapshots of a domain that has none,
// against mpvirtd and a private libvirtd in the same run: snapshot and checkpoint listings,
// dominfo's managed-save line, domcontrol and managedsave of an inactive domain, undefine
// --managed-save — the same output and exit codes. Saving a running guest is where the two
// differ on purpose: mpvirtd refuses it with its reason (x-pci-proxy-dev cannot be migrated).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sideBySide } from './side-by-side.js';

const s = sideBySide('snapshots');

describe('saves and snapshots', () => {
  it('answer none for a domain that has none, as libvirt does', async () => {
    const xml = join(s.work, 'sn1.xml');
    writeFileSync(xml, "<domain type='qemu'><name>sn1</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices><memballoon model='none'/></devices></domain>");
    expect((await s.ours('define', xml)).code).toBe(0);
    expect(s.theirs('define', xml).code).toBe(0);
    const cases = [
      ['snapshot-list', 'sn1'], ['snapshot-list', 'sn1', '--name'], ['snapshot-list', 'sn1', '--roots'], ['snapshot-current', 'sn1'],
      ['checkpoint-list', 'sn1'], ['domcontrol', 'sn1'], ['managedsave', 'sn1'], ['save', 'sn1', join(s.work, 'x.save')],
      ['undefine', 'sn1', '--managed-save'], ['dominfo', 'sn1'],
    ];
    const diffs: string[] = [];
    for (const c of cases) {
      const o = await s.ours(...c);
      const t = s.theirs(...c);
      if (c[0] === 'dominfo') {
        // both gone after the undefine: the same refusal
        expect(o.stderr.replace(/'[^']*'/g, 'X')).toBe(t.stderr.replace(/'[^']*'/g, 'X'));
        continue;
      }
      if (JSON.stringify(o) !== JSON.stringify(t)) diffs.push(`${c.join(' ')}:\n  ours   ${JSON.stringify(o)}\n  theirs ${JSON.stringify(t)}`);
    }
    console.log(`saves and snapshots: ${cases.length - 1 - diffs.length} of ${cases.length - 1} alike\n${diffs.join('\n')}`);
    expect(diffs).toEqual([]);
  }, 120_000);

  it('refuses to save a running guest with the reason, and domcontrol says ok', async () => {
    const obj = await s.r.driver.defineXML(s.r.h.xml('snr'));
    await s.r.driver.start(obj, { paused: true });
    s.r.h.track(obj);
    expect(await s.ours('domcontrol', 'snr')).toEqual({ code: 0, stdout: 'ok\n\n', stderr: '' });
    for (const cmd of [['managedsave', 'snr'], ['save', 'snr', join(s.work, 'snr.save')]]) {
      const res = await s.ours(...cmd);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('error: Operation not supported: saving or restoring guest state is not supported by mpvirtd: a device in a remote process (x-pci-proxy-dev) cannot be migrated');
    }
    expect(obj.active).toBe(true); // nothing happened to it
    await s.r.driver.destroy(obj);
  }, 120_000);
});
