#!/usr/bin/env node
/**
 * Parse/format cost of every domain XML in libvirt 9.0's qemuxml2argv test
 * corpus, against a baseline measured in the same run: xmldom's bare
 * DOMParser.parseFromString + XMLSerializer.serializeToString of the same
 * documents (what any DOM-based parse/serialize costs at least).
 *
 *   npm run build && node bench/domainxml-corpus.mjs [--json] [--rounds N] [--warmup N] [--dir PATH]
 *
 * Each round walks the whole corpus once; every document is timed separately
 * and its cost is the median of the measured rounds (after the warm-up
 * rounds). Totals are sums of these per-document medians.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, '..');

function usage(msg) {
  if (msg) process.stderr.write(`${msg}\n`);
  process.stderr.write('usage: node bench/domainxml-corpus.mjs [--json] [--rounds N] [--warmup N] [--dir PATH]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { json: false, rounds: 5, warmup: 2, dir: path.resolve(projectRoot, '../shared/libvirt-9.0-testdata/qemuxml2argvdata') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--json') o.json = true;
    else if (a === '--rounds') o.rounds = Number(val());
    else if (a === '--warmup') o.warmup = Number(val());
    else if (a === '--dir') o.dir = path.resolve(val());
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.rounds) || o.rounds < 1) usage('--rounds must be a positive integer');
  if (!Number.isInteger(o.warmup) || o.warmup < 0) usage('--warmup must be a non-negative integer');
  return o;
}

const opts = parseArgs(process.argv.slice(2));

let lib;
try {
  lib = await import(pathToFileURL(path.join(projectRoot, 'dist/index.js')).href);
} catch (e) {
  process.stderr.write(`cannot load ${path.join(projectRoot, 'dist/index.js')} (run \`npm run build\` first): ${e.message}\n`);
  process.exit(1);
}
const { parseDomainXml, formatDomainXml } = lib;

if (!fs.existsSync(opts.dir)) {
  process.stderr.write(`corpus directory not found: ${opts.dir}\n`);
  process.exit(1);
}
const files = fs
  .readdirSync(opts.dir)
  .filter((f) => f.endsWith('.xml'))
  .sort();
if (files.length === 0) {
  process.stderr.write(`no *.xml in ${opts.dir}\n`);
  process.exit(1);
}

// ------------------------------------------------------------ load, and sort out what mpvirt refuses

const docs = []; // { file, xml, bytes }
const refused = []; // { file, code, message }
for (const file of files) {
  const xml = fs.readFileSync(path.join(opts.dir, file), 'utf8');
  try {
    formatDomainXml(parseDomainXml(xml));
    docs.push({ file, xml, bytes: Buffer.byteLength(xml, 'utf8') });
  } catch (e) {
    refused.push({ file, code: e?.code ?? e?.name ?? 'unknown', message: String(e?.message ?? e).split('\n')[0] });
  }
}

// ------------------------------------------------------------ measure

const ops = ['parse', 'format', 'xmldomParse', 'xmldomSerialize'];
/** samples[op][docIndex] = array of µs, one per measured round */
const samples = Object.fromEntries(ops.map((op) => [op, docs.map(() => [])]));
const now = process.hrtime.bigint;
const us = (a, b) => Number(b - a) / 1000;
let sink = 0; // keeps results alive so nothing is optimised away

for (let round = 0; round < opts.warmup + opts.rounds; round++) {
  const record = round >= opts.warmup;
  for (let i = 0; i < docs.length; i++) {
    const { xml } = docs[i];

    const t0 = now();
    const def = parseDomainXml(xml);
    const t1 = now();
    const out = formatDomainXml(def);
    const t2 = now();

    const t3 = now();
    const dom = new DOMParser().parseFromString(xml, 'text/xml');
    const t4 = now();
    const text = new XMLSerializer().serializeToString(dom);
    const t5 = now();

    sink += out.length + text.length;
    if (record) {
      samples.parse[i].push(us(t0, t1));
      samples.format[i].push(us(t1, t2));
      samples.xmldomParse[i].push(us(t3, t4));
      samples.xmldomSerialize[i].push(us(t4, t5));
    }
  }
}

// ------------------------------------------------------------ statistics

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** nearest-rank percentile */
function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const perDoc = docs.map((d, i) => ({
  file: d.file,
  bytes: d.bytes,
  ...Object.fromEntries(ops.map((op) => [op, median(samples[op][i])])),
}));

const summary = Object.fromEntries(
  ops.map((op) => {
    const xs = perDoc.map((d) => d[op]);
    return [op, { totalUs: xs.reduce((a, b) => a + b, 0), medianUs: median(xs), p95Us: percentile(xs, 95), maxUs: Math.max(...xs) }];
  }),
);

const slowest = [...perDoc].sort((a, b) => b.parse + b.format - (a.parse + a.format)).slice(0, 5);

const cpus = os.cpus();
const result = {
  machine: {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  },
  corpus: {
    dir: path.relative(projectRoot, opts.dir) || '.',
    files: files.length,
    parsed: docs.length,
    refused: refused.length,
    bytes: docs.reduce((a, d) => a + d.bytes, 0),
  },
  method: { warmupRounds: opts.warmup, measuredRounds: opts.rounds, perDocument: 'median of measured rounds', unit: 'µs' },
  summary,
  ratio: {
    parse: summary.parse.totalUs / summary.xmldomParse.totalUs,
    format: summary.format.totalUs / summary.xmldomSerialize.totalUs,
  },
  slowest,
  refusedDocuments: refused,
};


// ------------------------------------------------------------ output

if (opts.json) {
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} else {
  const f1 = (x) => x.toFixed(1);
  const f0 = (x) => Math.round(x).toLocaleString('en-US');
  const lines = [];
  lines.push('# mpvirt domain XML: libvirt 9.0 qemuxml2argv corpus', '');
  lines.push('| | |', '|---|---|');
  lines.push(`| machine | ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.platform} |`);
  lines.push(`| node | ${result.machine.node} |`);
  lines.push(`| corpus | \`${result.corpus.dir}\`: ${result.corpus.files} documents, ${(result.corpus.bytes / 1024).toFixed(0)} KiB parsed |`);
  lines.push(`| documents parsed / refused | ${result.corpus.parsed} / ${result.corpus.refused} |`);
  lines.push(`| method | ${opts.warmup} warm-up + ${opts.rounds} measured rounds; per document the median; totals are sums of medians |`);
  lines.push('');
  lines.push('## Time per document (µs)', '');
  lines.push('| operation | total | median | p95 | max |', '|---|---:|---:|---:|---:|');
  const names = {
    parse: 'mpvirt `parseDomainXml`',
    format: 'mpvirt `formatDomainXml`',
    xmldomParse: 'baseline: xmldom `DOMParser.parseFromString`',
    xmldomSerialize: 'baseline: xmldom `XMLSerializer.serializeToString`',
  };
  for (const op of ops) {
    const s = summary[op];
    lines.push(`| ${names[op]} | ${f0(s.totalUs)} | ${f1(s.medianUs)} | ${f1(s.p95Us)} | ${f1(s.maxUs)} |`);
  }
  lines.push('');
  lines.push(`mpvirt / baseline (totals): parse ×${result.ratio.parse.toFixed(2)}, format ×${result.ratio.format.toFixed(2)}`);
  lines.push('');
  lines.push('## Slowest 5 documents (by parse + format)', '');
  lines.push('| document | bytes | parse µs | format µs | xmldom parse µs | xmldom serialize µs |', '|---|---:|---:|---:|---:|---:|');
  for (const d of slowest) {
    lines.push(`| ${d.file} | ${d.bytes} | ${f1(d.parse)} | ${f1(d.format)} | ${f1(d.xmldomParse)} | ${f1(d.xmldomSerialize)} |`);
  }
  if (refused.length) {
    lines.push('', '## Refused documents', '', '| document | code | message |', '|---|---|---|');
    for (const r of refused) lines.push(`| ${r.file} | ${r.code} | ${r.message.replace(/\|/g, '\\|')} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
