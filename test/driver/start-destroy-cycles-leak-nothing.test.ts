// 200 start/destroy cycles: the daemon's open fds and its number of children
// return to the baseline (the log keeper, started by the warm-up cycle, is one of them), and
// nothing of a domain is left in the runtime directory.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

const openFds = (): number => readdirSync('/proc/self/fd').length;
function children(): number {
  let n = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) n++;
    } catch {
      /* exited meanwhile */
    }
  }
  return n;
}

describe('resource hygiene', () => {
  it('200 start/destroy cycles return fds and children to the baseline', async () => {
    const driver = await h.driver();
    const obj = await driver.defineXML(h.xml('cycle'));
    // one warm-up cycle: lazily loaded libraries (libc via koffi, caps cache) open their fds once
    await driver.start(obj);
    await driver.destroy(obj);
    await new Promise((r) => setTimeout(r, 200));
    const fds0 = openFds();
    const kids0 = children();
    for (let i = 0; i < 200; i++) {
      await driver.start(obj);
      h.track(obj);
      await driver.destroy(obj);
    }
    expect(await waitFor(() => children() === kids0, 5000)).toBe(true);
    expect(await waitFor(() => openFds() <= fds0, 5000)).toBe(true);
    // only the log keeper's socket: the keeper serves the daemon while it is connected
    expect(readdirSync(h.stateDir)).toEqual(['.logd.sock']);
    expect(obj.id).toBe(-1);
    expect(h.events.filter((e) => e === 'cycle: Stopped Destroyed')).toHaveLength(201);
  }, 300_000);
});
