// The whole product, as a user runs it: a real mpvirtd process (foreground,
// its own directories and socket) and the real virsh, defining, starting,
// inspecting and destroying a domain whose disk runs in a remote process;
// then SIGTERM leaves nothing but the guest, which the next daemon reattaches.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, pidAlive, waitFor } from '../driver/harness.js';
import { buildMpvirtd, MpvirtdProcess } from './mpvirtd-process.js';

const h = new Harness();
let build: ReturnType<typeof buildMpvirtd>;
const daemons: MpvirtdProcess[] = [];
beforeAll(() => {
  build = buildMpvirtd();
});
afterAll(async () => {
  for (const d of daemons) await d.kill();
  build?.cleanup();
  await h.cleanup();
});

const socket = join(h.dir, 'virtmpqemud-sock');
const uri = `mpqemu+unix:///system?socket=${socket}`;
function virsh(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/virsh', ['-c', uri, ...args], { env: { PATH: '/usr/bin:/bin', HOME: h.dir, LC_ALL: 'C' }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 }),
    );
  });
}
function startDaemon(): MpvirtdProcess {
  const d = new MpvirtdProcess(build.cli, [
    '--session', '--socket', socket, '--config-dir', h.configDir, '--state-dir', h.stateDir, '--log-dir', h.logDir,
    '--config', join(h.dir, 'none.conf'),
  ], { XDG_CACHE_HOME: join(h.dir, 'cache') });
  daemons.push(d);
  return d;
}

describe('mpvirtd + virsh', () => {
  it('serves the full lifecycle to the real virsh', async () => {
    writeFileSync(join(h.dir, 'none.conf'), '# empty\n');
    const d1 = startDaemon();
    await d1.waitForLog('mpvirtd ready');
    const xmlFile = join(h.dir, 'vm.xml');
    writeFileSync(xmlFile, h.xml('real1'));

    expect(await virsh('define', xmlFile)).toMatchObject({ code: 0, stdout: `Domain 'real1' defined from ${xmlFile}\n\n` });
    expect(await virsh('start', 'real1')).toMatchObject({ code: 0, stdout: "Domain 'real1' started\n\n" });
    expect((await virsh('list')).stdout).toBe(' Id   Name    State\n-----------------------\n 1    real1   running\n\n');
    expect((await virsh('domstate', '--reason', 'real1')).stdout).toBe('running (booted)\n\n');
    const info = (await virsh('dominfo', 'real1')).stdout;
    expect(info).toMatch(/^Id:             1\nName:           real1\nUUID:           [0-9a-f-]{36}\nOS Type:        hvm\nState:          running\n/);
    const remoteBlocks = await virsh('qemu-monitor-command', 'real1', '{"execute":"x-mpvirt-remote","arguments":{"rid":"8","command":{"execute":"query-block"}}}');
    // the remote serves the image through the fd the daemon opened for it
    expect(remoteBlocks.stdout).toContain('"file":"/dev/fdset/1"');

    // SIGTERM: the daemon goes, the guest stays
    process.kill(d1.pid, 'SIGTERM');
    expect(await d1.exitWithin(10_000)).toEqual({ code: 0, signal: null });
    expect((await virsh('list')).code).toBe(1); // nobody listens now

    const d2 = startDaemon();
    await d2.waitForLog('mpvirtd ready');
    expect((await virsh('list')).stdout).toBe(' Id   Name    State\n-----------------------\n 1    real1   running\n\n');
    expect(await virsh('destroy', 'real1')).toMatchObject({ code: 0, stdout: "Domain 'real1' destroyed\n\n" });
    expect((await virsh('destroy', 'real1'))).toMatchObject({
      code: 1,
      stderr: "error: Failed to destroy domain 'real1'\nerror: Requested operation is not valid: domain is not running\n",
    });
    expect(await virsh('undefine', 'real1')).toMatchObject({ code: 0, stdout: "Domain 'real1' has been undefined\n\n" });
    process.kill(d2.pid, 'SIGTERM');
    expect(await d2.exitWithin(10_000)).toEqual({ code: 0, signal: null });
    expect(await waitFor(() => ![...h.pids].some(pidAlive), 3000)).toBe(true);
  });
});
