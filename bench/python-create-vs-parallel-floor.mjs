#!/usr/bin/env node
/**
 * Start latency as a libvirt user sees it (issue 16 item 1): python3-libvirt `dom.create()` of a
 * defined domain on a real mpvirtd (system mode, as root: jailed QEMUs, the log keeper), against
 * the parallel floor measured in the same run, interleaved run by run:
 *   - floor: the same two argv (the daemon's own plan) spawned bare at once, until the remote's
 *     monitor answers `qmp_capabilities` and the main QEMU's monitor answers `qmp_capabilities`
 *     and `cont` (raw sockets: no client library, no jail, no supervision, no state)
 *   - the contract-order floor too (remote monitor ready first, then the main spawned), for reference
 *   - optionally (--baseline DIR, a built checkout, e.g. the tree before this change) the same
 *     create() on a second daemon built from DIR
 * Target: create() ≤ 1.2× the parallel floor, same run.
 *
 *   npm run build && node bench/python-create-vs-parallel-floor.mjs [--runs N] [--baseline DIR]   (root)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { benchXml, definedPlan, importDist, machine, makeWork, now, planFds, reaped, root, runsArg, sleep, stats } from './lib.mjs';

const { CapsCache } = await importDist('emulator/caps-probe.js');
const { socketpair, closeFd } = await importDist('emulator/unixfd.js');
const args = process.argv.slice(2);
const runs = runsArg(args, 20);
const baseline = args.includes('--baseline') ? path.resolve(args[args.indexOf('--baseline') + 1]) : undefined;
const QEMU = '/usr/bin/qemu-system-x86_64';

/** Raw QMP: connect (retrying every 1 ms), read the greeting, run the commands; resolves with the open socket. */
async function rawQmp(sockPath, deadline, commands) {
  for (;;) {
    try {
      return await new Promise((resolve, reject) => {
        const s = net.connect(sockPath);
        let buf = '';
        let answered = -1; // the greeting, then one reply per command
        s.once('error', reject);
        s.on('data', (d) => {
          buf += d;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.includes('"event"')) continue;
            answered++;
            if (answered === commands.length) return resolve(s);
            s.write(`{"execute":"${commands[answered]}"}\n`);
          }
        });
      });
    } catch (e) {
      if (now() > deadline) throw e;
      await sleep(1);
    }
  }
}

const CREATE_LOOP = `
import sys, time, libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.defineXML(open(sys.argv[2]).read())
for _ in sys.stdin:
    t = time.perf_counter(); dom.create(); c = (time.perf_counter() - t) * 1e3
    if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING: raise SystemExit("not running after create()")
    t = time.perf_counter(); dom.destroy(); d = (time.perf_counter() - t) * 1e3
    print(c, d, flush=True)
dom.undefine()
`;

/** A real mpvirtd from `tree` on its own dirs, and a python3-libvirt process that creates/destroys on request. */
async function startDaemon(tree, label) {
  const { work, disk } = makeWork('mpvirt-bench-pycreate-');
  const sock = path.join(work, 'sock');
  const daemon = spawn(process.execPath, [path.join(tree, 'dist/cli/mpvirtd.js'), '--system', '--socket', sock, '--socket-ro', `${sock}-ro`,
    '--config-dir', path.join(work, 'etc'), '--state-dir', path.join(work, 'run'), '--log-dir', path.join(work, 'log'), '--log-level', 'error', '--timeout', '0'],
  { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(100);
  const xmlFile = path.join(work, 'dom.xml');
  fs.writeFileSync(xmlFile, benchXml(disk));
  const py = spawn('/usr/bin/python3', ['-c', CREATE_LOOP, `mpqemu+unix:///system?socket=${sock}`, xmlFile], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  return {
    label,
    create: [],
    async cycle() {
      py.stdin.write('go\n');
      const { value, done } = await lines.next();
      if (done) throw new Error(`${label}: python ended`);
      const [c] = value.trim().split(' ').map(Number);
      return c;
    },
    async stop() {
      py.stdin.end();
      await reaped(py);
      daemon.kill('SIGTERM');
      await reaped(daemon);
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

/** One bare start of the plan's two processes; `parallel`: both spawned at once. Resolves with ms. */
async function floor(work, caps, i, parallel) {
  const runDir = path.join(work, `${parallel ? 'par' : 'ser'}${i}`);
  fs.mkdirSync(runDir, { recursive: true });
  const plan = definedPlan(benchXml(path.join(work, 'disk.img')), caps, { runDir });
  const [a, b] = socketpair();
  const t0 = now();
  const io1 = planFds(plan.remotes[0], a);
  const r = spawn(plan.remotes[0].binary, plan.remotes[0].argv, { stdio: io1.stdio });
  closeFd(a);
  io1.close();
  let rs;
  if (!parallel) rs = await rawQmp(plan.remotes[0].qmpPath, t0 + 10_000, ['qmp_capabilities']);
  const io2 = planFds(plan.main, b);
  const m = spawn(plan.main.binary, plan.main.argv, { stdio: io2.stdio });
  closeFd(b);
  io2.close();
  const [rs2, ms] = await Promise.all([
    rs ? Promise.resolve(rs) : rawQmp(plan.remotes[0].qmpPath, t0 + 10_000, ['qmp_capabilities']),
    rawQmp(plan.main.qmpPath, t0 + 10_000, ['qmp_capabilities', 'cont']),
  ]);
  const ms0 = now() - t0;
  rs2.destroy();
  ms.destroy();
  m.kill('SIGKILL');
  r.kill('SIGKILL');
  await Promise.all([reaped(m), reaped(r)]);
  fs.rmSync(runDir, { recursive: true, force: true });
  return ms0;
}

if (process.getuid?.() !== 0) throw new Error('run as root: the daemon runs in system mode with jailed QEMUs');
const { work } = makeWork('mpvirt-bench-pyfloor-');
const caps = await new CapsCache(path.join(work, 'caps')).get(QEMU);
const daemons = [await startDaemon(root, 'this tree')];
if (baseline) daemons.push(await startDaemon(baseline, `baseline (${baseline})`));
const par = [];
const ser = [];
try {
  for (let i = 0; i < runs + 2; i++) {
    // interleaved, so drift in the machine's load hits every series alike
    const c = [];
    for (const d of daemons) c.push(await d.cycle());
    const p = await floor(work, caps, i, true);
    const s = await floor(work, caps, i, false);
    if (i < 2) continue; // warm-up
    daemons.forEach((d, k) => d.create.push(c[k]));
    par.push(p);
    ser.push(s);
  }
} finally {
  for (const d of daemons) await d.stop();
  fs.rmSync(work, { recursive: true, force: true });
}

const f = (s) => `${s.median.toFixed(1)} | ${s.min.toFixed(1)} | ${s.max.toFixed(1)}`;
const pf = stats(par);
console.log(`# python3-libvirt create() vs the parallel floor (TCG, QEMU ${caps.version.major}.${caps.version.minor}.${caps.version.micro}), ${runs} runs after 2 warm-ups, interleaved\n`);
console.log(`machine: ${machine()}; node ${process.version}; ${new Date().toISOString()}\n`);
console.log('| measurement | median ms | min | max |\n|---|---:|---:|---:|');
for (const d of daemons) console.log(`| python3-libvirt create() until it returns, mpvirtd: ${d.label} | ${f(stats(d.create))} |`);
console.log(`| floor, parallel: both spawned at once, remote QMP ready, main QMP ready + cont | ${f(pf)} |`);
console.log(`| floor, contract order: remote QMP ready, then main spawned, QMP ready + cont | ${f(stats(ser))} |`);
console.log('');
for (const d of daemons) console.log(`create() / parallel floor, ${d.label}: ${(stats(d.create).median / pf.median).toFixed(2)}× (target ≤ 1.2×)`);
