/**
 * Shared helpers of the benchmarks (not a benchmark: importing or running it does nothing).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** import a module of the build output, e.g. importDist('emulator/qmp.js') (build first) */
export const importDist = (rel) => import(path.join(root, 'dist', rel));

/** `--runs N` from the command line, or the default */
export const runsArg = (args, dflt) => Number(args[args.indexOf('--runs') + 1]) || dflt;

export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

/** CPU model, core count and kernel of this machine, for the reports */
export const machine = () => `${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, ${os.type()} ${os.release()}`;

/** the recorded QEMU 7.2 capabilities of the test fixtures */
export const readCaps = () => JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/emulator/caps-qemu-7.2.json'), 'utf8'));

/** a temp work dir holding a 64 MiB raw disk.img */
export function makeWork(prefix) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const disk = path.join(work, 'disk.img');
  fs.writeFileSync(disk, '');
  fs.truncateSync(disk, 64 << 20);
  return { work, disk };
}

/** the bench domain: remote rid 8 serving lsilogic 'ua-lsi0' with the disk, TCG q35 */
export const benchXml = (disk, memoryMiB = 256) => `<domain type='qemu'><name>bench</name><memory unit='MiB'>${memoryMiB}</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'><mpq:process rid='8'><mpq:device alias='ua-lsi0'/></mpq:process></mpq:remote></metadata>
<devices><controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
<disk type='file' device='disk'><source file='${disk}'/><target dev='sda' bus='scsi'/></disk></devices></domain>`;

/** Raw QMP: connect (retrying every retryMs until deadline) until the monitor greets, then hang up. */
export async function greet(sockPath, deadline, retryMs = 1) {
  for (;;) {
    try {
      await new Promise((resolve, reject) => {
        const s = net.connect(sockPath);
        s.once('data', () => {
          s.destroy();
          resolve();
        });
        s.once('error', reject);
      });
      return;
    } catch (e) {
      if (now() > deadline) throw e;
      await sleep(retryMs);
    }
  }
}

/** resolves once a child_process child has exited */
export const reaped = (p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)));

const { parseDomainXml: parseXml } = await importDist('index.js');
const { applyDefineDefaults } = await importDist('domainxml/defaults/index.js');
const { buildLaunchPlan: planOf } = await importDist('emulator/launch-plan.js');
const { openPlannedFds } = await importDist('remote/planned-fds.js');

/** The launch plan of a document as define stores it (libvirt's defaults: every device at its address). */
export function definedPlan(xml, caps, paths) {
  return planOf(applyDefineDefaults(parseXml(xml), caps, { newDomain: true }), caps, paths);
}

/**
 * What a bare spawn of a plan's process needs besides its link: the files the daemon opens and
 * the sockets it binds for it, at their child fd numbers. `fdMap` for spawnQemu, `stdio` for
 * node's spawn; `close()` the parent's copies after the spawn.
 */
export function planFds(proc, link, linkFd = 3) {
  const opened = openPlannedFds(proc.files, proc.listeners);
  const fdMap = [{ childFd: linkFd, source: link }, ...opened.entries];
  const stdio = ['ignore', 'ignore', 'ignore'];
  for (const e of fdMap) {
    while (stdio.length <= e.childFd) stdio.push('ignore');
    stdio[e.childFd] = e.source;
  }
  return { fdMap, stdio, close: opened.close };
}

/** A python3-libvirt script (`-c`) with its arguments; resolves to its stdout. */
export const py = (script, ...argv) => new Promise((resolve, reject) =>
  execFile('/usr/bin/python3', ['-c', script, ...argv], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve(stdout))));

/** The daemon benchmarks' domain: q35, 128 MiB, an lsilogic disk (its own remote QEMU), a user NIC, a balloon. */
export const lsilogicDomainXml = (name, disk) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>128</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><controller type='scsi' index='0' model='lsilogic'/>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='scsi'/></disk>
<interface type='user'><model type='virtio'/></interface><memballoon model='virtio'/></devices></domain>`;
