import { mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MpvirtError } from '../../src/errors.js';
import { DefinitionStore, writeFileAtomic, type StoreProblem } from '../../src/driver/persistence.js';

let root: string;
let configDir: string;
let store: DefinitionStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mpvirt-defs-'));
  configDir = join(root, 'qemu');
  store = new DefinitionStore(configDir);
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(root, { recursive: true, force: true });
});

const xmlOf = (name: string, extra = ''): string => `<domain type='kvm'>\n  <name>${name}</name>${extra}\n</domain>\n`;
const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;
const tempFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((f) => f.startsWith('.'));

describe('writeFileAtomic', () => {
  it('writes the file with mode 0600 by default, or the mode asked for, and leaves no temp file', async () => {
    await mkdir(configDir);
    const p = join(configDir, 'a.txt');
    await writeFileAtomic(p, 'one');
    expect(await readFile(p, 'utf8')).toBe('one');
    expect(await mode(p)).toBe(0o600);
    await writeFileAtomic(p, Buffer.from('two'), 0o644);
    expect(await readFile(p, 'utf8')).toBe('two');
    expect(await mode(p)).toBe(0o644);
    expect(await readdir(configDir)).toEqual(['a.txt']);
  });

  it('when the rename fails (the target is a directory), the target is untouched and the temp file removed', async () => {
    await mkdir(join(configDir, 'vm1.xml'), { recursive: true });
    await writeFile(join(configDir, 'vm1.xml', 'inside'), 'old content');
    const err = await store.save('vm1', xmlOf('vm1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MpvirtError);
    expect((err as MpvirtError).code).toBe('VIR_ERR_OPERATION_FAILED');
    expect((err as MpvirtError).message).toMatch(/^operation failed: cannot rename file '.+' as '.+vm1\.xml': /);
    expect(await readFile(join(configDir, 'vm1.xml', 'inside'), 'utf8')).toBe('old content');
    expect(await readdir(configDir)).toEqual(['vm1.xml']);
    expect(await tempFiles(configDir)).toEqual([]);
  });

  it('when the temp file cannot be created, it says so and writes nothing', async () => {
    const err = await writeFileAtomic(join(root, 'missing', 'x.xml'), 'data').catch((e: unknown) => e);
    expect((err as MpvirtError).code).toBe('VIR_ERR_OPERATION_FAILED');
    expect((err as MpvirtError).message).toMatch(/cannot create file .*no such file or directory/);
    expect(await readdir(root)).toEqual([]);
  });

  it('a reader never sees a partial file while writers replace it concurrently', async () => {
    await mkdir(configDir);
    const p = join(configDir, 'big.xml');
    const versions = Array.from({ length: 40 }, (_, i) => `<v${i}>${String(i % 10).repeat(200_000 + i)}</v${i}>`);
    await writeFileAtomic(p, versions[0]!);
    const valid = new Set(versions);
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const seen = await readFile(p, 'utf8');
        expect(valid.has(seen)).toBe(true);
        reads++;
      }
    })();
    for (let i = 0; i < versions.length; i += 8) {
      await Promise.all(versions.slice(i, i + 8).map((v) => writeFileAtomic(p, v)));
    }
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(2);
    expect(valid.has(await readFile(p, 'utf8'))).toBe(true);
    expect(await readdir(configDir)).toEqual(['big.xml']);
  });
});

describe('DefinitionStore', () => {
  it('save and loadAll round-trip definitions, sorted by name, files 0600 in a 0700 directory', async () => {
    await store.save('web', xmlOf('web'));
    await store.save('db', xmlOf('db', '\n  <description>ünïcode &amp; more</description>'));
    expect(await store.loadAll()).toEqual([
      { name: 'db', xml: xmlOf('db', '\n  <description>ünïcode &amp; more</description>'), autostart: false },
      { name: 'web', xml: xmlOf('web'), autostart: false },
    ]);
    expect(await mode(join(configDir, 'web.xml'))).toBe(0o600);
    expect(await mode(join(configDir, 'db.xml'))).toBe(0o600);
    expect(await mode(configDir)).toBe(0o700);
  });

  it('save replaces a definition atomically and leaves only NAME.xml behind', async () => {
    await store.save('vm1', xmlOf('vm1'));
    await store.save('vm1', xmlOf('vm1', '\n  <memory>2048</memory>'));
    expect(await readFile(join(configDir, 'vm1.xml'), 'utf8')).toBe(xmlOf('vm1', '\n  <memory>2048</memory>'));
    expect(await readdir(configDir)).toEqual(['vm1.xml']);
  });

  it('a missing config directory loads as no definitions', async () => {
    expect(await store.loadAll()).toEqual([]);
  });

  it("autostart is libvirt's relative link autostart/NAME.xml -> ../NAME.xml", async () => {
    await store.save('vm1', xmlOf('vm1'));
    await store.save('vm2', xmlOf('vm2'));
    expect(await store.isAutostart('vm1')).toBe(false);
    await store.setAutostart('vm1', true);
    await store.setAutostart('vm1', true); // idempotent
    expect(await readlink(join(configDir, 'autostart', 'vm1.xml'))).toBe('../vm1.xml');
    expect(await readdir(join(configDir, 'autostart'))).toEqual(['vm1.xml']);
    expect(await store.isAutostart('vm1')).toBe(true);
    expect((await store.loadAll()).map((d) => [d.name, d.autostart])).toEqual([
      ['vm1', true],
      ['vm2', false],
    ]);
    await store.setAutostart('vm1', false);
    await store.setAutostart('vm1', false); // harmless
    expect(await store.isAutostart('vm1')).toBe(false);
    expect(await readdir(join(configDir, 'autostart'))).toEqual([]);
  });

  it('a link that leads elsewhere is not autostart, and setAutostart replaces it', async () => {
    await store.save('vm1', xmlOf('vm1'));
    await store.save('vm2', xmlOf('vm2'));
    await mkdir(join(configDir, 'autostart'));
    await symlink('../vm2.xml', join(configDir, 'autostart', 'vm1.xml'));
    expect(await store.isAutostart('vm1')).toBe(false);
    await store.setAutostart('vm1', true);
    expect(await readlink(join(configDir, 'autostart', 'vm1.xml'))).toBe('../vm1.xml');
    expect(await store.isAutostart('vm1')).toBe(true);
  });

  it('autostart needs a persistent definition', async () => {
    await expect(store.setAutostart('ghost', true)).rejects.toMatchObject({
      code: 'VIR_ERR_OPERATION_INVALID',
      message: 'Requested operation is not valid: cannot set autostart for transient domain',
    });
    expect(await store.isAutostart('ghost')).toBe(false);
  });

  it('remove deletes the definition and its autostart link; removing again is no error', async () => {
    await store.save('vm1', xmlOf('vm1'));
    await store.save('vm2', xmlOf('vm2'));
    await store.setAutostart('vm1', true);
    await store.remove('vm1');
    expect(await readdir(configDir)).toEqual(['autostart', 'vm2.xml']);
    expect(await readdir(join(configDir, 'autostart'))).toEqual([]);
    await store.remove('vm1');
    expect((await store.loadAll()).map((d) => d.name)).toEqual(['vm2']);
  });

  it('loadAll reports unreadable and corrupt files, skips them without throwing, and never deletes them', async () => {
    await store.save('good', xmlOf('good'));
    await mkdir(join(configDir, 'unreadable.xml')); // read fails with EISDIR
    await writeFile(join(configDir, 'empty.xml'), '');
    await writeFile(join(configDir, 'binary.xml'), Buffer.from([0x3c, 0xff, 0xfe, 0x00, 0xc3]));
    await writeFile(join(configDir, '.mpvirt-tmp.4242.0123456789abcdef'), '<domain><na'); // a writer killed mid-write
    await writeFile(join(configDir, 'notes.txt'), 'not a definition');
    const before = (await readdir(configDir)).sort();

    const problems: StoreProblem[] = [];
    const defs = await store.loadAll((p) => problems.push(p));
    expect(defs).toEqual([{ name: 'good', xml: xmlOf('good'), autostart: false }]);
    expect(problems.map((p) => p.name)).toEqual(['binary', 'empty', 'unreadable']);
    for (const p of problems) {
      expect(p.error).toBeInstanceOf(MpvirtError);
      expect(p.error.code).toBe('VIR_ERR_OPERATION_FAILED');
      expect(p.path).toBe(join(configDir, `${p.name}.xml`));
    }
    expect(problems[0]!.error.message).toContain('not valid UTF-8');
    expect(problems[1]!.error.message).toContain('is empty');
    expect(problems[2]!.error.message).toMatch(/cannot read file '.*unreadable\.xml': illegal operation on a directory/);
    expect((await readdir(configDir)).sort()).toEqual(before);
  });

  it('without a handler, a skipped file still surfaces as a process warning', async () => {
    await store.save('good', xmlOf('good'));
    await writeFile(join(configDir, 'empty.xml'), '');
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    expect((await store.loadAll()).map((d) => d.name)).toEqual(['good']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain('empty.xml');
  });

  it('a name of 250 bytes (the XML layer\'s limit) is stored, because temp names stay short', async () => {
    const name = 'é'.repeat(125);
    await store.save(name, xmlOf(name));
    await store.setAutostart(name, true);
    expect(await store.loadAll()).toEqual([{ name, xml: xmlOf(name), autostart: true }]);
  });

  it("refuses names with '/' or a leading '.', and touches nothing", async () => {
    await mkdir(configDir);
    for (const bad of ['../evil', 'a/b', '.hidden', '..', '', 'nul\0byte']) {
      for (const op of [
        () => store.save(bad, xmlOf('x')),
        () => store.remove(bad),
        () => store.setAutostart(bad, true),
        () => store.isAutostart(bad),
      ]) {
        await expect(op()).rejects.toMatchObject({ code: 'VIR_ERR_INVALID_ARG' });
      }
    }
    expect(await readdir(configDir)).toEqual([]);
    expect(await readdir(root)).toEqual(['qemu']);
  });
});
