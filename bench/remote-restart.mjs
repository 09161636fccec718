#!/usr/bin/env node
/**
 * "Device away" time of on-crash restart, with a real Linux guest (test/fixtures/guest, replug
 * mode) under TCG: SIGKILL of the remote → MPVIRT_REMOTE `restarted` (host side: crash noticed,
 * stand-in, device_del → DEVICE_DELETED while the new remote starts, getfd + device_add), and →
 * the guest reads its disk's marker again (its `E2E-REPLUG-READ` line on the serial console).
 *
 * Floor, same run, same guest image, a second domain: the bare QMP commands on a running pair —
 * device_del of the live proxy → DEVICE_DELETED, then getfd + device_add of a remote that is
 * already running (its start is not timed: the old remote holds the image's write lock until it
 * is gone); no crash to notice, no stand-in, no driver; and → the guest reads again. Targets (issue 13): ≤ 200 ms host side, ≤ 1 s to the guest.
 *
 *   npm run build && node bench/remote-restart.mjs [--runs N] [--json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { importDist, machine, makeWork, now, readCaps, root, runsArg, sleep, stats } from './lib.mjs';

const { QemuDriver } = await importDist('driver/driver.js');
const { buildLaunchPlan } = await importDist('emulator/launch-plan.js');
const { launchRemote } = await importDist('remote/launch.js');
const { closeFd } = await importDist('emulator/unixfd.js');
const { buildGuest } = await import(pathToFileURL(path.join(root, 'test/fixtures/guest/build-guest.mjs')).href);

const args = process.argv.slice(2);
const runs = runsArg(args, 10);
const asJson = args.includes('--json');
const { work } = makeWork('mpvirt-bench-rs-');
const guest = await buildGuest({ cacheDir: path.join(root, '.cache', 'guest') });
const MARKER = 'BENCH-REPLUG-MARKER';

function domain(name, onCrash) {
  const disk = path.join(work, `${name}.img`);
  fs.writeFileSync(disk, '');
  fs.truncateSync(disk, 16 << 20);
  const fd = fs.openSync(disk, 'r+');
  fs.writeSync(fd, `${MARKER}\n`, 2048 * 512);
  fs.closeSync(fd);
  const serial = path.join(work, `${name}.serial`);
  const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory>
<os><type arch='x86_64' machine='q35'>hvm</type><kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
<cmdline>${guest.cmdlineBase} e2e.mode=replug e2e.timeout=90</cmdline></os><features><acpi/></features>
<metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'><mpq:process rid='scsi0'><mpq:device alias='ua-scsi0'/><mpq:on-crash action='${onCrash}'/></mpq:process></mpq:remote></metadata>
<devices><controller type='scsi' index='0' model='lsilogic'><alias name='ua-scsi0'/></controller>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='scsi'/></disk>
<serial type='file'><source path='${serial}'/><target port='0'/></serial></devices></domain>`;
  return { xml, serial };
}

/** resolves (performance.now()) when the serial file has a line matching re; polled every 2 ms */
async function serialLine(file, re, timeoutMs = 60_000) {
  const end = now() + timeoutMs;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '';
    if (re.test(text)) return now();
    if (/E2E-FAIL/.test(text)) throw new Error(`guest failed: ${text.slice(-500)}`);
    if (now() > end) throw new Error(`no ${re} on the guest's console: ${text.slice(-500)}`);
    await sleep(2);
  }
}

const driver = new QemuDriver({ configDir: path.join(work, 'etc'), stateDir: path.join(work, 'run'), logDir: path.join(work, 'log'), capsCacheDir: path.join(work, 'caps'), tuning: { restartLimit: 1000, restartBackoffMs: 0 } }); // no back-off between rounds: each measures the restart itself
await driver.init();
const restarted = (pid) => new Promise((r) => {
  const on = (e) => {
    if (e.event !== 'MPVIRT_REMOTE') return;
    const d = JSON.parse(e.details);
    if (d.state === 'restarted' && d.pid !== pid) { driver.events.off('monitor', on); r(now()); }
  };
  driver.events.on('monitor', on);
});

// the measured path: on-crash restart through the driver
const rs = domain('rs', 'restart');
const dom = await driver.defineXML(rs.xml);
await driver.start(dom);
await serialLine(rs.serial, /E2E-REPLUG-WAIT/, 120_000);
const hostMs = [], guestMs = [];
for (let i = 1; i <= runs; i++) {
  const pid = dom.runtime.remotes[0].handle.pid;
  const back = restarted(pid);
  const t0 = now();
  process.kill(pid, 'SIGKILL');
  hostMs.push((await back) - t0);
  guestMs.push((await serialLine(rs.serial, new RegExp(`E2E-REPLUG-READ ${i} \\d+: ${MARKER}`))) - t0);
  await sleep(200);
}
await driver.destroy(dom);

// the floor: a second guest whose proxy is swapped by hand on its main QEMU's monitor
const fl = domain('floor', 'preserve');
const fdom = await driver.defineXML(fl.xml);
await driver.start(fdom);
await serialLine(fl.serial, /E2E-REPLUG-WAIT/, 120_000);
const main = fdom.runtime.main.qmp;
const plan = buildLaunchPlan(fdom.liveDef, readCaps(), { runDir: path.join(work, 'floor-run') });
const proxy = JSON.parse(plan.main.argv.find((a) => a.includes('"x-pci-proxy-dev"')));
const floorHostMs = [], floorGuestMs = [];
const spares = [];
// the remote now plugged: its device gone, it is ended (it does not always exit by itself)
let current = { kill: () => fdom.runtime.remotes[0].handle.kill?.('SIGKILL') ?? process.kill(fdom.runtime.remotes[0].handle.pid, 'SIGKILL'), exited: fdom.runtime.remotes[0].handle.exited };
for (let i = 1; i <= runs; i++) {
  const deleted = new Promise((r) => {
    const on = (ev) => { if (ev.event === 'DEVICE_DELETED' && ev.data?.device === proxy.id) { main.off('event', on); r(); } };
    main.on('event', on);
  });
  const t0 = now();
  await main.execute('device_del', { id: proxy.id });
  await deleted;
  const unplugMs = now() - t0;
  // not timed: ending the old remote and starting the new one (the floor has it ready)
  current.kill();
  await current.exited;
  let spare;
  for (let tries = 0; !spare; tries++) {
    fs.mkdirSync(path.join(work, 'floor-run'), { recursive: true });
    // the old remote's wrapper may hold the image's write lock a moment longer
    spare = await launchRemote(plan.remotes[0], { logFile: path.join(work, 'log', 'floor-spare.log') }).catch((e) => { if (tries > 50) throw e; return sleep(20).then(() => undefined); });
  }
  spares.push(spare);
  closeFd(spare.linkCopy);
  current = { kill: () => spare.proc.kill('SIGKILL'), exited: spare.proc.exited };
  const t1 = now();
  await main.execute('getfd', { fdname: `floor${i}` }, { fds: [spare.mainEnd] });
  closeFd(spare.mainEnd);
  await main.execute('device_add', { ...proxy, fd: `floor${i}` });
  floorHostMs.push(unplugMs + now() - t1);
  floorGuestMs.push(unplugMs + (await serialLine(fl.serial, new RegExp(`E2E-REPLUG-READ ${i} \\d+: ${MARKER}`))) - t1);
  await sleep(200);
}
await driver.destroy(fdom);
for (const s of spares) await s.proc.terminate({ graceMs: 500 }).catch(() => {});
await driver.detach();
fs.rmSync(work, { recursive: true, force: true });

const result = { runs, hostMs: stats(hostMs), floorHostMs: stats(floorHostMs), guestMs: stats(guestMs), floorGuestMs: stats(floorGuestMs) };
if (asJson) console.log(JSON.stringify(result));
else {
  const f = (s) => `${s.median.toFixed(0)} | ${s.min.toFixed(0)} | ${s.max.toFixed(0)}`;
  console.log(`# Device away: on-crash restart under a running Linux guest (TCG, q35, ACPI hot-plug), ${runs} runs each\n\nmachine: ${machine()}; node ${process.version}\n`);
  console.log('| measurement | median ms | min | max |\n|---|---:|---:|---:|');
  console.log(`| SIGKILL → MPVIRT_REMOTE restarted (driver) | ${f(result.hostMs)} |`);
  console.log(`| floor: device_del → DEVICE_DELETED + getfd + device_add of a ready remote | ${f(result.floorHostMs)} |`);
  console.log(`| SIGKILL → the guest reads its disk again (driver) | ${f(result.guestMs)} |`);
  console.log(`| floor: device_del → the guest reads its disk again | ${f(result.floorGuestMs)} |`);
  console.log(`\nhost / floor: ${(result.hostMs.median / result.floorHostMs.median).toFixed(2)}×, guest / floor: ${(result.guestMs.median / result.floorGuestMs.median).toFixed(2)}×`);
}
