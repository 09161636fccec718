// The storage layer on a real filesystem: what a daemon restart finds (active pools active again
// with their volumes, autostart pools started, inactive ones left inactive, transient active ones
// kept), and that nothing outside a pool's directory is ever deleted, truncated or written —
// not through a symlink in the pool, not through a name with '/' or '..'.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StorageDriver } from '../../src/storage/storage-driver.js';
import { createVol, deleteVol, lookupVolByName, resizeVol, volumesOf, wipeVol } from '../../src/storage/volume-api.js';

const root = mkdtempSync(join(tmpdir(), 'mpvirt-storage-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const log = { warn: () => {}, info: () => {} };
const newDriver = async (): Promise<StorageDriver> => {
  const d = new StorageDriver({ configDir: join(root, 'etc'), stateDir: join(root, 'run'), log });
  await d.init();
  return d;
};
const poolXml = (name: string, path: string): string => `<pool type='dir'><name>${name}</name><target><path>${path}</path></target></pool>`;
const volXml = (name: string, size: string): string => `<volume><name>${name}</name><capacity unit='M'>${size}</capacity><allocation>0</allocation></volume>`;

describe('storage pools', () => {
  it('come back after a daemon restart as they were, and autostart ones start', async () => {
    const a = await newDriver();
    const p1 = await a.define(poolXml('p1', join(root, 'p1')), 0);
    await a.build(p1, 0);
    await a.start(p1, 0);
    await createVol(p1, volXml('disk.img', '4'), 0);
    const p2 = await a.define(poolXml('p2', join(root, 'p2')), 0);
    await a.build(p2, 0);
    await a.setAutostart(p2, true);
    const p3 = await a.define(poolXml('p3', join(root, 'p3')), 0);
    await a.build(p3, 0);
    await a.createTransient(poolXml('t1', join(root, 't1')), 1);

    const b = await newDriver();
    const state = (n: string): [boolean, boolean, boolean] => {
      const p = b.lookupByName(n);
      return [p.active, p.persistent, p.autostart];
    };
    expect(state('p1')).toEqual([true, true, false]);
    expect(volumesOf(b.lookupByName('p1')).map((v) => [v.name, v.capacity])).toEqual([['disk.img', 4n * 1024n * 1024n]]);
    expect(state('p2')).toEqual([true, true, true]);
    expect(state('p3')).toEqual([false, true, false]);
    expect(state('t1')).toEqual([true, false, false]);
    // a destroyed transient pool is gone for good, also after the next restart
    await b.destroy(b.lookupByName('t1'));
    expect(() => b.lookupByName('t1')).toThrow(/no storage pool with matching name 't1'/);
    const c = await newDriver();
    expect(() => c.lookupByName('t1')).toThrow(/no storage pool with matching name 't1'/);
    expect(c.lookupByName('p1').active).toBe(true);
  });

  it('never deletes, truncates or writes a file outside the pool', async () => {
    const d = await newDriver();
    const dir = join(root, 'safe');
    const outside = join(root, 'precious.img');
    writeFileSync(outside, 'keep me');
    const p = await d.createTransient(poolXml('safe', dir), 1);
    symlinkSync(outside, join(dir, 'link.img'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'inner.img'), 'inner');
    await d.refresh(p, 0);
    const link = lookupVolByName(p, 'link.img');
    await expect(wipeVol(link, 0, 0)).rejects.toThrow(/Failed to open storage volume/);
    await expect(resizeVol(link, 1n << 20n, 0)).rejects.toThrow(/Unable to open/);
    await deleteVol(link, 0); // the link goes, not what it points to
    expect(existsSync(join(dir, 'link.img'))).toBe(false);
    expect(readFileSync(outside, 'utf8')).toBe('keep me');
    for (const name of ['../precious.img', 'sub/inner.img', '..', '.']) {
      await expect(createVol(p, volXml(name, '1'), 0), name).rejects.toThrow(/cannot contain '\/'|is not a file name/);
    }
    // a volume directory with something in it stays, and so does the pool directory
    await expect(deleteVol(lookupVolByName(p, 'sub'), 0)).rejects.toThrow(/cannot remove directory/);
    await d.destroy(p);
    expect(readFileSync(join(dir, 'sub', 'inner.img'), 'utf8')).toBe('inner');
    expect(readFileSync(outside, 'utf8')).toBe('keep me');
  });
});
