// Pool and volume XML as libvirt's storage_conf.c reads and writes it: sizes with every unit
// virScaleInteger knows, octal modes, generated uuids, sanitized target paths, and libvirt's
// wording for what it refuses.
import { describe, expect, it } from 'vitest';
import { formatPoolXml, parsePoolXml } from '../../src/storage/pool-xml.js';
import { formatVolXml, parseVolXml, scaleInteger } from '../../src/storage/vol-xml.js';

describe('pool XML', () => {
  it('reads a dir pool, fills in a uuid, cleans the path, and writes what libvirt writes', () => {
    const def = parsePoolXml(`<pool type='dir'><name>images</name><target><path>//srv//images/</path>
      <permissions><mode>0755</mode><owner>107</owner><group>-1</group></permissions></target></pool>`);
    expect(def).toMatchObject({ name: 'images', targetPath: '/srv/images', perms: { mode: 0o755, owner: 107 } });
    expect(def.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(formatPoolXml({ ...def, uuid: '11111111-2222-3333-4444-555555555555' }, { capacity: 10n, allocation: 4n, available: 6n })).toBe(`<pool type='dir'>
  <name>images</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <capacity unit='bytes'>10</capacity>
  <allocation unit='bytes'>4</allocation>
  <available unit='bytes'>6</available>
  <source>
  </source>
  <target>
    <path>/srv/images</path>
    <permissions>
      <mode>0755</mode>
      <owner>107</owner>
    </permissions>
  </target>
</pool>
`);
  });

  it('refuses what libvirt refuses, in its words', () => {
    const cases: Array<[string, RegExp]> = [
      ["<pool><name>a</name></pool>", /Missing required attribute 'type' in element 'pool'/],
      ["<pool type='bogus'><name>a</name></pool>", /Invalid value for attribute 'type' in element 'pool': 'bogus'/],
      ["<pool type='logical'><name>a</name></pool>", /storage pool type 'logical' is not supported by mpvirtd/],
      ["<pool type='dir'><target><path>/a</path></target></pool>", /missing pool source name element/],
      ["<pool type='dir'><name>a/b</name><target><path>/a</path></target></pool>", /name a\/b cannot contain '\/'/],
      ["<pool type='dir'><name>a</name></pool>", /missing storage pool target path/],
      ["<pool type='dir'><name>a</name><uuid>nope</uuid><target><path>/a</path></target></pool>", /malformed uuid element/],
      ["<pool type='dir'><name>a</name><target><path>/a</path><permissions><mode>0999</mode></permissions></target></pool>", /malformed octal mode/],
      ["<pool type='dir'><name>a</name><target><path>/a</path><permissions><owner>x</owner></permissions></target></pool>", /malformed owner element/],
    ];
    for (const [xml, err] of cases) expect(() => parsePoolXml(xml), xml).toThrow(err);
  });
});

describe('volume XML', () => {
  it('scales sizes as virScaleInteger does', () => {
    expect([undefined, 'b', 'bytes', 'k', 'KiB', 'KB', 'M', 'MB', 'G', 'GiB', 'T', 'E'].map((u) => scaleInteger(1n, u))).toEqual([
      1n, 1n, 1n, 1024n, 1024n, 1000n, 1048576n, 1000000n, 1073741824n, 1073741824n, 1099511627776n, 1152921504606846976n,
    ]);
    expect(() => scaleInteger(1n, 'Q')).toThrow(/unknown suffix 'Q'/);
    expect(() => scaleInteger(9n, 'E')).toThrow(/numerical overflow: value too large: 9E/);
  });

  it('reads capacity, allocation (the capacity when absent), format and permissions', () => {
    const v = parseVolXml(`<volume><name>a.qcow2</name><capacity unit='G'>2</capacity>
      <target><format type='qcow2'/><permissions><mode>0640</mode></permissions><compat>1.1</compat><features><lazy_refcounts/></features></target></volume>`);
    expect(v).toMatchObject({ name: 'a.qcow2', capacity: 2n << 30n, allocation: 2n << 30n, hasAllocation: false, format: 'qcow2', perms: { mode: 0o640 }, compat: '1.1', features: ['lazy_refcounts'] });
    expect(formatVolXml({ ...v, key: '/p/a.qcow2', path: '/p/a.qcow2', compat: undefined, features: undefined })).toContain("<format type='qcow2'/>\n    <permissions>\n      <mode>0640</mode>");
    for (const [xml, err] of [
      ['<volume><capacity>1</capacity></volume>', /missing volume name element/],
      ['<volume><name>a</name></volume>', /missing capacity element/],
      ["<volume><name>a</name><capacity>x</capacity></volume>", /malformed capacity element/],
      ["<volume><name>a</name><capacity>1</capacity><target><format type='zip'/></target></volume>", /unknown volume format type zip/],
      ["<volume type='tape'><name>a</name><capacity>1</capacity></volume>", /unknown volume type 'tape'/],
    ] as const) expect(() => parseVolXml(xml), xml).toThrow(err);
  });
});
