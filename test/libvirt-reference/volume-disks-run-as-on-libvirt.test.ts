// `<disk type='volume'>` against mpvirtd and a private libvirtd in the same run: a dir pool's
// volume on an lsilogic HBA (in a remote process on mpvirtd) is resolved at start, the running
// guest's XML, domblklist and domblkinfo show it as libvirt's do, and a missing pool, an inactive
// pool and a missing volume are refused at start with libvirt's errors (define accepts them, as
// libvirt's does). On mpvirtd the remote QEMU really holds the volume's file.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sideBySide, type VirshOut } from './side-by-side.js';

const s = sideBySide('voldisk', { qemuConf: ['remember_owner = 0'] });

const UUIDS: Record<string, string> = { vd: '0d4f6c1e-8a7b-4c2d-9e3f-5a6b7c8d9e01', vdnopool: '0d4f6c1e-8a7b-4c2d-9e3f-5a6b7c8d9e02', vdnovol: '0d4f6c1e-8a7b-4c2d-9e3f-5a6b7c8d9e03' };

const domain = (name: string, pool: string, vol: string): string => `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${UUIDS[name]}</uuid>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'/>
    <disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='${pool}' volume='${vol}'/><target dev='sda' bus='scsi'/></disk>
    <memballoon model='none'/>
  </devices>
</domain>
`;

/** Each daemon's own pool directory (our/lvd: the same length) and what only mpvirtd adds. */
const same = (t: string): string =>
  t.replace(/\/(our|lvd)-/g, '/who-')
    .replace(/ {2}<metadata>\n {4}<mpq:remote [\s\S]*?<\/mpq:remote>\n {2}<\/metadata>\n/, '')
    // the HBA's user alias (the isolation policy names it): libvirt's own alias when running, none otherwise
    .replace(/ {6}<alias name='ua-scsi0'\/>\n/, t.includes("<domain type='qemu' id=") ? "      <alias name='scsi0'/>\n" : '');
const diskEl = (xml: string): string => /<disk type='volume'[\s\S]*?<\/disk>/.exec(xml)?.[0] ?? `(no volume disk in ${xml.slice(0, 200)})`;

describe('volume disks', () => {
  it('start on the volume, show it as libvirt does, and are refused at start without it', async () => {
    for (const who of ['our', 'lvd']) {
      mkdirSync(join(s.work, `${who}-pool`));
      writeFileSync(join(s.work, `${who}-pool.xml`), `<pool type='dir'><name>vp</name><target><path>${join(s.work, `${who}-pool`)}</path></target></pool>`);
      writeFileSync(join(s.work, `${who}-vd.xml`), domain('vd', 'vp', 'disk0.img'));
      writeFileSync(join(s.work, `${who}-nopool.xml`), domain('vdnopool', 'nosuch', 'disk0.img'));
      writeFileSync(join(s.work, `${who}-novol.xml`), domain('vdnovol', 'vp', 'nosuch.img'));
    }
    const both = async (...args: string[]): Promise<{ o: VirshOut; t: VirshOut }> => {
      const o = await s.ours(...args.map((a) => a.replace('@', join(s.work, 'our-'))));
      const t = s.theirs(...args.map((a) => a.replace('@', join(s.work, 'lvd-'))));
      return { o, t };
    };
    const steps: string[][] = [
      ['pool-define', '@pool.xml'], ['pool-start', 'vp'], ['vol-create-as', 'vp', 'disk0.img', '16M', '--format', 'raw'],
      ['define', '@vd.xml'], ['define', '@nopool.xml'], ['define', '@novol.xml'],
      ['start', 'vdnopool'], ['start', 'vdnovol'], ['start', 'vd'], ['domblklist', 'vd'], ['domblklist', 'vd', '--details'],
      ['domblkinfo', 'vd', 'sda'], ['destroy', 'vd'], ['pool-destroy', 'vp'], ['start', 'vd'], ['pool-start', 'vp'],
      ['dumpxml', 'vd', '--inactive'],
    ];
    const diffs: string[] = [];
    for (const step of steps) {
      const { o, t } = await both(...step);
      if (JSON.stringify({ ...o, stdout: same(o.stdout), stderr: same(o.stderr) }) !== JSON.stringify({ ...t, stdout: same(t.stdout), stderr: same(t.stderr) })) {
        diffs.push(`${step.join(' ')}:\n  ours   ${JSON.stringify(o)}\n  theirs ${JSON.stringify(t)}`);
      }
      if (step[0] === 'start' && step[1] === 'vd' && o.code === 0) {
        // the running guest's disk element, and the remote QEMU that serves it opened the volume
        const lo = await s.ours('dumpxml', 'vd');
        const lt = s.theirs('dumpxml', 'vd');
        if (same(diskEl(lo.stdout)) !== same(diskEl(lt.stdout))) diffs.push(`live disk:\n  ours   ${diskEl(lo.stdout)}\n  theirs ${diskEl(lt.stdout)}`);
        const obj = s.r.driver.lookupByName('vd');
        // once (a loaded CI machine) the domain was no longer running here: say what it was
        if (!obj.runtime) {
          const logFile = join(s.r.h.logDir, 'vd.log');
          expect.fail(`vd not running right after its start: state ${JSON.stringify(obj.state)}; log:\n${existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '(none)'}`);
        }
        s.r.h.track(obj);
        // the daemon opens the image and passes the fd: the remote holds the volume's file
        const pid = obj.runtime!.remotes[0]!.handle.pid;
        const held = readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } });
        expect(held).toContain(join(s.work, 'our-pool', 'disk0.img'));
      }
    }
    console.log(`volume disks: ${steps.length - diffs.length} of ${steps.length} steps alike\n${diffs.join('\n')}`);
    for (const d of ['vd', 'vdnopool', 'vdnovol']) {
      await s.ours('destroy', d);
      await s.ours('undefine', d);
    }
    expect(diffs).toEqual([]);
  }, 300_000);
});
