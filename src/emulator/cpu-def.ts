/**
 * A `<cpu>` element as libvirt 9.0 parses and formats it (src/conf/cpu_conf.c virCPUDefParseXML,
 * virCPUDefFormatBuf), for `virsh cpu-compare`, `cpu-baseline` and their hypervisor variants:
 * libvirt's wording for what it refuses, the layout it prints.
 */
import { MpvirtError } from '../errors.js';
import { attr, elementChildren, parseXmlDocument, textOf, type XElement } from '../domainxml/xmltree.js';
import type { CpuDef, CpuFeature, FeaturePolicy } from './cpu-x86.js';

const MODES = new Set(['custom', 'host-model', 'host-passthrough', 'maximum']);
const MATCHES = new Set(['minimum', 'exact', 'strict']);
const POLICIES = new Set<string>(['force', 'require', 'optional', 'disable', 'forbid']);
/** virArch names libvirt knows (virArchFromString); an unknown one is refused */
const ARCHS = new Set(['none', 'alpha', 'armv6l', 'armv7l', 'armv7b', 'aarch64', 'cris', 'i686', 'ia64', 'lm32', 'loongarch64', 'm68k', 'microblaze', 'microblazeel', 'mips', 'mipsel', 'mips64', 'mips64el', 'openrisc', 'parisc', 'parisc64', 'ppc', 'ppcle', 'ppc64', 'ppc64le', 'ppcemb', 'riscv32', 'riscv64', 's390', 's390x', 'sh4', 'sh4eb', 'sparc', 'sparc64', 'unicore32', 'x86_64', 'xtensa', 'xtensaeb']);

const xmlErr = (d: string): MpvirtError => new MpvirtError('VIR_ERR_XML_ERROR', d);
const unsupported = (d: string): MpvirtError => new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', d);

const child = (el: XElement, name: string): XElement | undefined => elementChildren(el).find((c) => c.local === name);

/** virCPUDefParseXML: `type` auto decides host (an `<arch>` child) or guest. */
export function parseCpuXml(xml: string, type: 'auto' | 'host' | 'guest'): CpuDef {
  let root: XElement;
  try {
    root = parseXmlDocument(xml);
  } catch (e) {
    throw new MpvirtError('VIR_ERR_XML_ERROR', e instanceof Error ? e.message : String(e), { cause: e });
  }
  // virCPUDefParseXMLString looks for the first <cpu> (the document's root, or a descendant)
  const find = (el: XElement): XElement | undefined => (el.local === 'cpu' ? el : elementChildren(el).map(find).find((x) => x));
  const cpu = find(root);
  if (!cpu) throw xmlErr("XML does not contain expected 'cpu' element");
  let t: CpuDef['type'];
  if (type === 'auto') {
    if (child(cpu, 'arch')) {
      if (attr(cpu, 'match') !== undefined) throw xmlErr("'arch' element cannot be used inside 'cpu' element with 'match' attribute'");
      t = 'host';
    } else t = 'guest';
  } else t = type;
  const def: CpuDef = { type: t, features: [] };
  const mode = attr(cpu, 'mode');
  if (mode !== undefined) {
    if (t === 'host') throw unsupported('Attribute mode is only allowed for guest CPU');
    if (!MODES.has(mode)) throw unsupported(`Invalid mode attribute '${mode}'`);
    def.mode = mode as NonNullable<CpuDef['mode']>;
  } else if (t === 'guest') def.mode = 'custom';
  if (attr(cpu, 'migratable') !== undefined && def.mode !== 'host-passthrough' && def.mode !== 'maximum') {
    throw unsupported("Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode");
  }
  if (t === 'guest') {
    const match = attr(cpu, 'match');
    if (match !== undefined) {
      if (!MATCHES.has(match)) throw xmlErr(`Invalid value for attribute 'match' in element 'cpu': '${match}'.`);
      def.match = match as NonNullable<CpuDef['match']>;
    }
  }
  if (t === 'host') {
    const arch = child(cpu, 'arch');
    const a = arch ? textOf(arch).trim() : '';
    if (!a) throw xmlErr('Missing CPU architecture');
    if (!ARCHS.has(a)) throw unsupported(`Unknown architecture ${a}`);
    def.arch = a;
  }
  const model = child(cpu, 'model');
  const modelName = model ? textOf(model) : '';
  if (modelName) def.model = modelName;
  else if (t === 'host') throw xmlErr('Missing CPU model name');
  if (t === 'guest' && model) {
    const fb = attr(model, 'fallback');
    if (fb !== undefined) {
      if (fb !== 'allow' && fb !== 'forbid') throw unsupported('Invalid fallback attribute');
      def.fallback = fb;
    }
  }
  const vendor = child(cpu, 'vendor');
  if (vendor && textOf(vendor)) {
    def.vendor = textOf(vendor);
    if (!def.model) throw xmlErr('CPU vendor specified without CPU model');
  }
  const feats = elementChildren(cpu).filter((c) => c.local === 'feature');
  if (feats.length > 0 && !def.model && def.mode === 'custom') throw xmlErr('Non-empty feature list specified without CPU model');
  for (const f of feats) {
    let policy: FeaturePolicy | undefined;
    if (t === 'guest') {
      const p = attr(f, 'policy') ?? 'require';
      if (!POLICIES.has(p)) throw unsupported('Invalid CPU feature policy');
      policy = p as FeaturePolicy;
    }
    const name = attr(f, 'name');
    if (!name) throw xmlErr('Invalid CPU feature name');
    if (def.features.some((x) => x.name === name)) throw xmlErr(`CPU feature '${name}' specified more than once`);
    def.features.push({ name, policy });
  }
  return def;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

/**
 * virCPUDefFormatBuf for what these APIs return: a guest CPU (mode, match, model with fallback,
 * vendor, features with policies), indented by `indent` (domain capabilities nest it).
 */
export function formatFeatures(features: readonly CpuFeature[], indent: string): string[] {
  return features.map((f) => `${indent}<feature policy='${f.policy ?? 'require'}' name='${esc(f.name)}'/>`);
}

export function formatGuestCpu(cpu: CpuDef): string {
  const o = [`<cpu mode='${cpu.mode ?? 'custom'}' match='${cpu.match ?? 'exact'}'>`];
  if (cpu.model) o.push(`  <model fallback='${cpu.fallback ?? 'allow'}'>${esc(cpu.model)}</model>`);
  if (cpu.vendor) o.push(`  <vendor>${esc(cpu.vendor)}</vendor>`);
  o.push(...formatFeatures(cpu.features, '  '), '</cpu>', '');
  return o.join('\n');
}
