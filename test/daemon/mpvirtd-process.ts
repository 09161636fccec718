/**
 * Real `mpvirtd` processes for the daemon tests: a private build of src/ (so
 * these tests never rewrite the shared dist/ under someone else's feet), and a
 * spawner that collects stderr and waits for log lines or the exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Compile src/ into test-results/mpvirtd-build-XXXX/dist (inside the project, so
 * node_modules resolves; package.json beside it, so the output is ESM). Returns
 * the CLI's path and a cleanup. Type errors elsewhere in a tree others are
 * editing still emit JavaScript; only a missing output fails.
 */
export function buildMpvirtd(): { cli: string; cleanup: () => void } {
  mkdirSync(join(root, 'test-results'), { recursive: true });
  const dir = mkdtempSync(join(root, 'test-results', 'mpvirtd-build-'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], {
    cwd: root,
    encoding: 'utf8',
  });
  const cli = join(dir, 'dist', 'cli', 'mpvirtd.js');
  if (!existsSync(cli) || !existsSync(join(dir, 'dist', 'daemon', 'daemon.js'))) {
    throw new Error(`building mpvirtd failed:\n${r.stdout}${r.stderr}`);
  }
  return { cli, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class MpvirtdProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;

  /** `launcher`: a command that execs its arguments (e.g. into a namespace), so `pid` stays the daemon's */
  constructor(cli: string, args: string[], env: NodeJS.ProcessEnv = {}, launcher: readonly string[] = []) {
    const argv = [...launcher, process.execPath, cli, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((res) =>
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        res(this.exit);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** JSON log lines on stderr (other lines skipped). */
  logLines(): Array<Record<string, unknown>> {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** The first log line whose msg starts with `prefix`; rejects if the process exits first or time runs out. */
  async waitForLog(prefix: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logLines().find((l) => typeof l.msg === 'string' && l.msg.startsWith(prefix));
      if (hit) return hit;
      if (this.exit) throw new Error(`mpvirtd exited (${JSON.stringify(this.exit)}) before '${prefix}':\n${this.stderr}`);
      if (Date.now() > end) throw new Error(`no '${prefix}' within ${timeoutMs} ms:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The exit, or undefined if it has not happened within `ms`. */
  async exitWithin(ms: number): Promise<Exit | undefined> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited, new Promise<undefined>((res) => (t = setTimeout(() => res(undefined), ms)))]);
    clearTimeout(t);
    return r;
  }

  /** SIGKILL by pid if still running (afterAll). */
  async kill(): Promise<void> {
    if (this.exit) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await this.exited;
  }
}

/** A pino destination that keeps the lines, for in-process daemons. */
export function logSink(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** XDG variables pointing into `dir`, so session defaults never touch the real home. */
export function xdgEnv(dir: string): NodeJS.ProcessEnv {
  return {
    XDG_RUNTIME_DIR: join(dir, 'xdg-run'),
    XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    XDG_STATE_HOME: join(dir, 'xdg-state'),
    XDG_CACHE_HOME: join(dir, 'xdg-cache'),
  };
}
