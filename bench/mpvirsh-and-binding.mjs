// Issue 15's two benchmarks, on one real mpvirtd (its own process, system mode, temp dirs) with
// 3 defined domains, one running (TCG q35, lsilogic disk in its remote process):
//   1. wall time of `mpvirsh list --all` / `mpvirsh dominfo` against the real `virsh` with the
//      same words, same daemon, interleaved; the floor of a Node process (`node -e 0`) beside it;
//   2. per-call latency of the binding (`import { connect } from 'mpvirt'`, this process) against
//      python3-libvirt (its own process, one connection), same daemon, same calls, one after the
//      other, so they never compete for the daemon.
// Usage: node bench/mpvirsh-and-binding.mjs [--runs N] [--calls N]   (build first)
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { importDist, lsilogicDomainXml, machine, makeWork, median, py, root, runsArg, sleep, stats } from './lib.mjs';

const args = process.argv.slice(2);
const RUNS = runsArg(args, 20);
const CALLS = Number(args[args.indexOf('--calls') + 1]) || 2000;
const { connect } = await importDist('index.js');

const { work } = makeWork('mpvirt-bench-mpvirsh-');
const sock = path.join(work, 'sock');
const uri = `mpqemu+unix:///system?socket=${sock}`;
const env = { PATH: '/usr/bin:/bin', HOME: work, LC_ALL: 'C' };
const MPVIRSH = [process.execPath, path.join(root, 'dist/cli/mpvirsh.js')];

function timed(argv) {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(argv[0], argv.slice(1), { env }, (err, stdout, stderr) => (err ? reject(new Error(`${argv.join(' ')}: ${stderr}`)) : resolve({ ms: performance.now() - t0, stdout }))));
}

const PY = `
import json, sys, time, libvirt
libvirt.registerErrorHandler(lambda c, e: None, None)
conn = libvirt.open(sys.argv[1]); n = int(sys.argv[2])
calls = (("listAllDomains", lambda: conn.listAllDomains(0)), ("lookupByName", lambda: conn.lookupByName("mb-b")),
         ("info (running)", lambda d=conn.lookupByName("mb-a"): d.info()))
out = {}
for label, fn in calls:
    for _ in range(50): fn()
    per = []
    for _ in range(n):
        t = time.perf_counter(); fn(); per.append(time.perf_counter() - t)
    per.sort()
    out[label] = {"mean_us": sum(per) / n * 1e6, "median_us": per[n // 2] * 1e6}
print(json.dumps(out))
`;

/** The binding's side of the same calls, each object freed as a careful caller would. */
function bindingCalls() {
  const c = connect(uri);
  const running = c.lookupDomainByName('mb-a');
  const calls = [
    ['listAllDomains', () => { for (const d of c.listAllDomains()) d.free(); }],
    ['lookupByName', () => c.lookupDomainByName('mb-b').free()],
    ['info (running)', () => running.info()],
  ];
  const out = {};
  for (const [label, fn] of calls) {
    for (let i = 0; i < 50; i++) fn();
    const per = [];
    for (let i = 0; i < CALLS; i++) {
      const t = performance.now();
      fn();
      per.push(performance.now() - t);
    }
    out[label] = { mean_us: (per.reduce((a, b) => a + b, 0) / CALLS) * 1e3, median_us: median(per) * 1e3 };
  }
  running.free();
  c.close();
  return out;
}

const daemon = spawn(process.execPath, [path.join(root, 'dist/cli/mpvirtd.js'), '--system', '--socket', sock, '--socket-ro', `${sock}-ro`,
  '--config-dir', path.join(work, 'etc'), '--state-dir', path.join(work, 'run'), '--log-dir', path.join(work, 'log'), '--log-level', 'error', '--timeout', '0'],
{ stdio: ['ignore', 'ignore', 'inherit'] });
try {
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(100);
  for (const n of ['mb-a', 'mb-b', 'mb-c']) {
    const img = path.join(work, `${n}.img`);
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 16 << 20);
    fs.writeFileSync(path.join(work, `${n}.xml`), lsilogicDomainXml(n, img));
    execFileSync('/usr/bin/virsh', ['-c', uri, 'define', path.join(work, `${n}.xml`)], { env, stdio: 'ignore' });
  }
  execFileSync('/usr/bin/virsh', ['-c', uri, 'start', 'mb-a'], { env, stdio: 'ignore' });

  const cases = [
    { label: '`mpvirsh list --all`', argv: [...MPVIRSH, '-c', uri, 'list', '--all'] },
    { label: '`virsh list --all`', argv: ['/usr/bin/virsh', '-c', uri, 'list', '--all'] },
    { label: '`mpvirsh dominfo mb-a` (running)', argv: [...MPVIRSH, '-c', uri, 'dominfo', 'mb-a'] },
    { label: '`virsh dominfo mb-a` (running)', argv: ['/usr/bin/virsh', '-c', uri, 'dominfo', 'mb-a'] },
    { label: 'floor: `node -e 0`', argv: [process.execPath, '-e', '0'] },
  ];
  const a = (await timed(cases[0].argv)).stdout;
  const b = (await timed(cases[1].argv)).stdout;
  if (a !== b || !/mb-a\s+running/.test(a)) throw new Error(`mpvirsh and virsh disagree:\n${a}\n---\n${b}`);
  for (const c of cases) for (let i = 0; i < 2; i++) await timed(c.argv);
  const times = cases.map(() => []);
  for (let i = 0; i < RUNS; i++) for (const [k, c] of cases.entries()) times[k].push((await timed(c.argv)).ms);

  const python = JSON.parse(await py(PY, uri, String(CALLS)));
  const binding = bindingCalls();

  const f1 = (x) => x.toFixed(1);
  const lines = [];
  lines.push(`Machine: ${machine()}, Node ${process.version}, ${execFileSync('/usr/bin/virsh', ['--version'], { encoding: 'utf8' }).trim()} (virsh and libvirt.so.0), ${new Date().toISOString().slice(0, 10)}.`, '');
  lines.push(`Wall time per invocation, ${RUNS} runs each after 2 warm-ups, cases interleaved (same daemon, 3 domains, 1 running):`, '');
  lines.push('| command | median ms | min | max |', '|---|---:|---:|---:|');
  for (const [k, c] of cases.entries()) {
    const s = stats(times[k]);
    lines.push(`| ${c.label} | ${f1(s.median)} | ${f1(s.min)} | ${f1(s.max)} |`);
  }
  const m = (k) => median(times[k]);
  lines.push('', `mpvirsh / virsh: \`list --all\` ${(m(0) / m(1)).toFixed(2)}×, \`dominfo\` ${(m(2) / m(3)).toFixed(2)}×; ` +
    `mpvirsh over the Node floor: ${f1(m(0) - m(4))} ms and ${f1(m(2) - m(4))} ms.`, '');
  lines.push(`Per call on one open connection, ${CALLS} calls each after 50 warm-ups (binding in this process, python3-libvirt in its own, one after the other):`, '');
  lines.push('| call | binding µs (median) | mean | python3-libvirt µs (median) | mean | binding / python (median) |', '|---|---:|---:|---:|---:|---:|');
  for (const label of Object.keys(binding)) {
    const bi = binding[label];
    const pyv = python[label];
    lines.push(`| \`${label}\` | ${f1(bi.median_us)} | ${f1(bi.mean_us)} | ${f1(pyv.median_us)} | ${f1(pyv.mean_us)} | ${(bi.median_us / pyv.median_us).toFixed(2)}× |`);
  }
  console.log(lines.join('\n'));
} finally {
  try {
    execFileSync('/usr/bin/virsh', ['-c', uri, 'destroy', 'mb-a'], { env, stdio: 'ignore' });
  } catch { /* not running */ }
  daemon.kill('SIGTERM');
  await new Promise((r) => (daemon.exitCode !== null ? r() : daemon.once('exit', r)));
  fs.rmSync(work, { recursive: true, force: true });
}
