import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readProcStat } from '../../src/emulator/process.js';
import { pidIsGone, readIfExists, useSpawner, waitFor } from './spawn-helpers.js';

const QEMU = 'qemu-system-x86_64';

describe('a remote QEMU and a main QEMU linked by a socketpair (no QMP)', () => {
  const sp = useSpawner('mpvirt-mpqemu-');

  it('SeaBIOS finds the proxied lsi disk; the remote exits by itself when the main QEMU is terminated', async () => {
    const dir = sp.dir();
    const disk = join(dir, 'disk0.img');
    const seabios = join(dir, 'seabios.log');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', disk, '64M']);

    const t0 = performance.now();
    const remote = sp.spawn({
      binary: QEMU,
      logFile: join(dir, 'remote.log'),
      argv: [
        '-machine', 'x-remote', '-nodefaults', '-display', 'none', '-monitor', 'none', '-serial', 'none',
        '-device', 'lsi53c895a,id=lsi0',
        '-drive', `id=d0,file=${disk},format=raw,if=none`,
        '-device', 'scsi-hd,id=d0-hd,drive=d0,bus=lsi0.0,scsi-id=0',
        '-object', 'x-remote-object,id=robj-lsi0,devid=lsi0,fd=3',
      ],
      fdMap: [{ childFd: 3, source: 'socketpair' }],
    });
    // fd 3 of the main QEMU stays closed; fd 4 is the remote's peer, whose parent copy is closed
    // right after this spawn
    const main = sp.spawn({
      binary: QEMU,
      logFile: join(dir, 'main.log'),
      argv: [
        '-machine', 'q35,accel=tcg,memory-backend=mem', '-m', '256',
        '-object', 'memory-backend-memfd,id=mem,size=256M,share=on',
        '-device', 'x-pci-proxy-dev,id=lsi0,fd=4',
        '-display', 'none', '-nodefaults', '-serial', 'none', '-monitor', 'none',
        '-chardev', `file,id=dbg,path=${seabios}`, '-device', 'isa-debugcon,iobase=0x402,chardev=dbg',
      ],
      fdMap: [{ childFd: 4, source: { handOff: remote.takeSocket(3) } }],
    });
    const tSpawned = performance.now();

    const log = await waitFor(() => {
      const text = readIfExists(seabios);
      return text.includes('found lsi53c895a') && text.includes('sectors=131072') ? text : undefined;
    }, 20_000, 10);
    const tFound = performance.now();
    expect(log).toMatch(/lsi \S+ 0:0 vendor='QEMU' product='QEMU HARDDISK'/);
    expect(remote.exitStatus).toBeUndefined();
    expect(readProcStat(remote.pid)?.state).not.toBe('Z');

    const tTerm = performance.now();
    // QEMU handles SIGTERM: a clean shutdown with exit code 0
    expect(await main.terminate({ graceMs: 5000 })).toEqual({ code: 0, signal: null });
    expect(readIfExists(main.logFile)).toMatch(/terminating on signal 15/);
    const tMainGone = performance.now();
    const remoteStatus = await remote.waitExit(2000);
    const tRemoteGone = performance.now();
    expect(remoteStatus).toEqual({ code: 0, signal: null });
    expect(pidIsGone(main.pid)).toBe(true);
    expect(pidIsGone(remote.pid)).toBe(true);
    console.log(
      `mpqemu: both spawned ${(tSpawned - t0).toFixed(1)} ms, SeaBIOS found the disk ${(tFound - t0).toFixed(0)} ms after spawn; ` +
        `main reaped ${(tMainGone - tTerm).toFixed(0)} ms after terminate(), remote exited ${(tRemoteGone - tMainGone).toFixed(0)} ms later\n` +
        `remote log: ${JSON.stringify(readIfExists(remote.logFile))} main log: ${JSON.stringify(readIfExists(main.logFile))}`,
    );
  });
});
