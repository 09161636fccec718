/**
 * Issue 5's event acceptance, exactly: `virsh event --loop --all` in the
 * background sees, in order, the lifecycle events of a define/start/suspend/
 * resume/destroy/undefine sequence made by another virsh process; a remote
 * process killed from outside shows up in `virsh qemu-monitor-event --loop` as
 * MPVIRT_REMOTE; and the commands shutdown/reboot/reset/domblklist/nodeinfo/
 * domxml-to-native answer as virsh prints them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { ok, RpcHarness } from './harness.js';

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

describe('events seen by virsh', () => {
  it('define/start/suspend/resume/destroy/undefine, in order', async () => {
    const base = listeners();
    const ev = background(['event', '--loop', '--all', '--timeout', '8']);
    expect(await waitFor(() => listeners() > base, 5000)).toBe(true);
    for (const cmd of [['define', file('sq1')], ['start', 'sq1'], ['suspend', 'sq1'], ['resume', 'sq1'], ['destroy', 'sq1'], ['undefine', 'sq1']]) {
      const res = await r.virsh(cmd);
      expect(res.code, res.stderr).toBe(0);
      if (cmd[0] === 'start') r.h.track(r.driver.lookupByName('sq1'));
    }
    const lines = (await ev).stdout.split('\n').filter((l) => l.startsWith('event '));
    expect(lines).toEqual([
      "event 'lifecycle' for domain 'sq1': Defined Added",
      "event 'lifecycle' for domain 'sq1': Resumed Unpaused",
      "event 'lifecycle' for domain 'sq1': Started Booted",
      "event 'lifecycle' for domain 'sq1': Suspended Paused",
      "event 'lifecycle' for domain 'sq1': Resumed Unpaused",
      "event 'lifecycle' for domain 'sq1': Shutdown Finished after host request",
      "event 'lifecycle' for domain 'sq1': Stopped Destroyed",
      "event 'lifecycle' for domain 'sq1': Undefined Removed",
      'event loop timed out',
    ]);
  });

  it('a killed remote process is an MPVIRT_REMOTE crashed event, then the domain stops failed', async () => {
    expect((await r.virsh(['define', file('sq2')])).code).toBe(0);
    expect((await r.virsh(['start', 'sq2'])).code).toBe(0);
    const obj = r.driver.lookupByName('sq2');
    const pids = r.h.track(obj);
    const base = listeners();
    const mon = background(['qemu-monitor-event', '--domain', 'sq2', '--event', 'MPVIRT_REMOTE', '--loop', '--timeout', '5']);
    const life = background(['event', '--domain', 'sq2', '--event', 'lifecycle', '--loop', '--timeout', '5']);
    expect(await waitFor(() => listeners() >= base + 2, 5000)).toBe(true);
    process.kill(pids.remotes[0]!, 'SIGKILL');
    const [m, l] = await Promise.all([mon, life]);
    const crashed = m.stdout.split('\n').find((x) => x.includes('"state":"crashed"'));
    expect(crashed).toMatch(new RegExp(`^event MPVIRT_REMOTE at \\d+\\.\\d{6} for domain 'sq2': \\{"rid":"8","alias":"ua-lsi0","state":"crashed","pid":${pids.remotes[0]},"status":137,"action":"destroy"\\}$`));
    expect(l.stdout).toContain("event 'lifecycle' for domain 'sq2': Stopped Failed");
    expect((await r.virsh(['domstate', '--reason', 'sq2'])).stdout).toBe('shut off (crashed)\n\n');
  });
});

describe('more commands', () => {
  it('shutdown, reboot and reset a running domain; refuse them on a stopped one', async () => {
    expect((await r.virsh(['start', 'sq2'])).code).toBe(0);
    r.h.track(r.driver.lookupByName('sq2'));
    expect(await r.virsh(['shutdown', 'sq2'])).toMatchObject(ok("Domain 'sq2' is being shutdown\n\n"));
    expect(await r.virsh(['reboot', 'sq2'])).toMatchObject(ok("Domain 'sq2' is being rebooted\n\n"));
    expect(await r.virsh(['reset', 'sq2'])).toMatchObject(ok("Domain 'sq2' was reset\n\n"));
    expect((await r.virsh(['destroy', 'sq2'])).code).toBe(0);
    expect(await r.virsh(['shutdown', 'sq2'])).toMatchObject({
      code: 1,
      stderr: "error: Failed to shutdown domain 'sq2'\nerror: Requested operation is not valid: domain is not running\n",
    });
    expect(await r.virsh(['reset', 'sq2'])).toMatchObject({
      code: 1,
      stderr: "error: Failed to reset domain 'sq2'\nerror: Requested operation is not valid: domain is not running\n",
    });
    expect(await r.virsh(['shutdown', 'nope'])).toMatchObject({ code: 1, stderr: "error: failed to get domain 'nope'\n" });
  });

  it('domblklist [--details] lists the disks, as virsh prints them', async () => {
    const disk = join(r.h.dir, 'sq2.img');
    const w = Math.max('Source'.length, disk.length);
    expect(await r.virsh(['domblklist', 'sq2'])).toMatchObject(
      ok(` Target   Source\n${'-'.repeat(9 + w + 3)}\n sda      ${disk}\n\n`),
    );
    expect(await r.virsh(['domblklist', 'sq2', '--details'])).toMatchObject(
      ok(` Type   Device   Target   Source\n${'-'.repeat(7 + 9 + 9 + w + 3)}\n file   disk     sda      ${disk}\n\n`),
    );
  });

  it('nodeinfo reports this host', async () => {
    const out = (await r.virsh(['nodeinfo'])).stdout;
    expect(out).toMatch(/^CPU model:           x86_64\nCPU\(s\):              \d+\n/);
    expect(out).toMatch(/\nMemory size:         \d+ KiB\n\n$/);
  });

  it('domxml-to-native qemu-argv prints every process of the launch', async () => {
    const res = await r.virsh(['domxml-to-native', 'qemu-argv', file('native1')]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^# remote process rid=8 \(device ua-lsi0\)/);
    expect(res.stdout).toContain('-machine x-remote');
    expect(res.stdout).toMatch(/\n# main QEMU; fd 3: link to remote process 8\n\/usr\/bin\/qemu-system-x86_64 -name guest=native1/);
  });
});
