// What virt-manager and scripts ask about saved state, snapshots, jobs and vCPUs of a domain,
// against mpvirtd and a private libvirtd in the same run: snapshot and checkpoint listings,
// vcpucount (every flag combination virsh tries), domjobinfo, domblkerror, iothreadinfo,
// domlaunchsecinfo, domcontrol and
// managedsave of an inactive domain, undefine --managed-save — the same output and exit codes. Saving a running guest is where the two
// differ on purpose: mpvirtd refuses it with its reason (x-pci-proxy-dev cannot be migrated).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sideBySide } from './side-by-side.js';

const s = sideBySide('snapshots');

describe('saves and snapshots', () => {
  it('answer none for a domain that has none, as libvirt does', async () => {
    const xml = join(s.work, 'sn1.xml');
    writeFileSync(xml, "<domain type='qemu'><name>sn1</name><memory unit='MiB'>128</memory><vcpu current='1'>2</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os><devices><memballoon model='none'/></devices></domain>");
    expect((await s.ours('define', xml)).code).toBe(0);
    expect(s.theirs('define', xml).code).toBe(0);
    const cases = [
      ['snapshot-list', 'sn1'], ['snapshot-list', 'sn1', '--name'], ['snapshot-list', 'sn1', '--roots'], ['snapshot-current', 'sn1'],
      ['checkpoint-list', 'sn1'], ['domcontrol', 'sn1'], ['managedsave', 'sn1'], ['save', 'sn1', join(s.work, 'x.save')],
      ['vcpucount', 'sn1'], ['vcpucount', 'sn1', '--maximum', '--config'], ['vcpucount', 'sn1', '--live'], ['vcpucount', 'sn1', '--guest'],
      ['domjobinfo', 'sn1'], ['domjobinfo', 'sn1', '--completed'], ['domblkerror', 'sn1'],
      ['iothreadinfo', 'sn1'], ['iothreadinfo', 'sn1', '--live'], ['domlaunchsecinfo', 'sn1'],
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
    console.log(`saved state, snapshots, jobs, vcpus: ${cases.length - 1 - diffs.length} of ${cases.length - 1} alike\n${diffs.join('\n')}`);
    expect(diffs).toEqual([]);
  }, 120_000);

  it('refuses to save a running guest with the reason, and domcontrol says ok', async () => {
    const obj = await s.r.driver.defineXML(s.r.h.xml('snr'));
    await s.r.driver.start(obj, { paused: true });
    s.r.h.track(obj);
    expect(await s.ours('domcontrol', 'snr')).toEqual({ code: 0, stdout: 'ok\n\n', stderr: '' });
    expect(await s.ours('domblkerror', 'snr')).toEqual({ code: 0, stdout: 'No errors found\n\n', stderr: '' });
    const job = await s.ours('domjobinfo', 'snr');
    expect(job.code, job.stderr).toBe(0);
    expect(job.stdout).toMatch(/^Job type:\s+None/);
    const v = await s.ours('vcpucount', 'snr');
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^maximum\s+config\s+1\nmaximum\s+live\s+1\ncurrent\s+config\s+1\ncurrent\s+live\s+1\n/);
    for (const cmd of [['managedsave', 'snr'], ['save', 'snr', join(s.work, 'snr.save')]]) {
      const res = await s.ours(...cmd);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('error: Operation not supported: saving or restoring guest state is not supported by mpvirtd: a device in a remote process (x-pci-proxy-dev) cannot be migrated');
    }
    expect(obj.active).toBe(true); // nothing happened to it
    await s.r.driver.destroy(obj);
  }, 120_000);
});
