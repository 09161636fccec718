import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasMultiprocess } from '../../src/emulator/caps.js';
import { assertMultiprocess, probeQemu } from '../../src/emulator/caps-probe.js';
import { readProcStat } from '../../src/emulator/process.js';
import { QEMU } from './qemu-process.js';

/** Children of this process (zombies included) whose command is a QEMU. */
function qemuChildren(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    const st = readProcStat(pid);
    return st !== undefined && st.ppid === process.pid && st.comm.startsWith('qemu-system');
  });
}

describe('probing the installed QEMU over QMP', () => {
  it('finds its version, machines, multi-process devices and objects, tcg and the sandbox, and leaves no process', async () => {
    expect(qemuChildren()).toEqual([]);
    const t0 = performance.now();
    const caps = await probeQemu(QEMU);
    console.log(`probeQemu(${QEMU}): ${(performance.now() - t0).toFixed(1)} ms`);

    const banner = execFileSync(QEMU, ['--version'], { encoding: 'utf8' });
    const m = /^QEMU emulator version (\d+)\.(\d+)\.(\d+)(?: \((.*)\))?/m.exec(banner);
    expect(m).not.toBeNull();
    expect(caps.version).toEqual({ major: Number(m![1]), minor: Number(m![2]), micro: Number(m![3]) });
    if (m![4] !== undefined) expect(caps.package).toBe(m![4]);
    expect(caps.binary).toBe(QEMU);

    expect(caps.machines.map((x) => x.name)).toContain('x-remote');
    expect(caps.machines.find((x) => x.alias === 'q35')?.name).toMatch(/^pc-q35-/);
    expect(caps.machines.filter((x) => x.isDefault)).toHaveLength(1);
    expect(caps.devices).toEqual(expect.arrayContaining(['x-pci-proxy-dev', 'lsi53c895a', 'pcie-root-port']));
    expect(caps.objects).toEqual(expect.arrayContaining(['x-remote-object', 'memory-backend-memfd']));
    expect(caps.devices).not.toContain('memory-backend-memfd');
    expect(caps.objects).not.toContain('lsi53c895a');
    expect(caps.accelerators).toContain('tcg');
    expect(caps.accelerators).not.toContain('accel');
    expect(caps.sandbox).toBe(true);
    expect(hasMultiprocess(caps)).toBe(true);
    expect(() => assertMultiprocess(caps)).not.toThrow();

    expect(qemuChildren()).toEqual([]); // quit, exited and reaped: not even a zombie
  });

  it('reports a QEMU that refuses to start with its stderr and exit status, and reaps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mpvirt-caps-'));
    try {
      const bad = join(dir, 'qemu-bad.sh');
      writeFileSync(bad, `#!/bin/sh\nexec ${QEMU} "$@" -object nosuch,id=x\n`);
      chmodSync(bad, 0o755);
      const err = await probeQemu(bad).then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'VIR_ERR_INTERNAL_ERROR', domain: 10 });
      expect((err as Error).message).toBe(
        `internal error: Failed to probe capabilities for ${bad}: End of file from qemu monitor (QEMU exited with status 1): ` +
        "qemu-system-x86_64: -object nosuch,id=x: Parameter 'qom-type' does not accept value 'nosuch'");
      expect(qemuChildren()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
