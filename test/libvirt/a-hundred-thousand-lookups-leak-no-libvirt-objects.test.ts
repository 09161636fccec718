// 100,000 lookup + free calls on test:///default leave no libvirt object behind and no JS heap
// growth; objects never freed are released by the garbage-collection fallback.
//
// libvirt's own object accounting is the witness: with LIBVIRT_LOG_FILTERS=1:object every
// virObject's creation (OBJECT_NEW, with its class) and destruction (OBJECT_DISPOSE) is logged,
// so the set of virDomain objects created and not yet disposed is exactly what the binding holds.
// libvirt reads these variables once, at its initialization in this process: this file must make
// the process's first libvirt call (vitest runs each file in a process of its own).
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'mpvirt-leak-'));
const log = join(dir, 'libvirt.log');
process.env.LIBVIRT_LOG_FILTERS = '1:object';
process.env.LIBVIRT_LOG_OUTPUTS = `1:file:${log}`;
const { connect } = await import('../../src/libvirt/index.js');
const { releaseCounts } = await import('../../src/libvirt/object.js');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const live = new Set<string>();
let parsed = 0;

/** virDomain objects libvirt created and has not disposed, from the object log so far. */
function liveDomains(): number {
  const fd = openSync(log, 'r');
  const chunk = Buffer.alloc(fstatSync(fd).size - parsed);
  readSync(fd, chunk, 0, chunk.length, parsed);
  closeSync(fd);
  const text = chunk.toString('latin1');
  const complete = text.lastIndexOf('\n') + 1; // a line being written is read next time
  parsed += complete;
  for (const line of text.slice(0, complete).split('\n')) {
    const m = /OBJECT_(NEW|DISPOSE): obj=(0x[0-9a-f]+)(?: classname=(\w+))?/.exec(line);
    if (!m) continue;
    if (m[1] === 'NEW' && m[3] === 'virDomain') live.add(m[2]!);
    else if (m[1] === 'DISPOSE') live.delete(m[2]!);
  }
  return live.size;
}

const c = connect('test:///default');

it('frees every domain of 100,000 lookups, with a flat heap', () => {
  expect(readFileSync(log, 'latin1')).toMatch(/OBJECT_NEW: obj=0x[0-9a-f]+ classname=virConnect/); // the log is on
  for (let i = 0; i < 5000; i++) c.lookupDomainByName('test').free(); // warm up JIT and koffi pools
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const released = releaseCounts.explicit;
  for (let i = 0; i < 100_000; i++) {
    const d = c.lookupDomainByName('test');
    if (d.id !== 1) throw new Error('wrong domain');
    d.free();
  }
  gc();
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  expect(releaseCounts.explicit - released).toBe(100_000);
  expect(liveDomains()).toBe(0);
  // 100,000 retained wrappers would be ≥ 10 MB
  expect(heapGrowth).toBeLessThan(2 * 1024 * 1024);
});

it('releases domains nobody freed once they are garbage collected', async () => {
  const before = releaseCounts.finalizer;
  for (let i = 0; i < 2000; i++) c.lookupDomainByName('test'); // dropped without free()
  expect(liveDomains()).toBe(2000);
  for (let i = 0; i < 50 && releaseCounts.finalizer - before < 2000; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10)); // finalizers run on later turns
  }
  expect(releaseCounts.finalizer - before).toBe(2000);
  expect(liveDomains()).toBe(0);
});
