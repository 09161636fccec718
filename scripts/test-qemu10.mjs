// `npm run test:qemu10`: the suite's host-level QEMU tests against bookworm-backports' QEMU
// 10.0.2, next to Debian 12's 7.2 without replacing it (../shared/notes/qemu-versions.md):
//   1. the packages are downloaded (apt-get download, as root; a bookworm-backports sources entry
//      is added first when the machine has none, copied from its own Debian entry) and extracted
//      into .cache/qemu10/root — nothing is installed;
//   2. vitest runs in a private mount namespace where the extracted binary, its modules and its
//      data are bind-mounted over /usr/bin/qemu-system-x86_64, /usr/lib/x86_64-linux-gnu/qemu and
//      /usr/share/qemu (10.0.2 refuses 7.2's modules; QEMU_MODULE_DIR does not help), so every
//      test, daemon and probe in it sees 10.0.2;
//   3. the last line is `N passed, N failed`, as `npm test` ends.
// Which tests, and why (docs/qemu-versions.md): KVM cannot boot a Linux guest on these machines
// and 10.0.2's main QEMU crashes under TCG as soon as it has a proxy, so what runs is the host
// level: processes, monitors, probing, and the driver's start (a KVM domain with its remote, the
// refusal under TCG). `node scripts/test-qemu10.mjs FILE...` runs other files instead.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAll, root } from './ensure-deps.mjs';

const VERSION = '1:10.0.2+ds-2+deb13u1~bpo12+1';
const PACKAGES = ['qemu-system-x86', 'qemu-system-common', 'qemu-system-data'];
const cache = join(root, '.cache', 'qemu10');
const extracted = join(cache, 'root');
const binary = join(extracted, 'usr/bin/qemu-system-x86_64');

const QEMU10_TESTS = [
  // processes and monitors
  'test/emulator/qmp-client-talks-to-real-qemu.test.ts',
  'test/emulator/qmp-client-adopts-an-inherited-socketpair.test.ts',
  'test/emulator/qmp-client-reports-qemu-death.test.ts',
  'test/emulator/qmp-command-times-out-on-a-frozen-qemu.test.ts',
  'test/emulator/qmp-passes-fds-with-scm-rights.test.ts',
  'test/emulator/terminate-escalates-to-sigkill-and-reaps.test.ts',
  'test/emulator/start-time-and-session-come-from-proc-stat.test.ts',
  'test/emulator/unref-child-outlives-an-exiting-parent.test.ts',
  // the capability probe on a real binary
  'test/emulator/capabilities-probe-real-qemu.test.ts',
  // the driver's start: a KVM domain with its remote answering query-block; the refusal under TCG
  'test/emulator/tcg-start-with-a-remote-is-refused-from-qemu-8.2-and-kvm-starts.test.ts',
];

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });

/** Some apt sources entry already names bookworm-backports. */
function hasBackportsSource() {
  const files = ['/etc/apt/sources.list', ...readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f))];
  return files.some((f) => (f.endsWith('.list') || f.endsWith('.sources')) && existsSync(f) && /bookworm-backports/.test(readFileSync(f, 'utf8')));
}

/** A deb822 entry for bookworm-backports with the URIs and Signed-By of the machine's own bookworm entry. */
function addBackportsSource() {
  const own = '/etc/apt/sources.list.d/debian.sources';
  const entry = existsSync(own) ? readFileSync(own, 'utf8').split(/\n\s*\n/).find((e) => /^Suites:.*\bbookworm\b/m.test(e) && /^Types:.*\bdeb\b/m.test(e)) : undefined;
  const field = (name, dflt) => (entry ? new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(entry)?.[1]?.trim() : undefined) ?? dflt;
  const text = `Types: deb\nURIs: ${field('URIs', 'http://deb.debian.org/debian')}\nSuites: bookworm-backports\nComponents: main\n` +
    `Signed-By: ${field('Signed-By', '/usr/share/keyrings/debian-archive-keyring.gpg')}\n`;
  writeFileSync('/etc/apt/sources.list.d/bookworm-backports.sources', text);
  console.log('added /etc/apt/sources.list.d/bookworm-backports.sources');
}

function fetchAndExtract() {
  if (existsSync(binary)) return;
  if (process.getuid?.() !== 0) throw new Error(`QEMU 10.0.2 is not in ${extracted} yet: run this once as root (it downloads and extracts the packages)`);
  const debs = join(cache, 'debs');
  mkdirSync(debs, { recursive: true });
  if (!hasBackportsSource()) addBackportsSource();
  sh('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  sh('apt-get', ['download', '-q', ...PACKAGES.map((p) => `${p}=${VERSION}`)], { cwd: debs, stdio: 'inherit' });
  rmSync(extracted, { recursive: true, force: true });
  mkdirSync(extracted, { recursive: true });
  for (const f of readdirSync(debs).filter((n) => n.endsWith('.deb'))) sh('dpkg-deb', ['-x', join(debs, f), extracted]);
}

/** argv that runs `argv` in a private mount namespace where 10.0.2 is the system's QEMU. */
function inQemu10(argv) {
  const binds = [
    [binary, '/usr/bin/qemu-system-x86_64'],
    [join(extracted, 'usr/lib/x86_64-linux-gnu/qemu'), '/usr/lib/x86_64-linux-gnu/qemu'],
    [join(extracted, 'usr/share/qemu'), '/usr/share/qemu'],
  ];
  const script = `${binds.map(([from, to]) => `mount --bind '${from}' '${to}'`).join(' && ')} && exec "$@"`;
  return ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv]];
}

if (process.getuid?.() !== 0) {
  console.error('test:qemu10 runs as root (a mount namespace and bind mounts)');
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exit(1);
}
ensureAll();
fetchAndExtract();
const [cmd, base] = inQemu10([]);
const version = sh(cmd, [...base, '/usr/bin/qemu-system-x86_64', '--version']).split('\n')[0];
if (!/version 10\.0\.2/.test(version)) throw new Error(`the namespace does not run QEMU 10.0.2: ${version}`);
console.log(`in the namespace: ${version}`);

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : QEMU10_TESTS;
const report = join(root, 'test-results', 'vitest-qemu10.json');
mkdirSync(join(root, 'test-results'), { recursive: true });
rmSync(report, { force: true });
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const [c2, a2] = inQemu10([process.execPath, vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...files]);
const run = spawnSync(c2, a2, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });

let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
  for (const s of r.testResults ?? []) if (s.status === 'failed' && (s.assertionResults ?? []).length === 0) failed++;
} else {
  failed = 1;
}
const ok = run.status === 0 && failed === 0 && passed > 0;
if (!ok && failed === 0) failed = 1;
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(ok ? 0 : 1);
