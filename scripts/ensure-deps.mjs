// Installs what the project needs on a fresh Debian 12 machine: Debian
// packages through apt (only when root; otherwise says what is missing), then
// npm dependencies (npm ci when node_modules is absent or older than the lock),
// then builds dist/. Used by `npm test` and `npm run demo`; no shell involved.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian packages and why each is needed. */
export const DEBIAN_PACKAGES = {
  'qemu-system-x86': 'QEMU 7.2 with -machine x-remote and x-pci-proxy-dev',
  'qemu-utils': 'qemu-img, to create disk images',
  libvirt0: "libvirt's C library and its RelaxNG schemas (/usr/share/libvirt/schemas)",
  'libvirt-clients': 'the real virsh and virt-xml-validate',
  'libxml2-utils': 'xmllint, the reference for schema error output',
  'python3-libvirt': 'python3-libvirt, a real libvirt client for the wire-protocol tests',
  'busybox-static': 'the demo/test guest\'s userland (test/fixtures/guest)',
  cpio: 'packs the demo/test guest\'s initramfs',
  'xz-utils': 'unpacks the guest kernel',
  'golang-go': "builds the go-libvirt test client (test/rpc/go)",
  'golang-github-digitalocean-go-libvirt-dev': 'go-libvirt, a pure-Go wire-protocol client (Terraform\'s provider is built on it)',
  'libvirt-daemon-system': "libvirt's own daemon, started privately by tests as the reference (../shared/tools/private-libvirtd.sh)",
  'dnsmasq-base': "needed by libvirt's own daemon",
  virtinst: 'virt-install, whose --print-xml documents the define-time tests use',
  ansible: "ansible with community.libvirt, for the playbook tests (docs/examples)",
  'openssh-server': 'sshd, run privately on 127.0.0.1 by the two-host ansible test (virt-ssh-helper over qemu+ssh)',
  'virt-manager': 'virt-manager 4.1 (with its gtk-vnc and VTE bindings), run by the drop-in test under Xvfb',
  xvfb: "the X server virt-manager's test runs on",
  xdotool: "clicks in virt-manager's windows (XTEST) and raises them, for its test",
  imagemagick: "takes and compares the virt-manager test's screenshots (import, convert, compare)",
  'python3-pyatspi': "reads virt-manager's windows through the accessibility tree (test/daemon/virt-manager-at-spi.py)",
  'at-spi2-core': 'the accessibility bus those reads go through',
  'dbus-bin': "dbus-run-session, virt-manager's private D-Bus session in its test",
};

function missingPackages() {
  const missing = [];
  for (const pkg of Object.keys(DEBIAN_PACKAGES)) {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout.includes('install ok installed')) missing.push(pkg);
  }
  return missing;
}

function log(msg) {
  process.stderr.write(`[mpvirt setup] ${msg}\n`);
}

export function ensureDebianPackages() {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    log(`missing Debian packages: ${missing.join(' ')} (not root: install them with apt-get)`);
    for (const p of missing) log(`  ${p}: ${DEBIAN_PACKAGES[p]}`);
    return;
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  });
}

export function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing npm dependencies (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

export function build() {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export function ensureAll() {
  ensureDebianPackages();
  ensureNodeModules();
  build();
}
