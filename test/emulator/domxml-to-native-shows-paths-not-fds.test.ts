// domxml-to-native prints what a person could run by hand, as libvirt's does: the images and
// chardev files the daemon would pass as fd sets appear as their paths (no -add-fd), and the
// monitor sockets the daemon would bind appear as `path=` sockets; only each remote's link stays an
// fd (a socketpair has no path; the header comment says which). The launch plan itself is unchanged.
import { describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { planWithPaths } from '../../src/emulator/native.js';
import { recordedQemu72Caps } from './recorded-qemu-7.2.js';

const MPQ = 'http://mpvirt.org/schemas/domain/mpqemu/1.0';
const xml = `<domain type='qemu'><name>n1</name><memory unit='MiB'>128</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<metadata><mpq:remote xmlns:mpq='${MPQ}'><mpq:process rid='8'><mpq:device alias='ua-lsi0'/></mpq:process></mpq:remote></metadata>
<devices><controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
<disk type='file' device='disk'><source file='/srv/a,b.img'/><target dev='sda' bus='scsi'/></disk>
<disk type='file' device='disk'><source file='/srv/main.img'/><target dev='vda' bus='virtio'/></disk>
<serial type='file'><source path='/var/log/n1,serial.log'/></serial></devices></domain>`;

describe('domxml-to-native shows paths, not the fds the daemon passes', () => {
  it('images, chardev files and monitors by path; the link stays fd 3', async () => {
    const caps = recordedQemu72Caps();
    const plan = buildLaunchPlan(applyDefineDefaults(parseDomainXml(xml), caps, { newDomain: true }), caps, { runDir: '/run/mpvirt/n1' });
    const shown = planWithPaths(plan);
    const all = [...shown.remotes.flatMap((r) => r.argv), ...shown.main.argv];
    expect(all.join(' ')).not.toContain('/dev/fdset/');
    expect(all).not.toContain('-add-fd');
    const remote = shown.remotes[0]!.argv;
    expect(remote).toContain('socket,id=charmonitor,path=/run/mpvirt/n1/remote-8.qmp,server=on,wait=off');
    expect(remote.find((a) => a.includes('"driver":"file"'))).toContain('"filename":"/srv/a,b.img"');
    expect(remote.find((a) => a.includes('x-remote-object'))).toContain('"fd":"3"');
    expect(shown.main.argv.find((a) => a.includes('"driver":"file"'))).toContain('"filename":"/srv/main.img"');
    expect(shown.main.argv).toContain('file,id=charserial0,path=/var/log/n1,,serial.log');
    expect(shown.main.argv.find((a) => a.startsWith('socket,id=charmonitor'))).toBe(`socket,id=charmonitor,path=${plan.main.qmpPath},server=on,wait=off`);
    // the plan the daemon runs is untouched
    expect(plan.main.argv).toContain('-add-fd');
  });
});
