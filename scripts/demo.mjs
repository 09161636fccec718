// The main job (`npm run demo`): the whole idea of mpvirt, through its daemon, in nine steps.
// A private mpvirtd (session mode, everything in one temporary directory) runs a small Linux
// guest whose SCSI controller and disks live in a separate, sandboxed QEMU process. The commands
// a user would type go through mpvirsh (printed first, like a transcript); events and the guest's
// serial console come through the binding (`import { connect } from 'mpvirt'`). The guest reads
// and writes its disk, gets a second disk hot-plugged into the remote process, survives that
// process being killed (the restart policy plugs a fresh one in), and is shut down; the host then
// checks what the guest wrote. Whatever happens (error, Ctrl-C), every process the demo started
// is killed by pid and the directory removed. Needs no terminal and no stdin.
//
// Installs what it needs first, as `npm test` does: Debian packages (as root), npm dependencies,
// dist/ (rebuilt only when src/ is newer), and the guest image from Debian's kernel package.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { build, ensureDebianPackages, ensureNodeModules, root } from './ensure-deps.mjs';
import { ANSWER_SECTOR, prepareGuest, sectorLine } from './demo/guest.mjs';
import { Arrivals, Output } from './demo/output.mjs';
import { DemoSession, processesUnder } from './demo/session.mjs';

const started = performance.now();
const GUEST_STEP_MS = 60_000;
const WHOLE_DEMO_MS = 180_000;

/** dist/ is older than some source file (or missing): the demo would run stale code. */
function distIsStale() {
  const outputs = ['index.js', 'cli/mpvirtd.js', 'cli/mpvirsh.js'].map((f) => join(root, 'dist', f));
  if (!outputs.every(existsSync)) return true;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const newest = (dir) => Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) =>
    e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs));
  const configs = ['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(join(root, f)).mtimeMs);
  return Math.max(newest(join(root, 'src')), ...configs) > built;
}

ensureDebianPackages();
ensureNodeModules();
if (distIsStale()) build();
const { connect } = await import('mpvirt'); // the package's own entry (dist/index.js), as a user imports it
const setUp = performance.now();

const out = new Output(9);
const session = new DemoSession(root, out);
const events = new Arrivals();
const consoleLines = new Arrivals();
let conn;
let domain;
let consoleStream;

// ---------------------------------------------------------------- the single way out

let finishing;
function finish(code, error) {
  finishing ??= (async () => {
    if (error) {
      process.stdout.write(`\nDEMO FAILED: ${error.message}\n`);
      const log = join(session.xdg.XDG_STATE_HOME, 'mpvirt', 'log', 'qemu', 'demo.log');
      if (existsSync(log)) process.stdout.write(`--- the domain's log (last lines) ---\n${readFileSync(log, 'utf8').split('\n').slice(-30).join('\n')}\n`);
      if (session.daemonLog) process.stdout.write(`--- mpvirtd's log (last lines) ---\n${session.daemonLog.split('\n').slice(-15).join('\n')}\n`);
    }
    try {
      // the daemon stops a running guest in order (main QEMU, then the remote); the pid sweep
      // in cleanup() is for whatever that leaves
      if (domain && domain.isActive()) domain.destroy();
    } catch {
      /* the daemon may be gone already */
    }
    try {
      consoleStream?.free();
      domain?.free();
      conn?.close();
    } catch {
      /* best effort: the processes are killed below either way */
    }
    const { killed, remaining } = await session.cleanup();
    if (remaining.length > 0) {
      process.stdout.write(`DEMO FAILED: still running after SIGKILL: ${remaining.join(', ')}\n`);
      process.exit(1);
    }
    if (code === 0) {
      out.say(`mpvirtd stopped; no process of the demo is left running; ${session.dir} removed.`);
      if (killed.length > 0) process.stdout.write(`(had to kill ${killed.join(', ')} by pid)\n`);
    } else {
      process.stdout.write(`cleaned up: killed ${killed.length ? killed.join(', ') : 'nothing (all had exited)'}; removed ${session.dir}\n`);
    }
    process.exit(code);
  })();
  return finishing;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  // exit as a shell reports a process killed by that signal: 128 + its number (130 for Ctrl-C)
  process.on(signal, () => void finish(128 + constants.signals[signal], new Error(`interrupted (${signal})`)));
}
const watchdog = setTimeout(() => void finish(1, new Error(`the demo took longer than ${WHOLE_DEMO_MS / 1000} s`)), WHOLE_DEMO_MS);

// ---------------------------------------------------------------- helpers

/** The guest's next console line matching `re` (after line `from`); an E2E-FAIL line ends the demo. */
const guestLine = (re, what, from = 0) => consoleLines.wait((l) => re.test(l), what, GUEST_STEP_MS, from).then((l) => re.exec(l));
const eventSeen = (test, what, from = 0) => events.wait(test, what, GUEST_STEP_MS, from);

/** The QEMU processes (not the `unshare` that jails each of them) under the session directory. */
function qemus() {
  const all = processesUnder(session.dir).filter((p) => /^qemu-system/.test(p.argv[0].split('/').pop()));
  const remote = all.find((p) => p.argv.some((a) => a.startsWith('x-remote')));
  const main = all.find((p) => p !== remote);
  return { main, remote };
}

function describeQemu(p) {
  const i = p.argv.indexOf('-machine');
  const machine = i >= 0 ? p.argv[i + 1].split(',')[0] : '?';
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1];
  return `pid ${p.pid}  uid ${uid}  ${p.argv[0].split('/').pop()} -machine ${machine} … (${p.argv.length} arguments)`;
}

/** `mpvirsh dumpxml demo`, showing only the remote process's line of the live XML; its pid. */
async function remoteProcessLine() {
  const xml = await session.mpvirsh(['dumpxml', 'demo'], { show: (x) => x.split('\n').filter((l) => l.includes('<mpq:process')).join('\n') });
  const pid = /<mpq:process [^>]*pid="(\d+)"/.exec(xml)?.[1];
  if (!pid) throw new Error('the live XML names no remote process pid');
  return Number(pid);
}

/** Streams the guest's serial console (virDomainOpenConsole) line by line into the output. */
async function readConsole(stream) {
  let partial = '';
  try {
    for await (const chunk of stream) {
      const lines = (partial + chunk.toString('latin1')).split('\n');
      partial = lines.pop();
      for (const raw of lines) {
        const line = raw.replace(/\r/g, '');
        if (line === '') continue;
        out.guest(line);
        consoleLines.push(line);
        if (line.startsWith('E2E-FAIL')) consoleLines.fail(new Error(`the guest reported ${line}`));
      }
    }
    consoleLines.fail(new Error('the console ended (the guest is gone)'));
  } catch (e) {
    consoleLines.fail(e);
  }
}

// ---------------------------------------------------------------- the story

async function main() {
  out.title('mpvirt demo: a guest whose SCSI controller and disks run in their own QEMU process,\nmanaged through mpvirtd with libvirt\'s tools.');

  out.step(1, 'Start a private mpvirtd in session mode', 'Session mode is mpvirtd for an ordinary user. Its XDG directories point into one temporary\ndirectory, so this demo touches nothing of yours and leaves nothing behind.');
  out.command(`XDG_RUNTIME_DIR=${session.xdg.XDG_RUNTIME_DIR} XDG_CONFIG_HOME=… XDG_STATE_HOME=… mpvirtd --session &`);
  const daemonPid = await session.startDaemon();
  out.say(`mpvirtd pid ${daemonPid}, listening on ${session.socket}\ntemporary directory: ${session.dir}`);
  out.command(`export LIBVIRT_DEFAULT_URI='${session.uri}'`);

  out.step(2, 'Connect with the binding and subscribe to events', "The same libvirt event stream `virsh event --all` and `virsh qemu-monitor-event` show:\nlifecycle and device events, and MPVIRT_REMOTE for each remote-process transition.");
  out.say("import { connect } from 'mpvirt'; const c = connect(LIBVIRT_DEFAULT_URI);\nc.events.on('lifecycle' | 'device-added' | 'device-removed', print);\nc.onQemuMonitorEvent(print, { event: 'MPVIRT_REMOTE' });");
  conn = connect(session.uri);
  conn.events.on('lifecycle', (e) => {
    out.event(`'lifecycle' for domain '${e.domain.name}': ${e.event} ${e.detail}`);
    events.push({ kind: 'lifecycle', event: e.event, detail: e.detail });
  });
  for (const kind of ['device-added', 'device-removed']) {
    conn.events.on(kind, (e) => {
      out.event(`'${kind}' for domain '${e.domain.name}': ${e.devAlias}`);
      events.push({ kind, alias: e.devAlias });
    });
  }
  conn.onQemuMonitorEvent((e) => {
    out.event(`'${e.event}' for domain '${e.domain.name}': ${e.details}`);
    events.push({ kind: 'remote', ...JSON.parse(e.details ?? '{}') });
  }, { event: 'MPVIRT_REMOTE' });

  out.step(3, 'Define the guest: its SCSI controller goes into a remote process', "Plain libvirt XML plus one element in <metadata>: the lsilogic controller ua-scsi0 and every\ndisk on it run in remote process 'scsi0'. A bug in that device emulation stays in that process:\nit cannot reach the main QEMU, its other devices or the host beyond its own disks, and if it\ncrashes, on-crash='restart' has the daemon replace it while the guest runs on.");
  const g = await prepareGuest(root, session.dir, (m) => out.say(`(guest image) ${m}`));
  out.say(`guest: ${g.guest.kernelPackage} ${g.guest.kernelVersion} + a busybox initramfs; disk data.img carries ${g.dataMarker}`);
  out.output(g.domainXml.slice(g.domainXml.indexOf('  <metadata>'), g.domainXml.indexOf('  <devices>')) +
    g.domainXml.slice(g.domainXml.indexOf('    <controller'), g.domainXml.indexOf('    <serial')));
  await session.mpvirsh(['define', 'demo.xml']);

  out.step(4, 'Start it: the guest and its disk controller are two QEMU processes', "Started paused, so the console is attached before the guest prints its first line. The main\nQEMU has the guest's CPU and RAM; the remote QEMU (-machine x-remote, sandboxed) has the\nlsi53c895a and the disk; they share only the guest's RAM (memfd) and a socket.");
  await session.mpvirsh(['start', '--paused', 'demo']);
  domain = conn.lookupDomainByName('demo');
  out.say("d = c.lookupDomainByName('demo'); d.openConsole()   # the guest's serial port, streamed below");
  consoleStream = domain.openConsole();
  const consoleDone = readConsole(consoleStream);
  await session.mpvirsh(['resume', 'demo']);
  const first = qemus();
  if (!first.main || !first.remote) throw new Error('expected a main and a remote QEMU process');
  out.say(`main QEMU:   ${describeQemu(first.main)}\nremote QEMU: ${describeQemu(first.remote)}`);
  const remotePid = await remoteProcessLine();
  if (remotePid !== first.remote.pid) throw new Error(`the live XML names remote pid ${remotePid}, /proc has ${first.remote.pid}`);
  out.say('(only the <mpq:process> line shown.) The live XML names the remote process, its pid and state,\nand its jail: its own user and namespaces, apart from the main QEMU\'s.');

  out.step(5, 'The guest reads its disk through the remote controller', 'The guest reads the marker the host wrote at sector 2048 and writes its answer at sector 4096:\nevery byte goes guest -> main QEMU -> socket -> remote QEMU -> data.img.');
  const read = await guestLine(/^E2E-READ: (.*)$/, "the guest's read of sda");
  if (read[1] !== g.dataMarker) throw new Error(`the guest read '${read[1]}', the host wrote '${g.dataMarker}'`);
  await guestLine(/^E2E-WRITTEN sda/, "the guest's write on sda");
  out.say('the guest read exactly the host\'s marker.');

  out.step(6, 'Hot-plug a second disk into the running remote process', 'The new disk joins the controller in the remote process, not the main QEMU; the guest finds\nit on a SCSI rescan and reads the marker the host put on extra.img.');
  await guestLine(/^E2E-HOTPLUG-WAIT$/, 'the guest to wait for a second disk');
  const since = events.items.length;
  if (mpvirshHas('attach-device')) {
    await session.mpvirsh(['attach-device', 'demo', 'extra-disk.xml', '--live']);
  } else {
    out.say("d.attachDevice(readFileSync('extra-disk.xml'), { live: true })   # binding: this mpvirsh has no attach-device yet");
    domain.attachDevice(g.extraDiskXml, { live: true });
  }
  await eventSeen((e) => e.kind === 'device-added', 'the device-added event', since);
  const hot = await guestLine(/^E2E-HOTPLUG-READ: (.*)$/, "the guest's read of the hot-plugged sdb");
  if (hot[1] !== g.extraMarker) throw new Error(`the guest read '${hot[1]}' on sdb, the host wrote '${g.extraMarker}'`);
  await session.mpvirsh(['domblklist', 'demo']);

  out.step(7, 'Kill the remote process: the restart policy brings the disks back', 'A crash of the device emulation is contained: the guest keeps running. The daemon answers\nfor the dead process, unplugs its controller from the guest, starts a new remote QEMU with\nboth disks and plugs it into the same slot; the guest finds them again by itself.');
  await guestLine(/^E2E-REPLUG-WAIT$/, 'the guest to watch its disks');
  const crashFrom = events.items.length;
  const killedAt = performance.now();
  out.command(`kill -KILL ${remotePid}   # the remote QEMU (pid from the live XML), as if its device emulation crashed`);
  process.kill(remotePid, 'SIGKILL');
  await eventSeen((e) => e.kind === 'remote' && e.state === 'restarted', 'MPVIRT_REMOTE restarted', crashFrom);
  const sda = await guestLine(/^E2E-REPLUG-READ sda \d+: (.*)$/, 'the guest to read sda again');
  const sdb = await guestLine(/^E2E-REPLUG-READ sdb \d+: (.*)$/, 'the guest to read sdb again');
  if (sda[1] !== g.dataMarker || sdb[1] !== g.extraMarker) throw new Error(`after the restart the guest read '${sda[1]}' and '${sdb[1]}'`);
  const backMs = performance.now() - killedAt;
  await guestLine(/^E2E-WRITTEN sdb/, "the guest's write on sdb");
  const after = qemus();
  if (!after.remote || after.remote.pid === remotePid) throw new Error('no new remote process after the restart');
  if (!after.main || after.main.pid !== first.main.pid) throw new Error('the main QEMU changed: the guest did not survive');
  out.say(`main QEMU:   pid ${after.main.pid} (the same: the guest never stopped)\nremote QEMU: pid ${after.remote.pid} (new), both disks back; the guest read them ${(backMs / 1000).toFixed(1)} s after the kill`);
  const newRemotePid = await remoteProcessLine();
  if (newRemotePid !== after.remote.pid) throw new Error(`the live XML names remote pid ${newRemotePid}, /proc has ${after.remote.pid}`);
  await session.mpvirsh(['domstate', 'demo']);

  out.step(8, 'Shut the guest down', "`mpvirsh shutdown` presses the ACPI power button; the guest powers off, the daemon stops\nboth processes.");
  await guestLine(/^E2E-ACPI-WAIT/, 'the guest to listen for the power button');
  const stopFrom = events.items.length;
  await session.mpvirsh(['shutdown', 'demo']);
  await guestLine(/^E2E-ACPI-POWER$/, 'the guest to see the power button');
  await eventSeen((e) => e.kind === 'lifecycle' && e.event === 'stopped', 'the stopped event', stopFrom);
  await consoleDone;
  await session.mpvirsh(['domstate', 'demo']);

  out.step(9, 'Check on the host what the guest wrote, and clean up', "The guest's writes went through two different remote processes; both are on the images.");
  const wrote = sectorLine(g.dataImg, ANSWER_SECTOR);
  const wroteAfter = sectorLine(g.extraImg, ANSWER_SECTOR);
  out.say(`data.img  sector ${ANSWER_SECTOR}: ${wrote}\nextra.img sector ${ANSWER_SECTOR}: ${wroteAfter}`);
  if (wrote !== `E2E-GUEST-WROTE:${g.dataMarker}`) throw new Error(`data.img sector ${ANSWER_SECTOR} holds '${wrote}'`);
  if (wroteAfter !== `E2E-GUEST-WROTE-AFTER-RESTART:${g.extraMarker}`) throw new Error(`extra.img sector ${ANSWER_SECTOR} holds '${wroteAfter}'`);
  // the stopped event comes when the main QEMU is gone; its jail wrappers exit right after
  const qemuLeft = () => processesUnder(session.dir).filter((p) => p.argv.some((a) => a.includes('qemu-system')));
  for (const end = Date.now() + 5000; qemuLeft().length > 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
  const left = qemuLeft();
  if (left.length > 0) throw new Error(`still running 5 s after the shutdown: ${left.map((p) => `${p.pid} (${p.argv.slice(0, 4).join(' ')} …)`).join(', ')}`);
  clearTimeout(watchdog);
  process.stdout.write(`\nDEMO OK: the guest read both disks through its remote SCSI process, before and after that process was killed and restarted, and its writes are on the host's images (demo ${((performance.now() - setUp) / 1000).toFixed(1)} s, after ${((setUp - started) / 1000).toFixed(1)} s of setup).\n`);
}

/** Does this mpvirsh have the command? (`help CMD` exits 1 for an unknown one, as virsh does.) */
function mpvirshHas(command) {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'mpvirsh.js'), 'help', command], { env: session.env(), stdio: 'ignore' });
  return r.status === 0;
}

try {
  await main();
  await finish(0);
} catch (e) {
  await finish(1, e instanceof Error ? e : new Error(String(e)));
}
