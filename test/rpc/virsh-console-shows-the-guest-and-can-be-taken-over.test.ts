// `virsh console` (DOMAIN_OPEN_CONSOLE over an RPC stream) on a real guest's pty serial: the real
// virsh, run under a pty of its own (script(1): virsh refuses a console without a terminal), shows
// the guest's E2E lines; a second console is refused until --force, which takes the session over;
// Ctrl-] detaches; a stopped domain has no console.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { guestImage } from '../driver/guest-image.js';
import { RpcHarness, VIRSH } from './harness.js';

const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

interface Console { child: ChildProcess; out: () => string; exited: Promise<number> }

/** virsh console under script(1), which gives it a controlling terminal; its output as it comes. */
function virshConsole(dom: string, ...flags: string[]): Console {
  const cmd = [VIRSH, '-c', `'${r.uri()}'`, 'console', dom, ...flags].join(' ');
  const child = spawn('/usr/bin/script', ['-qfec', cmd, '/dev/null'], { env: { PATH: '/usr/bin:/bin', HOME: r.h.dir, LC_ALL: 'C', TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  const exited = new Promise<number>((res) => child.once('exit', (code) => res(code ?? -1)));
  return { child, out: () => out, exited };
}

describe('virsh console', () => {
  it('shows the guest, refuses a second console until --force takes it over, and detaches on Ctrl-]', async () => {
    const guest = await guestImage();
    const xml = `<domain type='qemu'><name>con1</name><memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=basic e2e.timeout=60</cmdline></os>
  <features><acpi/></features><on_reboot>destroy</on_reboot><devices><console type='pty'/></devices></domain>`;
    const obj = await r.driver.defineXML(xml);
    const stopped = await r.virsh(['console', 'con1']);
    expect(stopped.stderr).toContain('error: The domain is not running'); // virsh asks the state first
    await r.driver.start(obj, { paused: true });
    r.h.track(obj);

    const a = virshConsole('con1');
    expect(await waitFor(() => a.out().includes('Escape character is ^]'), 10_000, 50), a.out()).toBe(true);
    await r.driver.resume(obj);
    expect(await waitFor(() => /E2E-INIT mode=basic kernel=/.test(a.out()), 120_000, 100), a.out().slice(-2000)).toBe(true);

    const b = virshConsole('con1');
    expect(await b.exited).toBe(1);
    expect(b.out()).toContain('error: operation failed: Active console session exists for this domain');

    const c = virshConsole('con1', '--force');
    expect(await waitFor(() => c.out().includes('Escape character is ^]'), 10_000, 50), c.out()).toBe(true);
    // the first console lost its session to the second
    expect(await Promise.race([a.exited.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 10_000))])).toBe(true);
    c.child.stdin!.write('\x1d'); // Ctrl-]
    expect(await c.exited).toBe(0);
    // nothing of either session is left: a new console opens without --force
    const d = virshConsole('con1');
    expect(await waitFor(() => d.out().includes('Escape character is ^]'), 10_000, 50), d.out()).toBe(true);
    d.child.stdin!.write('\x1d');
    expect(await d.exited).toBe(0);
    await r.driver.destroy(obj);
  }, 240_000);
});
