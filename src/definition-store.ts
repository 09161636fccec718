/**
 * Persistent definitions on disk, libvirt's layout (interfaces.md §3), for domains and storage
 * pools alike: `<configDir>/NAME.xml` with autostart links `<configDir>/autostart/NAME.xml ->
 * ../NAME.xml`. Every write is atomic; what is read is checked before it is trusted, and a bad
 * file is reported and skipped, never deleted.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { MpvirtError } from './errors.js';

/** What a store holds definitions of: named in its messages. */
export type StoreKind = 'domain' | 'pool';

/** A file loadAll() or list() skipped. */
export interface StoreProblem { name: string; path: string; error: MpvirtError }
export type ProblemHandler = (problem: StoreProblem) => void;

/** Without a handler, problems still surface: as process warnings. */
export const warn: ProblemHandler = (p) => process.emitWarning(p.error.message, { code: 'MPVIRT_STORE_SKIPPED' });

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const known = typeof err?.errno === 'number' ? getSystemErrorMap().get(err.errno) : undefined;
  return known ? known[1] : err instanceof Error ? err.message : String(e);
}

export const isErrno = (e: unknown, ...codes: string[]): boolean =>
  codes.includes((e as NodeJS.ErrnoException)?.code ?? '');

export const failed = (what: string, cause: unknown): MpvirtError =>
  new MpvirtError('VIR_ERR_OPERATION_FAILED', `${what}: ${errnoText(cause)}`, { cause });

export const isSafeName = (name: string): boolean => name !== '' && !/[/\0]/.test(name) && !name.startsWith('.');

/** Defence in depth: the XML layer already validated the name. */
export function checkStoreName(name: string, kind: StoreKind = 'domain'): void {
  if (typeof name !== 'string' || !isSafeName(name)) {
    throw new MpvirtError('VIR_ERR_INVALID_ARG', `${kind} name '${String(name)}' is not a safe file name`);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
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
export async function readText(path: string, corrupt: (why: string) => MpvirtError): Promise<string | undefined> {
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

export const asMpvirtError = (e: unknown): MpvirtError =>
  e instanceof MpvirtError ? e : new MpvirtError('VIR_ERR_INTERNAL_ERROR', String(e), { cause: e });

export interface StoredDefinition { name: string; xml: string; autostart: boolean }

/** Persistent definitions, libvirt's layout. */
export class DefinitionStore {
  readonly autostartDir: string;

  constructor(readonly configDir: string, readonly kind: StoreKind = 'domain') {
    this.autostartDir = join(configDir, 'autostart');
  }

  configFile(name: string): string {
    checkStoreName(name, this.kind);
    return join(this.configDir, `${name}.xml`);
  }

  autostartLink(name: string): string {
    checkStoreName(name, this.kind);
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
      throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `cannot set autostart for transient ${this.kind}`);
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
export async function listDir(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true }).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT')) return [];
    throw failed(`cannot read directory '${dir}'`, e);
  });
}

export async function unlinkIfThere(path: string, what: string): Promise<void> {
  try {
    await unlink(path);
    await fsyncDir(dirname(path));
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw failed(`${what} '${path}'`, e);
  }
}

