// The libvirt wire protocol as users meet it: wall time of real virsh
// invocations against mpvirt's RPC server, and python3-libvirt API calls on
// one open connection. Baseline in the same run: libvirt's in-process test
// driver (`test:///default`), the floor of a virsh invocation and of a
// python call (no socket, no daemon).
//
// Setup: a QemuDriver and startRpcServer in this process (the daemon's own
// composition), on a temp socket, with 3 defined domains, one running.
// Usage: node bench/rpc-virsh-and-python.mjs [--runs N] [--calls N]
// (build first: npx tsc -p tsconfig.build.json)
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, dflt) => Number(args[args.indexOf(name) + 1]) || dflt;
const RUNS = arg('--runs', 20);
const CALLS = arg('--calls', 2000);
const VIRSH = '/usr/bin/virsh';
const PYTHON = '/usr/bin/python3';

const { QemuDriver } = await import(path.join(root, 'dist/driver/driver.js'));
const { startRpcServer } = await import(path.join(root, 'dist/rpc/server.js'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const f1 = (n) => n.toFixed(1);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mpvirt-bench-rpc-'));
const socket = path.join(work, 'sock');
const uri = `mpqemu+unix:///system?socket=${socket}`;
const env = { PATH: '/usr/bin:/bin', HOME: work, LC_ALL: 'C' };

const xml = (name, disk) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'><mpq:process rid='8'><mpq:device alias='ua-lsi0'/></mpq:process></mpq:remote></metadata>
<devices><controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='scsi'/></disk></devices></domain>`;

function virsh(argv, u = uri) {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(VIRSH, ['-c', u, ...argv], { env }, (err, stdout, stderr) => {
      const ms = performance.now() - t0;
      if (err) reject(new Error(`virsh ${argv.join(' ')}: ${stderr}`));
      else resolve({ ms, stdout });
    }));
}

const PY = `
import json, sys, time, libvirt
libvirt.registerErrorHandler(lambda c, e: None, None)
def run(u, name, n):
    t0 = time.perf_counter(); conn = libvirt.open(u); open_ms = (time.perf_counter() - t0) * 1e3
    out = {"open_ms": open_ms}
    for label, fn in (("listAllDomains", lambda: conn.listAllDomains(0)), ("lookupByName", lambda: conn.lookupByName(name))):
        for _ in range(50): fn()
        per = []
        t0 = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter(); fn(); per.append(time.perf_counter() - t)
        total = time.perf_counter() - t0
        per.sort()
        out[label] = {"mean_us": total / n * 1e6, "median_us": per[n // 2] * 1e6, "n": len(conn.listAllDomains(0)) if label == "listAllDomains" else 1}
    conn.close()
    return out
n = int(sys.argv[3])
print(json.dumps({"mpvirt": run(sys.argv[1], sys.argv[2], n), "test": run("test:///default", "test", n)}))
`;

let driver;
let server;
let running;
try {
  driver = new QemuDriver({
    configDir: path.join(work, 'etc'), stateDir: path.join(work, 'run'), logDir: path.join(work, 'log'),
    capsCacheDir: path.join(work, 'cache'), log: silent,
  });
  await driver.init();
  server = await startRpcServer({ driver, socketPath: socket, log: silent });
  const names = ['bench-a', 'bench-b', 'bench-c'];
  for (const n of names) {
    const disk = path.join(work, `${n}.img`);
    fs.writeFileSync(disk, '');
    fs.truncateSync(disk, 64 << 20);
    await driver.defineXML(xml(n, disk));
  }
  running = driver.lookupByName('bench-a');
  await driver.start(running);

  const cases = [
    { label: 'mpvirt: `virsh list --all`', run: () => virsh(['list', '--all']) },
    { label: 'mpvirt: `virsh dominfo bench-a` (running)', run: () => virsh(['dominfo', 'bench-a']) },
    { label: 'baseline: `virsh -c test:///default list --all`', run: () => virsh(['list', '--all'], 'test:///default') },
    { label: 'baseline: `virsh -c test:///default dominfo test`', run: () => virsh(['dominfo', 'test'], 'test:///default') },
  ];
  const sanity = (await cases[0].run()).stdout;
  if (!/bench-a\s+running/.test(sanity) || !/bench-c\s+shut off/.test(sanity)) throw new Error(`unexpected list:\n${sanity}`);
  for (const c of cases) for (let i = 0; i < 2; i++) await c.run(); // warm-up
  const times = cases.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    // interleaved, so drift in the machine's load hits every case alike
    for (const [k, c] of cases.entries()) times[k].push((await c.run()).ms);
  }

  // asynchronously: the server answering python runs in this very event loop
  const py = JSON.parse(await new Promise((resolve, reject) =>
    execFile(PYTHON, ['-c', PY, uri, 'bench-b', String(CALLS)], { env, timeout: 300_000 }, (err, stdout, stderr) =>
      (err ? reject(new Error(`python: ${stderr || err.message}`)) : resolve(stdout)))));

  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const qemu = await driver.caps.get(driver.defaultEmulator);
  const lines = [];
  lines.push(`Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, ` +
    `Node ${process.version}, libvirt-clients ${execFileSync(VIRSH, ['--version'], { encoding: 'utf8' }).trim()}, ` +
    `QEMU ${qemu.version.major}.${qemu.version.minor}.${qemu.version.micro}, ${new Date().toISOString().slice(0, 10)}.`);
  lines.push('');
  lines.push(`virsh wall time per invocation, ${RUNS} runs each after 2 warm-ups, cases interleaved:`);
  lines.push('');
  lines.push('| command | median ms | min | max |');
  lines.push('|---|---:|---:|---:|');
  for (const [k, c] of cases.entries()) {
    const s = stats(times[k]);
    lines.push(`| ${c.label} | ${f1(s.median)} | ${f1(s.min)} | ${f1(s.max)} |`);
  }
  lines.push('');
  lines.push(`python3-libvirt on one open connection, ${CALLS} calls each after 50 warm-ups (3 domains vs the test driver's 1):`);
  lines.push('');
  lines.push('| call | mpvirt µs/call (mean) | median | baseline test:///default mean | median |');
  lines.push('|---|---:|---:|---:|---:|');
  for (const k of ['listAllDomains', 'lookupByName']) {
    const m = py.mpvirt[k];
    const t = py.test[k];
    lines.push(`| \`${k}\` | ${f1(m.mean_us)} | ${f1(m.median_us)} | ${f1(t.mean_us)} | ${f1(t.median_us)} |`);
  }
  lines.push(`| \`libvirt.open\` (ms, once) | ${py.mpvirt.open_ms.toFixed(2)} ms | | ${py.test.open_ms.toFixed(2)} ms | |`);
  const list = stats(times[0]).median;
  const info = stats(times[1]).median;
  const floor = stats(times[2]).median;
  lines.push('');
  lines.push(`Over the in-process floor of this run: \`list --all\` +${f1(list - floor)} ms (${(list / floor).toFixed(2)}×), ` +
    `\`dominfo\` +${f1(info - stats(times[3]).median)} ms over the test driver's dominfo.`);
  lines.push('');
  lines.push('Reference from another series (virsh-compat.md §8: libvirt 9.0\'s own libvirtd, `qemu:///system`, on a 2-vCPU AMD EPYC ' +
    'host; not measured here, compare only ratios to each series\' own baseline): `virsh list --all` 19.8 ms, `virsh dominfo` 26.5 ms, ' +
    'baseline `test:///default list --all` 18.4 ms; python `listAllDomains` 91 µs, `lookupByName` 88 µs (medians, 1 domain).');
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  if (running?.active) await driver.destroy(running).catch(() => {});
  await server?.close();
  await driver?.detach();
  fs.rmSync(work, { recursive: true, force: true });
}
