// A pty serial console, as virt-install writes it (`<console type='pty'/>`): the live XML shows
// the pty QEMU allocated, as libvirt does (`<source path>` on the serial port, `tty=` on the
// console), the pty exists and carries the guest's serial output; define of the live XML keeps
// no pty path.
import { existsSync, openSync, readdirSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDomainXml, parseDomainXml, withoutLiveState } from '../../src/domainxml/index.js';
import { Harness, waitFor } from './harness.js';
import { guestImage } from './guest-image.js';


const h = new Harness();
afterAll(() => h.cleanup());

describe('a pty console', () => {
  it('is in the live XML as libvirt shows it and carries the guest serial output', async () => {
    const guest = await guestImage();
    const driver = await h.driver();
    const obj = await driver.defineXML(`<domain type='qemu'>
  <name>pty1</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=basic e2e.timeout=60</cmdline></os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices><console type='pty'/></devices>
</domain>`);
    await driver.start(obj, { paused: true });
    const pids = h.track(obj);
    // with jails (system mode), the main QEMU's pty is still one of the host's from inside its empty root
    if (process.getuid?.() === 0) expect(readdirSync(`/proc/${pids.main}/root`), 'the main QEMU is in its jail root').not.toContain('etc');
    const live = driver.getXMLDesc(obj);
    const m = /<serial type='pty'>\n\s*<source path='(\/dev\/pts\/\d+)'\/>/.exec(live);
    expect(m, live).not.toBeNull();
    const pty = m![1]!;
    expect(live).toContain(`<console type='pty' tty='${pty}'>\n      <source path='${pty}'/>`);
    expect(live).toMatch(/<console type='pty' tty='[^']+'>[\s\S]*?<alias name='serial0'\/>/);
    expect(existsSync(pty)).toBe(true);

    const stream = new ReadStream(openSync(pty, 'r+'));
    let out = '';
    stream.on('data', (b: Buffer) => (out += b.toString('latin1')));
    await driver.resume(obj);
    const seen = await waitFor(() => /E2E-INIT mode=basic kernel=/.test(out), 120_000, 50); // the guest's init, on ttyS0
    stream.destroy();
    expect(seen, out.slice(-2000)).toBe(true);

    const stored = formatDomainXml(withoutLiveState(parseDomainXml(live)));
    expect(stored).not.toContain('/dev/pts/');
    expect(stored).toContain("<console type='pty'>");
    await driver.destroy(obj);
  }, 180_000);
});
