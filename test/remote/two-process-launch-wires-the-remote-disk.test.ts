// End to end with real QEMU (accel=tcg): a launch plan from domain XML starts
// the remote (lsi53c895a + disk) and the main QEMU (x-pci-proxy-dev). The
// REMOTE's monitor shows the disk and the controller, the main QEMU runs, and
// SeaBIOS in the main QEMU finds the controller and the disk's sector count
// through the proxy — the wiring is real. Teardown leaves no process behind.
import { readFileSync, rmSync, truncateSync, writeFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { launchPlan, stopLaunched, type Launched } from '../../src/remote/launch.js';

const caps: QemuCaps = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'emulator', 'caps-qemu-7.2.json'), 'utf8'),
);
const work = mkdtempSync(join(tmpdir(), 'mpvirt-e2e-'));
// a comma and option-like text in the path: it must reach QEMU as one filename
const disk = join(work, 'data,file.driver=ssh.img');
const firmwareLog = join(work, 'firmware.log');
const runDir = join(work, 'run');
let launched: Launched | undefined;
const pids: number[] = [];

afterAll(async () => {
  if (launched) await stopLaunched(launched, 1000).catch(() => {});
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  rmSync(work, { recursive: true, force: true });
});

const pidGone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

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
    writeFileSync(disk, '');
    truncateSync(disk, 64 * 1024 * 1024); // 131072 sectors of 512 bytes
    const xml = `<domain type='qemu'>
      <name>e2e</name><memory unit='MiB'>128</memory>
      <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
      <metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'>
        <mpq:process rid='8'><mpq:device alias='ua-lsi0'/></mpq:process></mpq:remote></metadata>
      <devices>
        <controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/>
          <target dev='sda' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>
      </devices></domain>`;
    const plan = buildLaunchPlan(parseDomainXml(xml), caps, { runDir, firmwareLog });
    launched = await launchPlan(plan, runDir, { logFile: join(work, 'e2e.log') });
    const remote = launched.remotes[0]!;
    pids.push(launched.main.proc.pid, remote.proc.pid);

    // the remote serves the disk, with the exact filename
    const blocks = await remote.qmp.execute<Array<{ qdev?: string; inserted?: { file: string } }>>('query-block');
    const files = blocks.map((b) => b.inserted?.file);
    expect(files).toContain(disk);
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
    launched = undefined;
    expect(await waitFor(() => pids.every(pidGone), 5000)).toBe(true);
  });
});
