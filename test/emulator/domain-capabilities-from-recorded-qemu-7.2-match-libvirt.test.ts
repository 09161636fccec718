// The pure domain capabilities builder fed with libvirt 9.0's recorded QEMU 7.2 probe gives what
// libvirt's own tests expect from the same recording (tests/domaincapsdata/qemu_7.2.0*.x86_64.xml,
// copied beside this test), narrowed only where mpvirt refuses at define what libvirt would offer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadX86Map } from '../../src/emulator/cpu-map.js';
import { buildDomainCapsXml, hostModelCpu } from '../../src/emulator/domain-caps.js';
import { narrowAsMpvirt } from './domain-caps-narrowing.js';
import { recordedQemu72CapsWithCpu } from './recorded-qemu-7.2-cpu.js';

const CPU_MAP = '/usr/share/libvirt/cpu_map';
const map = loadX86Map((n) => readFileSync(join(CPU_MAP, n), 'utf8'));
const fixture = (n: string): string => readFileSync(new URL(`./fixtures-domain-caps/${n}`, import.meta.url), 'utf8');
const caps = recordedQemu72CapsWithCpu();

describe('domain capabilities from the recorded QEMU 7.2 probe', () => {
  const cases = [
    { file: 'qemu_7.2.0.x86_64.xml', virttype: 'kvm', machine: 'pc-i440fx-7.2' },
    { file: 'qemu_7.2.0-q35.x86_64.xml', virttype: 'kvm', machine: 'pc-q35-7.2' },
    { file: 'qemu_7.2.0-tcg.x86_64.xml', virttype: 'qemu', machine: 'pc-i440fx-7.2' },
  ] as const;
  for (const c of cases) {
    it(`${c.file}: as libvirt's, narrowed to what mpvirt runs`, () => {
      // libvirt's tests report the emulator as /usr/bin/qemu-system-x86_64 and a KVM limit above 288
      const ours = buildDomainCapsXml(caps, map, { emulator: '/usr/bin/qemu-system-x86_64', arch: 'x86_64', virttype: c.virttype, machine: c.machine, kvmMaxVcpus: 4096 });
      expect(ours).toBe(narrowAsMpvirt(fixture(c.file)));
    });
  }

  it('decodes the host models libvirt decodes (KVM EPYC-Rome, TCG EPYC)', () => {
    expect(hostModelCpu(map, caps.extra?.cpu.kvm)?.model).toBe('EPYC-Rome');
    expect(hostModelCpu(map, caps.extra?.cpu.tcg)?.model).toBe('EPYC');
  });
});
