// Removable media and block info, side by side with libvirt's own daemon in the same run: one
// guest (q35: SATA disk, empty SATA cdrom, empty floppy, and an lsilogic HBA with an empty SCSI
// cdrom, which mpvirtd runs in a remote process) runs on both, and the same real-virsh commands
// — change-media --insert/--eject/--update with --live/--config, domblkinfo of every disk, and
// their errors — must print the same, leave the same live and persistent XML, and on mpvirtd
// really change the medium in the process that serves the drive (the remote's for the SCSI one).
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sideBySide, type VirshOut as Out } from './side-by-side.js';

// mpvirtd does not label images yet (the jail issue): libvirt's remembered-owner xattrs would add
// a block to every image it runs, so its daemon runs without them here
const sb = sideBySide('media', { qemuConf: ['remember_owner = 0'] });
const { theirs, ours } = sb;
const NAME = 'media1';

/** One disk's element in a domain XML, by its target. */
function diskBlock(xml: string, dev: string): string {
  return (xml.match(/<disk [\s\S]*?<\/disk>/g) ?? []).find((b) => b.includes(`<target dev='${dev}'`)) ?? '';
}

function image(name: string, size: string, format = 'raw'): string {
  const p = join(sb.work, name);
  execFileSync('qemu-img', ['create', '-q', '-f', format, p, size]);
  return p;
}

describe('change-media and domblkinfo on mpvirtd and on libvirtd', () => {
  it('insert, eject and update media and report block info as libvirt does', async () => {
    const disk = image('disk.img', '16M');
    const iso1 = image('one.iso', '1M');
    const iso2 = image('two.iso', '2M');
    const floppy = image('floppy.img', '1440K');
    const qcow = image('data.qcow2', '64M', 'qcow2');
    const xml = `<domain type='qemu'>
  <name>${NAME}</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='sata'/></disk>
    <disk type='file' device='cdrom'><target dev='sdb' bus='sata'/><readonly/></disk>
    <disk type='file' device='floppy'><target dev='fda' bus='fdc'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${qcow}'/><target dev='vda' bus='virtio'/></disk>
    <controller type='scsi' model='lsilogic'/>
    <disk type='file' device='cdrom'><target dev='sdc' bus='scsi'/><readonly/></disk>
  </devices>
</domain>`;
    const file = join(sb.work, 'media1.xml');
    writeFileSync(file, xml);
    // the same commands on each daemon in turn (one QEMU at a time holds the images' locks)
    const session = async (virsh: (...args: string[]) => Out | Promise<Out>): Promise<{ transcript: string[]; live: string; cfg: string }> => {
      const transcript: string[] = [];
      const run = async (...args: string[]): Promise<Out> => {
        const o = await virsh(...args);
        transcript.push(`$ virsh ${args.join(' ')}\n[${o.code}] ${o.stdout}${o.stderr}`);
        return o;
      };
      expect((await run('define', file)).code).toBe(0);
      // inactive: block info from the images themselves
      await run('domblkinfo', NAME, 'sda');
      await run('domblkinfo', NAME, 'vda');
      await run('domblkinfo', NAME, '--all');
      await run('domblkinfo', NAME, 'sdb');
      await run('domblkinfo', NAME, 'sdz');
      // persistent-only media changes of a shut-off guest
      await run('change-media', NAME, 'sdb', iso1, '--insert', '--config');
      await run('change-media', NAME, 'sdb', '--eject', '--config');
      await run('change-media', NAME, 'sda', iso1, '--update', '--config');
      expect((await run('start', '--paused', NAME)).code).toBe(0);
      // QEMU closes a removed fd set's fds only while the guest runs
      expect((await run('resume', NAME)).code).toBe(0);
      await run('domblkinfo', NAME, '--all');
      await run('domblkinfo', NAME, disk);
      await run('change-media', NAME, 'sdb', iso1, '--insert');
      await run('change-media', NAME, 'fda', floppy, '--insert', '--live', '--config');
      await run('change-media', NAME, 'sdc', iso1, '--insert');
      await run('change-media', NAME, 'sdc', iso2, '--update');
      await run('domblkinfo', NAME, 'sdb');
      await run('domblkinfo', NAME, iso2);
      await run('change-media', NAME, 'sdb', '--eject');
      // refusals: a fixed disk, a missing image, no such drive
      await run('change-media', NAME, 'sda', iso2, '--update');
      await run('change-media', NAME, 'sdb', join(sb.work, 'missing.iso'), '--insert');
      await run('change-media', NAME, 'sdz', iso1, '--insert');
      return { transcript, live: (await virsh('dumpxml', NAME)).stdout, cfg: (await virsh('dumpxml', '--inactive', NAME)).stdout };
    };
    const lvRun = await session(theirs);
    theirs('destroy', NAME);
    const mpRun = await session(ours);
    expect(mpRun.cfg).toContain('<mpq:process rid=');
    expect(mpRun.transcript).toEqual(lvRun.transcript);
    for (const dev of ['sda', 'sdb', 'fda', 'vda', 'sdc']) {
      expect(diskBlock(mpRun.live, dev), dev).toBe(diskBlock(lvRun.live, dev));
      expect(diskBlock(mpRun.cfg, dev), dev).toBe(diskBlock(lvRun.cfg, dev));
    }

    // and the medium really is in the drive, in the process that emulates it: QEMU got it as an
    // fd (an fd set), holds exactly the media inserted now, and let go of the replaced ones
    const blocks = (q: string): Array<{ qdev?: string; inserted?: { file: string } }> => JSON.parse(q).return;
    const main = blocks((await ours('qemu-monitor-command', NAME, '{"execute":"query-block"}')).stdout);
    expect(main.find((b) => b.qdev === 'fdc0-0-0')?.inserted?.file).toMatch(/^\/dev\/fdset\/\d+$/);
    expect(main.find((b) => b.qdev === 'sata0-0-1')?.inserted).toBeUndefined();
    const remote = blocks((await ours('qemu-monitor-command', NAME, '{"execute":"x-mpvirt-remote","arguments":{"rid":"scsi0","command":{"execute":"query-block"}}}')).stdout);
    expect(remote.find((b) => b.qdev === 'scsi0-0-2')?.inserted?.file).toMatch(/^\/dev\/fdset\/\d+$/);
    const rt = sb.r.driver.lookupByName(NAME).runtime!;
    const open = (pid: number): string[] => readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } });
    expect(open(rt.main.handle.pid)).toContain(floppy);
    expect(open(rt.main.handle.pid)).not.toContain(iso1);
    expect(open(rt.remotes[0]!.handle.pid)).toContain(iso2);
    expect(open(rt.remotes[0]!.handle.pid)).not.toContain(iso1);

    expect((await ours('destroy', NAME)).code).toBe(0);
  }, 180_000);
});
