// End to end with real QEMU (accel=tcg): a launch plan from domain XML starts
// the remote (lsi53c895a + disk) and the main QEMU (x-pci-proxy-dev). The
// REMOTE's monitor shows the disk and the controller, the main QEMU runs, and
// SeaBIOS in the main QEMU finds the controller and the disk's sector count
// through the proxy — the wiring is real. Teardown leaves no process behind.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stopLaunched } from '../../src/remote/launch.js';
import { createLaunchFixture, pidGone } from './launch-fixture.js';

const fx = createLaunchFixture({
  name: 'mpvirt-e2e-',
  // a comma and option-like text in the path: it must reach QEMU as one filename
  diskName: 'data,file.driver=ssh.img',
  xml: (disk) => `<domain type='qemu'>
      <name>e2e</name><memory unit='MiB'>128</memory>
      <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
      <metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'>
        <mpq:process rid='8'><mpq:device alias='ua-lsi0'/></mpq:process></mpq:remote></metadata>
      <devices>
        <controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/>
          <target dev='sda' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>
      </devices></domain>`,
});
const { disk } = fx; // 64 MiB: 131072 sectors of 512 bytes
const firmwareLog = join(fx.work, 'firmware.log');

afterAll(async () => {
  await fx.cleanup();
  fx.removeWork();
});

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('a remote lsi53c895a with its disk, linked to the main QEMU', () => {
  it('starts, is wired, is seen by SeaBIOS, and stops without leftovers', async () => {
    const launched = await fx.launch({ firmwareLog });
    const remote = launched.remotes[0]!;
    const pids = [launched.main.proc.pid, remote.proc.pid];

    // the remote serves the disk through the fd the daemon opened for it (the exact file,
    // whatever its name looks like to QEMU's option parser)
    const blocks = await remote.qmp.execute<Array<{ qdev?: string; inserted?: { file: string } }>>('query-block');
    expect(blocks.map((b) => b.inserted?.file)).toContain('/dev/fdset/1');
    const open = readdirSync(`/proc/${remote.proc.pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${remote.proc.pid}/fd/${fd}`); } catch { return ''; } });
    expect(open).toContain(disk);
    // and the controller: LSI 53c895a is PCI 1000:0012 in the remote
    const pci = await remote.qmp.execute<Array<{ devices: Array<{ id: { vendor: number; device: number }; qdev_id: string }> }>>('query-pci');
    const lsi = pci.flatMap((b) => b.devices).find((d) => d.qdev_id === 'ua-lsi0');
    expect(lsi?.id).toMatchObject({ vendor: 0x1000, device: 0x12 });

    // the main QEMU is paused (-S) until cont, then running
    expect(await launched.main.qmp.execute<{ status: string }>('query-status')).toMatchObject({ status: 'prelaunch' });
    await launched.main.qmp.execute('cont');
    expect(await launched.main.qmp.execute<{ status: string }>('query-status')).toMatchObject({ status: 'running', running: true });

    // SeaBIOS in the main QEMU reaches the disk through the proxy
    const seen = await waitFor(() => existsSync(firmwareLog) && /sectors=131072/.test(readFileSync(firmwareLog, 'utf8')), 30_000);
    const log = existsSync(firmwareLog) ? readFileSync(firmwareLog, 'utf8') : '';
    expect(log).toMatch(/found lsi53c895a/);
    expect(seen, log.slice(-2000)).toBe(true);

    await stopLaunched(launched, 2000);
    expect(await waitFor(() => pids.every(pidGone), 5000)).toBe(true);
  });
});
