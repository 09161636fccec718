// On whatever QEMU /usr/bin/qemu-system-x86_64 is (Debian 12's 7.2 in `npm test`, bookworm-
// backports' 10.0.2 in `npm run test:qemu10`), through the driver with the real probe:
// - a KVM domain with its lsilogic disk in a remote process starts, runs, and the remote's monitor
//   answers query-block with the disk; destroy leaves nothing;
// - the same domain under TCG starts as before on a main QEMU up to 8.1, and from 8.2 on is
//   refused before anything is spawned (the proxy crashes there: known-crashes.ts).
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMpvirtError } from '../../src/errors.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { PROXY_TCG_CRASH_SINCE } from '../../src/emulator/known-crashes.js';
import { Harness, pidAlive, waitFor } from '../driver/harness.js';

const QEMU = '/usr/bin/qemu-system-x86_64';
const h = new Harness();
afterAll(() => h.cleanup());

const kvmUsable = (): boolean => {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

const proxyCrashesUnderTcg = (caps: QemuCaps): boolean => {
  const v = caps.version;
  const since = PROXY_TCG_CRASH_SINCE;
  const newer = v.major !== since.major ? v.major > since.major : v.minor >= since.minor;
  return newer && caps.accelerators.includes('kvm');
};

describe(`a domain with a remote disk on ${QEMU}`, () => {
  it('under KVM: starts, runs, and its remote answers query-block with the disk', async (ctx) => {
    // a jailed main QEMU opens /dev/kvm through the kvm group; where the node is root's alone
    // (0600, as on these machines) no jail id could open it (nor could libvirt's qemu user)
    const groupUsable = existsSync('/dev/kvm') && (statSync('/dev/kvm').mode & 0o060) === 0o060;
    if (!groupUsable) console.log('/dev/kvm is not usable by its group here: the KVM domain runs unjailed (jailIds: null)');
    const driver = await h.driver(groupUsable ? {} : { jailIds: null });
    const caps = await driver.caps.get(QEMU);
    if (!kvmUsable() || !caps.accelerators.includes('kvm')) {
      console.log(`skipped: no usable KVM here (/dev/kvm ${existsSync('/dev/kvm') ? 'not accessible' : 'missing'}, accelerators ${caps.accelerators.join(',')})`);
      ctx.skip();
    }
    const disk = h.disk('kvm.img');
    const obj = await driver.defineXML(h.xml('kvmdom', { disk }).replace("<domain type='qemu'>", "<domain type='kvm'>"));
    h.events.length = 0;
    await driver.start(obj);
    const pids = h.track(obj);
    expect(h.stateOf(obj)).toBe('running (booted)');
    expect(h.events).toEqual(['kvmdom: Resumed Unpaused', 'kvmdom: Started Booted']);
    const rt = obj.runtime!;
    expect(await rt.main.qmp.execute<{ status: string }>('query-status')).toMatchObject({ status: 'running', running: true });
    const blocks = await rt.remotes[0]!.qmp.execute<Array<{ inserted?: { file: string; image?: { 'virtual-size': number } } }>>('query-block');
    const inserted = blocks.map((b) => b.inserted).filter((i) => i !== undefined);
    expect(inserted).toHaveLength(1);
    expect(inserted[0]!.image?.['virtual-size']).toBe(64 * 1024 * 1024);
    await driver.destroy(obj);
    expect(h.stateOf(obj)).toBe('shut off (destroyed)');
    expect(await waitFor(() => ![pids.main, ...pids.remotes].some(pidAlive), 5000)).toBe(true);
  });

  it('under TCG: starts up to QEMU 8.1, and is refused before any spawn from 8.2 on', async () => {
    const driver = await h.driver();
    const caps = await driver.caps.get(QEMU);
    const obj = await driver.defineXML(h.xml('tcgdom'));
    h.events.length = 0;
    const err = await driver.start(obj).then(() => undefined, (e: unknown) => e as Error);
    const v = `${caps.version.major}.${caps.version.minor}.${caps.version.micro}`;
    if (proxyCrashesUnderTcg(caps)) {
      expect(isMpvirtError(err, 'VIR_ERR_CONFIG_UNSUPPORTED'), String(err)).toBe(true);
      expect(err!.message).toContain(`unsupported configuration: QEMU ${v} (${QEMU}) crashes under TCG with a remote device`);
      expect(err!.message).toContain("use <domain type='kvm'>");
      expect(existsSync(join(h.stateDir, 'tcgdom'))).toBe(false);
      const log = join(h.logDir, 'tcgdom.log');
      expect(existsSync(log) ? readFileSync(log, 'utf8') : '').not.toMatch(/starting up/);
      expect(h.events).toEqual([]);
      expect(h.stateOf(obj)).toBe('shut off (unknown)');
    } else {
      expect(err, `QEMU ${v}`).toBeUndefined();
      h.track(obj);
      expect(h.stateOf(obj)).toBe('running (booted)');
      await driver.destroy(obj);
      expect(h.events).toEqual(['tcgdom: Resumed Unpaused', 'tcgdom: Started Booted', 'tcgdom: Shutdown Finished after host request', 'tcgdom: Stopped Destroyed']);
    }
  });
});
