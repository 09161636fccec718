// A real mpvirtd process whose mpvirtd.conf names the host libvirt of each secondary driver
// (network_uri, nodedev_uri, nwfilter_uri, secret_uri, interface_uri: a private libvirtd of this
// run): virsh's net-, nodedev-, nwfilter-, secret- and iface- commands on the mpvirtd URI print
// what they print at that libvirtd, and a guest on one of its networks is resolved through the
// same URI at start (refused while the network is inactive, in libvirt's words).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../driver/harness.js';
import { startPrivateLibvirtd, type PrivateLibvirtd } from '../libvirt-reference/private-libvirtd.js';
import { buildMpvirtd, MpvirtdProcess } from './mpvirtd-process.js';

const h = new Harness();
let build: ReturnType<typeof buildMpvirtd>;
let lv: PrivateLibvirtd;
let d: MpvirtdProcess | undefined;
const NET = `mpvcnf${process.pid % 10000}`;
beforeAll(async () => {
  build = buildMpvirtd();
  lv = await startPrivateLibvirtd(join(h.dir, 'lv'));
}, 400_000);
afterAll(async () => {
  await d?.kill();
  if (lv) await run(lv.uri, 'net-undefine', NET);
  await lv?.stop();
  build?.cleanup();
  await h.cleanup();
});

const socket = join(h.dir, 'virtmpqemud-sock');
const mpUri = `mpqemu+unix:///system?socket=${socket}`;
function run(uri: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/virsh', ['-c', uri, ...args], { env: { PATH: '/usr/bin:/bin', HOME: h.dir, LC_ALL: 'C' }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 }),
    );
  });
}

describe('mpvirtd.conf names the host libvirt', () => {
  it('forwards each driver there, and resolves a guest network there', async () => {
    const conf = join(h.dir, 'mpvirtd.conf');
    writeFileSync(conf, ['network', 'nodedev', 'nwfilter', 'secret', 'interface'].map((k) => `${k}_uri = "${k}:///system?socket=${lv.socket}"`).join('\n') + '\n');
    d = new MpvirtdProcess(build.cli, ['--session', '--socket', socket, '--config-dir', h.configDir, '--state-dir', h.stateDir, '--log-dir', h.logDir, '--config', conf],
      { XDG_CACHE_HOME: join(h.dir, 'cache') });
    await d.waitForLog('mpvirtd ready');
    writeFileSync(join(h.dir, 'net.xml'), `<network><name>${NET}</name><bridge name='${NET}br'/></network>\n`);
    expect((await run(lv.uri, 'net-define', join(h.dir, 'net.xml'))).code).toBe(0);
    for (const args of [['net-list', '--all'], ['net-info', NET], ['net-dumpxml', NET], ['nodedev-list'], ['nwfilter-list'], ['secret-list'], ['iface-list', '--all']]) {
      const [mp, host] = [await run(mpUri, ...args), await run(lv.uri, ...args)];
      expect(mp, args.join(' ')).toEqual(host);
      expect(mp.code, args.join(' ')).toBe(0);
    }
    const dom = join(h.dir, 'nw.xml');
    writeFileSync(dom, `<domain type='qemu'><name>nwc</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><interface type='network'><source network='${NET}'/><model type='e1000'/></interface></devices></domain>`);
    expect((await run(mpUri, 'define', dom)).code).toBe(0);
    expect(await run(mpUri, 'start', 'nwc')).toEqual({
      code: 1, stdout: '\n',
      stderr: `error: Failed to start domain 'nwc'\nerror: Requested operation is not valid: network '${NET}' is not active; mpvirt runs <interface type='network'> on the network's bridge; ` +
        "otherwise use <interface type='bridge'><source bridge='BRIDGE'/></interface> with a bridge of the host, or <interface type='user'>\n",
    });
    expect((await run(mpUri, 'undefine', 'nwc')).code).toBe(0);
  }, 120_000);
});
