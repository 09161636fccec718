// The live <cpu> the start computed from QEMU's vCPU (check='full', the features QEMU added) is
// kept in the status file: a restarted driver shows the same running definition, as libvirt's
// status XML keeps its live CPU.
import { afterAll, describe, expect, it } from 'vitest';
import { formatDomainXml } from '../../src/domainxml/index.js';
import { Harness } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

const cpuEl = (xml: string): string => /<cpu\b[^>]*>[\s\S]*?<\/cpu>/.exec(xml)?.[0] ?? '(no <cpu>)';

describe('the live <cpu>', () => {
  it('is updated at start and survives a daemon restart', async () => {
    const d1 = await h.driver();
    const obj = await d1.defineXML(h.xml('lcpu'));
    await d1.start(obj);
    h.track(obj);
    const live = cpuEl(formatDomainXml(obj.liveDef!));
    expect(live).toContain("check='full'");
    expect(live).toContain("<feature policy='require' name='hypervisor'/>");
    expect(cpuEl(formatDomainXml(obj.def))).toContain("check='none'");
    await d1.detach();
    const d2 = await h.driver();
    const again = d2.lookupByName('lcpu');
    expect(cpuEl(formatDomainXml(again.liveDef!))).toBe(live);
    await d2.destroy(again);
  });
});
