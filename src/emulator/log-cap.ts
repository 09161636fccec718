/**
 * A head-keeping size cap on a domain log that QEMU processes append to directly (O_APPEND).
 *
 * The processes write their stdout/stderr straight into the file, so the daemon never sees the
 * bytes and cannot stop them. Instead, every `intervalMs` (and whenever {@link LogCap.enforce}
 * is called, e.g. when a process exits) the file's size is checked: once it grows past
 * `start + budget`, it is truncated back there and ONE marker line is written at that offset.
 * After that the file is truncated back to the end of the marker line on every check. O_APPEND
 * writers simply continue at the new end of file; whatever they wrote past the cap is discarded.
 *
 * Between two checks the file can exceed the cap by at most one interval's worth of output.
 */
import * as fs from 'node:fs';

export const DEFAULT_LOG_CAP_INTERVAL_MS = 250;

/** The marker line written once the budget is used up. */
export function logCapMarker(budget: number): string {
  return `mpvirt: log limit of ${budget} bytes reached; output of this domain's processes beyond it is discarded\n`;
}

export interface LogCapOptions {
  /** how often the size is checked; default {@link DEFAULT_LOG_CAP_INTERVAL_MS} */
  intervalMs?: number;
}

export class LogCap {
  readonly intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** once the marker is written: the offset the file is kept at (end of the marker line) */
  #keep: number | undefined;
  /** set by {@link stop}: the file belongs to whoever caps it next */
  #stopped = false;

  /**
   * @param file   the log file (opened by path on every check; a missing file is ignored)
   * @param budget bytes allowed after `start`, the marker line not counted
   * @param start  offset the budget is measured from (the size of the file when the cap began)
   */
  constructor(readonly file: string, readonly budget: number, readonly start: number, opts: LogCapOptions = {}) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_LOG_CAP_INTERVAL_MS;
  }

  /** A cap measured from the file's current size (0 if it does not exist yet). */
  static fromCurrentSize(file: string, budget: number, opts: LogCapOptions = {}): LogCap {
    return new LogCap(file, budget, fileSize(file), opts);
  }

  /** the most the file can be after an {@link enforce}: start + budget + marker line */
  get maxSize(): number {
    return this.start + this.budget + Buffer.byteLength(logCapMarker(this.budget));
  }

  /** true once the budget was exceeded and the marker line written */
  get reached(): boolean {
    return this.#keep !== undefined;
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Start checking on an interval; the timer never keeps the event loop alive. Idempotent. */
  begin(): this {
    if (this.#timer === undefined && !this.#stopped) {
      this.#timer = setInterval(() => this.enforce(), this.intervalMs);
      this.#timer.unref();
    }
    return this;
  }

  /**
   * Stop for good: no more interval checks, and {@link enforce} does nothing from now on (the
   * file is left as it is). Final because a later cut would use this cap's budget and start:
   * after a daemon detaches, the next daemon caps the same file from a later offset, and a
   * late exit hook of the old one (its children still exit in its process) must not cut it
   * again with a second marker line. Idempotent.
   */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** true once {@link stop} was called */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Check the size now and truncate if the cap is exceeded. Returns true if the file was cut.
   * Never throws: a log that cannot be opened or cut is left alone.
   */
  enforce(): boolean {
    if (this.#stopped) return false;
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, 'r+');
      const size = fs.fstatSync(fd).size;
      if (this.#keep !== undefined) {
        if (size <= this.#keep) return false;
        fs.ftruncateSync(fd, this.#keep);
        return true;
      }
      const limit = this.start + this.budget;
      if (size <= limit) return false;
      // Cut after the last complete line in the last 4 KiB below the limit, so the marker starts
      // a line; with no newline there, cut one byte earlier and start the marker with one.
      let cut = limit;
      let marker = logCapMarker(this.budget);
      const look = Math.min(4096, this.budget);
      const buf = Buffer.alloc(look);
      const n = look > 0 ? fs.readSync(fd, buf, 0, look, limit - look) : 0;
      const nl = buf.subarray(0, n).lastIndexOf(0x0a);
      if (nl >= 0) cut = limit - n + nl + 1;
      else if (this.budget > 0) { cut = limit - 1; marker = `\n${marker}`; }
      const bytes = Buffer.from(marker);
      fs.ftruncateSync(fd, cut);
      // a positional write (this fd has no O_APPEND): it overwrites whatever the processes
      // appended after the truncation, and the final truncation drops anything beyond it
      for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off, cut + off);
      this.#keep = cut + bytes.length;
      fs.ftruncateSync(fd, this.#keep);
      return true;
    } catch {
      return false;
    } finally {
      if (fd !== undefined) try { fs.closeSync(fd); } catch { /* ignore */ }
    }
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
