// The binding's configuration-changing calls (src/libvirt/domain-config.ts) on libvirt's own test
// driver, in process: each changes what the driver then reports (XML, info, the domain list), a
// refusal is the driver's LibvirtError, and the screenshot's stream is freed by its owner.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, LibvirtError, type Connection, type Domain } from '../../src/libvirt/index.js';

const dir = mkdtempSync(join(tmpdir(), 'binding-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let c: Connection;
let d: Domain;
beforeEach(() => {
  // test:///default's state lives while a connection to it is open: each case starts afresh
  c = connect('test:///default');
  d = c.lookupDomainByName('test');
});
afterEach(() => {
  d.free();
  c.close();
});

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof LibvirtError) return e.code;
    throw e;
  }
  return 'no error';
};

describe('domain configuration calls on test:///default', () => {
  it('memory: setMemory (flagless and with flags) and setMaxMemory change what info() and the XML say', () => {
    d.setMemory(1048576);
    expect(d.info().memory).toBe(1048576);
    d.setMemory(524288, 2);
    expect(d.xml({ inactive: true })).toContain("<currentMemory unit='KiB'>524288</currentMemory>");
    expect(code(() => d.setMaxMemory(4194304))).toBe('VIR_ERR_OPERATION_INVALID'); // not on a running domain
    expect(code(() => d.setMemory(99999999999))).toBe('VIR_ERR_INVALID_ARG');
  });

  it('vcpus: setVcpus with and without flags; setVcpu is refused as the driver refuses it; the host CPU count', () => {
    d.setVcpus(1);
    expect(d.info().vcpus).toBe(1);
    d.setVcpus(2, 2 | 4); // the persistent maximum
    expect(d.xml({ inactive: true })).toMatch(/<vcpu placement='static'[^>]*>2<\/vcpu>/);
    expect(code(() => d.setVcpu('1', true))).toBe('VIR_ERR_NO_SUPPORT');
    expect(c.nodeCpuCount()).toBeGreaterThan(0);
  });

  it('lifecycle actions, keys, NMI and power management', () => {
    d.setLifecycleAction(2, 3, 2); // crash → preserve, in the persistent definition
    expect(d.xml({ inactive: true })).toContain('<on_crash>preserve</on_crash>');
    d.sendKey(0, 10, [30, 48]);
    d.injectNMI();
    expect(code(() => d.pmSuspend(0, 0))).toBe('VIR_ERR_NO_SUPPORT');
    expect(code(() => d.pmWakeup())).toBe('VIR_ERR_NO_SUPPORT');
  });

  it('rename an inactive domain; refused while it runs', () => {
    expect(code(() => d.rename('renamed'))).toBe('VIR_ERR_OPERATION_INVALID');
    d.destroy();
    d.rename('renamed');
    using back = c.lookupDomainByName('renamed');
    expect(back.uuid).toBe(d.uuid);
    expect(code(() => c.lookupDomainByName('test').free())).toBe('VIR_ERR_NO_DOMAIN');
    back.rename('test');
  });

  it('managed save, save and restore, core dumps', () => {
    d.managedSave();
    expect(d.hasManagedSaveImage()).toBe(true);
    d.managedSaveRemove();
    expect(d.hasManagedSaveImage()).toBe(false);
    d.create();
    const img = join(dir, 'test.save');
    d.save(img);
    expect(d.isActive()).toBe(false);
    c.restoreDomain(img);
    expect(d.isActive()).toBe(true);
    expect(code(() => c.restoreDomain(join(dir, 'nope.save'), null, 4))).not.toBe('no error');
    d.coreDump(join(dir, 'core'));
    expect(readFileSync(join(dir, 'core'), 'latin1')).toContain('TestGuestMagic'); // what the test driver writes
    expect(code(() => d.coreDump(join(dir, 'core2'), 16, 1))).not.toBe('no error');
  });

  it('the flagless device and undefine calls, and snapshot counts', () => {
    const disk = "<disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='vdb' bus='virtio'/></disk>";
    // the test driver serves only the *Flags device calls: the refusal names the flagless API called
    const refusal = (fn: () => void): string => {
      try {
        fn();
      } catch (e) {
        if (e instanceof LibvirtError) return `${e.code} ${e.message}`;
        throw e;
      }
      return 'no error';
    };
    expect(refusal(() => d.attachDeviceCurrent(disk))).toBe('VIR_ERR_NO_SUPPORT this function is not supported by the connection driver: virDomainAttachDevice');
    expect(refusal(() => d.detachDeviceCurrent(disk))).toBe('VIR_ERR_NO_SUPPORT this function is not supported by the connection driver: virDomainDetachDevice');
    expect(d.snapshotCount()).toBe(0);
    d.destroy();
    d.undefineCurrent();
    expect(code(() => c.lookupDomainByName('test').free())).toBe('VIR_ERR_NO_DOMAIN');
  });

  it('a screenshot arrives on its stream, and native config conversion is the driver\'s to refuse', async () => {
    const { mime, stream } = d.screenshot(0);
    try {
      expect(mime).toBe('image/png');
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      stream.finish();
      expect(Buffer.concat(chunks).subarray(0, 4).toString('latin1')).toBe('\x89PNG');
    } finally {
      stream.free();
    }
    expect(code(() => c.domainXMLFromNative('qemu-argv', '/usr/bin/qemu'))).toBe('VIR_ERR_NO_SUPPORT');
    expect(code(() => c.domainXMLToNative('qemu-argv', d.xml()))).toBe('VIR_ERR_NO_SUPPORT');
  });
});
