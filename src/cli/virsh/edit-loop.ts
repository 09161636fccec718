/**
 * virsh's editor round trip (tools/vsh.c vshEditWriteToTempFile, vshEditFile, vshEditReadBackFile,
 * vshAskReedit; tools/virsh-edit.c's loop), general over what is edited: the caller gives how to
 * fetch the XML, how to define the edited text, and what to say when nothing changed. Messages,
 * the temporary file's name ($TMPDIR/virshXXXXXX.xml) and the editor's failures (libvirt's
 * virCommand wording) are virsh's.
 */
import { accessSync, closeSync, constants, openSync, readFileSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { strerror } from '../../emulator/unixfd.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { Ctl } from './ctl.js';
const errnoOf = (e: unknown): number => Math.abs((e as NodeJS.ErrnoException).errno ?? 0);
const TEMPLATE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** vshEditWriteToTempFile: the file's name, or undefined with the error printed. */
export function writeTempFile(ctl: Ctl, doc: string): string | undefined {
  const dir = process.env.TMPDIR ?? '/tmp';
  for (let attempt = 0;; attempt++) {
    const name = join(dir, `virsh${Array.from({ length: 6 }, () => TEMPLATE_CHARS[randomInt(TEMPLATE_CHARS.length)]).join('')}.xml`);
    let fd: number;
    try {
      fd = openSync(name, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | ((constants as { O_CLOEXEC?: number }).O_CLOEXEC ?? 0o2000000), 0o600);
    }
    catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 100)
        continue;
      ctl.error(`g_mkstemp_full: failed to create temporary file: ${strerror(errnoOf(e))}`);
      return undefined;
    }
    try {
      writeSync(fd, doc);
    }
    catch (e) {
      closeSync(fd);
      ctl.error(`write: ${name}: failed to write to temporary file: ${strerror(errnoOf(e))}`);
      unlinkQuiet(name);
      return undefined;
    }
    closeSync(fd);
    return name;
  }
}
export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  }
  catch {
    // vshEditUnlinkTempfile ignores a failed unlink
  }
}
/** Characters allowed in $EDITOR and the file name without going through a shell. */
const ACCEPTED = /^[a-zA-Z0-9\-/_.:@]*$/;
/** virBufferEscapeShell, as virCommandToString quotes each word. */
function shellQuote(s: string): string {
  if (s !== '' && !/[\r\t\n !"#$&'()*;<>?[\\\]^`{|}~]/.test(s))
    return s;
  return `'${s.replace(/'/g, "'\\''")}'`;
}
/** virFindFileInPath for a name without '/': the first executable regular file in $PATH. */
function findInPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir === '' ? '.' : dir, name);
    try {
      if (statSync(p).isFile()) {
        accessSync(p, constants.X_OK);
        return p;
      }
    }
    catch {
      // not here
    }
  }
  return undefined;
}
/** vshEditFile: run $VISUAL, $EDITOR or vi on the file; false (error printed) if it failed. */
export function runEditor(ctl: Ctl, file: string): boolean {
  const editor = process.env.VISUAL ?? process.env.EDITOR ?? 'vi';
  let argv: string[];
  if (!ACCEPTED.test(editor)) {
    if (!ACCEPTED.test(file)) {
      ctl.error(`${file}: temporary filename contains shell meta or other unacceptable characters (is $TMPDIR wrong?)`);
      return false;
    }
    argv = ['sh', '-c', `${editor} ${file}`];
  }
  else {
    argv = [editor, file];
  }
  const shown = argv.map(shellQuote).join(' ');
  let binary = argv[0]!;
  if (!binary.startsWith('/')) {
    const found = binary.includes('/') ? binary : findInPath(binary);
    if (found === undefined) {
      ctl.error(`Cannot find '${binary}' in path: No such file or directory`);
      return false;
    }
    binary = found;
  }
  const r = spawnSync(binary, argv.slice(1), { stdio: 'inherit', argv0: argv[0] });
  let status: string | undefined;
  if (r.error) {
    // libvirt's forked child reports its exec failure itself, then exits 127 (ENOENT) or 126
    const errno = errnoOf(r.error);
    process.stderr.write(`libvirt:  error : cannot execute binary ${binary}: ${strerror(errno)}\n`);
    status = `exit status ${errno === osConstants.errno.ENOENT ? 127 : 126}`;
  }
  else if (r.signal) {
    status = `fatal signal ${osConstants.signals[r.signal]}`;
  }
  else if (r.status !== 0) {
    status = `exit status ${r.status ?? 0}`;
  }
  if (status !== undefined) {
    ctl.error(`internal error: Child process (${shown}) unexpected ${status}`);
    return false;
  }
  return true;
}
/** vshEditReadBackFile */
export function readBackFile(ctl: Ctl, file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  }
  catch (e) {
    ctl.error(`${file}: failed to read temporary file: ${strerror(errnoOf(e))}`);
    return undefined;
  }
}
/** One byte from the terminal in raw mode (vshTTYMakeRaw + getchar), lowercased. */
function readKey(): string {
  const buf = Buffer.alloc(1);
  process.stdin.setRawMode(true);
  try {
    for (;;) {
      try {
        const n = readSync(0, buf, 0, 1, null);
        return n === 0 ? '\0' : buf.toString('latin1', 0, 1).toLowerCase();
      }
      catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN')
          throw e;
      }
    }
  }
  finally {
    process.stdin.setRawMode(false);
  }
}
/** vshAskReedit: 'y', 'n', 'f', 'i' — or -1 when stdin is no terminal (then nothing is asked). */
function askReedit(ctl: Ctl, msg: string, relaxAvail: boolean): string | -1 {
  if (!process.stdin.isTTY)
    return -1;
  if (ctl.lastError)
    ctl.error(ctl.lastError.message);
  ctl.lastError = undefined;
  for (;;) {
    ctl.print(`\r${msg} Try again? ${relaxAvail ? '[y,n,i,f,?]' : '[y,n,f,?]'}: `);
    const c = readKey();
    if (c === '?') {
      const lines = ['', 'y - yes, start editor again', 'n - no, throw away my changes'];
      if (relaxAvail)
        lines.push('i - turn off validation and try to redefine again');
      lines.push('f - force, try to redefine again', '? - print this help');
      for (const l of lines)
        ctl.print(`${l}\r\n`);
      continue;
    }
    if (c === 'y' || c === 'n' || c === 'f' || (relaxAvail && c === 'i')) {
      ctl.print('\r\n');
      return c;
    }
  }
}
export interface EditSpec {
  /** EDIT_GET_XML: the object's current XML (a LibvirtError fails the edit) */
  getXml(): string;
  /** EDIT_NOT_CHANGED's message */
  notChanged(): void;
  /** EDIT_DEFINE: define the edited XML; a LibvirtError means it failed */
  define(edited: string): void;
  /** EDIT_RELAX: what 'i' turns off (schema validation); absent when the command has none */
  relax?(): void;
}
/**
 * virsh-edit.c: 'edited' when the loop went through (including a failed define when there is no
 * terminal to ask on: virsh then says `error: Failed.` and carries on as edited), 'unchanged',
 * or 'failed' (the error printed, or left in ctl.lastError for the caller's `return false`).
 */
export function editLoop(ctl: Ctl, spec: EditSpec): 'edited' | 'unchanged' | 'failed' {
  const get = (): string | undefined => {
    try {
      return spec.getXml();
    }
    catch (e) {
      if (!(e instanceof LibvirtError))
        throw e;
      ctl.lastError = e;
      return undefined;
    }
  };
  let doc = get();
  if (doc === undefined)
    return 'failed';
  const tmp = writeTempFile(ctl, doc);
  if (tmp === undefined)
    return 'failed';
  let relaxAvail = spec.relax !== undefined;
  try {
    let reedit = true;
    let edited = '';
    for (;;) {
      if (reedit) {
        if (!runEditor(ctl, tmp))
          return 'failed';
        const back = readBackFile(ctl, tmp);
        if (back === undefined)
          return 'failed';
        if (back === doc) {
          spec.notChanged();
          return 'unchanged';
        }
        edited = back;
      }
      const reread = get();
      if (reread === undefined)
        return 'failed';
      let msg: string | undefined;
      if (reread !== doc) {
        msg = 'The XML configuration was changed by another user.';
        doc = reread;
      }
      if (msg === undefined) {
        try {
          spec.define(edited);
        }
        catch (e) {
          if (!(e instanceof LibvirtError))
            throw e;
          ctl.lastError = e;
          msg = 'Failed.';
        }
      }
      if (msg === undefined)
        return 'edited';
      const c = askReedit(ctl, msg, relaxAvail);
      if (c === 'y') {
        reedit = true;
        continue;
      }
      if (c === 'f') {
        reedit = false;
        continue;
      }
      if (c === 'n')
        return 'failed';
      if (c === 'i' && relaxAvail) {
        spec.relax!();
        relaxAvail = false;
        reedit = false;
        continue;
      }
      ctl.error(msg);
      ctl.lastError = undefined; // virsh goes on as edited: the define's error is not reported
      return 'edited';
    }
  }
  finally {
    unlinkQuiet(tmp);
  }
}
