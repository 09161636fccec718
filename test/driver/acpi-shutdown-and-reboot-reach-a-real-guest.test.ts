// The ACPI power button, pressed by the driver, reaches a real Linux guest
// (test/fixtures/guest in e2e.mode=acpi: it loads the ACPI button and evdev
// modules, listens on the "Power Button" input device, and powers off when a
// press arrives). Its disk is on the remote lsilogic, as in the basic guest test.
//  - shutdown: QMP system_powerdown → the guest powers off → the domain stops
//    with libvirt's guest-shutdown events;
//  - reboot (libvirt's fake reboot): system_powerdown → the guest's SHUTDOWN →
//    system_reset + cont; the domain stays running, the guest boots again in
//    the same QEMU, and the reboot event fires once per QEMU RESET, as
//    libvirt's qemuProcessHandleReset does (qemuProcessFakeReboot emits none).
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DomainObject } from '../../src/driver/domain-object.js';
import type { QemuDriver } from '../../src/driver/driver.js';
import { Harness, MPQ, pidAlive, waitFor } from './harness.js';
import { guestImage } from './guest-image.js';


const NAME = 'acpi1';
const BOOT_MS = 120_000;

const h = new Harness();
afterAll(() => h.cleanup());

const serial = join(h.dir, 'serial.log');
const serialLog = (): string => (existsSync(serial) ? readFileSync(serial, 'utf8') : '');
const count = (re: RegExp): number => serialLog().match(new RegExp(re.source, 'gm'))?.length ?? 0;
const ms = (t0: number): number => Math.round(performance.now() - t0);
const eventsOf = (from = 0): string[] => h.events.slice(from).filter((e) => e.startsWith(`${NAME}:`)).map((e) => e.slice(NAME.length + 2));
const monitorOf = (event: string): string[] =>
  h.monitorEvents.filter((e) => e.dom.name === NAME && e.event === event).map((e) => e.details ?? '');

let driver: QemuDriver | undefined;
let obj: DomainObject | undefined;
let marker = '';
const reboots: string[] = [];
/** what the reboot test saw, for the event-count check */
let afterReboot: { reboots: number; resets: string[] } | undefined;

async function setup(): Promise<{ driver: QemuDriver; obj: DomainObject }> {
  if (driver && obj) return { driver, obj };
  const guest = await guestImage();
  const disk = h.disk('guest-disk.img', 16);
  marker = `E2E-HOST-MARKER-${randomBytes(8).toString('hex')}`;
  const fd = openSync(disk, 'r+');
  writeSync(fd, `${marker}\n`, 2048 * 512);
  closeSync(fd);
  driver = await h.driver();
  driver.events.on('reboot', (e) => reboots.push(e.dom.name));
  // no <on_reboot>destroy</on_reboot>: that adds -no-reboot, which turns every reset into a shutdown
  obj = await driver.defineXML(`<domain type='qemu'>
  <name>${NAME}</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=acpi e2e.timeout=60</cmdline></os>
  <features><acpi/></features>
  <metadata><mpq:remote xmlns:mpq='${MPQ}'><mpq:process rid='scsi0'><mpq:device alias='ua-scsi0'/></mpq:process></mpq:remote></metadata>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'><alias name='ua-scsi0'/></controller>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='sda' bus='scsi'/></disk>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
  </devices>
</domain>`);
  return { driver, obj };
}

/** Waits until the serial log has n lines matching re, or the guest reports a failure. */
async function serialReaches(re: RegExp, n: number, timeoutMs = BOOT_MS): Promise<void> {
  await waitFor(() => count(re) >= n || count(/^E2E-FAIL/) > 0, timeoutMs, 50);
  expect(count(/^E2E-FAIL/), serialLog().slice(-3000)).toBe(0);
  expect(count(re), `${re} ×${n}; serial log:\n${serialLog().slice(-3000)}`).toBeGreaterThanOrEqual(n);
}

describe('the ACPI power button reaches a real Linux guest', () => {
  it('shutdown: the guest powers off on the button, the domain stops with the guest-shutdown events', async () => {
    const { driver, obj } = await setup();
    const t0 = performance.now();
    await driver.start(obj);
    const pids = h.track(obj);
    await serialReaches(/^E2E-ACPI-WAIT event=event\d+$/, 1);
    const waitMs = ms(t0);
    expect(serialLog()).toContain(`E2E-READ: ${marker}`);
    // nothing happens until the button is pressed
    expect(h.stateOf(obj)).toBe('running (booted)');
    expect(eventsOf()).toEqual(['Defined Added', 'Resumed Unpaused', 'Started Booted']);

    const t1 = performance.now();
    await driver.shutdown(obj);
    await serialReaches(/^E2E-ACPI-POWER$/, 1, 30_000);
    const powerMs = ms(t1);
    expect(await waitFor(() => eventsOf().includes('Stopped Shutdown'), 30_000, 50)).toBe(true);
    const stoppedMs = ms(t1);
    expect(eventsOf()).toEqual([
      'Defined Added',
      'Resumed Unpaused',
      'Started Booted',
      'Shutdown Finished after guest request',
      'Stopped Shutdown',
    ]);
    expect(h.stateOf(obj)).toBe('shut off (shutdown)');
    expect(await waitFor(() => !pidAlive(pids.main) && !pidAlive(pids.remotes[0]!), 5000)).toBe(true);
    expect(monitorOf('POWERDOWN')).toHaveLength(1);
    expect(monitorOf('SHUTDOWN')[0]).toContain('"guest":true');
    expect(reboots).toEqual([]);
    console.log(`shutdown: E2E-ACPI-WAIT ${waitMs} ms after start; E2E-ACPI-POWER ${powerMs} ms, Stopped Shutdown ${stoppedMs} ms after driver.shutdown`);
  }, 300_000);

  it('reboot: the guest shuts down on the button, is reset and boots again; the domain stays running', async () => {
    const { driver, obj } = await setup();
    if (obj.active) await driver.destroy(obj); // the shutdown test failed part-way
    // a fresh serial log: QEMU appends to it across the reset, so the boots are counted
    rmSync(serial, { force: true });
    const from = h.events.length;
    const monitorFrom = h.monitorEvents.length;
    const t0 = performance.now();
    await driver.start(obj);
    const pids = h.track(obj);
    try {
      await serialReaches(/^E2E-ACPI-WAIT event=event\d+$/, 1);
      const waitMs = ms(t0);
      expect(count(/^E2E-INIT /)).toBe(1);
      expect(eventsOf(from)).toEqual(['Resumed Unpaused', 'Started Booted']);

      const t1 = performance.now();
      await driver.reboot(obj);
      await serialReaches(/^E2E-ACPI-POWER$/, 1, 30_000);
      const powerMs = ms(t1);
      expect(await waitFor(() => reboots.length > 0, 30_000, 20)).toBe(true);
      const rebootMs = ms(t1);
      // the guest boots again in the same processes: a second E2E-INIT, disk read and wait
      await serialReaches(/^E2E-INIT /, 2);
      await serialReaches(/^E2E-ACPI-WAIT event=event\d+$/, 2);
      const againMs = ms(t1);
      expect(count(new RegExp(`^E2E-READ: ${marker}$`))).toBe(2);
      expect(count(/^E2E-ACPI-POWER$/)).toBe(1);
      expect(h.stateOf(obj)).toBe('running (booted)');
      expect(obj.active).toBe(true);
      expect(obj.runtime?.main.handle.pid).toBe(pids.main);
      expect(pidAlive(pids.main) && pidAlive(pids.remotes[0]!)).toBe(true);
      // libvirt's fake reboot: no Shutdown, Suspended, Stopped or Started event
      expect(eventsOf(from)).toEqual(['Resumed Unpaused', 'Started Booted']);
      expect(reboots.every((n) => n === NAME)).toBe(true);
      const monitor = h.monitorEvents.slice(monitorFrom).filter((e) => e.dom.name === NAME);
      const resets = monitor.filter((e) => e.event === 'RESET').map((e) => e.details ?? '');
      expect(monitor.filter((e) => e.event === 'SHUTDOWN')).toHaveLength(1);
      expect(resets[0]).toContain('host-qmp-system-reset');
      afterReboot = { reboots: reboots.length, resets };
      console.log(
        `reboot: E2E-ACPI-WAIT ${waitMs} ms after start; E2E-ACPI-POWER ${powerMs} ms, first reboot event ${rebootMs} ms, ` +
          `second E2E-ACPI-WAIT ${againMs} ms after driver.reboot; QEMU events ${monitor.map((e) => e.event).join(' ')}; ` +
          `RESET details ${resets.join(' ')}; reboot events ${reboots.length}`,
      );

      await driver.destroy(obj);
      expect(h.stateOf(obj)).toBe('shut off (destroyed)');
      const events = eventsOf(from);
      expect(events.at(-1)).toBe('Stopped Destroyed');
      expect(events.filter((e) => e.startsWith('Stopped'))).toEqual(['Stopped Destroyed']);
      console.log(`reboot: events from start to destroy: ${events.join(', ')}`);
      expect(await waitFor(() => !pidAlive(pids.main) && !pidAlive(pids.remotes[0]!), 5000)).toBe(true);
    } finally {
      if (obj.active) await driver.destroy(obj).catch(() => {});
    }
  }, 300_000);

  it("reboot: one reboot event per QEMU RESET, like libvirt's qemuProcessHandleReset", () => {
    expect(afterReboot, 'the reboot test failed').toBeDefined();
    // QEMU sent RESET for system_reset (host-qmp-system-reset) and, as the
    // firmware restarts, a guest-reset: libvirt emits one reboot event for each
    expect(afterReboot!.reboots, `RESET events: ${afterReboot!.resets.join(' ')}`).toBe(afterReboot!.resets.length);
  });
});
