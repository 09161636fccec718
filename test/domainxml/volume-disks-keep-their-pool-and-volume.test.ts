// `<disk type='volume'>` in the model: parsed and written back as libvirt writes it, resolved to
// the volume's path for a start while the XML keeps showing the pool and volume (the running
// disk's node index on the same <source>), and a live XML read back (daemon restart) resolved again
// from what the status file kept.
import { describe, expect, it } from 'vitest';
import { formatDomainXml, parseDomainXml, resolvedVolumes, withResolvedVolumes, type DiskDef } from '../../src/domainxml/index.js';

const xml = `<domain type='qemu'>
  <name>v</name>
  <uuid>0d4f6c1e-8a7b-4c2d-9e3f-5a6b7c8d9e09</uuid>
  <memory unit='KiB'>131072</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='raw'/>
      <source pool='vp' volume='disk0.img'/>
      <target dev='sda' bus='scsi'/>
    </disk>
  </devices>
</domain>
`;

const disk = (x: ReturnType<typeof parseDomainXml>): DiskDef => x.devices.find((d): d is DiskDef => d.kind === 'disk')!;

describe('volume disks', () => {
  it('round-trip as libvirt writes them', () => {
    const def = parseDomainXml(xml);
    expect(disk(def)).toMatchObject({ type: 'volume', volume: { pool: 'vp', name: 'disk0.img' } });
    expect(disk(def).source).toBeUndefined();
    expect(formatDomainXml(def)).toBe(xml);
  });

  it('run on the resolved path and still show the volume, with the node index', () => {
    const run = withResolvedVolumes(parseDomainXml(xml), new Map([['sda', { path: '/srv/vp/disk0.img', type: 'file' as const }]]));
    const d = disk(run);
    expect(d).toMatchObject({ type: 'file', source: { path: '/srv/vp/disk0.img' } });
    const live = { ...run, devices: run.devices.map((x) => (x === d ? { ...d, source: { ...d.source!, extra: { attrs: [{ name: 'index', ns: null, value: '1' }], children: [] } } } : x)) };
    const text = formatDomainXml(live);
    expect(text).toContain("<disk type='volume' device='disk'>");
    expect(text).toContain("<source pool='vp' volume='disk0.img' index='1'/>");
    expect(text).not.toContain('/srv/vp');
    // what the status file keeps, and the live XML read back and resolved with it
    const kept = resolvedVolumes(live);
    expect([...kept]).toEqual([['sda', { path: '/srv/vp/disk0.img', type: 'file' }]]);
    const back = withResolvedVolumes(parseDomainXml(text), kept);
    expect(disk(back)).toMatchObject({ type: 'file', source: { path: '/srv/vp/disk0.img', extra: { attrs: [{ name: 'index', value: '1' }] } }, volume: { pool: 'vp', name: 'disk0.img', extra: { attrs: [] } } });
    expect(formatDomainXml(back)).toBe(text);
  });
});
