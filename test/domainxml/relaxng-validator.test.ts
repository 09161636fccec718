import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RelaxNgValidator, getDomainValidator } from '../../src/domainxml/relaxng.js';
import { MpvirtError } from '../../src/errors.js';

const DOMAIN_RNG = '/usr/share/libvirt/schemas/domain.rng';
const VALID = `<domain type='kvm'><name>a</name><memory>1024</memory><os><type>hvm</type></os></domain>`;
const INVALID = `<domain type='kvm'><name>x</name><memory unit='bogus'>1</memory><os><type>hvm</type></os><bogus/></domain>`;
const INVALID_MULTILINE = [
  `<domain type='kvm'>`,
  `  <name>x</name>`,
  `  <memory unit='bogus'>1</memory>`,
  `  <os><type>hvm</type></os>`,
  `  <bogus/>`,
  `</domain>`,
].join('\n');

const dir = mkdtempSync(join(tmpdir(), 'mpvirt-rng-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** xmllint's diagnostics for `xml`, without the final "fails to validate" / "validates" line. */
function xmllint(xml: string, name: string): string[] {
  const file = join(dir, name);
  writeFileSync(file, xml);
  let stderr: string;
  try {
    execFileSync('xmllint', ['--noout', '--relaxng', DOMAIN_RNG, file], { stdio: ['ignore', 'ignore', 'pipe'] });
    stderr = '';
  } catch (e) {
    stderr = String((e as { stderr: Buffer }).stderr);
  }
  return stderr
    .split('\n')
    .filter((l) => l !== '' && !l.endsWith(' fails to validate') && !l.endsWith(' validates'));
}

describe('RelaxNgValidator', () => {
  it('compiles domain.rng once and shares the validator', () => {
    const v = getDomainValidator();
    expect(v.schemaPath).toBe(DOMAIN_RNG);
    expect(getDomainValidator()).toBe(v);
  });

  it('accepts a minimal valid domain', () => {
    expect(getDomainValidator().validate(VALID)).toEqual([]);
  });

  it.each([
    ['one line', INVALID],
    ['several lines', INVALID_MULTILINE],
  ])('reports the same problems as xmllint (%s)', (_label, xml) => {
    const file = join(dir, `bad-${xml.length}.xml`);
    const problems = getDomainValidator().validate(xml, file);
    expect(problems.length).toBeGreaterThan(0);
    expect(RelaxNgValidator.formatProblems(problems, file).split('\n')).toEqual(xmllint(xml, `bad-${xml.length}.xml`));
  });

  it('gives line numbers and element names', () => {
    const problems = getDomainValidator().validate(INVALID_MULTILINE, 'x.xml');
    expect(problems[0]).toEqual({ line: 3, element: 'memory', message: 'Invalid attribute unit for element memory' });
    expect(problems.some((p) => p.line === 5 && p.element === 'bogus')).toBe(true);
  });

  it('formats problems without an element or a location', () => {
    expect(
      RelaxNgValidator.formatProblems(
        [{ line: 2, message: 'm1' }, { line: 0, message: 'm2' }, { line: 4, element: 'e', message: 'm3' }],
        'f.xml',
      ),
    ).toBe(['f.xml:2: Relax-NG validity error : m1', 'Relax-NG validity error : m2', 'f.xml:4: element e: Relax-NG validity error : m3'].join('\n'));
  });

  it('accepts foreign-namespace elements in <metadata>', () => {
    const xml = VALID.replace(
      '</domain>',
      `<metadata><app:info xmlns:app="http://example.org/app/1"><app:x a="1">y</app:x></app:info></metadata></domain>`,
    );
    expect(getDomainValidator().validate(xml)).toEqual([]);
  });

  it('reports a malformed document as one parse problem without throwing', () => {
    const v = getDomainValidator();
    const problems = v.validate(`<domain type='kvm'>\n<name>a</nam></domain>`, 'm.xml');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 2, kind: 'parser' });
    expect(problems[0]?.message).toContain('Opening and ending tag mismatch');
    // the first line of xmllint's report
    expect(RelaxNgValidator.formatProblems(problems, join(dir, 'm.xml'))).toBe(
      xmllint(`<domain type='kvm'>\n<name>a</nam></domain>`, 'm.xml')[0],
    );
    expect(v.validate('')).toEqual([{ line: 1, message: 'Document is empty', kind: 'parser' }]);
    expect(v.validate('not xml')).toHaveLength(1);
  });

  it('does not expand external entities', () => {
    const doc = (url: string): string =>
      `<!DOCTYPE d [<!ENTITY e SYSTEM "${url}">]>\n` +
      `<domain type='kvm'><name>&e;</name><memory>1024</memory><os><type>hvm</type></os></domain>`;
    const v = getDomainValidator();
    const passwd = v.validate(doc('file:///etc/passwd'), 'e.xml');
    expect(JSON.stringify(passwd) + RelaxNgValidator.formatProblems(passwd, 'e.xml')).not.toContain('root:');
    // Were the entity read, <name> would hold "abc" and the document would be valid.
    const nameFile = join(dir, 'name.txt');
    writeFileSync(nameFile, 'abc');
    expect(v.validate(`<domain type='kvm'><name>abc</name><memory>1024</memory><os><type>hvm</type></os></domain>`)).toEqual([]);
    expect(v.validate(doc(`file://${nameFile}`), 'e.xml')).toContainEqual({
      line: 2,
      element: 'name',
      message: 'Error validating datatype string',
    });
  });

  it('survives many validations in a row', () => {
    const v = getDomainValidator();
    for (let i = 0; i < 200; i++) {
      expect(v.validate(VALID)).toEqual([]);
      expect(v.validate(INVALID).length).toBe(4);
      expect(v.validate('<domain><a></b></domain>')).toHaveLength(1);
    }
  });

  it('throws VIR_ERR_INTERNAL_ERROR naming a schema it cannot load', () => {
    writeFileSync(join(dir, 'not-a-schema.rng'), 'hello');
    for (const path of [join(dir, 'missing.rng'), join(dir, 'not-a-schema.rng')]) {
      let err: unknown;
      try {
        RelaxNgValidator.load(path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MpvirtError);
      expect((err as MpvirtError).code).toBe('VIR_ERR_INTERNAL_ERROR');
      expect((err as MpvirtError).message).toContain(path);
    }
  });
});
