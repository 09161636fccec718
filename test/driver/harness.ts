/**
 * Test harness for the driver: an isolated set of directories, a driver with
 * fast supervision settings, an event recorder, and the guarantee that every
 * process a test started is gone afterwards (checked by pid).
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver, type DriverOptions } from '../../src/driver/driver.js';
import { detachJailRootsUnder } from '../../src/remote/jail-root.js';
import type { DomainObject } from '../../src/driver/domain-object.js';
import { lifecycleText, type LifecycleEventData, type MonitorEventData } from '../../src/driver/events.js';
import { stateName, reasonName } from '../../src/driver/state.js';

export const MPQ = 'http://mpvirt.org/schemas/domain/mpqemu/1.0';

export function eventText(e: LifecycleEventData): string {
  return lifecycleText(e.event, e.detail);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export async function waitFor(check: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

function chmodAfter(dir: string, mode: number): string {
  chmodSync(dir, mode);
  return dir;
}

export class Harness {
  // passable (not readable) by the jailed QEMUs, as /run is in production: a display's unix
  // socket is the one path a jailed QEMU binds itself
  readonly dir = chmodAfter(mkdtempSync(join(tmpdir(), 'mpvirt-drv-')), 0o711);
  readonly configDir = join(this.dir, 'etc');
  readonly stateDir = join(this.dir, 'run');
  readonly logDir = join(this.dir, 'log');
  readonly capsCacheDir = join(this.dir, 'cache');
  readonly events: string[] = [];
  readonly monitorEvents: MonitorEventData[] = [];
  readonly pids = new Set<number>();
  drivers: QemuDriver[] = [];

  async driver(overrides: Partial<DriverOptions> = {}): Promise<QemuDriver> {
    const d = new QemuDriver({
      configDir: this.configDir,
      stateDir: this.stateDir,
      logDir: this.logDir,
      capsCacheDir: this.capsCacheDir,
      ...overrides,
      tuning: { heartbeatMs: 200, hangDeadlineMs: 1000, stopGraceMs: 2000, firmwareLog: true, ...overrides.tuning },
    });
    d.events.on('lifecycle', (e) => this.events.push(`${e.dom.name}: ${eventText(e)}`));
    d.events.on('monitor', (e) => this.monitorEvents.push(e));
    await d.init();
    this.drivers.push(d);
    return d;
  }

  disk(name: string, sizeMiB = 64): string {
    const p = join(this.dir, name);
    writeFileSync(p, '');
    truncateSync(p, sizeMiB * 1024 * 1024);
    return p;
  }

  /** A domain with one lsilogic controller (and its disk) in a remote process. */
  xml(name: string, opts: { onCrash?: string; disk?: string; uuid?: string } = {}): string {
    const disk = opts.disk ?? this.disk(`${name}.img`);
    return `<domain type='qemu'>
  <name>${name}</name>${opts.uuid ? `<uuid>${opts.uuid}</uuid>` : ''}
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
  <metadata><mpq:remote xmlns:mpq='${MPQ}'><mpq:process rid='8'><mpq:device alias='ua-lsi0'/>${
    opts.onCrash ? `<mpq:on-crash action='${opts.onCrash}'/>` : ''
  }</mpq:process></mpq:remote></metadata>
  <devices>
    <controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/>
      <target dev='sda' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>
  </devices>
</domain>`;
  }

  /** Remember a running domain's pids so cleanup can check them. */
  track(obj: DomainObject): { main: number; remotes: number[] } {
    const rt = obj.runtime!;
    const pids = { main: rt.main.handle.pid, remotes: rt.remotes.map((r) => r.handle.pid) };
    this.pids.add(pids.main);
    for (const p of pids.remotes) this.pids.add(p);
    return pids;
  }

  stateOf(obj: DomainObject): string {
    return `${stateName(obj.state.state)} (${reasonName(obj.state.state, obj.state.reason)})`;
  }

  firmwareLog(name: string): string {
    const f = join(this.logDir, `${name}.firmware.log`);
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  async cleanup(): Promise<void> {
    // whatever a test started, even one that failed before it could stop or track it, dies by pid
    for (const d of this.drivers) for (const obj of d.domains.all()) if (obj.runtime) this.track(obj);
    for (const d of this.drivers) await d.detach().catch(() => {});
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await waitFor(() => [...this.pids].every((p) => !pidAlive(p)), 5000);
    // a start cut short may have left a jail root mounted: never descend into its binds
    if (existsSync(this.stateDir)) for (const d of readdirSync(this.stateDir)) detachJailRootsUnder(join(this.stateDir, d));
    removeEmptyDomainCgroups();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The cgroups of domains killed by pid (no stop path removed them); a busy one stays (rmdir refuses). */
export function removeEmptyDomainCgroups(): void {
  for (const root of ['/sys/fs/cgroup', ...['cpu', 'cpuacct', 'memory', 'pids', 'blkio'].map((c) => `/sys/fs/cgroup/${c}`)]) {
    const machine = join(root, 'machine');
    if (!existsSync(machine)) continue;
    for (const g of readdirSync(machine).filter((n) => n.endsWith('.mpvirt-qemu'))) {
      const dom = join(machine, g);
      for (const leaf of readdirSync(dom, { withFileTypes: true }).filter((e) => e.isDirectory())) tryRmdir(join(dom, leaf.name));
      tryRmdir(dom);
    }
  }
}

function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // busy: its processes are someone else's
  }
}
