// Golden tests: every valid fixture formats to its `.out.xml`; every invalid
// fixture is refused with the code and message in its `.err`. Regenerate the
// goldens deliberately with UPDATE_GOLDEN=1.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDomainXml, parseDomainXml } from '../../src/domainxml/index.js';
import { MpvirtError } from '../../src/errors.js';
import { comparable, fixturesDir } from './helpers.js';

const validDir = join(fixturesDir, 'valid');
const invalidDir = join(fixturesDir, 'invalid');
const inputs = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.xml') && !f.endsWith('.out.xml')).sort();

describe('valid fixtures', () => {
  for (const f of inputs(validDir)) {
    it(`${f} formats to its golden output and back to the same model`, () => {
      const def = parseDomainXml(readFileSync(join(validDir, f), 'utf8'));
      const out = formatDomainXml(def);
      const golden = join(validDir, f.replace(/\.xml$/, '.out.xml'));
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, out);
      expect(out).toBe(readFileSync(golden, 'utf8'));
      const again = parseDomainXml(out);
      expect(comparable(again)).toEqual(comparable(def));
      expect(formatDomainXml(again)).toBe(out);
    });
  }
});

describe('invalid fixtures', () => {
  for (const f of inputs(invalidDir)) {
    it(`${f} is refused with the expected coded error`, () => {
      const [code, message] = readFileSync(join(invalidDir, f.replace(/\.xml$/, '.err')), 'utf8').split('\n');
      let err: unknown;
      try {
        parseDomainXml(readFileSync(join(invalidDir, f), 'utf8'));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MpvirtError);
      expect((err as MpvirtError).code).toBe(code);
      expect((err as MpvirtError).message).toBe(message);
    });
  }
});

it('a malformed document reports line and column', () => {
  try {
    parseDomainXml(readFileSync(join(invalidDir, 'malformed-tag-mismatch.xml'), 'utf8'));
    expect.unreachable();
  } catch (e) {
    expect(e).toMatchObject({ code: 'VIR_ERR_XML_ERROR', line: 2, column: 9 });
  }
});
