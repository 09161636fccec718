/**
 * Events end to end: `virsh event --loop --all` and `virsh qemu-monitor-event`
 * print what another virsh process causes, exactly as with libvirt; filters by
 * domain and event work; a client that goes away leaves no listener behind.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { nonnullDomain, optionalDomain, toWireDomain, type Frame } from '../../src/rpc/protocol.js';
import * as x from '../../src/rpc/xdr.js';
import { RawClient, RpcHarness } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const background = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => r.background(args);

const listeners = (): number => r.driver.events.listenerCount('lifecycle') + r.driver.events.listenerCount('monitor');
const file = (name: string): string => {
  const p = join(r.h.dir, `${name}.xml`);
  writeFileSync(p, r.h.xml(name));
  return p;
};

describe('events', () => {
  it('virsh event --loop --all prints the lifecycle another virsh causes, in libvirt order', async () => {
    const base = listeners();
    const ev = background(['event', '--loop', '--all', '--timeout', '6']);
    expect(await waitFor(() => listeners() > base, 5000)).toBe(true);
    for (const cmd of [['define', file('ev1')], ['start', 'ev1'], ['destroy', 'ev1'], ['undefine', 'ev1']]) {
      expect((await r.virsh(cmd)).code).toBe(0);
      if (cmd[0] === 'start') r.h.track(r.driver.lookupByName('ev1'));
    }
    const out = await ev;
    expect(out).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        "event 'lifecycle' for domain 'ev1': Defined Added",
        "event 'lifecycle' for domain 'ev1': Resumed Unpaused",
        "event 'lifecycle' for domain 'ev1': Started Booted",
        "event 'lifecycle' for domain 'ev1': Shutdown Finished after host request",
        "event 'lifecycle' for domain 'ev1': Stopped Destroyed",
        "event 'lifecycle' for domain 'ev1': Undefined Removed",
        'event loop timed out',
        'events received: 6',
        '',
        '',
      ].join('\n'),
    });
    // the client is gone: its listeners went with it
    expect(await waitFor(() => listeners() === base && r.server.clientCount() === 0, 2000)).toBe(true);
  });

  it('filters by domain and delivers reboot events (virsh reset)', async () => {
    expect((await r.virsh(['define', file('ev2')])).code).toBe(0);
    expect((await r.virsh(['define', file('ev3')])).code).toBe(0);
    const base = listeners();
    const ev = background(['event', '--domain', 'ev2', '--all', '--loop', '--timeout', '5']);
    expect(await waitFor(() => listeners() > base, 5000)).toBe(true);
    for (const cmd of [['start', 'ev3'], ['start', 'ev2'], ['reset', 'ev2'], ['destroy', 'ev3'], ['destroy', 'ev2']]) {
      expect((await r.virsh(cmd)).code, cmd.join(' ')).toBe(0);
      if (cmd[0] === 'start') r.h.track(r.driver.lookupByName(cmd[1]!));
    }
    const out = (await ev).stdout.split('\n');
    // QEMU may report more than one RESET for one system_reset (the firmware resets too): libvirt
    // forwards each as a reboot event, so only "at least one" is stable
    const reboots = out.filter((l) => l === "event 'reboot' for domain 'ev2'").length;
    expect(reboots).toBeGreaterThanOrEqual(1);
    expect(out.filter((l) => !l.startsWith("event 'reboot'"))).toEqual([
      "event 'lifecycle' for domain 'ev2': Resumed Unpaused",
      "event 'lifecycle' for domain 'ev2': Started Booted",
      "event 'lifecycle' for domain 'ev2': Shutdown Finished after host request",
      "event 'lifecycle' for domain 'ev2': Stopped Destroyed",
      'event loop timed out',
      `events received: ${4 + reboots}`,
      '',
      '',
    ]);
    expect(out.indexOf("event 'reboot' for domain 'ev2'")).toBe(2);
  });

  it('virsh qemu-monitor-event shows QEMU and MPVIRT_REMOTE events, with exact and regex filters', async () => {
    const base = listeners();
    const exact = background(['qemu-monitor-event', '--domain', 'ev2', '--event', 'MPVIRT_REMOTE', '--loop', '--timeout', '5']);
    const regex = background(['qemu-monitor-event', '--event', '^resu', '--regex', '--no-case', '--loop', '--timeout', '5']);
    expect(await waitFor(() => listeners() >= base + 2, 5000)).toBe(true);
    expect((await r.virsh(['start', 'ev2'])).code).toBe(0);
    r.h.track(r.driver.lookupByName('ev2'));
    expect((await r.virsh(['destroy', 'ev2'])).code).toBe(0);
    const [e, g] = await Promise.all([exact, regex]);
    const lines = e.stdout.split('\n').filter((l) => / at \d/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/^event MPVIRT_REMOTE at \d+\.\d{6} for domain 'ev2': \{"rid":"8",.*"state":"[a-z]+"/);
    expect(lines[0]).toContain('"state":"started"');
    expect(g.stdout).toMatch(/^event RESUME at \d+\.\d{6} for domain 'ev2': (\{\}|<null>)\n/);
    expect(g.stdout.split('\n').filter((l) => / at \d/.test(l)).every((l) => l.startsWith('event RESUME '))).toBe(true);
  });

  it('raw clients: callback IDs are server-chosen, domain filters apply, bad IDs are refused, close frees everything', async () => {
    const base = listeners();
    const c = await RawClient.open(r.socket);
    await c.call(66);
    await c.call(1, x.encode(x.struct({ name: x.optional(x.string()), flags: x.uint }), { name: 'mpqemu:///system', flags: 0 }));
    const reg = x.struct({ eventID: x.int, dom: optionalDomain });
    const ev3 = r.driver.lookupByName('ev3');
    const all = x.decode(x.int, (await c.call(316, x.encode(reg, { eventID: 0, dom: null }))).payload);
    const only3 = x.decode(x.int, (await c.call(316, x.encode(reg, { eventID: 0, dom: toWireDomain({ ...ev3.ref(), name: 'stale' }) }))).payload);
    expect(only3).toBeGreaterThan(all);
    expect((await c.call(316, x.encode(reg, { eventID: 27, dom: null }))).error?.message).toBe('internal error: unsupported event ID 27');
    expect(listeners()).toBe(base + 1); // one lifecycle listener per connection, however many callbacks
    expect((await r.virsh(['undefine', 'ev2'])).code).toBe(0);
    expect((await r.virsh(['undefine', 'ev3'])).code).toBe(0);
    await waitFor(() => c.messages.length >= 3, 2000);
    const msg = x.struct({ callbackID: x.int, dom: nonnullDomain, event: x.int, detail: x.int });
    const got = c.messages.map((m: Frame) => {
      const v = x.decode(msg, m.payload);
      return [m.header.proc, m.header.serial, v.callbackID, v.dom.name, v.event, v.detail];
    });
    expect(got).toEqual([
      [318, 0, all, 'ev2', 1, 0],
      [318, 0, all, 'ev3', 1, 0],
      [318, 0, only3, 'ev3', 1, 0],
    ]);
    expect((await c.call(317, x.encode(x.int, all))).error).toBeUndefined();
    expect((await c.call(317, x.encode(x.int, all))).error?.message).toBe(`internal error: domain event callback ${all} not registered`);
    await c.close();
    expect(await waitFor(() => listeners() === base, 2000)).toBe(true);
  });

  it('logged no warning or error', () => {
    expect(r.log.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
