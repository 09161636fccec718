// The binding's further storage methods (src/libvirt/storage-more.ts): on libvirt's test driver
// (in this process) pool delete, a volume's pool, clone (virStorageVolCreateXMLFrom), info with
// flags, pool events and the refusals of what that driver lacks; on a real mpvirtd, wipe, resize,
// upload and download over streams (recvSparse on a plain stream gives its data; sparse transfers
// are refused by mpvirtd, so sendHole and received holes are not exercised here).
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, LibvirtError, WIPE_ALGORITHMS, type StoragePoolEvent, type Stream } from '../../src/libvirt/index.js';
import { projectRoot } from '../domainxml/helpers.js';
import { Harness } from '../driver/harness.js';
import { MpvirtdProcess } from '../daemon/mpvirtd-process.js';

function thrown(f: () => unknown): LibvirtError {
  try {
    f();
  } catch (e) {
    if (e instanceof LibvirtError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

async function until<T>(list: T[], n: number, ms = 5000): Promise<T[]> {
  const end = Date.now() + ms;
  while (list.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return list;
}

describe('storage methods on test:///default', () => {
  it("clones a volume into its pool and finds the volume's pool", () => {
    using c = connect('test:///default');
    using pool = c.lookupStoragePoolByName('default-pool');
    using v = pool.createVolume("<volume><name>v1</name><capacity unit='M'>1</capacity></volume>");
    using clone = pool.createVolumeFrom('<volume><name>v2</name><capacity>4096</capacity></volume>', v);
    expect(clone.name).toBe('v2');
    expect(pool.listVolumes().map((x) => {
      const n = x.name;
      x.free();
      return n;
    }).sort()).toEqual(['v1', 'v2']);
    using parent = clone.pool();
    expect(parent.name).toBe('default-pool');
    expect(v.info()).toEqual({ type: 0, typeName: 'file', capacity: 1048576, allocation: 1048576 });
    expect(thrown(() => v.infoFlags(1)).code).toBe('VIR_ERR_NO_SUPPORT'); // the test driver has only the flagless call
    expect(thrown(() => pool.createVolumeFrom('<volume><name>v2</name><capacity>1</capacity></volume>', v)).code).toBe('VIR_ERR_OPERATION_FAILED'); // the test driver's word for "already exists"
  });

  it('delivers pool lifecycle and refresh events, for every pool or one', async () => {
    using c = connect('test:///default');
    const all: StoragePoolEvent[] = [];
    const one: StoragePoolEvent[] = [];
    const refreshed: StoragePoolEvent[] = [];
    using def = c.lookupStoragePoolByName('default-pool');
    using s1 = c.onStoragePoolEvent('lifecycle', (e) => all.push(e));
    using s2 = c.onStoragePoolEvent('lifecycle', (e) => one.push(e), { pool: def });
    using s3 = c.onStoragePoolEvent('refresh', (e) => refreshed.push(e));
    using p = c.defineStoragePool("<pool type='dir'><name>ev</name><target><path>/ev</path></target></pool>");
    p.start();
    p.refresh();
    p.destroy();
    p.undefine();
    def.refresh();
    expect((await until(all, 4)).map((e) => [e.pool.name, e.event])).toEqual([['ev', 0], ['ev', 2], ['ev', 3], ['ev', 1]]);
    expect((await until(refreshed, 2)).map((e) => e.pool.name)).toEqual(['ev', 'default-pool']);
    expect(refreshed[1]!.pool.uuid).toBe(def.uuid);
    expect(refreshed[1]!.event).toBeUndefined();
    expect(one).toEqual([]);
    s1.close();
    s2.close();
    s3.close();
    expect(s1.closed).toBe(true);
  });

  // last: it takes the test driver's (process-wide) default pool away
  it('deletes an inactive pool; what the test driver lacks is refused with its own error', () => {
    using c = connect('test:///default');
    using pool = c.lookupStoragePoolByName('default-pool');
    expect(thrown(() => pool.delete()).code).toBe('VIR_ERR_OPERATION_INVALID'); // still running
    using v = pool.createVolume('<volume><name>w</name><capacity>1024</capacity></volume>');
    for (const f of [() => v.wipe(), () => v.wipePattern(WIPE_ALGORITHMS.indexOf('dod')), () => v.resize(2048), () => c.storagePoolCapabilities()]) {
      expect(thrown(f).code).toBe('VIR_ERR_NO_SUPPORT');
    }
    const st = c.newStream();
    try {
      expect(thrown(() => v.upload(st, 0, 0)).code).toBe('VIR_ERR_NO_SUPPORT');
      expect(thrown(() => v.download(st, 0, 0)).code).toBe('VIR_ERR_NO_SUPPORT');
    } finally {
      st.free();
    }
    pool.destroy();
    pool.delete();
    pool.undefine();
    expect(c.listAllStoragePools().length).toBe(0);
    expect(WIPE_ALGORITHMS[0]).toBe('zero');
  });
});


// The binding's calls block the calling thread, so the daemon runs as its own process (the built
// dist/cli/mpvirtd.js, as the mpvirsh tests run dist/cli/mpvirsh.js).
describe('storage methods on mpvirtd', () => {
  const h = new Harness();
  const socket = join(h.dir, 'virtmpqemud-sock');
  let daemon: MpvirtdProcess | undefined;
  beforeAll(async () => {
    writeFileSync(join(h.dir, 'none.conf'), '# empty\n');
    daemon = new MpvirtdProcess(join(projectRoot, 'dist/cli/mpvirtd.js'), [
      '--session', '--socket', socket, '--config-dir', h.configDir, '--state-dir', h.stateDir, '--log-dir', h.logDir, '--config', join(h.dir, 'none.conf'),
    ], { XDG_CACHE_HOME: join(h.dir, 'cache') });
    await daemon.waitForLog('mpvirtd ready');
  }, 60_000);
  afterAll(async () => {
    await daemon?.kill();
    await h.cleanup();
  });

  it('wipes, resizes, uploads and downloads a volume', () => {
    const dir = h.dir;
    using c = connect(`mpqemu+unix:///system?socket=${socket}`);
    using pool = c.defineStoragePool(`<pool type='dir'><name>bp</name><target><path>${join(h.dir, 'bp')}</path></target></pool>`);
    pool.build();
    pool.start();
    using v = pool.createVolume("<volume><name>d</name><capacity unit='KiB'>512</capacity></volume>");
    v.resize(1024 * 1024);
    expect(v.info().capacity).toBe(1024 * 1024);
    // VIR_STORAGE_VOL_GET_PHYSICAL: the file's size in `allocation`
    expect(v.infoFlags(1)).toEqual({ type: 0, typeName: 'file', capacity: 1024 * 1024, allocation: 1024 * 1024 });
    expect(v.infoFlags(0)).toEqual(v.info());
    expect(thrown(() => v.resize(4096)).code).toBe('VIR_ERR_INVALID_ARG'); // shrinking needs the flag
    using parent = v.pool();
    expect(parent.name).toBe('bp');
    const data = randomBytes(200_000);
    const up = c.newStream();
    try {
      v.upload(up, 4096, data.length);
      up.sendAllOf(data);
      up.finish();
    } finally {
      up.free();
    }
    const down = c.newStream();
    const got: Buffer[] = [];
    try {
      v.download(down, 4096, data.length);
      for (let b = down.recvSparse(); !Buffer.isBuffer(b) || b.length > 0; b = down.recvSparse()) if (Buffer.isBuffer(b)) got.push(b);
      down.finish();
    } finally {
      down.free();
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);

    // sparse streams: mpvirtd refuses the flag (a daemon gap), as its own error
    using holey = pool.createVolume("<volume><name>h</name><capacity unit='KiB'>1024</capacity><allocation>0</allocation></volume>");
    for (const call of [(st: Stream) => holey.upload(st, 0, 0, 1), (st: Stream) => holey.download(st, 0, 0, 1)]) {
      const st = c.newStream();
      try {
        expect(thrown(() => call(st)).message).toMatch(/^invalid argument: unsupported flags \(0x1\)/);
      } finally {
        st.free();
      }
    }
    holey.delete();

    // wipe: zeroes (the file reads back as zeroes)
    v.wipe();
    const f = join(dir, 'after-wipe');
    const fd = openSync(f, 'w');
    const st = c.newStream();
    try {
      v.download(st, 0, 0);
      for (let b = st.recv(); b !== null && b.length > 0; b = st.recv()) writeSync(fd, b);
      st.finish();
    } finally {
      st.free();
      closeSync(fd);
    }
    expect(readFileSync(f).equals(Buffer.alloc(1024 * 1024))).toBe(true);
    v.wipePattern(WIPE_ALGORITHMS.indexOf('zero'));
    expect(thrown(() => v.wipePattern(99)).code).toBe('VIR_ERR_INVALID_ARG');
    v.delete();
    pool.destroy();
    pool.delete();
    pool.undefine();
  });
});
