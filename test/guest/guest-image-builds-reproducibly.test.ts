// The end-to-end guest (test/fixtures/guest/build-guest.mjs): the current
// Debian 12 kernel plus a busybox initramfs. The first build fetches the kernel
// .deb into <project>/.cache/guest (about 70 MB); a second build is a cache hit
// with the same bytes, and rebuilding the initramfs gives the same bytes again.
// Then the image boots once in a plain single-process QEMU (the LSI controller
// in the same process, TCG) and does the real job: reads the host's marker from
// the SCSI disk and writes it back — so a failure in the multi-process tests is
// not the image's fault.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

interface GuestImage {
  kernel: string;
  initrd: string;
  cmdlineBase: string;
  kernelPackage: string;
  kernelVersion: string;
  kernelRelease: string;
  vmlinuz: string;
  pvh: boolean;
  cacheHit: boolean;
  timings: Record<string, number>;
}
type BuildGuest = (opts: { cacheDir?: string; rebuildInitrd?: boolean; log?: (msg: string) => void }) => Promise<GuestImage>;

const QEMU = '/usr/bin/qemu-system-x86_64';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cacheDir = join(root, '.cache', 'guest');
// imported through a URL (the builder is plain .mjs without type declarations)
const builderUrl = pathToFileURL(join(root, 'test', 'fixtures', 'guest', 'build-guest.mjs')).href;
const loadBuilder = async (): Promise<BuildGuest> => ((await import(builderUrl)) as { buildGuest: BuildGuest }).buildGuest;

const SECTOR = 512;
const RSEC = 2048;
const WSEC = 4096;
const BOOT_TIMEOUT_MS = 120_000;

const work = mkdtempSync(join(tmpdir(), 'mpvirt-guest-'));
let qemu: ChildProcess | undefined;
let image: GuestImage | undefined;

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const ms = (t0: number): number => Math.round(performance.now() - t0);

function killByPid(child: ChildProcess | undefined): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

afterAll(() => {
  killByPid(qemu);
  rmSync(work, { recursive: true, force: true });
});

describe('the end-to-end guest image', () => {
  it('builds into .cache/guest: a PVH vmlinux and a gzip initramfs', async () => {
    const buildGuest = await loadBuilder();
    const t0 = performance.now();
    image = await buildGuest({ cacheDir, log: (m) => console.log(`[build-guest] ${m}`) });
    const took = ms(t0);
    console.log(`first build: ${took} ms (cacheHit=${image.cacheHit}), ${image.kernelPackage} ${image.kernelVersion}`, image.timings);

    expect(image.kernelPackage).toMatch(/^linux-image-\d+\.\d+\.\d+-\d+-amd64$/);
    expect(image.kernelPackage).toBe(`linux-image-${image.kernelRelease}`);
    expect(image.cmdlineBase).toBe('console=ttyS0 quiet panic=-1 irqpoll nolapic_timer nohz=off cryptomgr.notests');
    expect(image.pvh).toBe(true);
    expect(image.kernel.endsWith('/vmlinux')).toBe(true);
    for (const f of [image.kernel, image.initrd, image.vmlinuz]) {
      expect(existsSync(f), f).toBe(true);
      expect(f.startsWith(cacheDir + '/'), f).toBe(true);
    }
    const kernel = readFileSync(image.kernel);
    expect(kernel.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46])); // ELF
    expect(kernel.length).toBeGreaterThan(20 * 1024 * 1024);
    const initrd = readFileSync(image.initrd);
    expect(initrd.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip
    expect(initrd.readUInt32LE(4)).toBe(0); // gzip -n: no timestamp
    expect(initrd.length).toBeGreaterThan(1_000_000);
    expect(initrd.length).toBeLessThan(4_000_000);
  }, 300_000);

  it('builds again from the cache, fast, with a byte-identical initramfs, also when the initramfs is rebuilt', async () => {
    expect(image, 'the first build failed').toBeDefined();
    const first = image!;
    const firstSha = sha256(first.initrd);
    const buildGuest = await loadBuilder();

    const t0 = performance.now();
    const again = await buildGuest({ cacheDir });
    const cachedMs = ms(t0);
    expect(again.cacheHit).toBe(true);
    expect(again.kernel).toBe(first.kernel);
    expect(again.initrd).toBe(first.initrd);
    expect(again.kernelPackage).toBe(first.kernelPackage);
    expect(sha256(again.initrd)).toBe(firstSha);
    expect(cachedMs).toBeLessThan(5_000);

    // reproducible, not just cached: pack the initramfs again from the same inputs
    const t1 = performance.now();
    const rebuilt = await buildGuest({ cacheDir, rebuildInitrd: true });
    const rebuildMs = ms(t1);
    expect(rebuilt.initrd).toBe(first.initrd);
    expect(rebuilt.timings.initrdMs).toBeGreaterThanOrEqual(0); // it really ran
    expect(sha256(rebuilt.initrd)).toBe(firstSha);
    console.log(`cached build: ${cachedMs} ms`, again.timings, `| initramfs rebuilt: ${rebuildMs} ms, sha256 ${firstSha}`);
  }, 300_000);

  it('boots in a single-process QEMU, reads the host marker from the SCSI disk and writes it back', async () => {
    expect(image, 'the build failed').toBeDefined();
    const { kernel, initrd, cmdlineBase } = image!;

    const disk = join(work, 'disk.img');
    writeFileSync(disk, '');
    truncateSync(disk, 16 * 1024 * 1024); // sparse
    const marker = `E2E-HOST-MARKER-${randomBytes(8).toString('hex')}`;
    const fd = openSync(disk, 'r+');
    writeSync(fd, `${marker}\n`, RSEC * SECTOR);
    closeSync(fd);

    const args = [
      '-machine', 'q35,accel=tcg', '-m', '256',
      '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
      '-kernel', kernel, '-initrd', initrd,
      '-append', `${cmdlineBase} e2e.mode=basic e2e.timeout=60`,
      '-device', 'lsi53c895a,id=lsi0',
      '-drive', `id=d0,file=${disk},format=raw,if=none`,
      '-device', 'scsi-hd,drive=d0,bus=lsi0.0,scsi-id=0',
    ];
    const t0 = performance.now();
    const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    qemu = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString(); // capped: never buffer a flood
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );

    const lines: string[] = [];
    const at: Record<string, number> = {};
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (raw) => {
      const line = raw.replace(/\r$/, '');
      if (lines.length < 1000) lines.push(line);
      const m = /^(E2E-[A-Z-]+)/.exec(line);
      if (m && at[m[1]!] === undefined) at[m[1]!] = ms(t0);
    });

    const timer = setTimeout(() => killByPid(child), BOOT_TIMEOUT_MS);
    const { code, signal } = await exited;
    clearTimeout(timer);
    const exitMs = ms(t0);
    const console_ = lines.join('\n');
    console.log(`boot: E2E-INIT ${at['E2E-INIT']} ms, E2E-MODULES-LOADED ${at['E2E-MODULES-LOADED']} ms, E2E-OK ${at['E2E-OK']} ms, QEMU exit ${exitMs} ms\n${console_}`);

    expect(signal, `QEMU killed after ${BOOT_TIMEOUT_MS} ms; console:\n${console_}\nstderr:\n${stderr}`).toBeNull();
    expect(lines.filter((l) => l.startsWith('E2E-FAIL')), console_).toEqual([]);
    expect(lines).toContain(`E2E-READ: ${marker}`);
    expect(lines).toContain(`E2E-WRITTEN sector=${WSEC}`);
    expect(lines).toContain('E2E-OK');
    expect(lines.find((l) => l.startsWith('E2E-DISK '))).toBe('E2E-DISK sda size_sectors=32768');
    expect(code, stderr).toBe(0);

    const sector = Buffer.alloc(SECTOR);
    const rfd = openSync(disk, 'r');
    readSync(rfd, sector, 0, SECTOR, WSEC * SECTOR);
    closeSync(rfd);
    const wrote = `E2E-GUEST-WROTE:${marker}\n`;
    expect(sector.subarray(0, wrote.length).toString()).toBe(wrote);
    expect(sector.subarray(wrote.length).every((b) => b === 0)).toBe(true); // conv=sync padding
    expect(statSync(disk).size).toBe(16 * 1024 * 1024);
  }, 180_000);
});
