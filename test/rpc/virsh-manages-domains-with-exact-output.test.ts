/**
 * The real /usr/bin/virsh (libvirt-clients 9.0) against startRpcServer and a
 * QemuDriver running real QEMU: every command's stdout, stderr and exit code
 * compared exactly with virsh-compat.md (trailing blank line, table widths,
 * dominfo layout, two-line errors).
 */
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import { waitFor } from '../driver/harness.js';
import { fail, ok, RpcHarness, type VirshResult } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const run = (...args: string[]): Promise<Partial<VirshResult>> => r.run(...args);
const file = (name: string, text: string): string => {
  const p = join(r.h.dir, name);
  writeFileSync(p, text);
  return p;
};
const uuidOf = (name: string): string => r.driver.lookupByName(name).uuid;

describe('virsh against mpvirtd', () => {
  it('lists an empty daemon as an empty table', async () => {
    expect(await run('list', '--all')).toEqual(ok(' Id   Name   State\n--------------------\n\n'));
    expect(await run('list', '--all', '--name')).toEqual(ok('\n'));
  });

  it('reports versions: client library, the QEMU API, the default emulator, the daemon level', async () => {
    const v = await r.driver.hypervisorVersion();
    const hv = `${Math.floor(v / 1e6)}.${Math.floor(v / 1e3) % 1000}.${v % 1000}`;
    const head = 'Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\n';
    expect(await run('version')).toEqual(ok(`${head}Running hypervisor: QEMU ${hv}\n\n`));
    expect(await run('version', '--daemon')).toEqual(ok(`${head}Running hypervisor: QEMU ${hv}\nRunning against daemon: 9.0.0\n\n`));
    expect(await run('hostname')).toEqual(ok(`${hostname()}\n\n`));
    expect(await run('uri')).toEqual(ok(`${r.uri()}\n\n`));
  });

  it('defines a domain and shows it shut off in list and dominfo', async () => {
    const f = file('vm1.xml', r.h.xml('vm1'));
    expect(await run('define', f)).toEqual(ok(`Domain 'vm1' defined from ${f}\n\n`));
    expect(await run('list', '--all')).toEqual(ok(' Id   Name   State\n-----------------------\n -    vm1    shut off\n\n'));
    expect(await run('list')).toEqual(ok(' Id   Name   State\n--------------------\n\n'));
    expect(await run('dominfo', 'vm1')).toEqual(ok(
      'Id:             -\n' +
      'Name:           vm1\n' +
      `UUID:           ${uuidOf('vm1')}\n` +
      'OS Type:        hvm\n' +
      'State:          shut off\n' +
      'CPU(s):         1\n' +
      'Max memory:     131072 KiB\n' +
      'Used memory:    131072 KiB\n' +
      'Persistent:     yes\n' +
      'Autostart:      disable\n' +
      'Managed save:   no\n' +
      'Security model: none\n' +
      'Security DOI:   0\n\n',
    ));
    expect(await run('domstate', '--reason', 'vm1')).toEqual(ok('shut off (unknown)\n\n'));
  });

  it('starts it: list shows the id, domstate --reason says running (booted), lookups by id and uuid work', async () => {
    expect(await run('start', 'vm1')).toEqual(ok("Domain 'vm1' started\n\n"));
    r.h.track(r.driver.lookupByName('vm1'));
    const id = r.driver.lookupByName('vm1').id;
    const uuid = uuidOf('vm1');
    expect(await run('list')).toEqual(ok(` Id   Name   State\n----------------------\n ${id}    vm1    running\n\n`));
    expect(await run('domstate', '--reason', 'vm1')).toEqual(ok('running (booted)\n\n'));
    expect(await run('domstate', String(id))).toEqual(ok('running\n\n'));
    expect(await run('domid', 'vm1')).toEqual(ok(`${id}\n\n`));
    expect(await run('domuuid', String(id))).toEqual(ok(`${uuid}\n\n`));
    expect(await run('domname', uuid)).toEqual(ok('vm1\n\n'));
    const info = await run('dominfo', uuid);
    expect(info.stdout).toMatch(new RegExp(`^Id:             ${id}\nName:           vm1\nUUID:           ${uuid}\nOS Type:        hvm\nState:          running\n`));
    const obj = r.driver.lookupByName('vm1');
    expect(await run('dumpxml', 'vm1')).toEqual(ok(`${r.driver.getXMLDesc(obj)}\n`));
    expect(await run('dumpxml', '--inactive', 'vm1')).toEqual(ok(`${r.driver.getXMLDesc(obj, { inactive: true })}\n`));
    expect(r.driver.getXMLDesc(obj)).toMatch(new RegExp(`^<domain type='qemu' id='${id}'>`));
  });

  it('refuses to start a running domain (virsh decides from the handle id)', async () => {
    expect(await run('start', 'vm1')).toEqual(fail('error: Domain is already active\n'));
  });

  it('refuses a define with a clashing name, showing the uuid it clashes with', async () => {
    const f = file('clash.xml', r.h.xml('vm1', { uuid: '11111111-2222-3333-4444-555555555555' }));
    expect(await run('define', f)).toEqual(
      fail(`error: Failed to define domain from ${f}\nerror: operation failed: domain 'vm1' already exists with uuid ${uuidOf('vm1')}\n`),
    );
  });

  it('define --validate refuses a schema-invalid document with the validator message', async () => {
    const xml = r.h.xml('bad1').replace('<memory', "<bogus attr='1'/><memory");
    const f = file('bad1.xml', xml);
    const message = (() => {
      try {
        parseDomainXml(xml, { validateSchema: true });
        return 'accepted';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(message).not.toBe('accepted');
    expect(await run('define', '--validate', f)).toEqual(fail(`error: Failed to define domain from ${f}\nerror: ${message}\n`));
    expect(await run('list', '--all', '--name')).toEqual(ok('vm1\n\n'));
  });

  it('destroys, then refuses a second destroy with the two-line error', async () => {
    expect(await run('destroy', 'vm1')).toEqual(ok("Domain 'vm1' destroyed\n\n"));
    expect(await run('domstate', '--reason', 'vm1')).toEqual(ok('shut off (destroyed)\n\n'));
    expect(await run('destroy', 'vm1')).toEqual(
      fail("error: Failed to destroy domain 'vm1'\nerror: Requested operation is not valid: domain is not running\n"),
    );
    // flags we do not implement are refused like libvirt's virCheckFlags, before anything else
    expect(await run('destroy', '--remove-logs', 'vm1')).toEqual(
      fail("error: Failed to destroy domain 'vm1'\nerror: invalid argument: unsupported flags (0x2) in function qemuDomainDestroyFlags\n"),
    );
  });

  it('prints only its own line for lookups that fail', async () => {
    expect(await run('dominfo', 'nope')).toEqual(fail("error: failed to get domain 'nope'\n"));
    expect(await run('domstate', '42')).toEqual(fail("error: failed to get domain '42'\n"));
    expect(await run('dominfo', '0b1963c3-907a-42aa-a44d-2bde3453e681')).toEqual(fail("error: failed to get domain '0b1963c3-907a-42aa-a44d-2bde3453e681'\n"));
  });

  it('start --paused, resume, suspend and destroy --graceful', async () => {
    expect(await run('start', '--paused', 'vm1')).toEqual(ok("Domain 'vm1' started\n\n"));
    r.h.track(r.driver.lookupByName('vm1'));
    expect(await run('domstate', 'vm1')).toEqual(ok('paused\n\n'));
    expect(await run('resume', 'vm1')).toEqual(ok("Domain 'vm1' resumed\n\n"));
    expect(await run('domstate', '--reason', 'vm1')).toEqual(ok('running (unpaused)\n\n'));
    expect(await run('suspend', 'vm1')).toEqual(ok("Domain 'vm1' suspended\n\n"));
    expect(await run('domstate', '--reason', 'vm1')).toEqual(ok('paused (user)\n\n'));
    // QEMU's reply line as it came, its id included, as libvirt returns it
    const q = await run('qemu-monitor-command', 'vm1', '{"execute":"query-status"}');
    expect({ ...q, stdout: q.stdout!.replace(/"libvirt-\d+"/, '"libvirt-N"') }).toEqual(
      ok('{"return":{"status":"paused","singlestep":false,"running":false},"id":"libvirt-N"}\n\n'),
    );
    expect(await run('qemu-monitor-command', 'vm1', '--hmp', 'info status')).toEqual(ok('VM status: paused\r\n\n\n'));
    expect(await run('destroy', '--graceful', 'vm1')).toEqual(ok("Domain 'vm1' destroyed\n\n"));
  });

  it('marks and unmarks autostart', async () => {
    expect(await run('autostart', 'vm1')).toEqual(ok("Domain 'vm1' marked as autostarted\n\n"));
    expect((await run('dominfo', 'vm1')).stdout).toContain('\nAutostart:      enable\n');
    expect(await run('list', '--all', '--autostart', '--name')).toEqual(ok('vm1\n\n'));
    expect(await run('autostart', '--disable', 'vm1')).toEqual(ok("Domain 'vm1' unmarked as autostarted\n\n"));
    expect(await run('list', '--all', '--autostart', '--name')).toEqual(ok('\n'));
  });

  it('create FILE runs a transient domain that is gone after destroy', async () => {
    const f = file('tr1.xml', r.h.xml('tr1'));
    expect(await run('create', f)).toEqual(ok(`Domain 'tr1' created from ${f}\n\n`));
    const tr = r.driver.lookupByName('tr1');
    r.h.track(tr);
    expect(await run('list', '--all')).toEqual(ok(` Id   Name   State\n-----------------------\n ${tr.id}    tr1    running\n -    vm1    shut off\n\n`));
    expect(await run('list', '--transient', '--name')).toEqual(ok('tr1\n\n'));
    expect((await run('dominfo', 'tr1')).stdout).toContain('\nPersistent:     no\n');
    expect(await run('destroy', 'tr1')).toEqual(ok("Domain 'tr1' destroyed\n\n"));
    expect(await run('list', '--all', '--name')).toEqual(ok('vm1\n\n'));
  });

  it('create --autodestroy: the domain dies with the virsh connection that created it', async () => {
    const f = file('ad1.xml', r.h.xml('ad1'));
    const gone = (): boolean => r.driver.listDomains().every((d) => d.name !== 'ad1');
    expect(await run('create', '--autodestroy', f)).toEqual(ok(`Domain 'ad1' created from ${f}\n\n`));
    expect(await waitFor(gone, 10_000)).toBe(true);
    expect(await run('list', '--all', '--name')).toEqual(ok('vm1\n\n'));
  });

  it('answers APIs it does not serve with VIR_ERR_NO_SUPPORT, which virsh prints', async () => {
    expect(await run('sysinfo')).toEqual(
      fail('error: failed to get sysinfo\nerror: this function is not supported by the connection driver: virConnectGetSysinfo\n'),
    );
  });

  it('refuses URIs that are not its own with libvirt\'s "no connection driver" error', async () => {
    const res = await r.virsh(['list'], { uri: `foo+unix:///system?socket=${r.socket}` });
    expect({ code: res.code, stdout: res.stdout, stderr: res.stderr }).toEqual({
      code: 1, stdout: '', stderr: 'error: failed to connect to the hypervisor\nerror: no connection driver available for foo:///system\n',
    });
    expect((await r.virsh(['domstate', 'vm1'], { uri: `qemu+unix:///system?socket=${r.socket}` })).stdout).toBe('shut off\n\n');
    expect((await r.virsh(['domstate', 'vm1'], { uri: `mpqemu+unix:///session?socket=${r.socket}` })).stdout).toBe('shut off\n\n');
  });

  it('undefines, leaving an empty list', async () => {
    expect(await run('undefine', 'vm1')).toEqual(ok("Domain 'vm1' has been undefined\n\n"));
    expect(await run('list', '--all')).toEqual(ok(' Id   Name   State\n--------------------\n\n'));
  });

  it('answers `virsh list --all` in virsh start-up time (median of 20 runs)', async () => {
    file('t1.xml', r.h.xml('t1'));
    await run('define', join(r.h.dir, 't1.xml'));
    const ms: number[] = [];
    for (let i = 0; i < 20; i++) ms.push((await r.virsh(['list', '--all'])).ms);
    ms.sort((a, b) => a - b);
    const median = (ms[9]! + ms[10]!) / 2;
    console.log(`virsh list --all: median ${median.toFixed(1)} ms, min ${ms[0]!.toFixed(1)}, max ${ms[19]!.toFixed(1)} (n=20)`);
    expect(median).toBeLessThan(500);
    await run('undefine', 't1');
  });

  it('logged no warning or error for any of this', () => {
    expect(r.log.lines).toEqual([]);
    expect(r.server.clientCount()).toBe(0);
  });
});
