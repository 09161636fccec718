#!/usr/bin/env node
/**
 * Start-up cost of the two-process launch, with the floor measured in the
 * same run:
 *   - remote QEMU: spawn → its QMP monitor answers (greeting + qmp_capabilities)
 *   - main QEMU (with the proxy device, after the remote): spawn → QMP ready
 *   - mpvirt launchPlan() total (plan already built): both processes up and
 *     both monitors negotiated
 *   - baseline "bare": the same two argv spawned with child_process and a
 *     socketpair, timing until the main QEMU's monitor socket accepts a
 *     connection and greets — no supervision, no client library.
 *
 *   npm run build && node bench/emulator-startup.mjs [--runs N] [--json]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { benchXml, definedPlan, greet, importDist, planFds, machine, makeWork, now, readCaps, reaped, runsArg, stats } from './lib.mjs';

const { launchPlan, stopLaunched } = await importDist('remote/launch.js');
const { socketpair, closeFd } = await importDist('emulator/unixfd.js');

const args = process.argv.slice(2);
const runs = runsArg(args, 15);
const asJson = args.includes('--json');
const caps = readCaps();
const { work, disk } = makeWork('mpvirt-bench-');
const xml = benchXml(disk);

async function bare(plan, runDir) {
  fs.mkdirSync(runDir, { recursive: true });
  const t0 = now();
  const [a, b] = socketpair();
  const rio = planFds(plan.remotes[0], a);
  const mio = planFds(plan.main, b);
  const remote = spawn(plan.remotes[0].binary, plan.remotes[0].argv, { stdio: rio.stdio });
  const main = spawn(plan.main.binary, plan.main.argv, { stdio: mio.stdio });
  closeFd(a);
  closeFd(b);
  rio.close();
  mio.close();
  await greet(plan.main.qmpPath, t0 + 10_000, 2);
  const t = now() - t0;
  for (const p of [main, remote]) {
    p.kill('SIGKILL');
    await reaped(p);
  }
  return t;
}

const remoteReady = [];
const mainReady = [];
const total = [];
const bareTotal = [];
for (let i = 0; i < runs + 2; i++) {
  const runDir = path.join(work, `run${i}`);
  const plan = definedPlan(xml, caps, { runDir });
  const t0 = now();
  const l = await launchPlan(plan, runDir, { logFile: path.join(work, 'bench.log') });
  const t1 = now();
  await stopLaunched(l, 1000);
  const tb = await bare(definedPlan(xml, caps, { runDir: path.join(work, `bare${i}`) }), path.join(work, `bare${i}`));
  if (i < 2) continue; // warm-up
  total.push(t1 - t0);
  bareTotal.push(tb);
}

// separate, precise per-process numbers: remote alone, then main after it
const { spawnQemu } = await importDist('emulator/process.js');
const { QmpClient } = await importDist('emulator/qmp.js');
for (let i = 0; i < runs; i++) {
  const runDir = path.join(work, `pp${i}`);
  fs.mkdirSync(runDir, { recursive: true });
  const plan = definedPlan(xml, caps, { runDir });
  const [a, b] = socketpair();
  let t0 = now();
  const rio = planFds(plan.remotes[0], a);
  const r = spawnQemu({ binary: plan.remotes[0].binary, argv: plan.remotes[0].argv, fdMap: rio.fdMap, logFile: path.join(work, 'pp.log') });
  closeFd(a);
  rio.close();
  const rq = await QmpClient.connect(plan.remotes[0].qmpPath);
  remoteReady.push(now() - t0);
  t0 = now();
  const mio = planFds(plan.main, b);
  const m = spawnQemu({ binary: plan.main.binary, argv: plan.main.argv, fdMap: mio.fdMap, logFile: path.join(work, 'pp.log') });
  closeFd(b);
  mio.close();
  const mq = await QmpClient.connect(plan.main.qmpPath);
  mainReady.push(now() - t0);
  mq.close();
  rq.close();
  await m.terminate({ graceMs: 1000 });
  await r.terminate({ graceMs: 1000 });
}
fs.rmSync(work, { recursive: true, force: true });

const result = {
  machine: machine(),
  node: process.version,
  runs,
  remoteSpawnToQmpReadyMs: stats(remoteReady),
  mainSpawnToQmpReadyMs: stats(mainReady),
  launchPlanTotalMs: stats(total),
  bareTwoProcessStartMs: stats(bareTotal),
};
if (asJson) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const f = (s) => `${s.median.toFixed(1)} | ${s.min.toFixed(1)} | ${s.max.toFixed(1)}`;
  console.log(`# Two-process start-up (TCG), ${runs} runs\n\nmachine: ${result.machine}; node ${result.node}\n`);
  console.log('| measurement | median ms | min | max |\n|---|---:|---:|---:|');
  console.log(`| remote QEMU: spawn → QMP ready | ${f(result.remoteSpawnToQmpReadyMs)} |`);
  console.log(`| main QEMU (proxy, after the remote): spawn → QMP ready | ${f(result.mainSpawnToQmpReadyMs)} |`);
  console.log(`| mpvirt launchPlan(): both up, both monitors negotiated | ${f(result.launchPlanTotalMs)} |`);
  console.log(`| baseline: bare spawn of both, until the main monitor greets | ${f(result.bareTwoProcessStartMs)} |`);
}
