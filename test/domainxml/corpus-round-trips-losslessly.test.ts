// libvirt 9.0's own corpus of 1,070 domain XMLs: every document parses and
// round-trips (equal model, byte-stable second round, nothing dropped), or is
// refused with a coded error — never a crash or an untyped exception. Every
// document libvirt itself turns into a command line must parse.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { formatDomainXml, parseDomainXml } from '../../src/domainxml/index.js';
import { MpvirtError } from '../../src/errors.js';
import { comparable, corpusDir } from './helpers.js';

const files = existsSync(corpusDir) ? readdirSync(corpusDir).filter((f) => f.endsWith('.xml')).sort() : [];

/** Element paths, attribute names and non-blank text positions, with counts. */
function census(xml: string): Map<string, number> {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const m = new Map<string, number>();
  const add = (k: string): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  type El = { namespaceURI: string | null; localName: string; attributes: ArrayLike<{ name: string }>; childNodes: ArrayLike<{ nodeType: number; nodeValue: string | null }> };
  const walk = (el: El, path: string): void => {
    const p = `${path}/{${el.namespaceURI ?? ''}}${el.localName}`;
    add(p);
    for (let i = 0; i < el.attributes.length; i++) {
      const a = el.attributes[i]!;
      if (!a.name.startsWith('xmlns')) add(`${p}@${a.name}`);
    }
    for (let i = 0; i < el.childNodes.length; i++) {
      const c = el.childNodes[i]!;
      if (c.nodeType === 1) walk(c as unknown as El, p);
      else if ((c.nodeType === 3 || c.nodeType === 4) && (c.nodeValue ?? '').trim() !== '') add(`${p}#text`);
    }
  };
  walk(doc.documentElement as unknown as El, '');
  return m;
}

const acceptedByLibvirt = (f: string): boolean => {
  const base = join(corpusDir, f.replace(/\.xml$/, ''));
  return existsSync(`${base}.args`) || existsSync(`${base}.x86_64-latest.args`);
};

describe("libvirt 9.0's qemuxml2argv corpus", () => {
  it('is present', () => {
    expect(files.length, `corpus expected at ${corpusDir}`).toBeGreaterThan(1000);
  });

  it('parses or refuses every document with a coded error, round-trips the parsed ones, drops nothing', () => {
    const codes = new Map<string, number>();
    const problems: string[] = [];
    let parsed = 0;
    for (const f of files) {
      const xml = readFileSync(join(corpusDir, f), 'utf8');
      let def;
      try {
        def = parseDomainXml(xml);
      } catch (e) {
        if (!(e instanceof MpvirtError)) {
          problems.push(`${f}: untyped exception ${String(e)}`);
          continue;
        }
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        if (acceptedByLibvirt(f)) problems.push(`${f}: libvirt accepts it, we refused: ${e.message}`);
        continue;
      }
      parsed++;
      const once = formatDomainXml(def);
      const back = parseDomainXml(once);
      if (JSON.stringify(comparable(back)) !== JSON.stringify(comparable(def))) problems.push(`${f}: model changed after a round trip`);
      if (formatDomainXml(back) !== once) problems.push(`${f}: second round is not byte-identical`);
      const before = census(xml);
      const after = census(once);
      const lost = [...before].filter(([k, n]) => (after.get(k) ?? 0) < n).map(([k]) => k);
      if (lost.length) problems.push(`${f}: dropped ${lost.slice(0, 3).join(', ')}`);
    }
    const refused = files.length - parsed;
    console.log(
      `corpus: ${files.length} documents, ${parsed} parsed, ${refused} refused` +
        (codes.size ? ` (${[...codes].map(([c, n]) => `${c} ×${n}`).join(', ')})` : ''),
    );
    expect(problems).toEqual([]);
    expect(parsed).toBeGreaterThan(1000);
  });
});
