// What virt-manager needs for a local guest's consoles, compared with libvirt's own daemon in the
// same run through python3-libvirt (graphics-fd-and-consoles-probe.py) on the same domain (a pty
// serial with its console, VNC, an lsilogic disk — in a remote process on mpvirtd):
// - virDomainOpenGraphicsFD: a socket to the guest's VNC server handed over with the reply
//   (REPLY_WITH_FDS, SCM_RIGHTS; the daemon answers SUPPORTS_FEATURE(FD_PASSING) = 1), on which
//   the display greets with its RFB version; its errors for a stopped domain and a missing index;
// - virDomainOpenConsole by the serial port's alias `serial0` (virt-manager's serial console) and
//   with no name, one session per port, FORCE taking it over.
// One step differs by design: virDomainOpenGraphics, where the client passes an fd to the daemon
// (CALL_WITH_FDS), is refused by mpvirtd, which reads no fds; the connection goes on.
import { execFile } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { sideBySide } from './side-by-side.js';

const s = sideBySide('gfxfd', { qemuConf: ['remember_owner = 0'] });
const D = 'gfx1';

function domainXml(img: string): string {
  return `<domain type='qemu'>
  <name>${D}</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'/>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img}'/><target dev='sda' bus='scsi'/></disk>
    <serial type='pty'/><console type='pty'/>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <video><model type='vga'/></video>
  </devices>
</domain>
`;
}

function probe(uri: string): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', [join(projectRoot, 'test/libvirt-reference/graphics-fd-and-consoles-probe.py'), uri, D],
      { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: s.work }, timeout: 120_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`probe on ${uri}: ${err.message}\n${stderr}\n${stdout}`));
        else resolve(stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
      });
  });
}

describe('consoles virt-manager opens, side by side with libvirt', () => {
  it('openGraphicsFD passes a socket the VNC server greets on, and serial0 opens as a console, as on libvirt', async () => {
    for (const who of ['our', 'lvd']) {
      const img = join(s.work, `${who}.img`);
      writeFileSync(img, '');
      truncateSync(img, 16 << 20);
      writeFileSync(join(s.work, `${who}.xml`), domainXml(img));
    }
    expect(await s.ours('define', join(s.work, 'our.xml'))).toMatchObject({ code: 0 });
    expect(s.theirs('define', join(s.work, 'lvd.xml'))).toMatchObject({ code: 0 });

    const theirs = await probe(s.lv.uri);
    const ours = await probe(s.r.uri());
    console.log(`libvirtd:\n${theirs.map((l) => JSON.stringify(l)).join('\n')}\nmpvirtd:\n${ours.map((l) => JSON.stringify(l)).join('\n')}`);

    const byDesign = 'openGraphics(0, fd)';
    expect(theirs.find((l) => l.step === byDesign)).toEqual({ step: byDesign, ok: 'RFB 003.008\n' });
    // VIR_ERR_RPC (39) from the RPC domain (7): the call is refused, the fd dropped, the stream in step
    expect(ours.find((l) => l.step === byDesign)).toEqual({ step: byDesign, error: [39, 7, 'file descriptor passing is not supported'] });
    const rest = (r: Array<Record<string, unknown>>): Array<Record<string, unknown>> => r.filter((l) => l.step !== byDesign);
    expect(rest(ours)).toEqual(rest(theirs));
    // and what that is: the display greets on every passed socket, the stopped domain and the
    // missing display are refused, the second console is busy until FORCE
    expect(rest(ours).map((l) => `${l.step as string} → ${JSON.stringify(l.ok ?? l.error)}`)).toEqual([
      'stopped: openGraphicsFD(0) → [55,20,"Requested operation is not valid: domain is not running"]',
      'openGraphicsFD(0): the display greets → "RFB 003.008\\n"',
      'openGraphicsFD(0, SKIPAUTH) → "RFB 003.008\\n"',
      'openGraphicsFD(1) → [1,10,"internal error: No graphics backend with index 1"]',
      'two at once → ["RFB 003.008\\n","RFB 003.008\\n"]',
      "openConsole('serial0') → 0",
      'openConsole(\'serial0\') again → [9,10,"operation failed: Active console session exists for this domain"]',
      'openConsole(None), the console on serial port 0 → [9,10,"operation failed: Active console session exists for this domain"]',
      "openConsole('serial0', FORCE) → 0",
      'openConsole(\'serial9\') → [1,10,"internal error: cannot find character device serial9"]',
      `still connected → "${D}"`,
    ]);
    await s.ours('undefine', D);
    s.theirs('undefine', D);
  }, 300_000);
});
