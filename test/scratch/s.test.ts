import { readFileSync } from 'node:fs';
import { it } from 'vitest';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { formatDomainXml, parseDomainXml } from '../../src/domainxml/index.js';
import { findUnsupported } from '../../src/domainxml/supported.js';
import { recordedQemu72Caps } from '../emulator/recorded-qemu-7.2.js';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
it('scratch', () => {
  for (const f of (process.env.SCRATCH ?? 'win11,lin-default,lin-many').split(',')) {
    const def = parseDomainXml(readFileSync(`/tmp/w/${f}.xml`, 'utf8'));
    console.log(f, findUnsupported(def).map((u) => u.path + ': ' + u.reason).join('\n  '));
    const ours = formatDomainXml(applyDefineDefaults(def, recordedQemu72Caps(), { newDomain: true }));
    writeFileSync(`/tmp/w/${f}.ours.xml`, ours);
    try { execFileSync('diff', ['-u', `/tmp/w/${f}.lv.xml`, `/tmp/w/${f}.ours.xml`], { encoding: 'utf8' }); console.log(f, 'SAME'); } catch (e) { console.log((e as { stdout: string }).stdout); }
  }
});
