// mpvirsh's interactive shell (no command on the command line) against the real virsh's, with the
// same commands piped on stdin (not a terminal): virsh's readline prints its prompt before every
// line, echoes the line it read, runs it, prints the blank line after each command unless -q, a
// line break after the last lone prompt at end of input, and exits 0 whatever its commands did.
// stdout and stderr are compared byte for byte; the documented differences — the program's name
// in the welcome banner and in the prompt (`mpvirsh # `, `mpvirsh > ` read-only) — are the only
// ones allowed, and they are mapped, not ignored. (A TAB in piped input is readline's completion
// key for virsh — it completes or rings the bell — which mpvirsh does not emulate; no case has one.)
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';

interface Result { code: number; stdout: string; stderr: string }

const dir = mkdtempSync(join(tmpdir(), 'mpvirsh-shell-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(bin: string[], args: string[], stdin: string, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(bin[0]!, [...bin.slice(1), ...args], { cwd: dir, timeout: 60_000, env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', HOME: dir, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    child.stdin!.end(stdin);
  });
}

const VIRSH = ['/usr/bin/virsh'];
const MPVIRSH = [process.execPath, join(projectRoot, 'dist/cli/mpvirsh.js')];

/** virsh's output with its own name where mpvirsh documents its own: the banner and the prompt. */
const renamed = (r: Result): Result => ({
  ...r,
  stdout: r.stdout.replace(/^Welcome to virsh, /, 'Welcome to mpvirsh, ').replaceAll('virsh # ', 'mpvirsh # ').replaceAll('virsh > ', 'mpvirsh > '),
});

/** The same lines piped into both shells. */
async function alike(stdin: string, args: string[] = ['-c', 'test:///default'], env: NodeJS.ProcessEnv = {}): Promise<void> {
  const [theirs, ours] = await Promise.all([run(VIRSH, args, stdin, env), run(MPVIRSH, args, stdin, env)]);
  expect(theirs.stdout).toMatch(/virsh [#>] /); // virsh did run its shell
  expect(ours, JSON.stringify(stdin)).toEqual(renamed(theirs));
}

describe('the interactive shell with commands piped on stdin', () => {
  const inputs: Array<[string, string]> = [
    ['commands, an empty line, an unknown command, two commands on one line', 'list\ndomstate test\n\nbogus\necho hi; echo there\n'],
    ['no input at all', ''],
    ['a last line without its newline', 'list --all\ndomid test'],
    ['failures: a missing domain, a bad option, a parse error; the shell still exits 0', 'dominfo nosuch\nlist --bogus\necho "unterminated\nstart test\n'],
    ['quit ends the shell, and the rest of its line', 'list\nquit; echo not-run\nlist\n'],
    ['exit too', 'exit\nlist\n'],
    ['comments and blanks', '# a comment\n   \n  echo indented\nlist # trailing\n'],
    ['cd and pwd work here (interactive mode only)', 'pwd\ncd /\npwd\ncd /nonexistent-dir\ncd\npwd\n'],
    ['help pages and echo quoting', 'help dominfo\necho --shell "a b" \'c\'\necho --xml "<&>"\n'],
    ['connect to another URI and back', 'uri\nconnect test:///default\nuri\nconnect nosuch:///x\nlist\n'],
    ['state changes and their messages', 'suspend test\ndomstate --reason test\nresume test\ndestroy test\nlist --all\nstart test\n'],
  ];
  for (const [what, stdin] of inputs) it(what, () => alike(stdin));

  it('-q: no banner, no blank line after each command', async () => {
    await alike('list\ndomstate test\nbogus\n', ['-q', '-c', 'test:///default']);
    await alike('', ['-q', '-c', 'test:///default']);
  });

  it('-r: the read-only prompt, and changes refused', async () => {
    await alike('list\ndestroy test\n', ['-r', '-c', 'test:///default']);
  });

  it('the connection opened by the first command that needs one (the URI from the environment)', async () => {
    await alike('echo first\nlist\nuri\n', [], { LIBVIRT_DEFAULT_URI: 'test:///default' });
    await alike('echo no connection needed\n', ['-q'], { LIBVIRT_DEFAULT_URI: 'test:///default' });
  });

  it('a connection that cannot be made: -c fails before the shell, a lazy one at the first command', async () => {
    const [theirs, ours] = await Promise.all([run(VIRSH, ['-c', 'nosuch:///x'], 'list\n'), run(MPVIRSH, ['-c', 'nosuch:///x'], 'list\n')]);
    expect(ours).toEqual(theirs);
    await alike('echo before\nlist\nuri\n', [], { LIBVIRT_DEFAULT_URI: 'nosuch:///x' });
  });
});
