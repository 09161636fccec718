/**
 * What the driver keeps on disk besides definitions (definition-store.ts): one status file per
 * running domain, `<stateDir>/NAME/status.json`, written atomically, checked before it is
 * trusted; a bad file is reported and skipped, never deleted.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { detachJailRootsUnder } from '../remote/jail-root.js';
import { MpvirtError } from '../errors.js';
import { asMpvirtError, checkStoreName, failed, isSafeName, listDir, readText, warn, writeFileAtomic, type ProblemHandler } from '../definition-store.js';

export { checkStoreName, DefinitionStore, writeFileAtomic, type ProblemHandler, type StoreProblem, type StoredDefinition } from '../definition-store.js';

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
  /** `<disk type='volume'>` disks by target: the path and type they were resolved to at start */
  volumes?: Record<string, { path: string; type: 'file' | 'block' }>;
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
  volumes: (x) => x === undefined || (typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((v: unknown) =>
    typeof v === 'object' && v !== null && isStr((v as { path?: unknown }).path) && ((v as { type?: unknown }).type === 'file' || (v as { type?: unknown }).type === 'block'))),
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
