// mpvirtd as a systemd service: started by socket activation (systemd-socket-activate binds the
// read-write and read-only sockets, waits for the first client, and execs mpvirtd with LISTEN_FDS /
// LISTEN_FDNAMES), it serves real virsh on both without binding anything itself, keeps the
// read-only one read-only, and leaves the socket files to systemd when it stops; the unit files
// in systemd/ pass systemd-analyze verify.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { waitFor } from '../driver/harness.js';
import { buildMpvirtd, xdgEnv } from './mpvirtd-process.js';

const build = buildMpvirtd();
const dir = mkdtempSync(join(tmpdir(), 'mpvirt-sockact-'));
afterAll(() => {
  build.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const virsh = (uri: string, ...args: string[]): { code: number; stdout: string; stderr: string } => {
  const p = spawnSync('/usr/bin/virsh', ['-c', uri, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: dir, LC_ALL: 'C' }, timeout: 30_000 });
  return { code: p.status ?? -1, stdout: p.stdout, stderr: p.stderr };
};

describe('socket activation', () => {
  it('systemd-socket-activate hands mpvirtd both sockets and real virsh is served on them', async () => {
    const rw = join(dir, 'sock');
    const ro = join(dir, 'sock-ro');
    const child = spawn('/usr/bin/systemd-socket-activate', [
      '-l', rw, '-l', ro, '--fdname=virtmpqemud.socket:virtmpqemud-ro.socket', '-E', 'PATH', '-E', 'XDG_RUNTIME_DIR', '-E', 'XDG_CONFIG_HOME', '-E', 'XDG_STATE_HOME', '-E', 'XDG_CACHE_HOME',
      process.execPath, build.cli, '--session', '--socket', rw, '--socket-ro', ro,
      '--config-dir', join(dir, 'etc'), '--state-dir', join(dir, 'run'), '--log-dir', join(dir, 'log'),
    ], { env: { ...process.env, ...xdgEnv(dir) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    try {
      for (let i = 0; i < 100 && !existsSync(rw); i++) await new Promise((r) => setTimeout(r, 50));
      // the first connection starts the daemon; it answers on the socket systemd bound
      const list = virsh(`mpqemu+unix:///session?socket=${rw}`, 'pool-define-as', 'sa', 'dir', '--target', join(dir, 'pool'));
      expect(list.code, `${list.stderr}\n${stderr}`).toBe(0);
      expect(virsh(`mpqemu+unix:///session?socket=${rw}`, 'pool-list', '--all', '--name').stdout.trim()).toBe('sa');
      const r = virsh(`mpqemu+unix:///session?socket=${ro}`, 'pool-list', '--all', '--name');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('sa');
      expect(virsh(`mpqemu+unix:///session?socket=${ro}`, 'pool-undefine', 'sa').stderr).toContain('operation forbidden: read only access prevents virStoragePoolUndefine');
      // its log (read once the synchronous virsh calls let the event loop run) says it started
      expect(await waitFor(() => stderr.includes('"msg":"mpvirtd ready"'), 5000), stderr).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // the files are systemd's (RemoveOnStop=): mpvirtd did not remove them
    expect(existsSync(rw)).toBe(true);
  }, 60_000);

  it('the unit files pass systemd-analyze verify', () => {
    const units = ['virtmpqemud.service', 'virtmpqemud.socket', 'virtmpqemud-ro.socket'].map((u) => join(projectRoot, 'systemd', u));
    const v = spawnSync('/usr/bin/systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stderr.split('\n').filter((l) => l.includes('virtmpqemud'))).toEqual([]);
  });
});
