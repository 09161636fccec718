import { describe, expect, it } from 'vitest';
import { formatDomainXml, parseDomainXml } from '../../src/domainxml/index.js';
import { parseMemoryKiB, parseUuid } from '../../src/domainxml/values.js';

const dom = (inner: string): string => `<domain type='kvm'><name>a</name>${inner}<os><type>hvm</type></os></domain>`;

describe('memory units', () => {
  it.each([
    ['1', undefined, 1],
    ['1024', 'b', 1],
    ['1025', 'bytes', 2], // libvirt rounds up to whole KiB
    ['1000', 'KB', 977],
    ['1', 'k', 1],
    ['1', 'KiB', 1],
    ['1', 'M', 1024],
    ['1', 'MiB', 1024],
    ['1', 'MB', 977],
    ['2', 'G', 2 * 1024 * 1024],
    ['1', 'GB', 976563],
    ['1', 'TiB', 1024 ** 3],
    ['1', 'TB', 976562500],
    ['1', 'PiB', 1024 ** 4],
    ['1', 'PB', 976562500000],
    ['1', 'EiB', 1024 ** 5],
    ['1', 'EB', 976562500000000],
  ])('%s %s = %d KiB', (value, unit, kib) => {
    expect(parseMemoryKiB(value, unit, '/domain/memory')).toBe(kib);
  });

  it('refuses unknown units and non-numbers with XML errors', () => {
    expect(() => parseDomainXml(dom("<memory unit='furlong'>1</memory>"))).toThrow("XML error: unknown suffix 'furlong' in /domain/memory");
    expect(() => parseDomainXml(dom('<memory>-5</memory>'))).toThrow(/XML error: Invalid value '-5'/);
    expect(() => parseDomainXml(dom("<memory unit='EiB'>9000</memory>"))).toThrow(/too large/);
  });

  it('formats memory in KiB, as virsh dumpxml does', () => {
    const out = formatDomainXml(parseDomainXml(dom("<memory unit='GiB'>2</memory><currentMemory unit='MiB'>1536</currentMemory>")));
    expect(out).toContain("<memory unit='KiB'>2097152</memory>");
    expect(out).toContain("<currentMemory unit='KiB'>1572864</currentMemory>");
  });
});

describe('uuids', () => {
  it('accepts libvirt spellings and normalises them', () => {
    expect(parseUuid('C7A5FDBD-EDAF-9455-926A-D65C16DB1809')).toBe('c7a5fdbd-edaf-9455-926a-d65c16db1809');
    expect(parseUuid('c7a5fdbdedaf9455926ad65c16db1809')).toBe('c7a5fdbd-edaf-9455-926a-d65c16db1809');
    expect(parseUuid('  c7a5fdbd-edaf-9455-926a-d65c16db1809\n')).toBe('c7a5fdbd-edaf-9455-926a-d65c16db1809');
    expect(parseUuid('c7a5fdbd-edaf-9455-926a-d65c16db18')).toBeUndefined();
    expect(parseUuid('c7a5fdbd-edaf-9455-926a-d65c16db180g')).toBeUndefined();
  });

  it('generates a uuid when the document has none, and keeps it across a round trip', () => {
    const def = parseDomainXml(dom('<memory>65536</memory>'));
    expect(def.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const again = parseDomainXml(formatDomainXml(def));
    expect(again.uuid).toBe(def.uuid);
    expect(parseDomainXml(dom('<memory>65536</memory>')).uuid).not.toBe(def.uuid);
  });
});
