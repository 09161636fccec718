/**
 * Storage pool events end to end: `virsh pool-event --loop` prints the lifecycle (define, build,
 * start, destroy, delete, undefine) and the refreshes another virsh causes, as libvirt's storage
 * driver emits them; a client that goes away leaves no listener behind.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const listeners = (): number => r.storage.events.listenerCount('pool-lifecycle') + r.storage.events.listenerCount('pool-refresh');

describe('storage pool events', () => {
  it('virsh pool-event prints lifecycle and refresh events another virsh causes', async () => {
    const base = listeners();
    const life = r.background(['pool-event', '--event', 'lifecycle', '--loop', '--timeout', '5']);
    const refresh = r.background(['pool-event', '--event', 'refresh', '--loop', '--timeout', '5']);
    expect(await waitFor(() => listeners() >= base + 4, 5000)).toBe(true);
    const dir = join(r.h.dir, 'ev1-pool');
    for (const cmd of [['pool-define-as', 'ev1', 'dir', '--target', dir], ['pool-build', 'ev1'], ['pool-start', 'ev1'], ['pool-refresh', 'ev1'], ['pool-destroy', 'ev1'], ['pool-delete', 'ev1'], ['pool-undefine', 'ev1']]) {
      const res = await r.virsh(cmd);
      expect(res.code, `${cmd.join(' ')}: ${res.stderr}`).toBe(0);
    }
    expect(await life).toEqual({
      code: 0, stderr: '',
      stdout: ['Defined', 'Created', 'Started', 'Stopped', 'Deleted', 'Undefined'].map((e) => `event 'lifecycle' for storage pool ev1: ${e}`).concat(['event loop timed out', 'events received: 6', '', '']).join('\n'),
    });
    const rf = await refresh;
    expect(rf.stderr).toBe('');
    expect(rf.stdout).toBe(['event \'refresh\' for storage pool ev1', 'event loop timed out', 'events received: 1', '', ''].join('\n'));
    expect(await waitFor(() => listeners() === base && r.server.clientCount() === 0, 2000)).toBe(true);
  });
});
