// A main QEMU from 8.2 on crashes (SIGSEGV) under TCG as soon as it has an x-pci-proxy-dev
// (../shared/notes/qemu-versions.md): such a start is refused before anything is spawned, with
// why and what works instead. Decided from the probed capabilities (version, accelerators):
// unit cases on the recorded 7.2 capabilities with fabricated versions; a driver whose capability
// cache holds a fabricated 10.0.2 for the real binary refuses the start without spawning; and the
// real 7.2 (TCG, a remote) still starts as before.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMpvirtError } from '../../src/errors.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { CAPS_FORMAT } from '../../src/emulator/caps-probe.js';
import { refuseKnownCrashes } from '../../src/emulator/known-crashes.js';
import { Harness } from '../driver/harness.js';

const recorded: QemuCaps = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'emulator', 'caps-qemu-7.2.json'), 'utf8'));
const withVersion = (v: string, extra: Partial<QemuCaps> = {}): QemuCaps => {
  const [major, minor, micro] = v.split('.').map(Number) as [number, number, number];
  return { ...recorded, version: { major, minor, micro }, ...extra };
};
const oneRemote = [{ rid: 'r0', alias: 'ua-lsi0' }];

/** the refusal's error, or undefined when the start may go on */
function decision(caps: QemuCaps, domainType: string, remotes = oneRemote): Error | undefined {
  try {
    refuseKnownCrashes(caps, { domainType, remotes });
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

describe('the decision, from version and accelerators', () => {
  it('refuses 8.2.0 and later under TCG with a remote, saying why and what works', () => {
    for (const v of ['8.2.0', '8.2.2', '9.0.0', '10.0.2']) {
      const e = decision(withVersion(v), 'qemu');
      expect(isMpvirtError(e, 'VIR_ERR_CONFIG_UNSUPPORTED'), v).toBe(true);
      expect(e!.message).toBe(`unsupported configuration: QEMU ${v} (/usr/bin/qemu-system-x86_64) crashes under TCG with a remote device: ` +
        "from QEMU 8.2 on, the main QEMU's x-pci-proxy-dev sets up KVM irqfds without KVM in use and dies with SIGSEGV " +
        "(remote process 'r0' (device 'ua-lsi0')); use <domain type='kvm'>, or a main QEMU up to 8.1 in <emulator> " +
        '(remote processes may run a newer QEMU through <mpq:emulator>)');
    }
    expect(decision(withVersion('10.0.2'), 'qemu', [...oneRemote, { rid: 'r1', alias: 'ua-virtio-scsi0' }])?.message)
      .toContain("(remote processes 'r0' (device 'ua-lsi0'), 'r1' (device 'ua-virtio-scsi0'))");
  });

  it('lets 8.1 and earlier, KVM, and a domain with no remote through', () => {
    for (const v of ['7.2.22', '8.0.5', '8.1.5']) expect(decision(withVersion(v), 'qemu'), v).toBeUndefined();
    expect(decision(withVersion('10.0.2'), 'kvm')).toBeUndefined();
    expect(decision(withVersion('10.0.2'), 'qemu', [])).toBeUndefined();
  });

  it('lets a QEMU built without KVM through (its irqfd call is a stub that fails, no crash)', () => {
    expect(decision(withVersion('10.0.2', { accelerators: ['tcg'] }), 'qemu')).toBeUndefined();
  });

  it("never looks at the binary's path", () => {
    expect(decision(withVersion('7.2.22', { binary: '/opt/qemu-10.0.2/bin/qemu-system-x86_64' }), 'qemu')).toBeUndefined();
    expect(decision(withVersion('10.0.2', { binary: '/usr/bin/qemu-7.2' }), 'qemu')?.message).toMatch(/^unsupported configuration: QEMU 10\.0\.2 \(\/usr\/bin\/qemu-7\.2\) crashes under TCG/);
  });
});

const QEMU = '/usr/bin/qemu-system-x86_64';

/** A capability cache entry for the real binary (its own key, so no probe runs) with these caps. */
function fabricateCacheEntry(dir: string, caps: QemuCaps): void {
  const path = realpathSync(QEMU);
  const st = statSync(path);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${createHash('sha256').update(path).digest('hex')}.json`), JSON.stringify({ format: CAPS_FORMAT, key: { path, size: st.size, mtimeMs: st.mtimeMs }, caps }));
}

describe('at start through the driver', () => {
  const fabricated = new Harness();
  const real = new Harness();
  afterAll(async () => {
    await fabricated.cleanup();
    await real.cleanup();
  });

  it('refuses a TCG domain with a remote on a main QEMU probed as 10.0.2, before any process or file of the run exists', async () => {
    fabricateCacheEntry(fabricated.capsCacheDir, withVersion('10.0.2', { binary: QEMU }));
    const driver = await fabricated.driver();
    const obj = await driver.defineXML(fabricated.xml('tcg10'));
    fabricated.events.length = 0;
    const err = await driver.start(obj).then(() => undefined, (e: unknown) => e as Error);
    expect(isMpvirtError(err, 'VIR_ERR_CONFIG_UNSUPPORTED')).toBe(true);
    expect(err!.message).toMatch(/^unsupported configuration: QEMU 10\.0\.2 \(\/usr\/bin\/qemu-system-x86_64\) crashes under TCG with a remote device: .*'8' \(device 'ua-lsi0'\).*use <domain type='kvm'>/);
    // nothing was spawned: no runtime dir, no process, no "starting up" in the domain's log, no event
    expect(existsSync(join(fabricated.stateDir, 'tcg10'))).toBe(false);
    expect(obj.runtime).toBeUndefined();
    const log = join(fabricated.logDir, 'tcg10.log');
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').not.toMatch(/starting up/);
    expect(fabricated.events).toEqual([]);
    expect(fabricated.stateOf(obj)).toBe('shut off (unknown)');
  });

  it('still starts the same domain on the real QEMU 7.2 under TCG', async () => {
    const driver = await real.driver();
    expect((await driver.caps.get(QEMU)).version.major).toBe(7);
    const obj = await driver.defineXML(real.xml('tcg72'));
    real.events.length = 0;
    await driver.start(obj);
    real.track(obj);
    expect(real.stateOf(obj)).toBe('running (booted)');
    expect(real.events).toEqual(['tcg72: Resumed Unpaused', 'tcg72: Started Booted']);
    await driver.destroy(obj);
    expect(real.stateOf(obj)).toBe('shut off (destroyed)');
  });
});
