// The main job (`npm run demo`): boots the demo guest — a small Linux whose
// SCSI disk is served by a separate, sandboxed QEMU process — under mpvirt's
// driver, shows what the guest read from its disk, and lets it power off.
// Installs what it needs first (Debian packages as root, npm deps, build,
// and the guest image from Debian's kernel package).
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureAll, root } from './ensure-deps.mjs';

ensureAll();
const say = (s) => process.stdout.write(`${s}\n`);
const { buildGuest } = await import(pathToFileURL(join(root, 'test/fixtures/guest/build-guest.mjs')).href);
const { QemuDriver } = await import(pathToFileURL(join(root, 'dist/driver/driver.js')).href);
const { lifecycleText } = await import(pathToFileURL(join(root, 'dist/driver/events.js')).href);

say('mpvirt demo: building the guest image (Debian kernel + busybox initramfs, cached)…');
const guest = await buildGuest({ cacheDir: join(root, '.cache', 'guest') });

const work = mkdtempSync(join(tmpdir(), 'mpvirt-demo-'));
const disk = join(work, 'data.img');
writeFileSync(disk, '');
truncateSync(disk, 16 << 20);
const marker = `E2E-HOST-MARKER-${randomBytes(8).toString('hex')}`;
let fd = openSync(disk, 'r+');
writeSync(fd, `${marker}\n`, 2048 * 512);
closeSync(fd);
const serial = join(work, 'console.log');

const driver = new QemuDriver({
  configDir: join(work, 'etc'),
  stateDir: join(work, 'run'),
  logDir: join(work, 'log'),
  capsCacheDir: join(root, '.cache', 'caps'),
});
driver.events.on('lifecycle', (e) => say(`  event 'lifecycle' for domain '${e.dom.name}': ${lifecycleText(e.event, e.detail)}`));
driver.events.on('monitor', (e) => e.event === 'MPVIRT_REMOTE' && say(`  event ${e.event} for domain '${e.dom.name}': ${e.details}`));
await driver.init();

const xml = `<domain type='qemu'>
  <name>demo</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=basic e2e.timeout=60</cmdline></os>
  <features><acpi/></features>
  <metadata>
    <mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'>
      <mpq:process rid='scsi0'><mpq:device alias='ua-scsi0'/><mpq:on-crash action='destroy'/></mpq:process>
    </mpq:remote>
  </metadata>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'><alias name='ua-scsi0'/></controller>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='scsi'/></disk>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
  </devices>
</domain>`;

let exitCode = 1;
try {
  const dom = await driver.defineXML(xml);
  say('\nThe launch (virsh domxml-to-native qemu-argv):\n');
  say(await driver.domxmlToNative(xml));
  const t0 = performance.now();
  await driver.start(dom);
  const rt = dom.runtime;
  say(`started domain 'demo' (id ${dom.id}): main QEMU pid ${rt.main.handle.pid}, remote SCSI process pid ${rt.remotes[0].handle.pid}`);
  const stopped = new Promise((resolve) => driver.events.on('lifecycle', (e) => e.event === 5 && resolve(e)));
  const deadline = Date.now() + 120_000;
  let shown = 0;
  while (Date.now() < deadline) {
    const text = existsSync(serial) ? readFileSync(serial, 'utf8') : '';
    const lines = text.split(/\r?\n/).filter((l) => l.startsWith('E2E-'));
    for (const l of lines.slice(shown)) say(`  guest: ${l}`);
    shown = lines.length;
    if (/E2E-OK|E2E-FAIL/.test(text)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.race([stopped, new Promise((r) => setTimeout(r, 30_000))]);
  const console = existsSync(serial) ? readFileSync(serial, 'utf8') : '';
  const buf = Buffer.alloc(512);
  fd = openSync(disk, 'r');
  readSync(fd, buf, 0, 512, 4096 * 512);
  closeSync(fd);
  const ok = console.includes(`E2E-READ: ${marker}`) && console.includes('E2E-OK') && buf.toString('latin1').includes(`E2E-GUEST-WROTE:${marker}`);
  say(`\n${ok ? 'OK' : 'FAILED'}: the guest ${ok ? 'read the host marker through the remote lsi53c895a and wrote its reply to the disk' : 'did not complete'}; ` +
    `domain state now ${dom.active ? 'running' : 'shut off'}; ${(performance.now() - t0).toFixed(0)} ms from start to power-off.`);
  if (dom.active) await driver.destroy(dom);
  exitCode = ok ? 0 : 1;
} finally {
  await driver.detach();
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
