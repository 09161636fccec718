// The live XML tools read, through the real virsh: a Linux guest with a pty serial console and
// an autoport VNC display (`<graphics type='vnc' port='-1'/>`, as virt-install writes it).
// `virsh ttyconsole` names the pty, which exists and carries the guest's serial output;
// `virsh vncdisplay` / `domdisplay` name the port the daemon reserved, and a VNC client's RFB
// handshake there reaches QEMU's VNC server (ServerInit names the guest). A second guest gets
// the next port, and a port something else on the host holds is skipped.
import { existsSync, openSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import { ReadStream } from 'node:tty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestImage, type GuestImage } from '../driver/guest-image.js';
import { waitFor } from '../driver/harness.js';
import { RpcHarness } from './harness.js';

const r = new RpcHarness();
let guest: GuestImage;
beforeAll(async () => {
  guest = await guestImage();
  await r.start();
}, 300_000);
afterAll(() => r.cleanup(), 60_000);

function domainXml(name: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=basic e2e.timeout=120</cmdline></os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices><console type='pty'/><graphics type='vnc' port='-1'/><video><model type='vga'/></video></devices>
</domain>`;
}

/** Reads exactly n bytes from a socket (the RFB protocol is strictly request/response here). */
function reader(sock: Socket): (n: number) => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  let want: { n: number; resolve: (b: Buffer) => void } | undefined;
  const pump = (): void => {
    if (want && buf.length >= want.n) {
      const out = buf.subarray(0, want.n);
      buf = buf.subarray(want.n);
      const w = want;
      want = undefined;
      w.resolve(Buffer.from(out));
    }
  };
  sock.on('data', (b: Buffer) => {
    buf = Buffer.concat([buf, b]);
    pump();
  });
  return (n) => new Promise((resolve) => {
    want = { n, resolve };
    pump();
  });
}

/** RFB 3.8 up to ServerInit, with the None security type; returns the desktop name. */
async function rfbHandshake(host: string, port: number): Promise<{ version: string; width: number; height: number; name: string }> {
  const sock = new Socket();
  await new Promise<void>((res, rej) => sock.once('error', rej).connect(port, host, () => res()));
  try {
    const read = reader(sock);
    const version = (await read(12)).toString('latin1');
    sock.write('RFB 003.008\n');
    const count = (await read(1))[0]!;
    const types = [...(await read(count))];
    expect(types).toContain(1); // None: the display has no password
    sock.write(Buffer.from([1]));
    expect((await read(4)).readUInt32BE(0)).toBe(0); // SecurityResult OK
    sock.write(Buffer.from([1])); // ClientInit, shared
    const init = await read(24);
    const name = (await read(init.readUInt32BE(20))).toString('utf8');
    return { version, width: init.readUInt16BE(0), height: init.readUInt16BE(2), name };
  } finally {
    sock.destroy();
  }
}

describe('a running guest with a pty console and an autoport VNC display', () => {
  it('answers ttyconsole, vncdisplay and domdisplay from its live XML, and both really work', async () => {
    const file = join(r.h.dir, 'vnc1.xml');
    writeFileSync(file, domainXml('vnc1'));
    expect(await r.run('define', file)).toMatchObject({ code: 0 });
    expect(await r.run('start', '--paused', 'vnc1')).toMatchObject({ code: 0 });

    const tty = (await r.virsh(['ttyconsole', 'vnc1'])).stdout.trim();
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/);
    expect(existsSync(tty)).toBe(true);
    const display = (await r.virsh(['vncdisplay', 'vnc1'])).stdout.trim();
    expect(display).toMatch(/^127\.0\.0\.1:\d+$/);
    const port = 5900 + Number(display.split(':')[1]);
    expect((await r.virsh(['domdisplay', 'vnc1'])).stdout.trim()).toBe(`vnc://${display}`);
    const live = (await r.virsh(['dumpxml', 'vnc1'])).stdout;
    expect(live).toContain(`<graphics type='vnc' port='${port}' autoport='yes' listen='127.0.0.1'>\n      <listen type='address' address='127.0.0.1'/>`);

    const stream = new ReadStream(openSync(tty, 'r+'));
    let out = '';
    stream.on('data', (b: Buffer) => (out += b.toString('latin1')));
    try {
      expect(await r.run('resume', 'vnc1')).toMatchObject({ code: 0 });
      const rfb = await rfbHandshake('127.0.0.1', port);
      console.log(`VNC on port ${port}: ${JSON.stringify(rfb)}`);
      expect(rfb.version).toBe('RFB 003.008\n');
      expect(rfb.name).toContain('vnc1');
      expect(rfb.width).toBeGreaterThan(0);
      const seen = await waitFor(() => /E2E-INIT mode=basic kernel=/.test(out), 120_000, 50);
      expect(seen, out.slice(-2000)).toBe(true);
    } finally {
      stream.destroy();
    }
  }, 240_000);

  it('gives a second guest the next free port, past one another program holds', async () => {
    const taken = Number((await r.virsh(['vncdisplay', 'vnc1'])).stdout.trim().split(':')[1]) + 5900;
    // something else on the host listens on the next port: the daemon must skip it
    const squatter: Server = createServer();
    await new Promise<void>((res) => squatter.listen(taken + 1, '0.0.0.0', () => res()));
    try {
      const file = join(r.h.dir, 'vnc2.xml');
      writeFileSync(file, domainXml('vnc2'));
      expect(await r.run('define', file)).toMatchObject({ code: 0 });
      expect(await r.run('start', '--paused', 'vnc2')).toMatchObject({ code: 0 });
      const display = (await r.virsh(['vncdisplay', 'vnc2'])).stdout.trim();
      expect(5900 + Number(display.split(':')[1])).toBe(taken + 2);
      const rfb = await rfbHandshake('127.0.0.1', taken + 2);
      expect(rfb.name).toContain('vnc2');
      // a stopped guest gives its port back: the next start may take it again
      expect(await r.run('destroy', 'vnc1')).toMatchObject({ code: 0 });
      expect(await r.run('start', '--paused', 'vnc1')).toMatchObject({ code: 0 });
      expect(5900 + Number((await r.virsh(['vncdisplay', 'vnc1'])).stdout.trim().split(':')[1])).toBe(taken);
    } finally {
      squatter.close();
      for (const d of ['vnc1', 'vnc2']) await r.virsh(['destroy', d]);
    }
  }, 120_000);
});
