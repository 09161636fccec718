// The binding against libvirt's built-in test driver (test:///default, in this process: no daemon):
// connection facts, domain lookups, lists, lifecycle, XML, metadata, autostart, stats, storage,
// typed errors, read-only and authenticated opens, and the lifecycle events these changes raise.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BindingError, connect, libvirtVersion, LibvirtError, type LifecycleEvent } from '../../src/libvirt/index.js';
import { ConnectListAllStoragePoolsFlags, DomainStatsTypes } from '../../src/libvirt/enums.js';
import * as pkg from '../../src/index.js';

const URI = 'test:///default';
const domXml = (name: string, extra = ''): string =>
  `<domain type='test'><name>${name}</name><memory unit='KiB'>65536</memory><vcpu>2</vcpu><os><type>hvm</type></os>${extra}</domain>`;
const tmp = mkdtempSync(join(tmpdir(), 'mpvirt-binding-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

/** Resolves once `n` events are in `list`, or fails after `ms`. */
async function until<T>(list: T[], n: number, ms = 5000): Promise<T[]> {
  const end = Date.now() + ms;
  while (list.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return list;
}

describe('a test:///default connection', () => {
  it('is what the package exports', () => {
    expect(pkg.connect).toBe(connect);
    expect(pkg.libvirtEnums.DomainState.RUNNING).toBe(1);
  });

  it('reports the driver, versions and the host', () => {
    using c = connect(URI);
    expect(c.uri).toBe(URI);
    expect(c.type).toBe('TEST');
    expect(c.libVersion).toBe(libvirtVersion());
    expect(libvirtVersion()).toBeGreaterThanOrEqual(9_000_000);
    expect(c.hostname.length).toBeGreaterThan(0);
    expect(c.isAlive()).toBe(true);
    expect(c.isSecure()).toBe(true);
    expect(c.capabilities()).toMatch(/^<capabilities>/);
  });

  it('finds the built-in domain by name, UUID and id, with its info, state and XML', () => {
    using c = connect(URI);
    using d = c.lookupDomainByName('test');
    using byUuid = c.lookupDomainByUUID(d.uuid);
    using byId = c.lookupDomainByID(d.id);
    expect([byUuid.name, byId.name]).toEqual(['test', 'test']);
    expect(d.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(d.info()).toMatchObject({ state: 1, stateName: 'running', vcpus: 2, memory: 2097152, maxMemory: 8388608 });
    expect(typeof d.info().cpuTime).toBe('bigint');
    expect(d.state()).toEqual({ state: 1, reason: 0, stateName: 'running' });
    expect(d.xml()).toContain("<domain type='test' id='1'>");
    expect(d.xml({ inactive: true })).toContain("<domain type='test'>");
    expect(d.isActive()).toBe(true);
    expect(d.isPersistent()).toBe(true);
  });

  it('defines, starts, pauses, reboots, stops and undefines a domain, with list filters following', () => {
    using c = connect(URI);
    using d = c.defineDomain(domXml('life1'));
    const names = (o?: Parameters<typeof c.listAllDomains>[0]): string[] => c.listAllDomains(o).map((x) => { const n = x.name; x.free(); return n; }).sort();
    expect(names({ inactive: true })).toContain('life1');
    expect(names({ active: true })).not.toContain('life1');
    d.create();
    expect(d.state().stateName).toBe('running');
    expect(d.id).toBeGreaterThan(0);
    d.suspend();
    expect(d.state().stateName).toBe('paused');
    expect(names({ paused: true })).toEqual(['life1']);
    d.resume();
    d.reboot();
    d.reset();
    d.shutdown();
    expect(d.state().stateName).toBe('shutoff');
    expect(d.id).toBe(-1);
    d.create();
    d.destroy();
    expect(d.isActive()).toBe(false);
    d.undefine();
    expect((thrown(() => c.lookupDomainByName('life1')) as LibvirtError).code).toBe('VIR_ERR_NO_DOMAIN');
  });

  it('creates a transient domain that is gone once destroyed', () => {
    using c = connect(URI);
    using d = c.createDomain(domXml('transient1'));
    expect(d.isPersistent()).toBe(false);
    expect(d.state().stateName).toBe('running');
    d.destroy();
    expect((thrown(() => c.lookupDomainByUUID(d.uuid)) as LibvirtError).code).toBe('VIR_ERR_NO_DOMAIN');
  });

  it('keeps title, description and namespaced metadata elements, and autostart', () => {
    using c = connect(URI);
    using d = c.defineDomain(domXml('meta1'));
    d.setMetadata('title', 'A title');
    d.setMetadata('description', 'Some <words>');
    d.setMetadata('element', '<cfg colour="blue"/>', { key: 'app', uri: 'http://example.org/app/1' });
    expect(d.metadata('title')).toBe('A title');
    expect(d.metadata('description')).toBe('Some <words>');
    expect(d.metadata('element', 'http://example.org/app/1')).toBe('<cfg colour="blue"/>');
    expect(d.xml()).toContain('<app:cfg xmlns:app="http://example.org/app/1" colour="blue"/>');
    d.setMetadata('title', null);
    const e = thrown(() => d.metadata('title')) as LibvirtError;
    expect([e.code, e.number]).toEqual(['VIR_ERR_NO_DOMAIN_METADATA', 80]);
    expect(d.autostart).toBe(false);
    d.autostart = true;
    expect(d.autostart).toBe(true);
    d.undefine();
  });

  it('returns all-domain stats as typed records with a domain each', () => {
    using c = connect(URI);
    const recs = c.getAllDomainStats(DomainStatsTypes.STATE);
    const test = recs.find((r) => r.domain.name === 'test');
    expect(test?.stats.state).toEqual({ state: 1, reason: 0 });
    expect(test?.stats.params['state.state']).toBe(1);
    for (const r of recs) r.domain.free();
    using d = c.lookupDomainByName('test');
    expect(d.stats(DomainStatsTypes.STATE).state?.state).toBe(1);
  });

  it('defines, starts, lists and removes a storage pool and its volumes', () => {
    using c = connect(URI);
    using p = c.defineStoragePool("<pool type='dir'><name>bpool</name><target><path>/bpool</path></target></pool>");
    expect(p.isActive()).toBe(false);
    expect(c.listAllStoragePools(ConnectListAllStoragePoolsFlags.INACTIVE).map((x) => { const n = x.name; x.free(); return n; })).toContain('bpool');
    p.start();
    expect(p.info()).toMatchObject({ stateName: 'running' });
    using v = p.createVolume("<volume><name>disk1.img</name><capacity unit='MiB'>10</capacity></volume>");
    expect(v.name).toBe('disk1.img');
    expect(v.path).toBe('/bpool/disk1.img');
    expect(v.info()).toMatchObject({ typeName: 'file', capacity: 10 * 1024 * 1024 });
    expect(v.xml()).toContain('<name>disk1.img</name>');
    using again = c.lookupStorageVolumeByPath('/bpool/disk1.img');
    expect(again.key).toBe(v.key);
    expect(p.listVolumes().map((x) => { const n = x.name; x.free(); return n; })).toEqual(['disk1.img']);
    expect(p.xml()).toContain('<name>bpool</name>');
    v.delete();
    expect((thrown(() => p.lookupVolume('disk1.img')) as LibvirtError).code).toBe('VIR_ERR_NO_STORAGE_VOL');
    p.destroy();
    p.undefine();
    expect((thrown(() => c.lookupStoragePoolByName('bpool')) as LibvirtError).code).toBe('VIR_ERR_NO_STORAGE_POOL');
  });

  it('throws LibvirtError with libvirt\'s code, number, domain and message', () => {
    using c = connect(URI);
    const e = thrown(() => c.lookupDomainByName('no-such-domain')) as LibvirtError;
    expect(e).toBeInstanceOf(LibvirtError);
    expect(e).toMatchObject({ code: 'VIR_ERR_NO_DOMAIN', number: 42, domainName: 'VIR_FROM_TEST', domain: 12, level: 2, call: 'virDomainLookupByName' });
    expect(e.message).toBe('Domain not found');
    const x = thrown(() => c.defineDomain('<domain>')) as LibvirtError;
    expect(x.code).toBe('VIR_ERR_XML_DETAIL');
    expect(x.message).toMatch(/^\(domain_definition\):1: /);
    using d = c.lookupDomainByName('test');
    const inv = thrown(() => d.create()) as LibvirtError;
    expect([inv.code, inv.number, inv.message]).toEqual(['VIR_ERR_INTERNAL_ERROR', 1, "internal error: Domain 'test' is already running"]);
    const flags = thrown(() => d.xml(1 << 20)) as LibvirtError;
    expect(flags.code).toBe('VIR_ERR_INVALID_ARG');
  });

  it('refuses a freed object with ERR_LIBVIRT_FREED, and free() twice is harmless', () => {
    const c = connect(URI);
    const d = c.lookupDomainByName('test');
    d.free();
    d.free();
    expect(d.freed).toBe(true);
    const e = thrown(() => d.name) as BindingError;
    expect(e).toBeInstanceOf(BindingError);
    expect(e.code).toBe('ERR_LIBVIRT_FREED');
    c.close();
    expect((thrown(() => c.hostname) as BindingError).code).toBe('ERR_LIBVIRT_FREED');
  });

  it('opens read-only connections that cannot change anything', () => {
    using c = connect(URI, { readonly: true });
    using d = c.lookupDomainByName('test');
    expect(d.name).toBe('test');
    expect((thrown(() => d.suspend()) as LibvirtError).code).toBe('VIR_ERR_OPERATION_DENIED');
  });

  it('calls the flagless API when no flag is given, as virsh does, and the *Flags one otherwise', () => {
    using c = connect(URI, { readonly: true });
    using d = c.lookupDomainByName('test');
    const denied = (f: () => void): [string, string] => {
      const e = thrown(f) as LibvirtError;
      return [e.call, e.message];
    };
    expect(denied(() => d.destroy())).toEqual(['virDomainDestroy', 'operation forbidden: read only access prevents virDomainDestroy']);
    expect(denied(() => d.destroy({ graceful: true }))).toEqual(['virDomainDestroyFlags', 'operation forbidden: read only access prevents virDomainDestroyFlags']);
    expect(denied(() => d.shutdown())[0]).toBe('virDomainShutdown');
    expect(denied(() => d.shutdown(1))[0]).toBe('virDomainShutdownFlags');
    expect(denied(() => d.create())[1]).toMatch(/prevents virDomainCreate$/);
    expect(denied(() => d.create({ paused: true }))[1]).toMatch(/prevents virDomainCreateWithFlags$/);
    expect(denied(() => c.defineDomain('<domain/>'))[1]).toMatch(/prevents virDomainDefineXML$/);
    expect(denied(() => c.defineDomain('<domain/>', 1))[1]).toMatch(/prevents virDomainDefineXMLFlags$/);
  });

  it('answers the test driver\'s username and password prompts through openAuth', () => {
    const file = join(tmp, 'auth.xml');
    writeFileSync(file, "<node><auth><user password='s3cret'>alice</user></auth></node>\n");
    const asked: string[] = [];
    const answer = (password: string) => (creds: Array<{ typeName: string }>) =>
      creds.map((cr) => (asked.push(cr.typeName), cr.typeName === 'passphrase' ? password : 'alice'));
    using c = connect(`test://${file}`, { auth: { callback: answer('s3cret') } });
    expect(c.isAlive()).toBe(true);
    expect(asked).toEqual(['authname', 'passphrase']);
    const e = thrown(() => connect(`test://${file}`, { auth: { callback: answer('wrong') } })) as LibvirtError;
    expect(e.code).toBe('VIR_ERR_AUTH_FAILED');
    const refused = thrown(() => connect(`test://${file}`, { auth: { callback: () => null } })) as LibvirtError;
    expect(refused).toBeInstanceOf(LibvirtError);
  });

  it('delivers typed lifecycle events for define, start, suspend, stop and undefine', async () => {
    using c = connect(URI);
    const seen: LifecycleEvent[] = [];
    const listener = (e: LifecycleEvent): void => {
      if (e.domain.name === 'ev1') seen.push(e);
    };
    c.events.on('lifecycle', listener);
    const d = c.defineDomain(domXml('ev1'));
    d.create();
    d.suspend();
    d.destroy();
    d.undefine();
    await until(seen, 5);
    expect(seen.map((e) => `${e.event}/${e.detail}`)).toEqual(['defined/added', 'started/booted', 'suspended/paused', 'stopped/destroyed', 'undefined/removed']);
    expect(seen[1]!.domain).toEqual({ name: 'ev1', uuid: d.uuid, id: expect.any(Number) });
    c.events.off('lifecycle', listener);
    d.free();
  });

  it('delivers one domain\'s events to a per-domain subscription, and none once it is closed', async () => {
    using c = connect(URI);
    using d = c.lookupDomainByName('test');
    const mine: string[] = [];
    const meta: number[] = [];
    const s1 = c.onDomainEvent('lifecycle', (e) => mine.push(`${e.domain.name} ${e.event}`), { domain: d });
    using s2 = c.onDomainEvent('metadata-change', (e) => meta.push(e.type));
    c.defineDomain(domXml('other1')).undefine();
    d.suspend();
    d.resume();
    d.setMetadata('title', 'x');
    await until(mine, 2);
    await until(meta, 1);
    s1.close();
    d.suspend();
    d.resume();
    await new Promise((r) => setTimeout(r, 50));
    expect(mine).toEqual(['test suspended', 'test resumed']);
    expect(meta).toEqual([1]);
    expect([s1.closed, s2.closed]).toEqual([true, false]);
  });
});
