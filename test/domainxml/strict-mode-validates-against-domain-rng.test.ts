// Strict mode (what `virsh define --validate` uses): the document is checked
// against libvirt's domain.rng first, and problems are listed like xmllint's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainXml } from '../../src/domainxml/index.js';
import { MpvirtError } from '../../src/errors.js';
import { fixturesDir } from './helpers.js';

const invalid = `<domain type='kvm'>
  <name>x</name>
  <memory unit='bogus'>1</memory>
  <os><type>hvm</type></os>
  <bogus/>
</domain>
`;

describe('parseDomainXml with validateSchema', () => {
  it('accepts a valid document with our extension', () => {
    const xml = readFileSync(join(fixturesDir, 'valid', 'virt-install-style.xml'), 'utf8');
    expect(parseDomainXml(xml, { validateSchema: true }).name).toBe('web-01');
  });

  it('refuses an invalid one with VIR_ERR_XML_INVALID_SCHEMA and the same problems xmllint lists', () => {
    let err: MpvirtError | undefined;
    try {
      parseDomainXml(invalid, { validateSchema: true });
    } catch (e) {
      err = e as MpvirtError;
    }
    expect(err).toBeInstanceOf(MpvirtError);
    expect(err!.code).toBe('VIR_ERR_XML_INVALID_SCHEMA');
    expect(err!.number).toBe(92);
    const [head, ...lines] = err!.message.split('\n');
    expect(head).toBe('XML document failed to validate against schema: Unable to validate doc against /usr/share/libvirt/schemas/domain.rng');

    const dir = mkdtempSync(join(tmpdir(), 'mpvirt-rng-'));
    try {
      const file = join(dir, 'd.xml');
      writeFileSync(file, invalid);
      const ref = spawnSync('xmllint', ['--noout', '--relaxng', '/usr/share/libvirt/schemas/domain.rng', file], { encoding: 'utf8' });
      const expected = ref.stderr
        .split('\n')
        .filter((l) => l !== '' && !l.endsWith('fails to validate'))
        .map((l) => l.split(file).join('(domain_definition)'));
      expect(lines).toEqual(expected);
      expect(lines.length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without strict mode the same unknown element is preserved, not refused', () => {
    const ok = invalid.replace("unit='bogus'", "unit='KiB'");
    expect(() => parseDomainXml(ok, { validateSchema: true })).toThrow(/failed to validate/);
    expect(parseDomainXml(ok).extraTop.map((t) => t.element.name)).toEqual(['bogus']);
  });
});
