// Many callers at once: start/destroy/define on the same and on different
// domains. Jobs serialize per domain, states stay consistent, nothing
// deadlocks, and a caller that waits too long gets libvirt's lock timeout text.
import { afterAll, describe, expect, it } from 'vitest';
import { MpvirtError } from '../../src/errors.js';
import { Harness, pidAlive, waitFor } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

const outcome = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof MpvirtError ? e.code : `untyped: ${String(e)}`;
  }
};

describe('concurrency', () => {
  it('parallel start/destroy/define on the same and different domains stay consistent', async () => {
    const driver = await h.driver();
    const names = ['p1', 'p2', 'p3'];
    const uuids = ['11111111-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000002', '11111111-0000-0000-0000-000000000003'];
    const objs = await Promise.all(names.map((n, i) => driver.defineXML(h.xml(n, { uuid: uuids[i]! }))));
    const calls: Array<Promise<string>> = [];
    for (let round = 0; round < 4; round++) {
      objs.forEach((o, i) => {
        calls.push(outcome(driver.start(o).then(() => h.track(o))));
        calls.push(outcome(driver.defineXML(h.xml(names[i]!, { uuid: uuids[i]! }))));
        calls.push(outcome(driver.destroy(o)));
      });
    }
    const results = await Promise.all(calls);
    // every call either worked or failed with a coded, expected reason
    // a start that a destroy interrupts is aborted, as libvirt's is
    for (const r of results) expect(['ok', 'VIR_ERR_OPERATION_INVALID', 'VIR_ERR_OPERATION_ABORTED']).toContain(r);
    for (const o of objs) {
      expect(['running (booted)', 'shut off (destroyed)']).toContain(h.stateOf(o));
      expect(o.active).toBe(o.runtime !== undefined);
      if (o.active) await driver.destroy(o);
    }
    expect(await waitFor(() => [...h.pids].every((p) => !pidAlive(p)), 5000)).toBe(true);
    expect(driver.domains.all().map((d) => d.name).sort()).toEqual(names);
  });

  it('a caller that cannot get the state change lock gets libvirt\'s timeout text', async () => {
    const driver = await h.driver({ tuning: { jobTimeoutMs: 100 } });
    const obj = await driver.defineXML(h.xml('locked', { uuid: '11111111-0000-0000-0000-000000000009' }));
    const holder = obj.jobs.run({ owner: 'remoteDispatchDomainCreateWithFlags' }, () => new Promise((r) => setTimeout(r, 500)));
    await expect(driver.suspend(obj)).rejects.toThrow(
      'Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainCreateWithFlags)',
    );
    await holder;
  });

  it('define clashes are refused with libvirt\'s messages and change nothing', async () => {
    const driver = await h.driver();
    await driver.defineXML(h.xml('clash', { uuid: '22222222-0000-0000-0000-000000000001' }));
    await expect(driver.defineXML(h.xml('clash', { uuid: '22222222-0000-0000-0000-000000000002' }))).rejects.toThrow(
      "operation failed: domain 'clash' already exists with uuid 22222222-0000-0000-0000-000000000001",
    );
    await expect(driver.defineXML(h.xml('clash2', { uuid: '22222222-0000-0000-0000-000000000001' }))).rejects.toThrow(
      "operation failed: domain 'clash' is already defined with uuid 22222222-0000-0000-0000-000000000001",
    );
    expect(driver.lookupByName('clash').uuid).toBe('22222222-0000-0000-0000-000000000001');
    expect(() => driver.lookupByName('clash2')).toThrow("Domain not found: no domain with matching name 'clash2'");
  });
});
