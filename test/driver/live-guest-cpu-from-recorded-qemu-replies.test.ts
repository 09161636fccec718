// The live <cpu> computed from a real QEMU 7.2 vCPU's recorded monitor replies (fixtures-live-cpu/,
// TCG), against what libvirt 9.0's own daemon showed for the same models on this host: features
// QEMU enabled beyond the model `require`, those it could not give `disable`, check='full', and
// libvirt's refusals (check='full' with a difference, a missing invariant TSC or Hyper-V feature).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDomainXml, parseDomainXml, type DomainDef } from '../../src/domainxml/index.js';
import { cpuMap } from '../../src/driver/domain-capabilities.js';
import { withLiveCpu, type CpuMonitor } from '../../src/driver/live-cpu.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { recordedQemu72CapsWithCpu } from '../emulator/recorded-qemu-7.2-cpu.js';

const FIX = join(import.meta.dirname, 'fixtures-live-cpu');

interface Recording { 'query-cpus-fast': unknown; 'qom-list': unknown; 'qom-get': Record<string, unknown> }

/** QEMU replaced by its recorded replies; the commands asked are counted */
function replay(model: string, asked: string[] = []): CpuMonitor {
  const rec = JSON.parse(readFileSync(join(FIX, `tcg-${model}.json`), 'utf8')) as Recording;
  return {
    execute: <T>(command: string, args?: object): Promise<T> => {
      asked.push(command);
      if (command === 'query-cpus-fast' || command === 'qom-list') return Promise.resolve(rec[command] as T);
      const property = (args as { property?: string } | undefined)?.property ?? '';
      if (command === 'qom-get' && property in rec['qom-get']) return Promise.resolve(rec['qom-get'][property] as T);
      return Promise.reject(new Error(`not recorded: ${command} ${JSON.stringify(args)}`));
    },
  };
}

const domain = (cpu: string, features = ''): DomainDef => parseDomainXml(`<domain type='qemu'>
  <name>c</name>
  <memory unit='KiB'>65536</memory>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  ${features}
  ${cpu}
  <devices/>
</domain>`);

const cpuEl = (def: DomainDef): string => /<cpu\b[^>]*\/>|<cpu\b[^>]*>[\s\S]*?<\/cpu>/.exec(formatDomainXml(def))?.[0] ?? '(no <cpu>)';
const expected = (model: string): string => readFileSync(join(FIX, `${model}.expected.xml`), 'utf8').trim();
const caps = recordedQemu72CapsWithCpu();
/** a QEMU whose query-cpu-definitions has no unavailable-features: libvirt's feature-words path */
const oldCaps: QemuCaps = { ...caps, extra: undefined };

const defined = (model: string, fallback = 'allow', check = 'none'): string =>
  `<cpu mode='custom' match='exact' check='${check}'><model fallback='${fallback}'>${model}</model></cpu>`;

describe('the live <cpu> from recorded vCPU replies', () => {
  for (const model of ['qemu64', 'Nehalem', 'Skylake-Client-IBRS']) {
    it(`${model}: as libvirt shows it, read property by property`, async () => {
      const asked: string[] = [];
      const r = await withLiveCpu(domain(defined(model, model === 'qemu64' ? 'forbid' : 'allow')), caps, cpuMap(), replay(model, asked));
      expect(cpuEl(r.def)).toBe(expected(model));
      // one qom-get per boolean property, then unavailable-features (qemuMonitorJSONGetGuestCPU)
      expect(asked.filter((c) => c === 'qom-get').length).toBeGreaterThan(300);
    });
    it(`${model}: the same from feature-words / filtered-features`, async () => {
      const r = await withLiveCpu(domain(defined(model)), oldCaps, cpuMap(), replay(model));
      expect(cpuEl(r.def)).toBe(expected(model));
    });
  }

  it("check='full' with extra features fails the start as libvirt does", async () => {
    await expect(withLiveCpu(domain(defined('qemu64', 'forbid', 'full')), caps, cpuMap(), replay('qemu64')))
      .rejects.toThrow("operation failed: guest CPU doesn't match specification: extra features: hypervisor,lahf_lm");
  });

  it('host-passthrough and maximum are left as defined; a topology-only <cpu> too', async () => {
    for (const cpu of ["<cpu mode='maximum' check='none'/>", "<cpu><topology sockets='1' dies='1' cores='1' threads='1'/></cpu>"]) {
      const def = domain(cpu);
      const r = await withLiveCpu(def, caps, cpuMap(), replay('max'));
      expect(r.def).toBe(def);
    }
  });

  it('a guest asking for invariant TSC that QEMU did not give is refused', async () => {
    const cpu = "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>Nehalem</model><feature policy='require' name='invtsc'/></cpu>";
    await expect(withLiveCpu(domain(cpu), caps, cpuMap(), replay('Nehalem'))).rejects.toThrow("unsupported configuration: host doesn't support invariant TSC");
  });

  it("Hyper-V: a missing vpindex is refused, a missing relaxed only warned about", async () => {
    const hv = (name: string): string => `<features><hyperv mode='custom'><${name} state='on'/></hyperv></features>`;
    await expect(withLiveCpu(domain(defined('qemu64', 'forbid'), hv('vpindex')), caps, cpuMap(), replay('qemu64')))
      .rejects.toThrow("unsupported configuration: host doesn't support hyperv 'vpindex' feature");
    const r = await withLiveCpu(domain(defined('qemu64', 'forbid'), hv('relaxed')), caps, cpuMap(), replay('qemu64'));
    expect(r.warnings).toEqual(["host doesn't support hyperv 'relaxed' feature"]);
    expect(cpuEl(r.def)).toBe(expected('qemu64'));
  });
});
