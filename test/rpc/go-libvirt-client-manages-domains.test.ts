// A client that is not libvirt's: go-libvirt, the pure-Go wire-protocol client
// Terraform's libvirt provider is built on (Debian's package, built here with
// Debian's Go and no network). Its XDR differs from libvirt's C library (the
// presence word of CONNECT_OPEN's optional name is sent as 01 00 00 00), which
// libvirtd accepts; so must we. It connects, lists, defines, starts, destroys
// and undefines a domain, sees coded errors and receives the lifecycle events.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { RpcHarness } from './harness.js';

const GO = '/usr/bin/go';
const GO_LIBVIRT = '/usr/share/gocode/src/github.com/digitalocean/go-libvirt';
const r = new RpcHarness();
let client = '';

beforeAll(async () => {
  await r.start();
  if (!existsSync(GO) || !existsSync(GO_LIBVIRT)) {
    throw new Error('needs Debian packages golang-go and golang-github-digitalocean-go-libvirt-dev (npm test installs them as root)');
  }
  client = join(r.h.dir, 'golibvirt-client');
  // GOPATH mode against Debian's source tree: no module download, no network
  execFileSync(GO, ['build', '-o', client, '.'], {
    cwd: join(projectRoot, 'test/rpc/go/golibvirt-client'),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: r.h.dir, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(r.h.dir, 'gocache'), GOFLAGS: '', GOTOOLCHAIN: 'local' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
}, 150_000);
afterAll(() => r.cleanup());

function runClient(args: string[]): Promise<{ lines: Array<Record<string, unknown>>; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(client, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ lines, stderr: `${stderr}${stdout}`, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 });
    });
  });
}

describe('go-libvirt, a pure-Go client of the wire protocol', () => {
  it('drives the whole lifecycle and receives the events', async () => {
    const xmlFile = join(r.h.dir, 'go.xml');
    writeFileSync(xmlFile, r.h.xml('godom'));
    const { lines, stderr, code } = await runClient([r.socket, 'mpqemu:///system', xmlFile]);
    const step = (name: string): Record<string, unknown> => lines.find((l) => l.step === name) ?? {};
    expect(code, stderr).toBe(0);
    expect(step('open')).toMatchObject({ type: 'QEMU', libversion: 9000000 });
    expect(step('list-before')).toMatchObject({ names: [] });
    expect(step('define')).toMatchObject({ name: 'godom', id: -1 });
    expect(step('list-defined')).toMatchObject({ names: ['godom'] });
    expect(step('create')).toMatchObject({ state: [1, 1] });
    expect(step('destroy')).toMatchObject({ state: [5, 2] });
    expect(step('destroy-again')).toMatchObject({ code: 55, message: 'Requested operation is not valid: domain is not running' });
    expect(step('lookup-gone')).toMatchObject({ code: 42 });
    // Defined Added, Resumed Unpaused, Started Booted, Shutdown Finished (host), Stopped Destroyed, Undefined Removed
    expect(step('events').events).toEqual([
      ['godom', 0, 0],
      ['godom', 4, 0],
      ['godom', 2, 0],
      ['godom', 6, 2],
      ['godom', 5, 1],
      ['godom', 1, 0],
    ]);
    expect(step('done')).toEqual({ step: 'done' });
  });

  it('is refused with a libvirt error for a URI the daemon does not serve', async () => {
    const { lines, code } = await runClient([r.socket, 'xen:///system', join(r.h.dir, 'go.xml')]);
    expect(code).toBe(1);
    expect(lines[0]).toMatchObject({ step: 'open' });
    expect(String(lines[0]!.error)).toContain('xen:///system');
  });
});
