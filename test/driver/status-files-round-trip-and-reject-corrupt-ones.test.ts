import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MpvirtError } from '../../src/errors.js';
import { StatusStore, type StatusRecord, type StoreProblem } from '../../src/driver/persistence.js';

let root: string;
let stateDir: string;
let store: StatusStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mpvirt-status-'));
  stateDir = join(root, 'run', 'qemu');
  await mkdir(stateDir, { recursive: true });
  store = new StatusStore(stateDir);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function record(name: string, over: Partial<StatusRecord> = {}): StatusRecord {
  return {
    version: 1,
    name,
    uuid: 'c7a5fdbd-edaf-9455-926a-d65c16db1809',
    id: 3,
    state: 1, // VIR_DOMAIN_RUNNING
    reason: 1, // VIR_DOMAIN_RUNNING_BOOTED
    liveXml: `<domain type='kvm' id='3'>\n  <name>${name}</name>\n</domain>\n`,
    persistent: true,
    main: { pid: 4242, startTime: '18446744073709551615', qmpPath: `/run/mpvirt/qemu/${name}/monitor.sock` },
    remotes: [
      {
        rid: 'disk0',
        alias: 'ua-remote-disk0',
        pid: 4243,
        startTime: '123456789',
        qmpPath: `/run/mpvirt/qemu/${name}/remote-disk0.sock`,
        state: 'running',
        onCrash: 'destroy',
      },
    ],
    startedAt: '2025-11-25T15:00:00.000Z',
    ...over,
  };
}

async function writeRaw(name: string, content: string | object): Promise<void> {
  await mkdir(join(stateDir, name), { recursive: true });
  await writeFile(join(stateDir, name, 'status.json'), typeof content === 'string' ? content : JSON.stringify(content));
}

/** A valid record with one change made through JSON, as a damaged file would have it. */
function damaged(name: string, damage: (r: Record<string, any>) => void): Record<string, unknown> {
  const r = JSON.parse(JSON.stringify(record(name))) as Record<string, any>;
  damage(r);
  return r;
}

describe('StatusStore', () => {
  it('writes status.json atomically with mode 0600 and reads the same record back', async () => {
    const rec = record('vm1');
    await mkdir(join(stateDir, 'vm1'));
    await store.write(rec);
    const file = join(stateDir, 'vm1', 'status.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(rec);
    expect(await store.read('vm1')).toEqual(rec);
    expect(await readdir(join(stateDir, 'vm1'))).toEqual(['status.json']);
  });

  it('a rewrite replaces the record, keeps the job field when set, and leaves no temp file', async () => {
    await mkdir(join(stateDir, 'vm1'));
    await writeFile(join(stateDir, 'vm1', 'monitor.sock'), ''); // other runtime files are left alone
    await store.write(record('vm1'));
    const paused = record('vm1', { state: 3, reason: 2, job: 'remoteDispatchDomainSuspend' });
    await store.write(paused);
    expect(await store.read('vm1')).toEqual(paused);
    await store.write(record('vm1'));
    expect((await store.read('vm1'))?.job).toBeUndefined();
    expect((await readdir(join(stateDir, 'vm1'))).sort()).toEqual(['monitor.sock', 'status.json']);
  });

  it('write needs the runtime directory the driver creates', async () => {
    await expect(store.write(record('nodir'))).rejects.toMatchObject({ code: 'VIR_ERR_OPERATION_FAILED' });
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('write refuses a record that would not read back, and writes nothing', async () => {
    await mkdir(join(stateDir, 'vm1'));
    const bad = { ...record('vm1'), main: { pid: 0, startTime: '1', qmpPath: '/x' } };
    const err = await store.write(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpvirtError);
    expect((err as MpvirtError).code).toBe('VIR_ERR_INVALID_ARG');
    expect((err as MpvirtError).message).toContain('main.pid');
    expect(await readdir(join(stateDir, 'vm1'))).toEqual([]);
  });

  it('read of a domain without a status file is undefined', async () => {
    expect(await store.read('absent')).toBeUndefined();
    await writeFile(join(stateDir, 'afile'), 'x'); // not a directory
    expect(await store.read('afile')).toBeUndefined();
  });

  it('unknown extra fields are dropped, not trusted', async () => {
    await writeRaw('vm1', { ...record('vm1'), evil: true, main: { ...record('vm1').main, extra: 1 } });
    const rec = await store.read('vm1');
    expect(rec).toEqual(record('vm1'));
    expect(rec).not.toHaveProperty('evil');
  });

  const corruptions: Array<[string, string | Record<string, unknown>, RegExp]> = [
    ['truncated JSON', JSON.stringify(record('x')).slice(0, 100), /JSON/],
    ['an empty file', '', /is empty/],
    ['not an object', '[1,2,3]', /the record is not an object/],
    ['no main.pid', damaged('x', (r) => delete r.main.pid), /main\.pid is missing/],
    ['no main', damaged('x', (r) => delete r.main), /main is not an object/],
    ['a state given as text', damaged('x', (r) => (r.state = 'running')), /state is invalid/],
    ['a state out of range', damaged('x', (r) => (r.state = 8)), /state is invalid/],
    ['a fractional id', damaged('x', (r) => (r.id = 1.5)), /id is invalid/],
    ['a startTime that is no number', damaged('x', (r) => (r.main.startTime = '12abc')), /main\.startTime is invalid/],
    ['a bad uuid', damaged('x', (r) => (r.uuid = 'not-a-uuid')), /uuid is invalid/],
    ['version 2', damaged('x', (r) => (r.version = 2)), /version is invalid/],
    ['remotes not an array', damaged('x', (r) => (r.remotes = {})), /remotes is not an array/],
    ['a remote without onCrash', damaged('x', (r) => delete r.remotes[0].onCrash), /remotes\[0\]\.onCrash is missing/],
    ['no liveXml', damaged('x', (r) => delete r.liveXml), /liveXml is missing/],
    ['persistent as a string', damaged('x', (r) => (r.persistent = 'yes')), /persistent is invalid/],
    ['a startedAt that is no time', damaged('x', (r) => (r.startedAt = 'yesterday')), /startedAt is invalid/],
    ['another domain\'s name', damaged('x', (r) => (r.name = 'other')), /names domain 'other'/],
    ['an unsafe name', damaged('x', (r) => (r.name = '../x')), /name is invalid/],
  ];

  it.each(corruptions)('read reports a status file with %s as corrupt', async (_what, content, why) => {
    await writeRaw('x', content);
    const err = await store.read('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpvirtError);
    expect((err as MpvirtError).code).toBe('VIR_ERR_INTERNAL_ERROR');
    expect((err as MpvirtError).message).toMatch(/^internal error: corrupt status file '.*\/x\/status\.json': /);
    expect((err as MpvirtError).message).toMatch(why);
  });

  it('list returns the good records, reports each corrupt one, and deletes nothing', async () => {
    for (const name of ['alpha', 'gamma']) {
      await mkdir(join(stateDir, name));
      await store.write(record(name));
    }
    await writeRaw('beta', damaged('beta', (r) => delete r.main.pid));
    await writeRaw('delta', '{"version":1,');
    await mkdir(join(stateDir, 'epsilon', 'status.json'), { recursive: true }); // unreadable: EISDIR
    await mkdir(join(stateDir, 'starting')); // a runtime dir without a status file yet
    await mkdir(join(stateDir, '.hidden'));
    await writeFile(join(stateDir, 'stray-file'), 'x');
    const before = (await readdir(stateDir)).sort();

    const problems: StoreProblem[] = [];
    const recs = await store.list((p) => problems.push(p));
    expect(recs.map((r) => r.name)).toEqual(['alpha', 'gamma']);
    expect(recs[0]).toEqual(record('alpha'));
    expect(problems.map((p) => [p.name, p.path])).toEqual([
      ['beta', join(stateDir, 'beta', 'status.json')],
      ['delta', join(stateDir, 'delta', 'status.json')],
      ['epsilon', join(stateDir, 'epsilon', 'status.json')],
    ]);
    expect(problems.map((p) => p.error.code)).toEqual(['VIR_ERR_INTERNAL_ERROR', 'VIR_ERR_INTERNAL_ERROR', 'VIR_ERR_OPERATION_FAILED']);
    expect(problems[2]!.error.message).toMatch(/cannot read file .*illegal operation on a directory/);
    expect((await readdir(stateDir)).sort()).toEqual(before);
    expect(await readFile(join(stateDir, 'delta', 'status.json'), 'utf8')).toBe('{"version":1,');
  });

  it('list of a missing state directory is empty', async () => {
    expect(await new StatusStore(join(root, 'nowhere')).list()).toEqual([]);
  });

  it('removeRuntimeDir removes the domain directory with everything in it; again is no error', async () => {
    await mkdir(join(stateDir, 'vm1'));
    await store.write(record('vm1'));
    await writeFile(join(stateDir, 'vm1', 'qemu.pid'), '4242');
    await mkdir(join(stateDir, 'vm2'));
    await store.removeRuntimeDir('vm1');
    await store.removeRuntimeDir('vm1');
    expect(await readdir(stateDir)).toEqual(['vm2']);
    expect(await store.read('vm1')).toBeUndefined();
  });

  it("refuses names with '/' or a leading '.', so nothing outside stateDir/NAME is touched", async () => {
    await writeFile(join(root, 'precious'), 'keep');
    for (const bad of ['..', '../..', '.', '', 'a/b', '.hidden']) {
      await expect(store.removeRuntimeDir(bad)).rejects.toMatchObject({ code: 'VIR_ERR_INVALID_ARG' });
      await expect(store.read(bad)).rejects.toMatchObject({ code: 'VIR_ERR_INVALID_ARG' });
    }
    await expect(store.write(record('../escape'))).rejects.toMatchObject({ code: 'VIR_ERR_INVALID_ARG' });
    expect(await readFile(join(root, 'precious'), 'utf8')).toBe('keep');
    expect(await readdir(root)).toEqual(['precious', 'run']);
    expect(await readdir(stateDir)).toEqual([]);
  });
});
