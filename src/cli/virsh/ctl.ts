/**
 * mpvirsh's shell state (virsh's vshControl + virshControl): the connection, opened on the first
 * command that needs one (virshConnectionHandler), the global flags, output as virsh writes it
 * (vshPrint always, vshPrintExtra unless -q; errors as `error: …` on stderr), and the libvirt error
 * a failed command leaves for vshReportError.
 */
import { writeSync } from 'node:fs';
import { connect, type Connection } from '../../libvirt/connection.js';
import { LibvirtError } from '../../libvirt/errors.js';

export interface CtlOptions {
  uri: string | null;
  readonly: boolean;
  quiet: boolean;
  timing: boolean;
  /** -k: keepalive interval, -1 for libvirt's default of 5 */
  keepaliveInterval: number;
  /** -K: keepalive count, -1 for the default of 6 */
  keepaliveCount: number;
  /** -e: the console escape sequence, `^]` by default */
  escape: string;
}

export class Ctl {
  #conn: Connection | undefined;
  /** the libvirt error of the failed command, printed after it (vshReportError) */
  lastError: LibvirtError | undefined;
  /** a failure that looked like a lost connection (virsh's `disconnected`) */
  disconnected = 0;
  /** the interactive shell (virsh's imode): `quit` ends it, `cd` works only there */
  interactive = false;

  constructor(readonly opts: CtlOptions, private readonly out: (fd: 1 | 2, text: string) => void = (fd, t) => void writeSync(fd, t)) {}

  /** vshPrint */
  print(text: string): void {
    this.out(1, text);
  }

  /** vshPrintExtra: suppressed by -q */
  printExtra(text: string): void {
    if (!this.opts.quiet) this.out(1, text);
  }

  /** vshError */
  error(message: string): void {
    this.out(2, `error: ${message}\n`);
  }

  /** The connection, opened now if needed; undefined (with the error printed) when it cannot be. */
  connection(): Connection | undefined {
    if (this.#conn) return this.#conn;
    try {
      this.#conn = this.open(this.opts.uri, this.opts.readonly);
    } catch (e) {
      if (!(e instanceof LibvirtError)) throw e;
      this.lastError = e;
    }
    if (!this.#conn) {
      this.error(this.disconnected ? 'Failed to reconnect to the hypervisor' : 'failed to connect to the hypervisor');
      return undefined;
    }
    this.disconnected = 0;
    return this.#conn;
  }

  /** virshConnect: open, then keepalive (5 s × 6 by default; a refused keepalive only matters when asked for). */
  open(uri: string | null, readonly: boolean): Connection | undefined {
    // a one-shot command boots libvirt's event-loop worker only if it subscribes (event, console…);
    // the shell runs it from the start, so keepalives are answered between commands
    const c = connect(uri, { flags: readonly ? 1 : 0, eventLoop: this.interactive ? 'now' : 'on-first-subscription' });
    const forced = this.opts.keepaliveInterval >= 0 || this.opts.keepaliveCount >= 0;
    const interval = this.opts.keepaliveInterval >= 0 ? this.opts.keepaliveInterval : 5;
    const count = this.opts.keepaliveCount >= 0 ? this.opts.keepaliveCount : 6;
    if (interval > 0) {
      let okay = false;
      try {
        okay = c.setKeepAlive(interval, count);
      } catch {
        okay = false;
      }
      if (!okay && forced) {
        c.close();
        this.error('Cannot setup keepalive on connection as requested, disconnecting');
        return undefined;
      }
    }
    return c;
  }

  /** `connect`: replace the connection. */
  replaceConnection(c: Connection | undefined): void {
    this.#conn?.close();
    this.#conn = c;
  }

  get connected(): Connection | undefined {
    return this.#conn;
  }

  close(): void {
    this.#conn?.close();
    this.#conn = undefined;
  }
}

/**
 * Run a libvirt call the way virsh's handlers do: on failure print `message` (if any) and leave
 * the libvirt error for vshReportError. Returns undefined on failure.
 */
export function attempt<T>(ctl: Ctl, message: string | undefined, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof LibvirtError)) throw e;
    if (message !== undefined) ctl.error(message);
    ctl.lastError = e;
    return undefined;
  }
}
