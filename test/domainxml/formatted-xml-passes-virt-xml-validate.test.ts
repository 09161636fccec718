// Every document we format with our extension validates against libvirt's own
// schema, checked by libvirt's own tool (virt-xml-validate → libxml2): our
// element lives in <metadata>, so libvirt tooling keeps accepting the XML.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDomainXml, parseDomainXml, type DomainDef } from '../../src/domainxml/index.js';
import { corpusDir, fixturesDir } from './helpers.js';

const VALIDATE = '/usr/bin/virt-xml-validate';
const SCHEMA = '/usr/share/libvirt/schemas/domain.rng';
const work = mkdtempSync(join(tmpdir(), 'mpvirt-validate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function virtXmlValidate(xml: string, name: string): { ok: boolean; output: string } {
  const file = join(work, name);
  writeFileSync(file, xml);
  const r = spawnSync(VALIDATE, [file, 'domain'], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Give a parsed domain a remote process: a new lsilogic controller with a user alias. */
function withRemoteProcess(def: DomainDef): DomainDef {
  const used = new Set(def.devices.flatMap((d) => (d.kind === 'controller' && d.type === 'scsi' && d.index !== undefined ? [d.index] : [])));
  let index = 0;
  while (used.has(index)) index++;
  return {
    ...def,
    metadata: {
      others: def.metadata?.others ?? [],
      remote: {
        prefix: 'mpq',
        processes: [{ rid: 'r0', devices: ['ua-mpvirt-lsi'], onCrash: 'preserve', sandbox: 'on', emulator: '/usr/bin/qemu-system-x86_64' }],
      },
    },
    devices: [...def.devices, { kind: 'controller', type: 'scsi', index, model: 'lsilogic', alias: 'ua-mpvirt-lsi', extra: { attrs: [], children: [] } }],
  };
}

describe('virt-xml-validate accepts what we format', () => {
  it('has the tool and the schemas (Debian libvirt-clients, libvirt0)', () => {
    expect(existsSync(VALIDATE), `${VALIDATE} missing: apt-get install libvirt-clients`).toBe(true);
    expect(existsSync(SCHEMA), `${SCHEMA} missing: apt-get install libvirt0`).toBe(true);
  });

  for (const f of readdirSync(join(fixturesDir, 'valid')).filter((x) => x.endsWith('.xml') && !x.endsWith('.out.xml'))) {
    it(`fixture ${f}`, () => {
      const out = formatDomainXml(parseDomainXml(readFileSync(join(fixturesDir, 'valid', f), 'utf8')));
      expect(out).toContain('http://mpvirt.org/schemas/domain/mpqemu/1.0');
      const r = virtXmlValidate(out, f);
      expect(r.output).toContain('validates');
      expect(r.ok).toBe(true);
    });
  }

  it('every schema-valid corpus document, given a remote process, still validates after formatting', () => {
    const files = readdirSync(corpusDir).filter((f) => f.endsWith('.xml')).sort();
    // Which inputs does libvirt's schema accept? One xmllint run over all of them.
    const r = spawnSync('xmllint', ['--noout', '--relaxng', SCHEMA, ...files.map((f) => join(corpusDir, f))], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const validInputs = files.filter((f) => r.stderr.includes(`${join(corpusDir, f)} validates`));
    expect(validInputs.length).toBeGreaterThan(900);

    const outFiles: string[] = [];
    for (const f of validInputs) {
      let def: DomainDef;
      try {
        def = parseDomainXml(readFileSync(join(corpusDir, f), 'utf8'));
      } catch {
        continue; // refusals are covered by the corpus round-trip test
      }
      const file = join(work, `corpus-${f}`);
      writeFileSync(file, formatDomainXml(withRemoteProcess(def)));
      outFiles.push(file);
    }
    const check = spawnSync('xmllint', ['--noout', '--relaxng', SCHEMA, ...outFiles], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const failures = outFiles.filter((f) => !check.stderr.includes(`${f} validates`));
    console.log(`schema-valid corpus inputs: ${validInputs.length}; formatted with <mpq:remote>: ${outFiles.length}; failing: ${failures.length}`);
    expect(failures.map((f) => check.stderr.split('\n').filter((l) => l.startsWith(f)).join('\n'))).toEqual([]);
    // and the real tool agrees on a sample
    for (const f of outFiles.filter((_, i) => i % 50 === 0)) {
      const v = spawnSync(VALIDATE, [f, 'domain'], { encoding: 'utf8' });
      expect(`${v.stdout}${v.stderr}`).toContain('validates');
      expect(v.status).toBe(0);
    }
  });
});
