// What virt-manager's graphs cost the daemon: CONNECT_GET_ALL_DOMAIN_STATS (python3-libvirt's
// getAllDomainStats, every stats group, as the real client library sends it) once a second, the
// rate virt-manager polls at, against a real mpvirtd process with 1 and with 32 running domains,
// each with its lsilogic disk in a remote QEMU (so block stats come from 32 remote monitors too).
// Measured: the daemon's own CPU time (utime + stime from /proc) over the polling window, and the
// call latency the client sees. Baseline in the same run: the same daemon with the same domains
// over a window of the same length with no client (what the domains cost it anyway).
// Target (issue 14): polled every second with 32 domains, under 5 % of one core.
// Usage: node bench/all-domain-stats.mjs [--domains N] [--seconds S]   (build first; root)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { machine, makeWork, median, root, sleep, lsilogicDomainXml, py } from './lib.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => Number(args[args.indexOf(name) + 1]) || dflt;
const MAX_DOMAINS = arg('--domains', 32);
const SECONDS = arg('--seconds', 20);
const TICK_MS = 10; // clock ticks of 10 ms in /proc/PID/stat

const { work } = makeWork('mpvirt-bench-stats-');
const sock = path.join(work, 'sock');
const uri = `mpqemu+unix:///system?socket=${sock}`;
const daemon = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), path.join(root, 'dist/cli/mpvirtd.js'), '--system', '--socket', sock, '--socket-ro', `${sock}-ro`,
  '--config-dir', path.join(work, 'etc'), '--state-dir', path.join(work, 'run'), '--log-dir', path.join(work, 'log'), '--log-level', 'error', '--timeout', '0'],
{ stdio: ['ignore', 'ignore', 'inherit'] });

const cpuMs = () => {
  const text = fs.readFileSync(`/proc/${daemon.pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // fields 14, 15
};


const DEFINE = `
import sys, libvirt
conn = libvirt.open(sys.argv[1])
for path in sys.argv[2:]:
    conn.defineXML(open(path).read()).create()
`;

const POLL = `
import json, sys, time, libvirt
conn = libvirt.open(sys.argv[1]); seconds = int(sys.argv[2]); lat = []; n = 0
start = time.monotonic()
for i in range(seconds):
    t = time.perf_counter(); recs = conn.getAllDomainStats(0, 0); lat.append((time.perf_counter() - t) * 1e3)
    n = len(recs)
    time.sleep(max(0, start + i + 1 - time.monotonic()))
print(json.dumps({"lat": lat, "domains": n, "params": sum(len(r[1]) for r in recs)}))
`;

async function window(seconds, poll) {
  const c0 = cpuMs();
  const t0 = performance.now();
  const out = poll ? JSON.parse(await py(POLL, uri, String(seconds))) : (await sleep(seconds * 1000), undefined);
  const wall = performance.now() - t0;
  return { pct: ((cpuMs() - c0) / wall) * 100, out };
}

const rows = [];
try {
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(100);
  let defined = 0;
  for (const count of [1, MAX_DOMAINS]) {
    const files = [];
    for (; defined < count; defined++) {
      const img = path.join(work, `d${defined}.img`);
      fs.writeFileSync(img, '');
      fs.truncateSync(img, 16 << 20);
      const f = path.join(work, `d${defined}.xml`);
      fs.writeFileSync(f, lsilogicDomainXml(`stats${defined}`, img));
      files.push(f);
    }
    await py(DEFINE, uri, ...files);
    await sleep(3000); // the starts' own work settles
    const idle = await window(SECONDS, false);
    const polled = await window(SECONDS, true);
    rows.push({ count, idle: idle.pct, polled: polled.pct, lat: polled.out.lat, params: polled.out.params, seen: polled.out.domains });
  }
} finally {
  await py(`
import sys, libvirt
conn = libvirt.open(sys.argv[1])
for d in conn.listAllDomains(0):
    if d.isActive(): d.destroy()
    d.undefine()
`, uri).catch((e) => console.error(String(e)));
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  fs.rmSync(work, { recursive: true, force: true });
}

const f2 = (n) => n.toFixed(2);
console.log(`## All-domain statistics polled like virt-manager (\`bench/all-domain-stats.mjs\`)

Machine: ${machine()}; ${SECONDS} s windows; python3-libvirt \`getAllDomainStats(0, 0)\` (every group) once a second.
Each domain: q35 under TCG, 128 MiB, an lsilogic disk in its own remote QEMU, a user-mode NIC, a balloon.

| running domains | params per reply | call median ms | call max ms | daemon CPU, polled 1/s | baseline: daemon CPU, no client |
|---:|---:|---:|---:|---:|---:|
${rows.map((r) => `| ${r.seen} | ${r.params} | ${f2(median(r.lat))} | ${f2(Math.max(...r.lat))} | ${f2(r.polled)} % | ${f2(r.idle)} % |`).join('\n')}
`);
