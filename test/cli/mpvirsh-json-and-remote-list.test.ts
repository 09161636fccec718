// mpvirsh's two additions to virsh (issue 15): `--json` on the listing and info commands, and
// `remote-list DOMAIN`. The JSON is checked against what the real virsh prints for the same
// command on the same connection in the same run (the same domains, states, devices, numbers);
// a failing command prints virsh's error and exit status exactly, and no document; `help` keeps
// virsh's pages. remote-list runs on a real mpvirtd with a running guest whose lsilogic controller
// lives in a remote QEMU: its row names the live process (the pid the daemon runs) as the live XML
// does, and an inactive domain's row has no run-time cells.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/vsh/table.js';
import { projectRoot } from '../domainxml/helpers.js';
import { RpcHarness } from '../rpc/harness.js';

interface Result { code: number; stdout: string; stderr: string }

function run(bin: string[], args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(bin[0]!, [...bin.slice(1), ...args], { timeout: 60_000, env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    child.stdin?.end();
  });
}

const VIRSH = ['/usr/bin/virsh'];
const MPVIRSH = [process.execPath, join(projectRoot, 'dist/cli/mpvirsh.js')];
type Doc = Record<string, unknown>;

/** mpvirsh's JSON for `args`; the run must succeed, and stdout be one document (and virsh's blank line). */
async function json(conn: string[], args: string[]): Promise<unknown> {
  const r = await run(MPVIRSH, [...conn, ...args, '--json']);
  expect(r.stderr, `mpvirsh ${args.join(' ')} --json`).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.endsWith('\n\n') || args.includes('-q')).toBe(true);
  return JSON.parse(r.stdout);
}

/** virsh's table rows (header and dashes dropped), cells split on two or more blanks. */
const rows = (text: string): string[][] =>
  text.split('\n').slice(2).filter((l) => l.trim() !== '').map((l) => l.trim().split(/ {2,}/));

/** virsh's `Label:   value` lines as a map. */
const fields = (text: string): Map<string, string> =>
  new Map(text.split('\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, 15).trim(), l.slice(16)]));

function checkJsonAgainstVirsh(conn: () => string[], dom: string): void {
  it('list --json: the domains, ids, names and states virsh lists', async () => {
    for (const flags of [['--all'], [], ['--inactive'], ['--all', '--title']]) {
      const text = (await run(VIRSH, [...conn(), 'list', ...flags])).stdout;
      const doc = (await json(conn(), ['list', ...flags])) as Doc[];
      expect(doc.map((d) => [d.id === null ? '-' : String(d.id), d.name, d.state, ...(flags.includes('--title') ? [d.title] : [])].filter((c) => c !== ''))).toEqual(rows(text));
      const uuids = (await run(VIRSH, [...conn(), 'list', '--uuid', ...flags.filter((f) => f !== '--title')])).stdout.split('\n').filter(Boolean);
      expect(doc.map((d) => d.uuid)).toEqual(uuids);
      for (const d of doc) expect(Object.keys(d)).toEqual(['id', 'name', 'uuid', 'state', ...(flags.includes('--title') ? ['title'] : [])]);
    }
    expect(await json(conn(), ['-q', 'list', '--all'])).toEqual(await json(conn(), ['list', '--all']));
  });

  it('dominfo --json: every line virsh prints, numbers as numbers', async () => {
    const text = fields((await run(VIRSH, [...conn(), 'dominfo', dom])).stdout);
    const doc = (await json(conn(), ['dominfo', dom])) as Doc;
    expect(doc.id === null ? '-' : String(doc.id)).toBe(text.get('Id:'));
    expect([doc.name, doc.uuid, doc.osType, doc.state]).toEqual([text.get('Name:'), text.get('UUID:'), text.get('OS Type:'), text.get('State:')]);
    expect(doc.cpus).toBe(Number(text.get('CPU(s):')));
    expect(`${doc.maxMemoryKiB} KiB`).toBe(text.get('Max memory:'));
    expect(`${doc.usedMemoryKiB} KiB`).toBe(text.get('Used memory:'));
    expect(typeof doc.cpuTime).toBe('number');
    expect(doc.persistent ? 'yes' : 'no').toBe(text.get('Persistent:'));
    expect(doc.autostart ? 'enable' : 'disable').toBe(text.get('Autostart:'));
    expect(doc.managedSave ? 'yes' : 'no').toBe(text.get('Managed save:'));
    if (text.has('Security model:')) expect(doc.securityModel).toBe(text.get('Security model:'));
    expect(Array.isArray(doc.messages)).toBe(true);
  });

  it('domstate, domblklist, domiflist --json: what virsh prints, a `-` as null', async () => {
    const state = (await run(VIRSH, [...conn(), 'domstate', '--reason', dom])).stdout;
    const s = (await json(conn(), ['domstate', dom])) as Doc;
    expect(`${s.state} (${s.reason})\n\n`).toBe(state);
    for (const flags of [['--details'], [], ['--inactive']]) {
      const blk = rows((await run(VIRSH, [...conn(), 'domblklist', dom, ...flags])).stdout);
      const doc = (await json(conn(), ['domblklist', dom, ...flags])) as Doc[];
      expect(doc.map((d) => Object.values(d).map((v) => (v === null ? '-' : v)))).toEqual(blk);
      expect(Object.keys(doc[0] ?? { target: 0, source: 0 })).toEqual(flags.includes('--details') ? ['type', 'device', 'target', 'source'] : ['target', 'source']);
    }
    const ifs = rows((await run(VIRSH, [...conn(), 'domiflist', dom])).stdout);
    const doc = (await json(conn(), ['domiflist', dom])) as Doc[];
    expect(doc.map((d) => Object.values(d).map((v) => (v === null ? '-' : v)))).toEqual(ifs);
    for (const d of doc) expect(Object.keys(d)).toEqual(['interface', 'type', 'source', 'model', 'mac']);
  });

  it('a failing --json command prints virsh\'s error and status, and no document; help and completion stay virsh\'s', async () => {
    for (const args of [['dominfo', 'nosuch'], ['domstate', 'nosuch'], ['domblklist', 'nosuch'], ['domiflist', 'nosuch'], ['list', '--table', '--name'], ['dominfo']]) {
      const [theirs, ours] = await Promise.all([run(VIRSH, [...conn(), ...args]), run(MPVIRSH, [...conn(), ...args, '--json'])]);
      expect(ours, args.join(' ')).toEqual(theirs);
    }
    for (const args of [['help', 'list'], ['help', 'dominfo'], ['dominfo', '--help'], ['complete', '--', 'list', '--'], ['complete', '--', 'domstate', dom, '--']]) {
      const [theirs, ours] = await Promise.all([run(VIRSH, [...conn(), ...args]), run(MPVIRSH, [...conn(), ...args])]);
      expect(ours, args.join(' ')).toEqual(theirs);
    }
  });
}

describe('--json on test:///default', () => {
  checkJsonAgainstVirsh(() => ['-c', 'test:///default'], 'test');

  it('remote-list of a domain without remote processes: an empty table, an empty array', async () => {
    const T = ['-c', 'test:///default'];
    expect(await run(MPVIRSH, [...T, 'remote-list', 'test'])).toEqual({ code: 0, stdout: `${formatTable(['Rid', 'Alias', 'PID', 'State', 'Restarts'], [])}\n`, stderr: '' });
    expect(await json(T, ['remote-list', 'test'])).toEqual([]);
    const [theirs, ours] = await Promise.all([run(VIRSH, [...T, 'dominfo', 'nosuch']), run(MPVIRSH, [...T, 'remote-list', 'nosuch'])]);
    expect(ours).toEqual(theirs);
    expect(await run(MPVIRSH, [...T, 'remote-list'])).toEqual({ code: 1, stdout: '', stderr: "error: command 'remote-list' requires <domain> option\n" });
    const help = (await run(MPVIRSH, ['help', 'remote-list'])).stdout;
    expect(help).toContain('remote-list <domain> [--inactive] [--json]');
    expect((await run(MPVIRSH, ['help', 'monitor'])).stdout).toMatch(/\n {4}list {27}list domains\n {4}remote-list {20}list the remote processes/);
  });
});

describe('--json and remote-list on mpvirtd with a running guest whose controller runs in a remote QEMU', () => {
  const r = new RpcHarness();
  let M: string[] = [];
  beforeAll(async () => {
    await r.start();
    M = ['-c', r.uri()];
    for (const name of ['jr1', 'jr2']) {
      const f = join(r.h.dir, `${name}.xml`);
      writeFileSync(f, r.h.xml(name));
      expect((await run(VIRSH, [...M, 'define', f])).code).toBe(0);
    }
    const started = await run(VIRSH, [...M, 'start', 'jr1']);
    expect(started.code, started.stderr).toBe(0);
    r.h.track(r.driver.lookupByName('jr1'));
  }, 120_000);
  afterAll(() => r.cleanup(), 60_000);

  checkJsonAgainstVirsh(() => M, 'jr1');

  it('remote-list names the live remote process as the live XML does; an inactive domain has no run-time cells', async () => {
    const remote = r.driver.lookupByName('jr1').runtime!.remotes[0]!;
    const pid = remote.handle.pid;
    const live = (await run(VIRSH, [...M, 'dumpxml', 'jr1'])).stdout;
    const proc = /<mpq:process ([^>]*)>/.exec(live)![1]!;
    const attr = (n: string): string | undefined => new RegExp(`\\b${n}="([^"]*)"`).exec(proc)?.[1];
    expect(attr('pid')).toBe(String(pid));
    const row = ['8', 'ua-lsi0', String(pid), attr('state')!, attr('restarts') ?? '-'];
    const header = ['Rid', 'Alias', 'PID', 'State', 'Restarts'];
    expect(await run(MPVIRSH, [...M, 'remote-list', 'jr1'])).toEqual({ code: 0, stdout: `${formatTable(header, [row])}\n`, stderr: '' });
    expect(await run(MPVIRSH, [...M, '-q', 'remote-list', 'jr1'])).toEqual({ code: 0, stdout: formatTable(header, [row], false), stderr: '' });
    expect(await json(M, ['remote-list', 'jr1'])).toEqual([{ rid: '8', alias: 'ua-lsi0', pid, state: attr('state'), restarts: attr('restarts') === undefined ? null : Number(attr('restarts')) }]);
    const inactive = ['8', 'ua-lsi0', '-', '-', '-'];
    expect(await run(MPVIRSH, [...M, 'remote-list', 'jr2'])).toEqual({ code: 0, stdout: `${formatTable(header, [inactive])}\n`, stderr: '' });
    expect(await run(MPVIRSH, [...M, 'remote-list', '--inactive', 'jr1'])).toEqual({ code: 0, stdout: `${formatTable(header, [inactive])}\n`, stderr: '' });
    expect(await json(M, ['remote-list', 'jr2'])).toEqual([{ rid: '8', alias: 'ua-lsi0', pid: null, state: null, restarts: null }]);
    const [theirs, ours] = await Promise.all([run(VIRSH, [...M, 'dominfo', 'nosuch']), run(MPVIRSH, [...M, 'remote-list', 'nosuch', '--json'])]);
    expect(ours).toEqual(theirs);
  });
});
