/**
 * What the driver keeps on disk (interfaces.md §3): persistent definitions
 * `<configDir>/NAME.xml` with autostart links `<configDir>/autostart/NAME.xml ->
 * ../NAME.xml` (libvirt's layout), and one status file per running domain,
 * `<stateDir>/NAME/status.json`. Every write is atomic; what is read is checked
 * before it is trusted, and a bad file is reported and skipped, never deleted.
 */
import { detachJailRootsUnder } from '../remote/jail-root.js';
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { MpvirtError } from '../errors.js';

/** A file loadAll() or list() skipped. */
export interface StoreProblem { name: string; path: string; error: MpvirtError }
export type ProblemHandler = (problem: StoreProblem) => void;

/** Without a handler, problems still surface: as process warnings. */
const warn: ProblemHandler = (p) => process.emitWarning(p.error.message, { code: 'MPVIRT_STORE_SKIPPED' });

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const known = typeof err?.errno === 'number' ? getSystemErrorMap().get(err.errno) : undefined;
  return known ? known[1] : err instanceof Error ? err.message : String(e);
}

const isErrno = (e: unknown, ...codes: string[]): boolean =>
  codes.includes((e as NodeJS.ErrnoException)?.code ?? '');

const failed = (what: string, cause: unknown): MpvirtError =>
  new MpvirtError('VIR_ERR_OPERATION_FAILED', `${what}: ${errnoText(cause)}`, { cause });

const isSafeName = (name: string): boolean => name !== '' && !/[/\0]/.test(name) && !name.startsWith('.');

/** Defence in depth: the XML layer already validated the name. */
export function checkStoreName(name: string): void {
  if (typeof name !== 'string' || !isSafeName(name)) {
    throw new MpvirtError('VIR_ERR_INVALID_ARG', `domain name '${String(name)}' is not a safe file name`);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (e) {
    if (!isErrno(e, 'EINVAL', 'ENOTSUP', 'EISDIR', 'EBADF')) throw e; // filesystems without directory fsync
  } finally {
    await fh.close();
  }
}

/**
 * Replace `path` atomically: a uniquely named temp file in the same directory,
 * write, fsync, rename over `path`, fsync the directory. On failure the temp
 * file is removed and `path` is left as it was.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = tempName(dir);
  let step = `cannot create file '${tmp}'`;
  let created = false;
  try {
    const fh = await open(tmp, 'wx', mode);
    created = true;
    try {
      step = `cannot write data to file '${tmp}'`;
      await fh.chmod(mode); // exact mode, whatever the umask
      await fh.writeFile(data);
      step = `cannot sync file '${tmp}'`;
      await fh.sync();
    } finally {
      await fh.close();
    }
    step = `cannot rename file '${tmp}' as '${path}'`;
    await rename(tmp, path);
    created = false;
    step = `cannot sync directory '${dir}'`;
    await fsyncDir(dir);
  } catch (e) {
    if (created) await rm(tmp, { force: true }).catch(() => undefined);
    throw failed(step, e);
  }
}

/** Hidden, unique, and short: a 250-byte domain name must not push it past NAME_MAX. */
const tempName = (dir: string): string => join(dir, `.mpvirt-tmp.${process.pid}.${randomBytes(8).toString('hex')}`);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Read a text file; undefined when it does not exist. Throws OPERATION_FAILED
 * when it cannot be read, and `corrupt(why)` when it is empty or not UTF-8.
 */
async function readText(path: string, corrupt: (why: string) => MpvirtError): Promise<string | undefined> {
  const buf = await readFile(path).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
    throw failed(`cannot read file '${path}'`, e);
  });
  if (buf === undefined) return undefined;
  if (buf.length === 0) throw corrupt('the file is empty');
  try {
    return utf8.decode(buf);
  } catch {
    throw corrupt('the file is not valid UTF-8');
  }
}

const asMpvirtError = (e: unknown): MpvirtError =>
  e instanceof MpvirtError ? e : new MpvirtError('VIR_ERR_INTERNAL_ERROR', String(e), { cause: e });

export interface StoredDefinition { name: string; xml: string; autostart: boolean }

/** Persistent definitions, libvirt's layout. */
export class DefinitionStore {
  readonly autostartDir: string;

  constructor(readonly configDir: string) {
    this.autostartDir = join(configDir, 'autostart');
  }

  configFile(name: string): string {
    checkStoreName(name);
    return join(this.configDir, `${name}.xml`);
  }

  autostartLink(name: string): string {
    checkStoreName(name);
    return join(this.autostartDir, `${name}.xml`);
  }

  /**
   * Every `NAME.xml` in configDir, sorted by name. A file that cannot be read
   * (or is empty, or not UTF-8) goes to `onProblem` and is skipped, never
   * deleted. Whether the XML parses, and names the domain its file is named
   * after, is the caller's check.
   */
  async loadAll(onProblem: ProblemHandler = warn): Promise<StoredDefinition[]> {
    const out: StoredDefinition[] = [];
    for (const entry of (await listDir(this.configDir)).map((d) => d.name).sort()) {
      if (!entry.endsWith('.xml') || entry.startsWith('.')) continue;
      const name = entry.slice(0, -'.xml'.length);
      const path = join(this.configDir, entry);
      try {
        const xml = await readText(path, (why) => new MpvirtError('VIR_ERR_OPERATION_FAILED', `cannot load '${path}': ${why}`));
        if (xml === undefined) continue; // removed while we listed
        out.push({ name, xml, autostart: await this.isAutostart(name) });
      } catch (e) {
        onProblem({ name, path, error: asMpvirtError(e) });
      }
    }
    return out;
  }

  async save(name: string, xml: string): Promise<void> {
    const file = this.configFile(name);
    await mkdir(this.configDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
      throw failed(`cannot create config directory '${this.configDir}'`, e);
    });
    await writeFileAtomic(file, xml, 0o600);
  }

  /** Remove the definition and its autostart link; removing what is not there is no error. */
  async remove(name: string): Promise<void> {
    await unlinkIfThere(this.autostartLink(name), 'Failed to delete symlink');
    await unlinkIfThere(this.configFile(name), 'cannot remove config file');
  }

  async setAutostart(name: string, on: boolean): Promise<void> {
    const link = this.autostartLink(name);
    const file = this.configFile(name);
    if (!on) return unlinkIfThere(link, 'Failed to delete symlink');
    if (!(await stat(file).then((s) => s.isFile(), () => false))) {
      throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot set autostart for transient domain');
    }
    if (await this.isAutostart(name)) return;
    const tmp = tempName(this.autostartDir);
    try {
      await mkdir(this.autostartDir, { recursive: true, mode: 0o700 });
      await symlink(`../${name}.xml`, tmp);
      await rename(tmp, link); // replaces a stale link or file atomically
      await fsyncDir(this.autostartDir);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw failed(`Failed to create symlink '${link}' to '${file}'`, e);
    }
  }

  /** True when the autostart link exists and leads to this domain's definition (libvirt's virFileLinkPointsTo). */
  async isAutostart(name: string): Promise<boolean> {
    const link = this.autostartLink(name);
    const file = this.configFile(name);
    try {
      if (!(await lstat(link)).isSymbolicLink()) return false;
      const [a, b] = await Promise.all([stat(link), stat(file)]);
      return a.dev === b.dev && a.ino === b.ino;
    } catch {
      return false;
    }
  }
}

/** Entries of `dir`; none when it does not exist. */
async function listDir(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true }).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT')) return [];
    throw failed(`cannot read directory '${dir}'`, e);
  });
}

async function unlinkIfThere(path: string, what: string): Promise<void> {
  try {
    await unlink(path);
    await fsyncDir(dirname(path));
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw failed(`${what} '${path}'`, e);
  }
}

/** Per running domain, `<stateDir>/NAME/status.json`. */
export interface StatusRecord {
  version: 1;
  name: string;
  uuid: string;
  id: number;
  /** libvirt virDomainState and reason numbers */
  state: number;
  reason: number;
  /** the definition the domain runs with */
  liveXml: string;
  persistent: boolean;
  main: { pid: number; startTime: string /* bigint as decimal string */; qmpPath: string; uid?: number; gid?: number };
  remotes: Array<{ rid: string; alias: string; pid: number; startTime: string; qmpPath: string; state: string; onCrash: string; uid?: number; gid?: number; jail?: string; restarts?: number }>;
  /** owner of a job in flight when written */
  job?: string;
  /** ISO time */
  startedAt: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
type Check = (x: unknown) => boolean;
const isStr: Check = (x) => typeof x === 'string' && x !== '';
const isInt =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (x) => Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max;
const isDecimal: Check = (x) => typeof x === 'string' && /^\d{1,20}$/.test(x);
const RECORD_FIELDS: Record<string, Check> = {
  version: (x) => x === 1,
  name: (x) => typeof x === 'string' && isSafeName(x),
  uuid: (x) => typeof x === 'string' && UUID_RE.test(x),
  id: isInt(-1),
  state: isInt(0, 7), // VIR_DOMAIN_NOSTATE … VIR_DOMAIN_PMSUSPENDED
  reason: isInt(0),
  liveXml: isStr,
  persistent: (x) => typeof x === 'boolean',
  job: (x) => x === undefined || typeof x === 'string',
  startedAt: (x) => typeof x === 'string' && !Number.isNaN(Date.parse(x)),
};
/** the jail ids a process runs as (absent: the daemon's own user) */
const optId: Check = (x) => x === undefined || isInt(0, 0xfffffffe)(x);
const MAIN_FIELDS: Record<string, Check> = { pid: isInt(1), startTime: isDecimal, qmpPath: isStr, uid: optId, gid: optId };
const REMOTE_FIELDS: Record<string, Check> = {
  rid: isStr, alias: isStr, pid: isInt(0) /* 0: no process now */, startTime: isDecimal, qmpPath: isStr, state: isStr, onCrash: isStr,
  uid: optId, gid: optId, jail: (x) => x === undefined || typeof x === 'string',
  restarts: (x) => x === undefined || (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0),
};

/** Copy the known fields of `v`, each checked; throws a plain Error naming the first bad field. */
function pick(v: unknown, fields: Record<string, Check>, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where.slice(0, -1) || 'the record'} is not an object`);
  const out: Record<string, unknown> = {};
  for (const [k, ok] of Object.entries(fields)) {
    const x = (v as Record<string, unknown>)[k];
    if (!ok(x)) throw new Error(`${where}${k} is ${x === undefined ? 'missing' : `invalid: ${String(JSON.stringify(x)).slice(0, 80)}`}`);
    if (x !== undefined) out[k] = x;
  }
  return out;
}

/** A fresh record with the known fields only, or a plain Error saying what is wrong. */
function checkStatusRecord(v: unknown): StatusRecord {
  const rec = pick(v, RECORD_FIELDS, '');
  const { main, remotes } = v as Record<string, unknown>;
  rec.main = pick(main, MAIN_FIELDS, 'main.');
  if (!Array.isArray(remotes)) throw new Error(`remotes is ${remotes === undefined ? 'missing' : 'not an array'}`);
  rec.remotes = remotes.map((r: unknown, i) => pick(r, REMOTE_FIELDS, `remotes[${i}].`));
  return rec as unknown as StatusRecord;
}

/** Runtime status files, one per running domain. */
export class StatusStore {
  constructor(readonly stateDir: string) {}

  runtimeDir(name: string): string {
    checkStoreName(name);
    return join(this.stateDir, name);
  }

  statusFile(name: string): string {
    return join(this.runtimeDir(name), 'status.json');
  }

  /** Atomic. The runtime dir must exist (the driver creates it). A record that would not read back is refused. */
  async write(rec: StatusRecord): Promise<void> {
    let checked: StatusRecord;
    try {
      checked = checkStatusRecord(JSON.parse(JSON.stringify(rec)));
    } catch (e) {
      throw new MpvirtError('VIR_ERR_INVALID_ARG', `status record: ${(e as Error).message}`);
    }
    await writeFileAtomic(this.statusFile(checked.name), `${JSON.stringify(checked, null, 2)}\n`, 0o600);
  }

  /** undefined when there is no status file; a coded error when there is one that cannot be trusted. */
  async read(name: string): Promise<StatusRecord | undefined> {
    const path = this.statusFile(name);
    const corrupt = (why: string, cause?: unknown): MpvirtError =>
      new MpvirtError('VIR_ERR_INTERNAL_ERROR', `corrupt status file '${path}': ${why}`, { cause });
    const text = await readText(path, corrupt);
    if (text === undefined) return undefined;
    let rec: StatusRecord;
    try {
      rec = checkStatusRecord(JSON.parse(text));
    } catch (e) {
      throw corrupt((e as Error).message, e);
    }
    if (rec.name !== name) throw corrupt(`it names domain '${rec.name}'`);
    return rec;
  }

  /** Every readable status file under stateDir/*, sorted by name; corrupt ones go to `onProblem` and are skipped. */
  async list(onProblem: ProblemHandler = warn): Promise<StatusRecord[]> {
    const out: StatusRecord[] = [];
    for (const ent of (await listDir(this.stateDir)).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!ent.isDirectory() || ent.name.startsWith('.')) continue;
      try {
        const rec = await this.read(ent.name);
        if (rec) out.push(rec);
      } catch (e) {
        onProblem({ name: ent.name, path: join(this.stateDir, ent.name, 'status.json'), error: asMpvirtError(e) });
      }
    }
    return out;
  }

  /** rm -r stateDir/NAME; nothing there is no error. */
  async removeRuntimeDir(name: string): Promise<void> {
    const dir = this.runtimeDir(name);
    // a jail root still mounted there must never be descended into (it binds host paths)
    detachJailRootsUnder(dir);
    await rm(dir, { recursive: true, force: true }).catch((e: unknown) => {
      throw failed(`cannot remove directory '${dir}'`, e);
    });
  }
}
