/**
 * The head-keeping size cap of a domain log, applied on every write by whoever holds the read
 * ends of the QEMU processes' output pipes (the log keeper, src/logd/). Nothing polls: output is
 * written as it arrives, and what would pass the limit is never written at all.
 *
 * - The budget counts from `start`, the file's size when the cap began (one domain run). Output
 *   that fits is appended whole. The chunk that would cross `start + budget` is cut after its last
 *   complete line (if one ends within the last 4 KiB below the limit; else one byte early, and the
 *   marker starts with a newline), ONE marker line ({@link logCapMarker}) follows in the same
 *   write, and everything after it is discarded.
 * - The file is opened O_APPEND and its size read before each write, because the daemon appends
 *   its own timestamped lines to the same file: they count towards the budget, and once the
 *   marker is written they still land after it (a few per lifecycle event, never the processes').
 * - {@link LineJoiner}: a pipe's read can end mid-line; holding that tail back until the line is
 *   complete keeps lines of two processes from being spliced together.
 */
import * as fs from 'node:fs';

/** The marker line written once the budget is used up. */
export function logCapMarker(budget: number): string {
  return `mpvirt: log limit of ${budget} bytes reached; output of this domain's processes beyond it is discarded\n`;
}

/** how far below the limit a line end is looked for, and the longest partial line held back */
export const LOG_CUT_WINDOW = 4096;

export class CappedLog {
  #fd: number | undefined;
  #reached = false;
  /** what was discarded after the marker (bytes) */
  #discarded = 0;

  /**
   * @param fd     the log, opened with O_APPEND and for reading ('a+'); owned from now on
   * @param budget bytes allowed after `start`, the marker line not counted
   * @param start  offset the budget is measured from
   */
  constructor(fd: number, readonly budget: number, readonly start: number) {
    this.#fd = fd;
  }

  /** Opens (creating it with mode 0600) `file` and caps it from its current size. Throws like fs.openSync. */
  static open(file: string, budget: number): CappedLog {
    const fd = fs.openSync(file, 'a+', 0o600);
    return new CappedLog(fd, budget, fs.fstatSync(fd).size);
  }

  get limit(): number {
    return this.start + this.budget;
  }

  /** the most the processes' output makes the file: start + budget + a newline + the marker line */
  get maxSize(): number {
    return this.limit + 1 + Buffer.byteLength(logCapMarker(this.budget));
  }

  /** true once the marker line was written */
  get reached(): boolean {
    return this.#reached;
  }

  get discarded(): number {
    return this.#discarded;
  }

  get closed(): boolean {
    return this.#fd === undefined;
  }

  /**
   * Append `chunk` within the cap. Returns the bytes of `chunk` written (the marker not counted).
   * Never throws: a log that cannot be written is given up (closed) and the output discarded.
   */
  write(chunk: Buffer): number {
    const fd = this.#fd;
    if (fd === undefined || this.#reached) {
      this.#discarded += chunk.length;
      return 0;
    }
    try {
      const size = fs.fstatSync(fd).size;
      const allowed = this.limit - size;
      if (chunk.length <= allowed) {
        writeAll(fd, chunk);
        return chunk.length;
      }
      let head: Buffer;
      let marker = logCapMarker(this.budget);
      if (allowed > 0) {
        const part = chunk.subarray(0, allowed);
        const nl = part.lastIndexOf(0x0a);
        if (nl >= 0 && allowed - (nl + 1) < LOG_CUT_WINDOW) head = part.subarray(0, nl + 1);
        else {
          head = part.subarray(0, allowed - 1);
          marker = `\n${marker}`;
        }
      } else {
        // the limit was met exactly (or passed by the daemon's own lines): start a line if needed
        head = Buffer.alloc(0);
        if (size > 0 && lastByte(fd, size) !== 0x0a) marker = `\n${marker}`;
      }
      writeAll(fd, Buffer.concat([head, Buffer.from(marker)]));
      this.#reached = true;
      this.#discarded += chunk.length - head.length;
      return head.length;
    } catch {
      this.close();
      this.#discarded += chunk.length;
      return 0;
    }
  }

  close(): void {
    if (this.#fd !== undefined) try { fs.closeSync(this.#fd); } catch { /* ignore */ }
    this.#fd = undefined;
  }
}

/**
 * Joins a byte stream back into whole lines: {@link push} returns what ends with a newline and
 * holds back the rest, unless that rest is longer than `max` (a line that long goes out as it
 * is). {@link flush} returns what is held (at the stream's end).
 */
export class LineJoiner {
  #held: Buffer = Buffer.alloc(0);
  constructor(readonly max = LOG_CUT_WINDOW) {}

  push(chunk: Buffer): Buffer {
    const all = this.#held.length ? Buffer.concat([this.#held, chunk]) : chunk;
    const nl = all.lastIndexOf(0x0a);
    const cut = nl + 1;
    if (all.length - cut > this.max) {
      this.#held = Buffer.alloc(0);
      return all;
    }
    this.#held = Buffer.from(all.subarray(cut)); // a copy: the chunk's memory is the stream's
    return all.subarray(0, cut);
  }

  flush(): Buffer {
    const h = this.#held;
    this.#held = Buffer.alloc(0);
    return h;
  }

  get held(): number {
    return this.#held.length;
  }
}

function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off);
}

function lastByte(fd: number, size: number): number | undefined {
  const b = Buffer.alloc(1);
  return fs.readSync(fd, b, 0, 1, size - 1) === 1 ? b[0] : undefined;
}
