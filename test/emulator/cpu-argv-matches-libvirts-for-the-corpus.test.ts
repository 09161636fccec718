// The `-cpu` value of the main QEMU, for every document of libvirt 9.0's qemuxml2argvdata that has
// an x86_64-latest argv (built against QEMU 7.2's capabilities) and that mpvirt accepts, is
// libvirt's own: model, <cpu> <feature> policies (with libvirt's x86 name translation), timers,
// the APIC's paravirtual EOI, Hyper-V enlightenments, PMU. A feature accepted but left out of the
// command line would silently run a different guest CPU than the definition asks for.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { parseDomainXml } from '../../src/domainxml/index.js';
import { findUnsupported } from '../../src/domainxml/supported.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { corpusDir as dir, projectRoot } from '../domainxml/helpers.js';

const caps: QemuCaps = JSON.parse(readFileSync(join(projectRoot, 'test/fixtures/emulator/caps-qemu-7.2.json'), 'utf8'));

/**
 * Where mpvirt differs on purpose. host-model: libvirt turns it into the host's model and
 * features from its host CPU data at start (here a fake host in libvirt's test suite); mpvirt
 * passes `host` under KVM and `max` under TCG (docs/xml-reference.md).
 */
const DIFFERS: Readonly<Record<string, string>> = {
  'cpu-host-model': 'host-model runs as -cpu host / max',
  // libvirt reconciles its cpu_map model with QEMU's at start: it drops a feature its own
  // Icelake-Server lacks (pconfig) and switches off one QEMU's model has beyond it (intel-pt);
  // mpvirt passes the model and the features as written
  'cpu-Icelake-Server-pconfig': "libvirt's cpu_map model reconciliation",
};

interface Case { name: string; xml: string; theirs: string }

function cases(): Case[] {
  const out: Case[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.x86_64-latest.args')).sort()) {
    const name = f.slice(0, -'.x86_64-latest.args'.length);
    const xml = join(dir, `${name}.xml`);
    const m = /^-cpu (.*) \\$/m.exec(readFileSync(join(dir, f), 'utf8'));
    if (!existsSync(xml) || !m) continue;
    out.push({ name, xml, theirs: m[1]!.replace(/^'(.*)'$/, '$1') });
  }
  return out;
}

describe("-cpu as libvirt's qemuBuildCpuCommandLine builds it", () => {
  it('is the same for every accepted corpus document (but the named differences)', () => {
    const all = cases();
    let compared = 0;
    const wrong: string[] = [];
    for (const c of all) {
      let def;
      try {
        def = applyDefineDefaults(parseDomainXml(readFileSync(c.xml, 'utf8')), caps, { newDomain: true });
      } catch {
        continue; // refused at parse or define: nothing runs
      }
      if (findUnsupported(def).length > 0) continue;
      let argv: readonly string[];
      try {
        argv = buildLaunchPlan(def, caps, { runDir: '/run/mpvirt/qemu/x' }).main.argv;
      } catch {
        continue; // refused at start (a machine type QEMU 7.2 lacks, …)
      }
      const ours = argv[argv.indexOf('-cpu') + 1];
      compared++;
      if (c.name in DIFFERS) {
        expect(ours, `${c.name} no longer differs: drop it from DIFFERS`).not.toBe(c.theirs);
        continue;
      }
      if (ours !== c.theirs) wrong.push(`${c.name}\n  ours   ${ours}\n  libvirt ${c.theirs}`);
    }
    console.log(`-cpu compared for ${compared} of ${all.length} corpus documents with a -cpu; ${wrong.length} differ`);
    expect(compared).toBeGreaterThan(100);
    expect(wrong).toEqual([]);
  });
});
