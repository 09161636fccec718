// Drop-in mode (docs/tools.md): on a host without libvirt's QEMU daemon, `mpvirtd --system
// --drop-in` also answers at the sockets libvirt's client uses for plain qemu:///system. This host
// has libvirt-daemon installed, so each daemon runs in a private mount namespace
// (drop-in-namespace.sh) where /run/libvirt is an empty directory of the test's, libvirt's
// binaries are hidden and /etc/libvirt/libvirt.conf is the client's remote_mode under test. The
// real virsh and python3-libvirt, with no socket= in the URI, reach it in legacy, direct and auto
// mode (the client's own debug log says which socket it chose); a daemon binary that is installed
// or another listener on one of the paths makes mpvirtd refuse before it binds anything.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { Harness, waitFor } from '../driver/harness.js';
import { takeActivatedSockets } from '../../src/daemon/socket-activation.js';
import { parseDaemonConfig } from '../../src/daemon/config.js';
import { buildMpvirtd, MpvirtdProcess } from './mpvirtd-process.js';

const h = new Harness();
let build: ReturnType<typeof buildMpvirtd>;
const daemons: MpvirtdProcess[] = [];
const script = join(projectRoot, 'test/daemon/drop-in-namespace.sh');
const run = join(h.dir, 'run-libvirt'); // bound over /run/libvirt in each namespace
const conf = (name: string, text: string): string => {
  const f = join(h.dir, `${name}.conf`);
  writeFileSync(f, text);
  return f;
};
const CLIENT_CONF = {
  legacy: conf('legacy', 'remote_mode = "legacy"\n'),
  direct: conf('direct', 'remote_mode = "direct"\n'),
  auto: conf('auto', '# no remote_mode: auto\n'),
};
const ownSocket = join(h.dir, 'own-sock');
const ownSocketRo = join(h.dir, 'own-sock-ro');

beforeAll(() => {
  build = buildMpvirtd();
  mkdirSync(run, { mode: 0o755 });
  chmodSync(run, 0o755);
});
afterAll(async () => {
  for (const d of daemons) await d.kill();
  build?.cleanup();
  await h.cleanup();
});

/** mpvirtd in a fresh private namespace; `sbin`: hide libvirt's binaries, keep them, or bind a directory over /usr/sbin. */
function startInNamespace(sbin: string, args: string[], stateDir = h.stateDir, wrap: string[] = []): MpvirtdProcess {
  const d = new MpvirtdProcess(build.cli, ['--system', '--config-dir', h.configDir, '--state-dir', stateDir, '--log-dir', h.logDir,
    '--socket', ownSocket, '--socket-ro', ownSocketRo, ...args], {},
  ['/usr/bin/unshare', '-m', '--propagation', 'private', '/bin/bash', script, run, sbin, CLIENT_CONF.auto, '--', ...wrap]);
  daemons.push(d);
  return d;
}

interface Result { code: number; stdout: string; stderr: string }
/** A client command in the daemon's namespace, in a child namespace of its own with the client's libvirt.conf. */
function client(pid: number, mode: keyof typeof CLIENT_CONF, cmd: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile('/usr/bin/nsenter', ['-t', String(pid), '-m', '--', '/usr/bin/unshare', '-m', '--propagation', 'private', '/bin/sh', '-c',
      'mount --bind "$0" /etc/libvirt/libvirt.conf && exec "$@"', CLIENT_CONF[mode], ...cmd],
    { env: { PATH: '/usr/bin:/bin:/usr/sbin', HOME: h.dir, LC_ALL: 'C', LIBVIRT_LOG_FILTERS: '1:remote', LIBVIRT_LOG_OUTPUTS: '1:stderr' }, timeout: 60_000 },
    (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 }));
  });
}
const virsh = (pid: number, mode: keyof typeof CLIENT_CONF, ...args: string[]): Promise<Result> =>
  client(pid, mode, ['/usr/bin/virsh', '-c', 'qemu:///system', ...args]);
/** what libvirt's client logged as its choice (remoteGetUNIXSocket) */
const chosen = (r: Result): string | undefined => /Chosen UNIX sockname=(\S+) daemon_path=\S+ with mode=(\w+)/.exec(r.stderr)?.slice(1).join(' ');
/** client debug lines off, for comparing output */
const errors = (r: Result): string => r.stderr.split('\n').filter((l) => !/^\d{4}-\d\d-\d\d .* (debug|info) : /.test(l)).join('\n');

/** Every pid a running domain's status file names, for cleanup by pid. */
function trackDomainPids(name: string): void {
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (k === 'pid' && typeof x === 'number' ? h.pids.add(x) : walk(x));
  };
  walk(JSON.parse(readFileSync(join(h.stateDir, name, 'status.json'), 'utf8')));
}

/** A socket file nobody accepts on, as a crashed daemon leaves it. */
function staleSocket(path: string): number {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()', path]);
  expect(r.status, r.stderr?.toString()).toBe(0);
  return statSync(path).ino;
}

const PYTHON = `import libvirt, sys
c = libvirt.open('qemu:///system')
print(c.getURI(), c.getType(), [(d.name(), d.info()[0]) for d in c.listAllDomains()])
c.close()`;

describe('drop-in mode', () => {
  it('real virsh and python3-libvirt reach mpvirtd with plain qemu:///system in legacy, direct and auto mode', async () => {
    const stale = staleSocket(join(run, 'libvirt-sock'));
    const d = startInNamespace('hide', ['--drop-in']);
    const ready = await d.waitForLog('mpvirtd ready', 30_000);
    expect(ready.dropIn).toEqual(['libvirt-sock', 'libvirt-sock-ro', 'virtqemud-sock', 'virtqemud-sock-ro'].map((s) => `/run/libvirt/${s}`));
    expect(readdirSync(run).sort()).toEqual(['libvirt-sock', 'libvirt-sock-ro', 'virtqemud-sock', 'virtqemud-sock-ro']);
    expect(statSync(join(run, 'libvirt-sock')).ino).not.toBe(stale); // the stale one was replaced
    expect(statSync(join(run, 'libvirt-sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(run, 'virtqemud-sock-ro')).mode & 0o777).toBe(0o666);

    // legacy mode: libvirtd's socket
    let r = await virsh(d.pid, 'legacy', 'list', '--all');
    expect(chosen(r)).toBe('/var/run/libvirt/libvirt-sock legacy');
    expect(r).toMatchObject({ code: 0, stdout: ' Id   Name   State\n--------------------\n\n' });
    const xmlFile = join(h.dir, 'dropin1.xml');
    writeFileSync(xmlFile, h.xml('dropin1'));
    expect(await virsh(d.pid, 'legacy', 'define', xmlFile)).toMatchObject({ code: 0, stdout: `Domain 'dropin1' defined from ${xmlFile}\n\n` });
    r = await virsh(d.pid, 'legacy', 'start', 'dropin1');
    if (existsSync(join(h.stateDir, 'dropin1', 'status.json'))) trackDomainPids('dropin1');
    expect(r, errors(r)).toMatchObject({ code: 0, stdout: "Domain 'dropin1' started\n\n" });
    r = await virsh(d.pid, 'legacy', 'dominfo', 'dropin1');
    expect(r.stdout).toMatch(/^Id:             1\nName:           dropin1\nUUID:           [0-9a-f-]{36}\nOS Type:        hvm\nState:          running\n/);

    // direct mode: virtqemud's socket
    r = await virsh(d.pid, 'direct', 'list', '--all');
    expect(chosen(r)).toBe('/var/run/libvirt/virtqemud-sock direct');
    expect(r).toMatchObject({ code: 0, stdout: ' Id   Name      State\n-------------------------\n 1    dropin1   running\n\n' });
    expect((await virsh(d.pid, 'direct', 'domstate', 'dropin1')).stdout).toBe('running\n\n');
    // auto mode (no remote_mode): the direct socket exists, so the client picks it
    r = await virsh(d.pid, 'auto', 'dominfo', 'dropin1');
    expect(chosen(r)).toBe('/var/run/libvirt/virtqemud-sock direct');
    expect(r.stdout).toContain('State:          running\n');
    // read-only connections use the -ro sockets and stay read-only
    r = await virsh(d.pid, 'legacy', '-r', 'list', '--name');
    expect(chosen(r)).toBe('/var/run/libvirt/libvirt-sock-ro legacy');
    expect(r.stdout).toBe('dropin1\n\n');
    r = await virsh(d.pid, 'auto', '-r', 'destroy', 'dropin1');
    expect(chosen(r)).toBe('/var/run/libvirt/virtqemud-sock-ro direct');
    expect(errors(r)).toContain('error: operation forbidden: read only access prevents virDomainDestroy');
    // plain virsh with no URI at all: the client probes the legacy socket (Debian's build)
    r = await client(d.pid, 'legacy', ['/usr/bin/virsh', 'uri']);
    expect(r).toMatchObject({ code: 0, stdout: 'mpqemu:///system\n\n' });

    for (const mode of ['legacy', 'direct', 'auto'] as const) {
      r = await client(d.pid, mode, ['/usr/bin/python3', '-c', PYTHON]);
      expect(chosen(r), `${mode}: ${r.stderr}`).toBe(mode === 'legacy' ? '/var/run/libvirt/libvirt-sock legacy' : '/var/run/libvirt/virtqemud-sock direct');
      expect(r.stdout, errors(r)).toBe("qemu:///system QEMU [('dropin1', 1)]\n");
    }

    expect(await virsh(d.pid, 'direct', 'destroy', 'dropin1')).toMatchObject({ code: 0, stdout: "Domain 'dropin1' destroyed\n\n" });
    expect(await virsh(d.pid, 'legacy', 'undefine', 'dropin1')).toMatchObject({ code: 0, stdout: "Domain 'dropin1' has been undefined\n\n" });
    process.kill(d.pid, 'SIGTERM');
    expect(await d.exitWithin(15_000)).toEqual({ code: 0, signal: null });
    expect(readdirSync(run)).toEqual([]); // its sockets go with it
  }, 240_000);

  it('refuses while libvirt\'s daemon is installed: libvirtd (drop_in = 1 in the file) or virtqemud', async () => {
    const stateDir = join(h.dir, 'refused-state');
    const file = conf('mpvirtd-drop-in', 'drop_in = 1\n');
    const d = startInNamespace('keep', ['--config', file], stateDir);
    expect(await d.exitWithin(20_000)).toEqual({ code: 1, signal: null });
    expect(d.stderr).toBe("mpvirtd: Requested operation is not valid: drop-in mode refused: libvirt's QEMU daemon is installed (/usr/sbin/libvirtd); " +
      'plain qemu:///system belongs to it. Use mpqemu:///system or qemu+unix:///system?socket=/run/libvirt/virtmpqemud-sock, or remove it (Debian: libvirt-daemon)\n');

    const sbin = join(h.dir, 'sbin');
    mkdirSync(sbin);
    writeFileSync(join(sbin, 'virtqemud'), '#!/bin/sh\n', { mode: 0o755 });
    const d2 = startInNamespace(sbin, ['--drop-in'], stateDir);
    expect(await d2.exitWithin(20_000)).toEqual({ code: 1, signal: null });
    expect(d2.stderr).toContain("drop-in mode refused: libvirt's QEMU daemon is installed (/usr/sbin/virtqemud)");
    // nothing was created or bound
    expect(existsSync(stateDir)).toBe(false);
    expect(existsSync(ownSocket) || existsSync(ownSocketRo)).toBe(false);
    expect(readdirSync(run)).toEqual([]);
  }, 60_000);

  it('refuses while another daemon listens on one of the paths, leaving its own sockets uncreated', async () => {
    const other: Server = createServer((s) => s.destroy());
    await new Promise<void>((res) => other.listen(join(run, 'virtqemud-sock-ro'), res));
    try {
      const d = startInNamespace('hide', ['--drop-in'], join(h.dir, 'busy-state'));
      expect(await d.exitWithin(20_000)).toEqual({ code: 1, signal: null });
      expect(d.stderr).toBe("mpvirtd: operation failed: drop-in mode refused: another daemon is already listening on '/run/libvirt/virtqemud-sock-ro'\n");
      expect(readdirSync(run)).toEqual(['virtqemud-sock-ro']);
      expect(existsSync(ownSocket) || existsSync(ownSocketRo) || existsSync(join(h.dir, 'busy-state'))).toBe(false);
    } finally {
      await new Promise<void>((res) => other.close(() => res()));
    }
    // a session daemon has no qemu:///system to answer for
    const s = new MpvirtdProcess(build.cli, ['--session', '--drop-in', '--state-dir', join(h.dir, 'session-state'), '--socket', join(h.dir, 'session-sock')]);
    daemons.push(s);
    expect(await s.exitWithin(20_000)).toEqual({ code: 1, signal: null });
    expect(s.stderr).toBe('mpvirtd: unsupported configuration: drop-in mode answers qemu:///system: it needs the system instance (--system)\n');
  }, 60_000);

  it('under socket activation takes the drop-in sockets systemd holds, by libvirt\'s unit names', async () => {
    const names = ['virtmpqemud.socket', 'virtmpqemud-ro.socket', 'libvirtd.socket', 'libvirtd-ro.socket', 'virtqemud.socket', 'virtqemud-ro.socket'];
    const env = { LISTEN_PID: '42', LISTEN_FDS: '6', LISTEN_FDNAMES: names.join(':') };
    expect(takeActivatedSockets({ ...env }, 42)).toEqual({
      rw: 3, ro: 4, dropIn: { 'libvirtd.socket': 5, 'libvirtd-ro.socket': 6, 'virtqemud.socket': 7, 'virtqemud-ro.socket': 8 },
    });
    const paths = ['libvirt-sock', 'libvirt-sock-ro', 'virtqemud-sock', 'virtqemud-sock-ro'].map((p) => `/run/libvirt/${p}`);
    const activate = ['/usr/bin/systemd-socket-activate', '-l', ownSocket, '-l', ownSocketRo, ...paths.flatMap((p) => ['-l', p]),
      `--fdname=${names.join(':')}`, '-E', 'PATH'];
    const d = startInNamespace('hide', ['--drop-in'], join(h.dir, 'activated-state'), activate);
    await waitFor(() => readdirSync(run).length === 4, 10_000);
    // the first connection starts the daemon in the activator's process
    let r = await virsh(d.pid, 'legacy', 'list', '--name');
    expect(r, `${errors(r)}\n${d.stderr}`).toMatchObject({ code: 0, stdout: '\n' });
    expect(await d.waitForLog('mpvirtd ready', 20_000)).toMatchObject({ dropIn: paths });
    r = await virsh(d.pid, 'direct', '-r', 'uri');
    expect(chosen(r)).toBe('/var/run/libvirt/virtqemud-sock-ro direct');
    expect(r.stdout).toBe('qemu:///system\n\n');
    process.kill(d.pid, 'SIGTERM');
    expect(await d.exitWithin(15_000)).toEqual({ code: 0, signal: null });
    expect(readdirSync(run).length).toBe(4); // systemd's files, not mpvirtd's to remove
    for (const f of readdirSync(run)) spawnSync('/bin/rm', [join(run, f)]);
  }, 60_000);

  it('drop_in in mpvirtd.conf is 0 or 1, as libvirt\'s switches are', () => {
    expect(parseDaemonConfig('drop_in = 1\n')).toEqual({ dropIn: true });
    expect(parseDaemonConfig('drop_in = 0\n')).toEqual({ dropIn: false });
    expect(() => parseDaemonConfig('\ndrop_in = "yes"\n', 'f.conf')).toThrow("unsupported configuration: f.conf:2: setting 'drop_in' must be 0 or 1");
  });

  it('the drop-in socket units pass systemd-analyze verify beside the service', () => {
    const units = ['virtmpqemud.service', 'virtmpqemud.socket', 'virtmpqemud-ro.socket', 'virtmpqemud-libvirtd.socket', 'virtmpqemud-libvirtd-ro.socket',
      'virtmpqemud-virtqemud.socket', 'virtmpqemud-virtqemud-ro.socket'].map((u) => join(projectRoot, 'systemd', u));
    const v = spawnSync('/usr/bin/systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stderr.split('\n').filter((l) => l.includes('virtmpqemud'))).toEqual([]);
    for (const [unit, name] of [['libvirtd', 'libvirtd.socket'], ['virtqemud-ro', 'virtqemud-ro.socket']]) {
      expect(readFileSync(join(projectRoot, 'systemd', `virtmpqemud-${unit}.socket`), 'utf8')).toContain(`FileDescriptorName=${name}\n`);
    }
  });
});
