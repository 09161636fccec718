// `virsh domstats --dirtyrate` answers from QEMU's own reply, which the daemon keeps while no
// dirty-rate calculation was ever started (pollers then cost no monitor call for the group); a
// calculation started through qemu-monitor-command (QMP or HMP) is seen at the next poll.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const status = async (dom: string): Promise<string> => {
  const res = await r.virsh(['domstats', '--dirtyrate', dom]);
  expect(res.code, res.stderr).toBe(0);
  return /dirtyrate\.calc_status=(\d)/.exec(res.stdout)?.[1] ?? 'none';
};

describe('domstats --dirtyrate', () => {
  for (const how of ['qmp', 'hmp'] as const) {
    it(`shows a calculation started with qemu-monitor-command${how === 'hmp' ? ' --hmp' : ''}`, async () => {
      const dom = `dirty-${how}`;
      const f = join(r.h.dir, `${dom}.xml`);
      writeFileSync(f, r.h.xml(dom));
      expect((await r.virsh(['define', f])).code).toBe(0);
      expect((await r.virsh(['start', dom])).code).toBe(0);
      expect(await status(dom)).toBe('0'); // unstarted
      expect(await status(dom)).toBe('0');
      const cmd = how === 'qmp'
        ? ['qemu-monitor-command', dom, '{"execute":"calc-dirty-rate","arguments":{"calc-time":1}}']
        : ['qemu-monitor-command', '--hmp', dom, 'calc_dirty_rate 1'];
      const res = await r.virsh(cmd);
      expect(res.code, res.stderr).toBe(0);
      // measuring (1) until the second is up, then measured (2) with the rate
      expect(['1', '2']).toContain(await status(dom));
      for (let i = 0; i < 100 && (await status(dom)) !== '2'; i++) await new Promise((res) => setTimeout(res, 100));
      expect((await r.virsh(['domstats', '--dirtyrate', dom])).stdout).toMatch(/dirtyrate\.megabytes_per_second=\d+/);
      expect((await r.virsh(['destroy', dom])).code).toBe(0);
    });
  }
});
