// 1,000 lifecycle events raised while the JS thread is stuck in a 2 s busy loop all arrive, in
// order, once it is free. The events come from a second libvirt client on another thread of this
// process (test:///default is shared by every connection of one process): it defines and
// undefines 500 domains while the main thread spins.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { connect, type LifecycleEvent } from '../../src/libvirt/index.js';

const N = 500;
const BUSY_MS = 2000;

/** Runs on the generator thread (shipped as source): raw koffi, a connection of its own. */
function generator(req: (id: string) => unknown, data: { koffiPath: string; ctl: SharedArrayBuffer; n: number }): void {
  const koffi = req(data.koffiPath) as typeof import('koffi');
  const lib = koffi.load('libvirt.so.0');
  const open = lib.func('void *virConnectOpen(const char *)') as (u: string) => bigint | null;
  const define = lib.func('void *virDomainDefineXML(void *, const char *)') as (c: bigint, x: string) => bigint | null;
  const undefine = lib.func('int virDomainUndefine(void *)') as (d: bigint) => number;
  const free = lib.func('int virDomainFree(void *)') as (d: bigint) => number;
  const close = lib.func('int virConnectClose(void *)') as (c: bigint) => number;
  const ctl = new Int32Array(data.ctl); // [0] go, [1] done (1 ok, 2 failed), [2] domains made
  const c = open('test:///default');
  Atomics.wait(ctl, 0, 0);
  let ok = c !== null;
  for (let i = 0; ok && i < data.n; i++) {
    const d = define(c!, `<domain type='test'><name>burst${i}</name><memory>1024</memory><os><type>hvm</type></os></domain>`);
    ok = d !== null && undefine(d) === 0;
    if (d !== null) free(d);
    Atomics.store(ctl, 2, i + 1);
  }
  if (c !== null) close(c);
  Atomics.store(ctl, 1, ok ? 1 : 2);
}

it('delivers all 1,000 events raised during a 2 s busy loop, in order', async () => {
  using c = connect('test:///default');
  const got: LifecycleEvent[] = [];
  c.events.on('lifecycle', (e) => {
    if (e.domain.name.startsWith('burst')) got.push(e);
  });
  const ctl = new SharedArrayBuffer(12);
  const flags = new Int32Array(ctl);
  const koffiPath = createRequire(import.meta.url).resolve('koffi');
  const w = new Worker(`(${generator.toString()})(require, require('node:worker_threads').workerData)`, { eval: true, workerData: { koffiPath, ctl, n: N } });
  try {
    await new Promise((r) => setTimeout(r, 200)); // the generator has opened its connection
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    const end = Date.now() + BUSY_MS;
    while (Date.now() < end) {
      // busy: no event-loop turn, no message delivery to this thread
    }
    // every event was raised while this thread could not run a single callback
    expect({ done: Atomics.load(flags, 1), made: Atomics.load(flags, 2), deliveredWhileBusy: got.length }).toEqual({ done: 1, made: N, deliveredWhileBusy: 0 });
    const deadline = Date.now() + 10_000;
    while (got.length < 2 * N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got.length).toBe(2 * N);
    const expected = Array.from({ length: N }, (_, i) => [`burst${i} defined/added`, `burst${i} undefined/removed`]).flat();
    expect(got.map((e) => `${e.domain.name} ${e.event}/${e.detail}`)).toEqual(expected);
  } finally {
    await w.terminate();
  }
});
