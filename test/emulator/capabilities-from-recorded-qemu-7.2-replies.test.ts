/**
 * capsFromReplies over libvirt 9.0's recorded QMP session with upstream QEMU v7.2.0 x86_64.
 *
 * What the recording holds, and how it is adapted to the replies probeQemu collects:
 * - `query-version` → version 7.2.0, package "v7.2.0" (an upstream build, not Debian's).
 * - `query-machines` (recorded twice, KVM and TCG probe; identical) → machines, as they are.
 * - `qom-list-types` was called ONCE, WITHOUT arguments: every non-abstract type with its direct
 *   `parent` only. Abstract bases (`device`, `pci-device`, `memory-backend`, …) are not listed, so
 *   ancestry cannot be followed to `device`, and interfaces (`user-creatable`) do not appear at all.
 *   Reconstruction:
 *   - objects: the values of the `qom-type` enum of `object-add` in the recorded `query-qmp-schema`
 *     (QAPI's list of user-creatable types), kept only if qom-list-types lists the type;
 *   - accels: the types whose parent is `accel`;
 *   - devices: every other type, minus machines and minus types whose chain of listed parents ends
 *     at a known non-device abstract base (bus, chardev, memory region, backends, …). This is a
 *     best-effort superset: a few non-devices may remain, which the assertions do not depend on.
 * - `query-command-line-options` was called without arguments; its `sandbox` entry is what
 *   `{option: 'sandbox'}` would have returned.
 * The recording's build has multi-process support (x-remote machine, x-remote-object,
 * x-pci-proxy-dev, memory-backend-memfd), so hasMultiprocess is true for it.
 */
import { describe, expect, it } from 'vitest';
import { hasMultiprocess, resolveMachine, type QemuCaps } from '../../src/emulator/caps.js';
import { assertMultiprocess, capsFromReplies } from '../../src/emulator/caps-probe.js';
import { isMpvirtError } from '../../src/errors.js';
import { recordedReplies } from './recorded-qemu-7.2.js';

describe('capabilities from libvirt 9.0\'s recorded QEMU 7.2.0 replies', () => {
  const { replies, session } = recordedReplies();
  const caps = capsFromReplies('/usr/bin/qemu-system-x86_64', replies);

  it('reads the recording as command/reply pairs, qom-list-types called without arguments', () => {
    expect(session.length).toBe(56);
    expect(session.every((s) => s.reply !== undefined)).toBe(true);
    const listTypes = session.filter((s) => s.command.execute === 'qom-list-types');
    expect(listTypes.map((s) => s.command.arguments)).toEqual([undefined]);
    expect(Object.keys((listTypes[0]!.reply.return as object[])[0]!)).toEqual(['name', 'parent']);
    // never the crashing query (qemu-multiprocess.md §13)
    expect(session.some((s) => s.command.execute === 'qom-list-properties' && s.command.arguments?.typename === 'x-remote-object')).toBe(false);
  });

  it('gives version 7.2.0 and the machines with their aliases and default', () => {
    expect(caps.version).toEqual({ major: 7, minor: 2, micro: 0 });
    expect(caps.package).toBe('v7.2.0');
    expect(caps.machines).toHaveLength(59);
    expect(caps.machines).toContainEqual({ name: 'pc-q35-7.2', alias: 'q35', isDefault: false, cpuMax: 288, defaultCpuType: 'qemu64-x86_64-cpu' });
    expect(caps.machines).toContainEqual({ name: 'pc-i440fx-7.2', alias: 'pc', isDefault: true, cpuMax: 255, defaultCpuType: 'qemu64-x86_64-cpu' });
    expect(resolveMachine(caps, 'q35')?.name).toBe('pc-q35-7.2');
    expect(caps.machines.filter((m) => m.isDefault)).toHaveLength(1);
  });

  it('gives devices, user-creatable objects, accelerators and sandbox', () => {
    expect(caps.devices).toEqual(expect.arrayContaining(['x-pci-proxy-dev', 'lsi53c895a', 'pcie-root-port', 'virtio-blk-pci', 'qemu64-x86_64-cpu']));
    for (const notDevice of ['chardev-socket', 'memory-backend-memfd', 'pc-q35-7.2-machine', 'tcg-accel', 'x-remote-object']) {
      expect(caps.devices).not.toContain(notDevice);
    }
    expect(caps.objects).toEqual(expect.arrayContaining(['x-remote-object', 'memory-backend-memfd', 'memory-backend-file', 'iothread']));
    expect(caps.objects).not.toContain('x-vfio-user-server'); // in the QAPI enum, not registered in this build
    expect(caps.accelerators).toEqual(['kvm', 'qtest', 'tcg']);
    expect(caps.sandbox).toBe(true);
  });

  it('reports multi-process support: the recorded build has x-remote, x-remote-object and x-pci-proxy-dev', () => {
    expect(caps.machines.find((m) => m.name === 'x-remote')).toEqual({ name: 'x-remote', isDefault: false, cpuMax: 1 });
    expect(hasMultiprocess(caps)).toBe(true);
    expect(() => assertMultiprocess(caps)).not.toThrow();
  });

  it('without the x-remote machine, assertMultiprocess throws VIR_ERR_CONFIG_UNSUPPORTED with the exact text', () => {
    const noRemote = capsFromReplies('/opt/qemu/bin/qemu-system-x86_64', {
      ...replies,
      machines: replies.machines.filter((m) => m.name !== 'x-remote'),
    });
    expect(hasMultiprocess(noRemote)).toBe(false);
    let err: unknown;
    try { assertMultiprocess(noRemote); } catch (e) { err = e; }
    expect(isMpvirtError(err, 'VIR_ERR_CONFIG_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toBe(
      'unsupported configuration: /opt/qemu/bin/qemu-system-x86_64 has no multi-process support (needs -machine x-remote)');
  });

  it('sandbox is false when QEMU rejects the option; the base type `accel` is no accelerator', () => {
    const bare: QemuCaps = capsFromReplies('q', {
      ...replies,
      accels: [{ name: 'tcg-accel', parent: 'accel' }, { name: 'accel', parent: 'object' }],
      sandbox: new Error('invalid option name: sandbox'),
    });
    expect(bare.sandbox).toBe(false);
    expect(bare.accelerators).toEqual(['tcg']);
    expect(capsFromReplies('q', { ...replies, sandbox: [] }).sandbox).toBe(false);
  });
});
