#!/usr/bin/env node
/**
 * Driver start and destroy latency against the bare two-process floor,
 * measured in the same run on the same domain:
 *   - driver.start(): caps (cached), plan, remote spawn + monitor, main spawn +
 *     monitor, status file, `cont` — until the domain is `running (booted)`
 *   - driver.destroy(): until both processes are gone and cleanup is done
 *   - floor, contract order (interfaces.md §5): bare spawn of the remote, wait
 *     until its monitor answers qmp_capabilities, bare spawn of the main QEMU,
 *     wait until its monitor answers qmp_capabilities and `cont` — the least
 *     any manager must do for a running guest (raw sockets, no client library,
 *     no supervision, no state). A monitor's greeting alone is not readiness:
 *     the main QEMU greets ~10 ms before it can execute a command.
 *   - floor, parallel: both spawned at once, until the main monitor greets
 *   - bare kill: SIGTERM both, until both are reaped
 *   - the same driver.start() with jails off (jailIds: null), to see what the per-process
 *     credentials cost (docs/security.md)
 *
 *   npm run build && node bench/driver-start-destroy.mjs [--runs N] [--json]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { benchXml, definedPlan, greet, importDist, planFds, machine, makeWork, now, reaped, runsArg, stats } from './lib.mjs';

const { QemuDriver } = await importDist('driver/driver.js');
const { socketpair, closeFd } = await importDist('emulator/unixfd.js');
const args = process.argv.slice(2);
const runs = runsArg(args, 20);
const asJson = args.includes('--json');
const { work, disk } = makeWork('mpvirt-bench-drv-');
const xml = benchXml(disk);

/** Raw QMP: connect (retrying), read the greeting, run the commands, return the open socket. */
async function rawQmp(sockPath, deadline, commands) {
  for (;;) {
    try {
      return await new Promise((resolve, reject) => {
        const s = net.connect(sockPath);
        let buf = '';
        let left = commands.length + 1; // greeting + one reply per command
        s.once('error', reject);
        s.on('data', (d) => {
          buf += d;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.includes('"event"')) continue;
            const sent = commands.length + 1 - left;
            left--;
            if (left === 0) return resolve(s);
            s.write(`{"execute":"${commands[sent]}"}\n`);
          }
        });
      });
    } catch (e) {
      if (now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

const driver = new QemuDriver({
  configDir: path.join(work, 'etc'), stateDir: path.join(work, 'run'), logDir: path.join(work, 'log'), capsCacheDir: path.join(work, 'caps'),
});
await driver.init();
const dom = await driver.defineXML(xml);
const unjailed = new QemuDriver({
  configDir: path.join(work, 'etc2'), stateDir: path.join(work, 'run2'), logDir: path.join(work, 'log2'), capsCacheDir: path.join(work, 'caps'), jailIds: null,
});
await unjailed.init();
const dom2 = await unjailed.defineXML(xml);
const caps = await driver.caps.get('/usr/bin/qemu-system-x86_64');

const start = [], startNoJail = [], destroy = [], floorSerial = [], floorParallel = [], bareKill = [];
for (let i = 0; i < runs + 2; i++) {
  const ts = now();
  await driver.start(dom);
  const t1 = now();
  const startMs = t1 - ts;
  await driver.destroy(dom);
  const t2 = now();
  const tj = now();
  await unjailed.start(dom2);
  const noJailMs = now() - tj;
  await unjailed.destroy(dom2);

  const runDir = path.join(work, `bare${i}`);
  fs.mkdirSync(runDir, { recursive: true });
  const plan = definedPlan(xml, caps, { runDir });
  let [a, b] = socketpair();
  const t0 = now();
  let io = planFds(plan.remotes[0], a);
  const r = spawn(plan.remotes[0].binary, plan.remotes[0].argv, { stdio: io.stdio });
  closeFd(a);
  io.close();
  const rs = await rawQmp(plan.remotes[0].qmpPath, t0 + 10_000, ['qmp_capabilities']);
  io = planFds(plan.main, b);
  const m = spawn(plan.main.binary, plan.main.argv, { stdio: io.stdio });
  closeFd(b);
  io.close();
  const ms = await rawQmp(plan.main.qmpPath, t0 + 10_000, ['qmp_capabilities', 'cont']);
  const t3 = now();
  rs.destroy();
  ms.destroy();
  m.kill('SIGTERM');
  r.kill('SIGTERM');
  await Promise.all([reaped(m), reaped(r)]);
  const t4 = now();

  const runDir2 = path.join(work, `par${i}`);
  fs.mkdirSync(runDir2, { recursive: true });
  const plan2 = definedPlan(xml, caps, { runDir: runDir2 });
  [a, b] = socketpair();
  const t5 = now();
  const io1 = planFds(plan2.remotes[0], a);
  const io2 = planFds(plan2.main, b);
  const r2 = spawn(plan2.remotes[0].binary, plan2.remotes[0].argv, { stdio: io1.stdio });
  const m2 = spawn(plan2.main.binary, plan2.main.argv, { stdio: io2.stdio });
  closeFd(a);
  closeFd(b);
  io1.close();
  io2.close();
  await greet(plan2.main.qmpPath, t5 + 10_000);
  const t6 = now();
  m2.kill('SIGKILL');
  r2.kill('SIGKILL');
  await Promise.all([reaped(m2), reaped(r2)]);
  if (i < 2) continue; // warm-up
  start.push(startMs);
  startNoJail.push(noJailMs);
  destroy.push(t2 - t1);
  floorSerial.push(t3 - t0);
  floorParallel.push(t6 - t5);
  bareKill.push(t4 - t3);
}
await driver.detach();
await unjailed.detach();
fs.rmSync(work, { recursive: true, force: true });

const result = {
  machine: machine(),
  node: process.version,
  runs,
  driverStartMs: stats(start),
  driverStartNoJailMs: stats(startNoJail),
  floorContractOrderMs: stats(floorSerial),
  floorParallelMs: stats(floorParallel),
  driverDestroyMs: stats(destroy),
  bareKillMs: stats(bareKill),
};
if (asJson) console.log(JSON.stringify(result, null, 2));
else {
  const f = (s) => `${s.median.toFixed(1)} | ${s.min.toFixed(1)} | ${s.max.toFixed(1)}`;
  console.log(`# Driver start/destroy vs the bare floor (TCG), ${runs} runs\n\nmachine: ${result.machine}; node ${result.node}\n`);
  console.log('| measurement | median ms | min | max |\n|---|---:|---:|---:|');
  console.log(`| driver.start() until running (booted), jailed | ${f(result.driverStartMs)} |`);
  console.log(`| the same start, jails off (processes run as the daemon) | ${f(result.driverStartNoJailMs)} |`);
  console.log(`| floor, contract order: remote QMP ready, then main QMP ready + cont | ${f(result.floorContractOrderMs)} |`);
  console.log(`| reference: both spawned at once, until the main monitor greets | ${f(result.floorParallelMs)} |`);
  console.log(`| driver.destroy() until cleaned up | ${f(result.driverDestroyMs)} |`);
  console.log(`| bare SIGTERM of both until reaped | ${f(result.bareKillMs)} |`);
  console.log(`\nstart / contract-order floor: ${(result.driverStartMs.median / result.floorContractOrderMs.median).toFixed(2)}×`);
  console.log(`jail cost per process (2 processes): ${((result.driverStartMs.median - result.driverStartNoJailMs.median) / 2).toFixed(1)} ms`);
}
