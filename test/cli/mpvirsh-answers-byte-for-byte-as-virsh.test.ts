// mpvirsh against the real virsh, on the same connection in the same run: stdout, stderr and the
// exit status of every shared command, byte for byte, success and failure paths, with and without
// -q — on libvirt's own test driver (test:///default, in-process: its state is per process, so
// each case starts from the same fresh driver) and on a real mpvirtd with a running guest.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { RpcHarness } from '../rpc/harness.js';

interface Result { code: number; stdout: string; stderr: string }

function run(bin: string[], args: string[], stdin?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(bin[0]!, [...bin.slice(1), ...args], { timeout: 60_000, env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });
}

const VIRSH = ['/usr/bin/virsh'];
const MPVIRSH = [process.execPath, join(projectRoot, 'dist/cli/mpvirsh.js')];

/** What differs between two runs of the same command: the test driver's CPU time grows with the clock. */
const settled = (r: Result): Result => ({ ...r, stdout: r.stdout.replace(/^(CPU time: +)[\d.]+s$/gm, '$1Ns') });

/** The same words through both; what they print must be identical. */
async function alike(args: string[]): Promise<void> {
  const [theirs, ours] = await Promise.all([run(VIRSH, args), run(MPVIRSH, args)]);
  expect(settled(ours), `mpvirsh ${args.join(' ')}`).toEqual(settled(theirs));
}

const T = ['-c', 'test:///default'];

describe('mpvirsh on test:///default, compared with virsh', () => {
  const cases: string[][] = [
    ['list'], ['list', '--all'], ['list', '--name'], ['list', '--uuid'], ['list', '--id'], ['list', '--all', '--name', '--uuid'],
    ['list', '--inactive'], ['list', '--title'], ['list', '--table', '--name'], ['-q', 'list'], ['-q', 'list', '--all'],
    ['dominfo', 'test'], ['dominfo', '1'], ['dominfo', '6695eb01-f6a4-8304-79aa-97f2502e193f'], ['dominfo', 'nosuch'], ['dominfo'],
    ['domstate', 'test'], ['domstate', '--reason', 'test'], ['domstate', 'test', '--reason', '--reason'],
    ['domid', 'test'], ['domname', '1'], ['domuuid', 'test'], ['domname', 'test'],
    ['suspend', 'test'], ['resume', 'test'], ['destroy', 'test'], ['-q', 'destroy', 'test'], ['start', 'test'], ['reset', 'test'],
    ['reboot', 'test'], ['shutdown', 'test'], ['shutdown', '--mode', 'bogus', 'test'], ['shutdown', '--mode', 'acpi,agent', 'test'],
    ['dumpxml', 'test'], ['dumpxml', '--inactive', 'test'], ['dumpxml', '--domain', 'test'], ['dumpxml', '--domain=test'],
    ['uri'], ['hostname'], ['version'], ['version', '--daemon'],
    ['domblklist', 'test'], ['domblklist', '--details', 'test'], ['domblklist', '--inactive', 'test'], ['domiflist', 'test'], ['-q', 'domiflist', 'test'],
    ['echo', 'a', 'b c'], ['echo', '--shell', "it's", 'a b', ''], ['echo', '--xml', '<a & "b">'], ['echo', '--split', 'a,b,,c'], ['echo', '--err', 'x'],
    ['echo', '--hi'], ['echo', '--str', 'x'], ['echo', '--shell', '--xml', 'x'],
    ['help', 'dominfo'], ['help', 'list'], ['help', 'start'], ['help', 'echo'], ['help', 'connect'], ['help', 'nosuchcmd'], ['dominfo', '--help'],
    ['nosuchcmd'], ['dominfo', '--bogus', 'test'], ['dominfo', 'test', 'extra'], ['domstate', '--reason=x', 'test'], ['dumpxml', 'test', '--inactive', '--inactive'],
    ['list ; domstate test; domid test'], ['echo "a b" \'c d\' e\\ f'], ['echo "unterminated'], ['echo trailing\\'], ['# comment'],
    ['autostart', 'test'], ['autostart', '--disable', 'test'], ['create'], ['create', '/nonexistent.xml'],
    ['complete', '--', 'dominfo', ''], ['complete', '--', 'dominfo', 't'], ['complete', '--', 'dominfo', '--domain', ''], ['complete', '--', 'list', '--'],
    ['complete', '--', 'list', '--all', '--'], ['complete', '--', 'echo', '--s'], ['complete', '--', 'dominfo', 'test', '--'], ['complete', '--', 'start', ''],
    ['complete', '--', 'shutdown', '--mode', ''], ['complete', '--', 'domname', ''], ['complete', '--', 'dominfo', 'x'], ['complete', '--', 'destr'], ['complete'],
    ['destroy', '--', '--weird'], ['define'], ['define', '/nonexistent/file.xml'], ['quit'], ['exit'],
  ];
  for (const args of cases) it(args.join(' '), () => alike([...T, ...args]));

  it('global options: -r, -q and -t before the command, unknown ones refused', async () => {
    await alike([...T, '-r', 'destroy', 'test']);
    await alike(['-c']);
    await alike(['-Z', 'list']);
    await alike(['--bogus']);
    await alike(['-e', 'xx', 'list']);
    await alike(['-k', 'x', 'list']);
    await alike(['-k', '-1', 'list']);
    await alike(['-c', 'nosuch:///x', 'list']);
  });
});

describe('mpvirsh on mpvirtd with a running guest, compared with virsh', () => {
  const r = new RpcHarness();
  let M: string[] = [];
  beforeAll(async () => {
    await r.start();
    M = ['-c', r.uri()];
    const f = join(r.h.dir, 'vs1.xml');
    writeFileSync(f, r.h.xml('vs1'));
    expect((await run(VIRSH, [...M, 'define', f])).code).toBe(0);
    expect((await run(VIRSH, [...M, 'start', 'vs1'])).code).toBe(0);
    writeFileSync(join(r.h.dir, 'vs2.xml'), r.h.xml('vs2'));
  });
  afterAll(() => r.cleanup());

  const cases: string[][] = [
    ['list'], ['list', '--all'], ['-q', 'list', '--all'], ['list', '--name'], ['dominfo', 'vs1'], ['domstate', '--reason', 'vs1'],
    ['domid', 'vs1'], ['domuuid', 'vs1'], ['domblklist', 'vs1'], ['domblklist', '--details', 'vs1'], ['domiflist', 'vs1'], ['domiflist', '--inactive', 'vs1'], ['dumpxml', 'vs1'], ['dumpxml', '--inactive', 'vs1'], ['uri'], ['hostname'], ['version'],
    ['start', 'vs1'], ['dominfo', 'nosuch'], ['resume', 'vs1'],
  ];
  for (const args of cases) it(args.join(' '), () => alike([...M, ...args]));

  /** A command that changes the domain: virsh, then `undo` through virsh, then mpvirsh, each from the same state. */
  async function alikeStep(args: string[], undo: string[]): Promise<void> {
    const theirs = await run(VIRSH, [...M, ...args]);
    expect((await run(VIRSH, [...M, ...undo])).code).toBe(0);
    const ours = await run(MPVIRSH, [...M, ...args]);
    expect(settled(ours), `mpvirsh ${args.join(' ')}`).toEqual(settled(theirs));
  }

  it('suspend, then domstate and resume of the paused guest, print as virsh prints them', async () => {
    await alikeStep(['suspend', 'vs1'], ['resume', 'vs1']);
    await alike([...M, 'domstate', '--reason', 'vs1']);
    await alike([...M, 'dominfo', 'vs1']);
    await alikeStep(['resume', 'vs1'], ['suspend', 'vs1']);
    await alike([...M, 'list']);
  });

  it('define, start and destroy a second guest: each step prints as virsh prints it', async () => {
    const f = join(r.h.dir, 'vs2.xml');
    const ours = await run(MPVIRSH, [...M, 'define', f]);
    expect(ours).toEqual({ code: 0, stdout: `Domain 'vs2' defined from ${f}\n\n`, stderr: '' });
    await alike([...M, 'define', join(r.h.dir, 'missing.xml')]);
    expect(await run(MPVIRSH, [...M, 'start', 'vs2'])).toEqual({ code: 0, stdout: "Domain 'vs2' started\n\n", stderr: '' });
    await alike([...M, 'start', 'vs2']);
    expect(await run(MPVIRSH, [...M, 'destroy', 'vs2'])).toEqual({ code: 0, stdout: "Domain 'vs2' destroyed\n\n", stderr: '' });
    await alike([...M, 'destroy', 'vs2']);
    await alike([...M, 'domstate', '--reason', 'vs2']);
  });
});
