#!/usr/bin/env node
/**
 * Define time per document, XML side, over libvirt 9.0's qemuxml2argv corpus: what `define`
 * does to a document now (parse, supported-feature check, libvirt's define-time defaults with
 * addresses, format) against what it did before the defaults existed (parse, check, format),
 * both measured in this run. Each document's cost is the median of the measured rounds; the
 * report gives the median and the sum over documents.
 *
 *   npm run build && node bench/define-defaults-corpus.mjs [--rounds N] [--warmup N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rounds = opt('--rounds', 5);
const warmup = opt('--warmup', 2);
const dir = path.resolve(root, '../shared/libvirt-9.0-testdata/qemuxml2argvdata');

const { parseDomainXml, formatDomainXml } = await import(pathToFileURL(path.join(root, 'dist/index.js')).href);
const { findUnsupported } = await import(pathToFileURL(path.join(root, 'dist/domainxml/supported.js')).href);
const { applyDefineDefaults } = await import(pathToFileURL(path.join(root, 'dist/domainxml/defaults/index.js')).href);
const caps = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/emulator/caps-qemu-7.2.json'), 'utf8'));
for (const m of caps.machines) if (m.name.startsWith('pc-')) m.defaultCpuType = 'qemu64-x86_64-cpu';

const docs = [];
for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.xml')).sort()) {
  const xml = fs.readFileSync(path.join(dir, f), 'utf8');
  try {
    applyDefineDefaults(parseDomainXml(xml), caps, { newDomain: true });
    docs.push(xml);
  } catch {
    /* refused at parse or by the defaults: not a define that succeeds */
  }
}

const before = (xml) => {
  const def = parseDomainXml(xml);
  findUnsupported(def);
  return formatDomainXml(def);
};
const now = (xml) => {
  const def = parseDomainXml(xml);
  findUnsupported(def);
  const full = applyDefineDefaults(def, caps, { newDomain: true });
  findUnsupported(full);
  return formatDomainXml(full);
};

function measure(fn) {
  const samples = docs.map(() => []);
  for (let r = 0; r < warmup + rounds; r++) {
    docs.forEach((xml, i) => {
      const t0 = process.hrtime.bigint();
      fn(xml);
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (r >= warmup) samples[i].push(us);
    });
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const per = samples.map(med);
  return { median: med(per), total: per.reduce((a, b) => a + b, 0) };
}

// interleave to share the machine's state fairly
const b1 = measure(before);
const n1 = measure(now);
const b2 = measure(before);
const n2 = measure(now);
const b = { median: Math.min(b1.median, b2.median), total: Math.min(b1.total, b2.total) };
const n = { median: Math.min(n1.median, n2.median), total: Math.min(n1.total, n2.total) };
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`### Define time per document (XML side, ${docs.length} corpus documents)

Machine: ${os.cpus().length} × ${cpu}, Node ${process.version}. Median of ${rounds} rounds per document (after ${warmup} warm-up), best of two interleaved series.

| pipeline | median per document | sum over the corpus |
|---|---|---|
| before the defaults: parse + check + format | ${b.median.toFixed(1)} µs | ${(b.total / 1000).toFixed(1)} ms |
| now: parse + check + defaults with addresses + check + format | ${n.median.toFixed(1)} µs | ${(n.total / 1000).toFixed(1)} ms |
| ratio | ${(n.median / b.median).toFixed(2)}× | ${(n.total / b.total).toFixed(2)}× |`);
