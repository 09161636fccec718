/**
 * Capability probing: start the binary once with `-machine none`, ask QMP what it has, quit.
 *
 * - Only safe queries (qemu-multiprocess.md §14): the greeting, `query-machines`, `qom-list-types`
 *   (devices, user-creatable objects, accelerators) and `query-command-line-options sandbox`.
 *   NEVER `qom-list-properties` on `x-remote-object`: it segfaults QEMU 7.2.
 * - {@link capsFromReplies} turns those replies into {@link QemuCaps} without any I/O.
 * - {@link CapsCache} is libvirt's capabilities cache: one JSON file per binary, valid while the
 *   binary's size and mtime are unchanged.
 */
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isMpvirtError, MpvirtError } from '../errors.js';
import { hasMultiprocess, type QemuCaps, type QemuMachine } from './caps.js';
import { probeExtraKvm, probeExtraTcg } from './caps-cpu-probe.js';
import { QmpClient, type QmpVersion } from './qmp.js';
import { spawnQemu, type SpawnedQemu } from './process.js';

/** One entry of `qom-list-types`. */
export interface QomTypeInfo { name: string; parent?: string; abstract?: boolean }
/** One entry of `query-machines` (only the fields we read). */
export interface QmpMachineInfo { name: string; alias?: string; 'is-default'?: boolean; 'cpu-max': number; 'default-cpu-type'?: string }
/** One entry of `query-command-line-options`. */
export interface QmpCommandLineOption { option: string; parameters?: unknown[] }

/** The QMP replies a probe collects; `sandbox` is the reply or the error QEMU gave instead. */
export interface CapsReplies {
  version: QmpVersion;
  machines: QmpMachineInfo[];
  /** `qom-list-types {implements: 'device', abstract: false}` */
  devices: QomTypeInfo[];
  /** `qom-list-types {implements: 'user-creatable', abstract: false}` */
  objects: QomTypeInfo[];
  /** `qom-list-types {implements: 'accel', abstract: false}` */
  accels: QomTypeInfo[];
  /** `query-command-line-options {option: 'sandbox'}`; without seccomp QEMU answers `invalid option name: sandbox` */
  sandbox: QmpCommandLineOption[] | Error | null | undefined;
}

export interface ProbeOptions {
  /** deadline for the greeting and for each command, and for QEMU to exit after `quit`; default 10 s */
  timeoutMs?: number;
}

const PROBE_ARGV = [
  '-machine', 'none', '-S', '-nodefaults', '-no-user-config', '-display', 'none',
  '-chardev', 'socket,id=mon0,fd=3', '-mon', 'chardev=mon0,mode=control',
];

const sortedNames = (types: QomTypeInfo[]): string[] =>
  [...new Set(types.filter((t) => !t.abstract).map((t) => t.name))].sort();

/** Pure: the replies of one probe → QemuCaps. */
export function capsFromReplies(binary: string, r: CapsReplies): QemuCaps {
  const { major, minor, micro } = r.version.qemu;
  const machines: QemuMachine[] = r.machines.map((m) => ({
    name: m.name,
    ...(m.alias === undefined ? {} : { alias: m.alias }),
    isDefault: m['is-default'] === true,
    cpuMax: m['cpu-max'],
    ...(m['default-cpu-type'] === undefined ? {} : { defaultCpuType: m['default-cpu-type'] }),
  }));
  machines.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // `tcg-accel` → `tcg`; QEMU 7.2 also lists the base type `accel` itself, which is no accelerator
  const accelerators = sortedNames(r.accels).filter((n) => n.endsWith('-accel')).map((n) => n.slice(0, -'-accel'.length));
  return {
    binary,
    version: { major, minor, micro },
    package: (r.version.package ?? '').trim(),
    machines,
    devices: sortedNames(r.devices),
    objects: sortedNames(r.objects),
    accelerators,
    sandbox: Array.isArray(r.sandbox) && r.sandbox.some((o) => o.option === 'sandbox'),
  };
}

/**
 * Spawns `binary` with `-machine none` and its monitor on an inherited socketpair (fd 3), runs the
 * probe queries, quits, and reaps the process in every case. Throws VIR_ERR_INTERNAL_ERROR
 * `Failed to probe capabilities for <binary>: <reason>[: <stderr tail>]`.
 */
export async function probeQemu(binary: string, opts: ProbeOptions = {}): Promise<QemuCaps> {
  const caps = await probeInTempDir(binary, opts, [], probeMain);
  // libvirt's second probe: a QEMU with KVM for the kvm CPU models and host model; a QEMU that
  // cannot start with KVM here (no /dev/kvm, no access) just leaves the kvm half out
  if (caps.accelerators.includes('kvm') && caps.extra && kvmDeviceUsable()) {
    const kvm = await probeInTempDir(binary, opts, ['-accel', 'kvm'], (_b, qmp) => probeExtraKvm(qmp)).catch(() => undefined);
    if (kvm) {
      caps.extra.cpu.kvm = kvm.cpu;
      if (kvm.hyperv) caps.extra.hyperv = kvm.hyperv;
    }
  }
  return caps;
}

function kvmDeviceUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first probe's queries: what capsFromReplies reads, plus the TCG half of caps-cpu-probe. */
async function probeMain(binary: string, qmp: QmpClient): Promise<QemuCaps> {
  const list = (implementsType: string) =>
    qmp.execute<QomTypeInfo[]>('qom-list-types', { implements: implementsType, abstract: false });
  const [machines, devices, objects, accels, sandbox] = await Promise.all([
    qmp.execute<QmpMachineInfo[]>('query-machines'),
    list('device'),
    list('user-creatable'),
    list('accel'),
    qmp.execute<QmpCommandLineOption[]>('query-command-line-options', { option: 'sandbox' })
      // a command error means "no such option"; a dead monitor is still a failure
      .catch((e: unknown) => { if (isMpvirtError(e) && e.qmp !== undefined) return e; throw e; }),
  ]);
  const caps = capsFromReplies(binary, { version: qmp.greeting.version, machines, devices, objects, accels, sandbox });
  return { ...caps, extra: await probeExtraTcg(qmp) };
}

async function probeInTempDir<T>(binary: string, opts: ProbeOptions, extraArgv: string[], run: (binary: string, qmp: QmpClient) => Promise<T>): Promise<T> {
  // the probe's output goes to a private temporary log, read back for error messages
  const dir = await fsp.mkdtemp(join(tmpdir(), 'mpvirt-probe-')).catch((e: unknown) => {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Failed to probe capabilities for ${binary}: cannot create a temporary log: ${(e as Error).message}`, { domain: 'QEMU', cause: e });
  });
  try {
    return await probeWithLog(binary, join(dir, 'probe.log'), opts, extraArgv, run);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

async function probeWithLog<T>(binary: string, logFile: string, opts: ProbeOptions, extraArgv: string[], run: (binary: string, qmp: QmpClient) => Promise<T>): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const fail = (reason: string, cause: unknown): MpvirtError =>
    new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Failed to probe capabilities for ${binary}: ${reason}`, { domain: 'QEMU', cause });
  let q: SpawnedQemu;
  try {
    q = spawnQemu({ binary, argv: [...PROBE_ARGV, ...extraArgv], fdMap: [{ childFd: 3, source: 'socketpair' }], logFile });
  } catch (e) {
    throw fail(isMpvirtError(e) ? e.detail : (e as Error).message, e);
  }
  let qmp: QmpClient | undefined;
  try {
    // same tick as the spawn: no monitor byte can be read before the client listens
    qmp = await QmpClient.fromSocket(q.takeSocket(3), { timeoutMs, commandTimeoutMs: timeoutMs });
    const caps = await run(binary, qmp);
    // QEMU may close the monitor before its reply to `quit` is read: EOF is success here
    await qmp.execute('quit').catch(() => undefined);
    qmp.close();
    if ((await q.waitExit(timeoutMs)) === undefined) await q.terminate({ graceMs: 1000 });
    return caps;
  } catch (e) {
    const monitorAlive = qmp !== undefined && !qmp.closed;
    qmp?.close();
    // a QEMU that failed on its own is (nearly) gone by now; its exit status tells how it failed
    const own = await q.waitExit(monitorAlive ? 0 : 250);
    await q.terminate({ graceMs: 1000 }).catch(() => undefined);
    let reason = isMpvirtError(e) ? e.detail : (e as Error).message;
    if (own?.signal) reason += ` (QEMU killed by ${own.signal})`;
    else if (own && own.code !== 0) reason += ` (QEMU exited with status ${own.code})`;
    const tail = q.stderrTail().trim();
    throw fail(tail ? `${reason}: ${tail}` : reason, e);
  }
}

/** Throws VIR_ERR_CONFIG_UNSUPPORTED unless the binary can run multi-process QEMU. */
export function assertMultiprocess(caps: QemuCaps): void {
  if (!hasMultiprocess(caps)) {
    throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `${caps.binary} has no multi-process support (needs -machine x-remote)`, { domain: 'QEMU' });
  }
}

/**
 * The cache file format: an entry of another format (or none, format 1) is probed again.
 * 2: CPU models, host-model expansions, commands and TPM types (caps-cpu.ts).
 */
export const CAPS_FORMAT = 2;

/** What a cache entry is valid for: the binary's resolved path, size and mtime. */
export interface CapsCacheKey { path: string; size: number; mtimeMs: number }

/**
 * libvirt's capabilities cache: `<dir>/<sha256 of the resolved path>.json` holds `{ key, caps }`.
 * A hit needs the same path, size and mtime; anything else (changed binary, unreadable or corrupt
 * file) re-probes and rewrites the file atomically. Concurrent `get`s of one binary share a probe.
 * Like libvirt, a wrapper script is keyed by the script, not by the binary it runs.
 */
export class CapsCache {
  #probes = 0;
  readonly #inflight = new Map<string, Promise<QemuCaps>>();

  constructor(readonly dir: string, private readonly opts: ProbeOptions = {}) {}

  /** real probes this instance ran (cache misses) */
  get probes(): number { return this.#probes; }

  get(binary: string): Promise<QemuCaps> {
    let p = this.#inflight.get(binary);
    if (!p) {
      p = this.#load(binary).finally(() => this.#inflight.delete(binary));
      this.#inflight.set(binary, p);
    }
    return p;
  }

  /** the cache file for a resolved binary path */
  fileFor(path: string): string {
    return join(this.dir, `${createHash('sha256').update(path).digest('hex')}.json`);
  }

  async #load(binary: string): Promise<QemuCaps> {
    const key = await cacheKey(binary);
    const file = this.fileFor(key.path);
    const cached = await readEntry(file);
    if (cached && cached.format === CAPS_FORMAT && sameKey(cached.key, key)) return { ...cached.caps, binary };
    this.#probes++;
    const caps = await probeQemu(binary, this.opts);
    await writeAtomically(file, JSON.stringify({ format: CAPS_FORMAT, key, caps }, null, 1) + '\n');
    return caps;
  }
}

async function cacheKey(binary: string): Promise<CapsCacheKey> {
  const path = await fsp.realpath(binary).catch(() => binary);
  try {
    const st = await fsp.stat(path);
    return { path, size: st.size, mtimeMs: st.mtimeMs };
  } catch (e) {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `Failed to probe capabilities for ${binary}: cannot stat '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { domain: 'QEMU', cause: e });
  }
}

const sameKey = (a: CapsCacheKey, b: CapsCacheKey): boolean =>
  a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs;

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** The entry in `file`, or undefined when it is missing, unreadable or not a well-formed entry. */
async function readEntry(file: string): Promise<{ format?: number; key: CapsCacheKey; caps: QemuCaps } | undefined> {
  let v: unknown;
  try { v = JSON.parse(await fsp.readFile(file, 'utf8')); } catch { return undefined; }
  const { key, caps } = (v ?? {}) as { key?: Partial<CapsCacheKey>; caps?: Partial<QemuCaps> };
  const ok = typeof key?.path === 'string' && typeof key.size === 'number' && typeof key.mtimeMs === 'number' &&
    typeof caps?.binary === 'string' && typeof caps.package === 'string' && typeof caps.sandbox === 'boolean' &&
    [caps.version?.major, caps.version?.minor, caps.version?.micro].every((n) => Number.isInteger(n)) &&
    Array.isArray(caps.machines) && caps.machines.every((m) => typeof m?.name === 'string') &&
    isStringArray(caps.devices) && isStringArray(caps.objects) && isStringArray(caps.accelerators);
  return ok ? (v as { format?: number; key: CapsCacheKey; caps: QemuCaps }) : undefined;
}

/**
 * Temp file + fsync + rename. Like libvirt, a cache that cannot be written is no error: the caps
 * are still returned and the next get() probes again.
 */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fsp.mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
}
