// What running domains cost an idle daemon (issue 16 item 2): a real mpvirtd (system mode, as
// root) with N domains started paused through python3-libvirt, each with its lsilogic disk in a
// remote QEMU, and no client; measured: the CPU time (utime + stime from /proc) of the daemon,
// and of the log keeper (mpvirt-logd) where there is one, over a window after the starts settled.
// Same run, same machine, three daemons one after the other:
//   - baseline: the build of another tree (default: HEAD, exported with `git archive` and built
//     in a temp dir; or --baseline DIR, a built checkout), i.e. the code before this change;
//   - this tree's build, and the same with the heartbeat at the old default of 1 s;
//   - this tree's build with the remote heartbeat made rare (remote_heartbeat_ms = 3600000), which
//     shows what the heartbeat itself costs.
// Target (issue 16): ≤ 0.5 % of one core with 64 running domains.
// Usage: node bench/idle-daemon.mjs [--domains N] [--seconds S] [--baseline DIR]   (build first; root)
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machine, makeWork, root, sleep, lsilogicDomainXml, py } from './lib.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const DOMAINS = Number(arg('--domains', 64));
const SECONDS = Number(arg('--seconds', 30));
const TICK_MS = 10; // clock ticks of 10 ms in /proc/PID/stat

const cpuMs = (pid) => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // fields 14, 15
  } catch {
    return 0;
  }
};
const rssMiB = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return 0;
  }
};

/** the keeper serving a state directory: the process whose argv names its socket */
function keeperPid(stateDir) {
  const want = path.join(stateDir, '.logd.sock');
  for (const p of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      // the keeper's title (it rewrites its argv): `mpvirt-logd SOCKET`
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0+$/, '') === `mpvirt-logd ${want}`) return Number(p);
    } catch {
      /* gone */
    }
  }
  return undefined;
}


const START_PAUSED = `
import sys, libvirt
conn = libvirt.open(sys.argv[1])
for path in sys.argv[2:]:
    conn.defineXML(open(path).read()).createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
print(sum(1 for d in conn.listAllDomains(0) if d.isActive()))
`;
const TEARDOWN = `
import sys, libvirt
conn = libvirt.open(sys.argv[1])
for d in conn.listAllDomains(0):
    if d.isActive(): d.destroy()
    d.undefine()
`;

/** The baseline tree: HEAD exported and built in a temp dir (node_modules linked from here). */
function buildBaseline() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpvirt-bench-base-'));
  execFileSync('/bin/sh', ['-c', `git -C '${root}' archive HEAD | tar -x -C '${dir}'`]);
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.build.json')], { cwd: dir, stdio: 'ignore' });
  } catch {
    // type errors still emit JavaScript; a missing output fails below
  }
  if (!fs.existsSync(path.join(dir, 'dist/cli/mpvirtd.js'))) throw new Error(`building the baseline in ${dir} failed`);
  return { dir, commit: execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function measure(label, tree, conf = '') {
  const { work } = makeWork('mpvirt-bench-idle-');
  const sock = path.join(work, 'sock');
  const uri = `mpqemu+unix:///system?socket=${sock}`;
  const stateDir = path.join(work, 'run');
  const confFile = path.join(work, 'mpvirtd.conf');
  fs.writeFileSync(confFile, conf);
  const daemon = spawn(process.execPath, [path.join(tree, 'dist/cli/mpvirtd.js'), '--system', '--socket', sock, '--socket-ro', `${sock}-ro`, '--config', confFile,
    '--config-dir', path.join(work, 'etc'), '--state-dir', stateDir, '--log-dir', path.join(work, 'log'), '--log-level', 'error', '--timeout', '0'],
  { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(100);
    const files = [];
    for (let i = 0; i < DOMAINS; i++) {
      const img = path.join(work, `d${i}.img`);
      fs.writeFileSync(img, '');
      fs.truncateSync(img, 16 << 20);
      const f = path.join(work, `d${i}.xml`);
      fs.writeFileSync(f, lsilogicDomainXml(`idle${i}`, img));
      files.push(f);
    }
    const running = Number((await py(START_PAUSED, uri, ...files)).trim());
    await sleep(5000); // the starts' own work settles
    const keeper = keeperPid(stateDir);
    const d0 = cpuMs(daemon.pid);
    const k0 = keeper ? cpuMs(keeper) : 0;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const wall = performance.now() - t0;
    const row = {
      label, running,
      daemon: ((cpuMs(daemon.pid) - d0) / wall) * 100,
      keeper: keeper ? ((cpuMs(keeper) - k0) / wall) * 100 : undefined,
      daemonRss: rssMiB(daemon.pid), keeperRss: keeper ? rssMiB(keeper) : undefined,
    };
    await py(TEARDOWN, uri).catch((e) => console.error(String(e)));
    return row;
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon.exitCode !== null ? r() : daemon.once('exit', r)));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const given = arg('--baseline', undefined);
const base = given ? { dir: path.resolve(given), commit: path.resolve(given), cleanup: () => {} } : buildBaseline();
const rows = [];
try {
  rows.push(await measure(`baseline (${base.commit}): log polled every 250 ms per domain, a heartbeat timer per remote`, base.dir));
  rows.push(await measure('this tree: log keeper, one shared heartbeat timer (default 2 s)', root));
  rows.push(await measure('this tree, heartbeat every 1 s (the old default)', root, 'remote_heartbeat_ms = 1000\n'));
  rows.push(await measure('this tree, heartbeat made rare (remote_heartbeat_ms = 3600000)', root, 'remote_heartbeat_ms = 3600000\n'));
} finally {
  base.cleanup();
}

const f2 = (n) => (n === undefined ? '–' : `${n.toFixed(2)} %`);
const mb = (n) => (n === undefined ? '–' : n.toFixed(0));
console.log(`## Idle daemon with running domains (\`bench/idle-daemon.mjs\`)

Machine: ${machine()}; ${DOMAINS} domains started paused (q35 under TCG, 128 MiB, an lsilogic disk in its
own remote QEMU, a user-mode NIC, a balloon), no client; CPU over a ${SECONDS} s window after 5 s of settling.

| daemon | running domains | mpvirtd CPU | mpvirt-logd CPU | mpvirtd RSS MiB | mpvirt-logd RSS MiB |
|---|---:|---:|---:|---:|---:|
${rows.map((r) => `| ${r.label} | ${r.running} | ${f2(r.daemon)} | ${f2(r.keeper)} | ${mb(r.daemonRss)} | ${mb(r.keeperRss)} |`).join('\n')}
`);
