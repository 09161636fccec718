// Golden tests of the pure launch plan: each XML in test/fixtures/emulator/plans, as define
// stores it (libvirt's defaults applied: every device at its address), renders (as
// domxml-to-native) to its `.native` file, with a fixed capability set. Regenerate
// deliberately with UPDATE_GOLDEN=1.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { parseDomainXml } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { renderNativeArgv } from '../../src/emulator/native.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'emulator');
export const caps: QemuCaps = JSON.parse(readFileSync(join(fixtures, 'caps-qemu-7.2.json'), 'utf8'));
const plansDir = join(fixtures, 'plans');

describe('launch plans', () => {
  for (const f of readdirSync(plansDir).filter((x) => x.endsWith('.xml')).sort()) {
    it(`${f} matches its golden command lines`, () => {
      const def = applyDefineDefaults(parseDomainXml(readFileSync(join(plansDir, f), 'utf8')), caps, { newDomain: true });
      const plan = buildLaunchPlan(def, caps, { runDir: `/run/mpvirt/qemu/${def.name.replaceAll('/', '_')}` });
      const out = renderNativeArgv(plan);
      const golden = join(plansDir, f.replace(/\.xml$/, '.native'));
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, out);
      expect(out).toBe(readFileSync(golden, 'utf8'));
      // pure: the same input gives the same plan
      expect(buildLaunchPlan(def, caps, { runDir: `/run/mpvirt/qemu/${def.name.replaceAll('/', '_')}` })).toEqual(plan);
    });
  }
});
