import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CapsCache } from '../../src/emulator/caps-probe.js';
import { isMpvirtError } from '../../src/errors.js';
import { QEMU } from './qemu-process.js';

let dir = '';
let cacheDir = '';
let script = '';

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'mpvirt-capscache-')));
  cacheDir = join(dir, 'cache');
  script = join(dir, 'qemu.sh');
  writeFileSync(script, `#!/bin/sh\nexec ${QEMU} "$@"\n`);
  chmodSync(script, 0o755);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('CapsCache keyed by the binary\'s path, size and mtime', () => {
  it('probes once, then hits across instances; a new mtime re-probes', async () => {
    const first = new CapsCache(cacheDir);
    const caps = await first.get(script);
    expect(first.probes).toBe(1);
    expect(caps.binary).toBe(script);
    const file = first.fileFor(script);
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(cacheDir)).toEqual([file.slice(cacheDir.length + 1)]); // no temp file left
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ key: { path: script }, caps: { binary: script } });

    const second = new CapsCache(cacheDir);
    const t0 = performance.now();
    expect(await second.get(script)).toEqual(caps);
    console.log(`cache hit: ${(performance.now() - t0).toFixed(2)} ms`);
    expect(second.probes).toBe(0);

    const later = new Date(Date.now() + 60_000);
    utimesSync(script, later, later);
    const third = new CapsCache(cacheDir);
    expect(await third.get(script)).toEqual(caps);
    expect(third.probes).toBe(1);
    // the rewritten entry is valid again
    const fourth = new CapsCache(cacheDir);
    await fourth.get(script);
    expect(fourth.probes).toBe(0);
  });

  it('a changed size re-probes even with the same mtime', async () => {
    await new CapsCache(cacheDir).get(script);
    const before = new Date(Date.now() - 120_000);
    writeFileSync(script, `#!/bin/sh\n# rebuilt\nexec ${QEMU} "$@"\n`);
    utimesSync(script, before, before);
    const again = new CapsCache(cacheDir);
    await again.get(script);
    expect(again.probes).toBe(1);
  });

  it('a corrupt or foreign cache file is re-probed and rewritten, without an error', async () => {
    const cache = new CapsCache(cacheDir);
    const good = await cache.get(script);
    const file = cache.fileFor(script);
    for (const junk of ['{"key": {"path": "', '', 'null', '{"key":1,"caps":2}', JSON.stringify({ key: JSON.parse(readFileSync(file, 'utf8')).key, caps: { binary: script } })]) {
      writeFileSync(file, junk);
      const fresh = new CapsCache(cacheDir);
      expect(await fresh.get(script)).toEqual(good);
      expect(fresh.probes).toBe(1);
      expect(JSON.parse(readFileSync(file, 'utf8')).caps).toEqual(good);
    }
  });

  it('concurrent gets of one binary share a single probe', async () => {
    const cache = new CapsCache(cacheDir);
    const [a, b, c] = await Promise.all([cache.get(script), cache.get(script), cache.get(script)]);
    expect(cache.probes).toBe(1);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('a symlink shares its target\'s entry and gets caps naming the symlink', async () => {
    const cache = new CapsCache(cacheDir);
    await cache.get(script);
    const link = join(dir, 'qemu-link');
    symlinkSync(script, link);
    const caps = await cache.get(link);
    expect(cache.probes).toBe(1);
    expect(caps.binary).toBe(link);
  });

  it('a missing binary is VIR_ERR_INTERNAL_ERROR naming the path, and nothing is cached', async () => {
    const missing = join(dir, 'no-such-qemu');
    const cache = new CapsCache(cacheDir);
    const err = await cache.get(missing).then(() => undefined, (e: unknown) => e);
    expect(isMpvirtError(err, 'VIR_ERR_INTERNAL_ERROR')).toBe(true);
    expect((err as Error).message).toBe(`internal error: Failed to probe capabilities for ${missing}: cannot stat '${missing}': ENOENT`);
    expect(cache.probes).toBe(0);
    expect(existsSync(cacheDir)).toBe(false);
  });

  it('a file that is not executable fails the probe itself with VIR_ERR_INTERNAL_ERROR', async () => {
    chmodSync(script, 0o644);
    const cache = new CapsCache(cacheDir);
    const err = await cache.get(script).then(() => undefined, (e: unknown) => e);
    expect(isMpvirtError(err, 'VIR_ERR_INTERNAL_ERROR')).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`^internal error: Failed to probe capabilities for ${script}: cannot execute '${script}'`));
    expect(cache.probes).toBe(1);
    expect(existsSync(cache.fileFor(script))).toBe(false);
  });
});
