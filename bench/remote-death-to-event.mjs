#!/usr/bin/env node
/**
 * Remote death → supervisor event: launch the two-process domain (remote lsi53c895a + main QEMU,
 * TCG, paused), supervise the remote with RemoteSupervisor, SIGKILL the remote, and time
 * kill() → the 'crashed' transition. Two paths: the remote as our child (SpawnedQemu exit +
 * monitor EOF), and re-adopted as after a daemon restart (pidfd + a fresh monitor connection).
 * Baseline in the same run: kill → the monitor socket's EOF on a bare net.Socket (the floor for
 * any detector that does not poll).
 *
 *   npx tsc -p tsconfig.build.json && node bench/remote-death-to-event.mjs [--runs N]
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { benchXml, definedPlan, importDist, machine, makeWork, readCaps, runsArg, sleep, stats } from './lib.mjs';

const { launchPlan } = await importDist('remote/launch.js');
const { QmpClient } = await importDist('emulator/qmp.js');
const { RemoteSupervisor } = await importDist('remote/supervisor.js');

const args = process.argv.slice(2);
const runs = runsArg(args, 20);
const caps = readCaps();
const { work, disk } = makeWork('mpvirt-bench-death-');
const xml = benchXml(disk, 128);

let n = 0;

async function launch() {
  const runDir = path.join(work, `run${n++}`);
  const plan = definedPlan(xml, caps, { runDir });
  const l = await launchPlan(plan, runDir, { logFile: path.join(work, 'qemu.log') });
  return { l, qmpPath: plan.remotes[0].qmpPath };
}

async function teardown(l) {
  for (const p of [l.main, ...l.remotes]) {
    p.qmp.close();
    p.proc.kill('SIGKILL');
    await p.proc.waitExit(5000);
  }
}

/** one run: kill the remote, return ms from kill to the 'crashed' transition, and who noticed */
async function once(mode) {
  const { l, qmpPath } = await launch();
  const r = l.remotes[0];
  let qmp = r.qmp;
  let sock;
  if (mode === 'adopted') {
    r.qmp.close();
    qmp = await QmpClient.connect(qmpPath);
  }
  if (mode === 'bare') {
    r.qmp.close();
    sock = net.connect(qmpPath);
    await new Promise((res) => sock.once('data', res)); // greeting
  }
  const sv = mode === 'bare' ? undefined : new RemoteSupervisor({
    rid: '8', alias: 'ua-lsi0', pid: r.proc.pid, qmp,
    ...(mode === 'child' ? { proc: r.proc } : { startTime: r.proc.startTime }),
  });
  sv?.begin();
  await sleep(30);
  const done = sv
    ? new Promise((res) => sv.on('transition', (t) => t.to === 'crashed' && res({ at: t.at, by: t.reason })))
    : new Promise((res) => sock.once('end', () => res({ at: performance.now(), by: 'socket EOF' })).once('close', () => res({ at: performance.now(), by: 'socket close' })));
  const t0 = performance.now();
  process.kill(r.proc.pid, 'SIGKILL');
  const { at, by } = await done;
  sv?.dispose();
  sock?.destroy();
  if (qmp !== r.qmp) qmp.close();
  await teardown(l);
  return { ms: at - t0, by };
}

const results = {};
for (const mode of ['child', 'adopted', 'bare']) {
  await once(mode); // warm-up
  const xs = [];
  const by = new Map();
  for (let i = 0; i < runs; i++) {
    const r = await once(mode);
    xs.push(r.ms);
    by.set(r.by, (by.get(r.by) ?? 0) + 1);
  }
  results[mode] = { ...stats(xs), by: [...by].map(([k, v]) => `${k} ×${v}`).join(', ') };
}
fs.rmSync(work, { recursive: true, force: true });

const f = (s) => `${s.median.toFixed(2)} | ${s.min.toFixed(2)} | ${s.max.toFixed(2)} | ${s.by}`;
console.log(`# Remote SIGKILL → 'crashed' transition (TCG), ${runs} runs each\n`);
console.log(`machine: ${machine()}; node ${process.version}\n`);
console.log('| path | median ms | min | max | first noticed by |\n|---|---:|---:|---:|---|');
console.log(`| child remote (SpawnedQemu exit + monitor EOF) | ${f(results.child)} |`);
console.log(`| re-adopted remote (pidfd + fresh monitor) | ${f(results.adopted)} |`);
console.log(`| baseline: bare socket EOF on the remote's monitor | ${f(results.bare)} |`);
