// virt-manager (Debian's 4.1.0, the real program) on mpvirtd in drop-in mode, under Xvfb: with
// plain qemu:///system it connects, lists the guest, opens its window, its serial console and
// its VNC display, and its Details page, with no traceback in its --debug log. The guest is the
// test fixture (its lsilogic HBA and disk in a remote QEMU process) booted from its bzImage with
// console=tty0 as well, so its VGA screen shows the kernel's log. mpvirtd runs in a private mount
// namespace where /run/libvirt is the test's and libvirt's daemon binaries are hidden
// (drop-in-namespace.sh); virt-manager, its D-Bus session and the AT-SPI bus run in that mount
// namespace too, in a pid namespace of their own that dies with them. virt-manager-at-spi.py
// drives it as a user would (a click on the guest, Open, View > Consoles, Details) and reports
// what the accessibility tree showed; the screenshots land in test-results/virt-manager/.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { guestImage, type GuestImage } from '../driver/guest-image.js';
import { Harness, pidAlive, waitFor } from '../driver/harness.js';
import { buildMpvirtd, MpvirtdProcess } from './mpvirtd-process.js';

const h = new Harness();
let build: ReturnType<typeof buildMpvirtd>;
let guest: GuestImage;
let daemon: MpvirtdProcess | undefined;
let xvfb: ChildProcess | undefined;
let display = '';
const started: ChildProcess[] = [];
const run = join(h.dir, 'run-libvirt'); // /run/libvirt in the namespace
const images = join(h.dir, 'images'); // /var/lib/libvirt/images there: virt-manager builds its 'default' pool in it
const out = join(h.dir, 'screens');
const keep = join(projectRoot, 'test-results', 'virt-manager');
const NAME = 'vmgr1';
const clientConf = join(h.dir, 'libvirt.conf'); // /etc/libvirt/libvirt.conf there

beforeAll(async () => {
  build = buildMpvirtd();
  guest = await guestImage();
  for (const d of [run, images, out]) mkdirSync(d, { mode: 0o755 });
  chmodSync(run, 0o755);
  writeFileSync(clientConf, '# no remote_mode: the client picks the socket itself (auto)\n');
  // Xvfb picks a free display itself and names it on the fd we give it (-displayfd)
  xvfb = spawn('/usr/bin/Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let fd3 = '';
  xvfb.stdio[3]!.on('data', (b: Buffer) => (fd3 += b.toString()));
  let xerr = '';
  xvfb.stderr!.on('data', (b: Buffer) => (xerr += b.toString()));
  expect(await waitFor(() => /^\d+\n/.test(fd3), 20_000, 50), `Xvfb did not start: ${xerr}`).toBe(true);
  display = `:${fd3.trim()}`;
}, 300_000);

afterAll(async () => {
  // the session's pid namespace dies with its first process (unshare --kill-child): virt-manager,
  // dbus-daemon and the AT-SPI bus with it
  for (const c of started) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  if (xvfb?.pid && xvfb.exitCode === null) process.kill(xvfb.pid, 'SIGKILL');
  await daemon?.kill();
  build?.cleanup();
  await h.cleanup();
}, 60_000);

interface Result { code: number; stdout: string; stderr: string }
const ENV = { PATH: '/usr/bin:/bin:/usr/sbin', HOME: h.dir, LC_ALL: 'C.UTF-8' };

/** A command in the daemon's mount namespace, where plain qemu:///system reaches it. */
function inNamespace(cmd: string[], timeout = 60_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile('/usr/bin/nsenter', ['-t', String(daemon!.pid), '-m', '--', ...cmd], { env: ENV, timeout },
      (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 }));
  });
}
const virsh = (...args: string[]): Promise<Result> => inNamespace(['/usr/bin/virsh', '-c', 'qemu:///system', ...args]);

/** Every pid a running domain's status file names, for cleanup by pid. */
function trackDomainPids(name: string): void {
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (k === 'pid' && typeof x === 'number' ? h.pids.add(x) : walk(x));
  };
  walk(JSON.parse(readFileSync(join(h.stateDir, name, 'status.json'), 'utf8')));
}

/** The fraction of pixels of a PNG (or part of it) that are not black. */
function nonBlack(file: string, crop?: string): number {
  const r = spawnSync('/usr/bin/convert', [file, ...(crop ? ['-crop', crop, '+repage'] : []), '-fill', 'white', '+opaque', 'black', '-format', '%[fx:mean]', 'info:'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout);
}

/** Pixels that differ (beyond 10 % per channel) between a crop of `a` and all of `b`. */
function differingPixels(a: string, crop: string, b: string): number {
  const r = spawnSync('/usr/bin/compare', ['-metric', 'AE', '-fuzz', '10%', a, '-crop', crop, '+repage', b, 'null:'], { encoding: 'utf8' });
  expect(r.status === 0 || r.status === 1, r.stderr).toBe(true); // 1: they differ
  return Number(r.stderr.trim());
}

function size(file: string): { width: number; height: number } {
  const [w, hh] = spawnSync('/usr/bin/identify', ['-format', '%w %h', file], { encoding: 'utf8' }).stdout.split(' ').map(Number);
  return { width: w!, height: hh! };
}

interface Step { step: string; [k: string]: unknown }
interface Report { steps: Step[]; timeouts: string[]; 'virt-manager alive': boolean }

describe('virt-manager on mpvirtd in drop-in mode', () => {
  it('connects with plain qemu:///system, lists the guest and shows its serial console, VNC display and details, with no traceback', async () => {
    daemon = new MpvirtdProcess(build.cli, ['--system', '--drop-in', '--config-dir', h.configDir, '--state-dir', h.stateDir, '--log-dir', h.logDir,
      '--socket', join(h.dir, 'own-sock'), '--socket-ro', join(h.dir, 'own-sock-ro')], {},
    ['/usr/bin/unshare', '-m', '--propagation', 'private', '/bin/bash', join(projectRoot, 'test/daemon/drop-in-namespace.sh'), run, 'hide',
      clientConf,
      '--', '/bin/sh', '-c', 'mkdir -p /var/lib/libvirt/images && mount --bind "$0" /var/lib/libvirt/images && exec "$@"', images]);
    await daemon.waitForLog('mpvirtd ready', 30_000);

    const marker = `E2E-HOST-MARKER-${randomBytes(6).toString('hex')}`;
    const disk = h.disk(`${NAME}.img`, 16);
    const fd = openSync(disk, 'r+');
    writeSync(fd, `${marker}\n`, 2048 * 512); // where the guest reads it (e2e.rsec)
    closeSync(fd);
    // bzImage, not the PVH vmlinux: only the real-mode boot path gives the kernel a VGA text console
    const xml = `<domain type='qemu'>
  <name>${NAME}</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.vmlinuz}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} console=tty0 console=ttyS0 loglevel=7 e2e.mode=basic e2e.hold=1 e2e.timeout=60</cmdline></os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'/>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='scsi'/></disk>
    <serial type='pty'/><console type='pty'/>
    <graphics type='vnc' port='-1'/><video><model type='vga'/></video>
  </devices>
</domain>`;
    const file = join(h.dir, `${NAME}.xml`);
    writeFileSync(file, xml);
    expect(await virsh('define', file)).toMatchObject({ code: 0 });
    const start = await virsh('start', '--paused', NAME); // it boots once the serial console is attached
    if (existsSync(join(h.stateDir, NAME, 'status.json'))) trackDomainPids(NAME);
    expect(start, start.stderr).toMatchObject({ code: 0 });
    // the lsilogic HBA and its disk run in a remote QEMU process of their own
    expect((await virsh('dumpxml', NAME)).stdout).toMatch(/<mpq:process rid="[^"]+" pid="\d+" state="running"/);

    const t0 = Date.now();
    const session = spawn('/usr/bin/nsenter', ['-t', String(daemon.pid), '-m', '--',
      '/usr/bin/unshare', '--pid', '--fork', '--kill-child', '--mount-proc',
      '/usr/bin/env', '-i', 'PATH=/usr/bin:/bin', `DISPLAY=${display}`, `HOME=${h.dir}`, `XDG_CONFIG_HOME=${join(h.dir, 'xdg-config')}`,
      `XDG_CACHE_HOME=${join(h.dir, 'xdg-cache')}`, 'GSETTINGS_BACKEND=memory', 'LC_ALL=C.UTF-8',
      '/usr/bin/dbus-run-session', '--', '/usr/bin/python3', join(projectRoot, 'test/daemon/virt-manager-at-spi.py'), NAME, out],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(session);
    let stdout = '';
    let stderr = '';
    session.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    session.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((res) => session.once('exit', (c) => res(c)));
    const steps = stderr.split('\n').filter((l) => l.startsWith('{')).join('\n');
    console.log(`virt-manager session: ${((Date.now() - t0) / 1000).toFixed(1)} s\n${steps.slice(0, 6000)}`);
    expect(code, stderr.slice(-4000)).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as Report;
    const step = (name: string): Step => {
      const s = report.steps.find((x) => x.step === name);
      expect(s, `no step '${name}': ${steps}`).toBeDefined();
      return s!;
    };
    rmSync(keep, { recursive: true, force: true });
    cpSync(out, keep, { recursive: true });

    expect(report.timeouts).toEqual([]);
    expect(report['virt-manager alive']).toBe(true);
    const log = readFileSync(join(out, 'virt-manager-debug.log'), 'utf8');
    expect(log).toContain('conn=qemu:///system changed to state=Active');
    expect(log.match(/^.*Traceback.*$/m)?.[0], log.slice(log.indexOf('Traceback') - 2000, log.indexOf('Traceback') + 3000)).toBeUndefined();
    expect(log).not.toMatch(/ERROR \(/);

    // the manager window: the connection, and the guest, paused, in its list
    expect(step('manager').cells).toEqual(expect.arrayContaining(['QEMU/KVM', `${NAME}\nPaused`]));
    expect(step('console menu').items).toEqual(expect.arrayContaining(['Graphical Console VNC', 'Serial 1']));
    expect(step('virsh resume')).toMatchObject({ code: 0 });
    // the serial console: the guest's whole boot, its disk read through the remote HBA
    const serial = step('serial console').text as string;
    for (const line of ['E2E-INIT mode=basic', 'E2E-MODULES-LOADED', 'E2E-DISK sda size_sectors=32768', `E2E-READ: ${marker}`, 'E2E-OK', 'E2E-HOLD']) {
      expect(serial).toContain(line);
    }
    expect(serial).toContain('sym0: <895a>'); // the kernel's lsi53c895a driver on the proxied HBA

    // the VNC display: the guest's VGA text screen, centred in the widget, the same picture as the
    // daemon's own screendump (the text cursor blinks: a few pixels may differ)
    const box = step('vnc').display as { width: number; height: number };
    expect(box).toMatchObject({ width: expect.any(Number) });
    const vnc = join(out, 'vnc-display.png');
    expect(size(vnc)).toEqual({ width: box.width, height: box.height });
    const dumps = ['virsh-screenshot-before.png', 'virsh-screenshot-after.png'].map((f) => join(out, f));
    const guestSize = size(dumps[0]!);
    expect(guestSize).toEqual({ width: 720, height: 400 }); // VGA text mode, 80x25
    const crop = `${guestSize.width}x${guestSize.height}+${Math.floor((box.width - guestSize.width) / 2)}+${Math.floor((box.height - guestSize.height) / 2)}`;
    const lit = nonBlack(vnc, crop);
    const diff = Math.min(...dumps.map((d) => differingPixels(vnc, crop, d)));
    console.log(`VNC widget ${box.width}x${box.height}: ${(lit * 100).toFixed(1)} % of the guest's screen lit, ${diff} pixels differ from virsh screenshot`);
    expect(lit).toBeGreaterThan(0.01); // text, not a blank screen
    expect(lit).toBeLessThan(0.5);
    expect(diff).toBeLessThan(guestSize.width * guestSize.height * 0.005);
    expect(nonBlack(vnc)).toBeCloseTo(lit * (guestSize.width * guestSize.height) / (box.width * box.height), 4); // nothing outside the guest's picture

    // Details: the definition as virt-manager reads it
    const details = step('details');
    expect(details.hardware).toEqual(expect.arrayContaining(['Overview', 'SCSI Disk 1', 'Controller SCSI 0', 'Display VNC', 'Serial 1', 'Video VGA']));
    expect(details.labels).toEqual(expect.arrayContaining([NAME, 'Running (Unpaused)', 'QEMU TCG', 'Q35']));
    expect(step('manager at the end').cells).toEqual(expect.arrayContaining([`${NAME}\nRunning`]));

    expect(await virsh('destroy', NAME)).toMatchObject({ code: 0 });
    expect(await waitFor(() => [...h.pids].every((p) => !pidAlive(p)), 10_000)).toBe(true);
  }, 240_000);
});
