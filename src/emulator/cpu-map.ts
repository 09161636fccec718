/**
 * libvirt's x86 CPU map (src/cpu/cpu_x86.c x86FeatureParse / x86ModelParse over the cpu_map
 * directory that libvirt0 installs in /usr/share/libvirt/cpu_map), and the CPUID/MSR bit sets
 * libvirt computes with (virCPUx86Data). Pure: the caller hands in a reader for the map's files,
 * so this layer never touches the OS.
 *
 * A data set is one entry per CPUID leaf (eax_in, ecx_in) or MSR index holding four 32-bit
 * words — the shape of libvirt's virCPUx86DataItem, so that x86ModelCompare's per-item
 * comparison stays exact. Items whose words are all zero are dropped (libvirt's iterator skips them).
 */
import { attr, elementChildren, parseXmlDocument, type XElement } from '../domainxml/xmltree.js';

/** key → [eax, ebx, ecx, edx] for CPUID `c:<eax_in>:<ecx_in>`, [eax, edx, 0, 0] for MSR `m:<index>` */
export type CpuData = Map<string, [number, number, number, number]>;

export interface X86Vendor { name: string; data: CpuData }
export interface X86Feature { name: string; data: CpuData; migratable: boolean }
export interface X86Signature { family: number; model: number; steppings?: ReadonlySet<number> }
export interface X86Model {
  name: string;
  vendor?: X86Vendor;
  signatures: X86Signature[];
  data: CpuData;
  decodeHost: boolean;
  decodeGuest: boolean;
  removedFeatures: string[];
}
export interface X86Map {
  vendors: X86Vendor[];
  features: X86Feature[];
  models: X86Model[];
  featureByName: ReadonlyMap<string, X86Feature>;
  modelByName: ReadonlyMap<string, X86Model>;
}

// ------------------------------------------------------------------ data sets

const u32 = (n: number): number => n >>> 0;

export function dataCopy(d: CpuData): CpuData {
  return new Map([...d].map(([k, v]) => [k, [...v] as [number, number, number, number]]));
}

function prune(d: CpuData, k: string): void {
  const v = d.get(k);
  if (v && v.every((w) => w === 0)) d.delete(k);
}

/** x86DataAdd: d |= add */
export function dataAdd(d: CpuData, add: CpuData): void {
  for (const [k, v] of add) {
    const cur = d.get(k) ?? [0, 0, 0, 0];
    d.set(k, cur.map((w, i) => u32(w | v[i]!)) as [number, number, number, number]);
    prune(d, k);
  }
}

/** x86DataSubtract: d &= ~sub */
export function dataSubtract(d: CpuData, sub: CpuData): void {
  for (const [k, v] of sub) {
    const cur = d.get(k);
    if (!cur) continue;
    d.set(k, cur.map((w, i) => u32(w & ~v[i]!)) as [number, number, number, number]);
    prune(d, k);
  }
}

/** x86DataIntersect: d &= other (items missing from other vanish) */
export function dataIntersect(d: CpuData, other: CpuData): void {
  for (const [k, cur] of [...d]) {
    const v = other.get(k) ?? [0, 0, 0, 0];
    d.set(k, cur.map((w, i) => u32(w & v[i]!)) as [number, number, number, number]);
    prune(d, k);
  }
}

/** x86DataIsSubset: every bit of sub is in d */
export function dataIsSubset(d: CpuData, sub: CpuData): boolean {
  for (const [k, v] of sub) {
    const cur = d.get(k) ?? [0, 0, 0, 0];
    if (v.some((w, i) => u32(cur[i]! & w) !== w)) return false;
  }
  return true;
}

export const dataIsEmpty = (d: CpuData): boolean => d.size === 0;

export function cpuidItem(eaxIn: number, ecxIn: number, regs: { eax?: number; ebx?: number; ecx?: number; edx?: number }): CpuData {
  const d: CpuData = new Map([[`c:${u32(eaxIn)}:${u32(ecxIn)}`, [u32(regs.eax ?? 0), u32(regs.ebx ?? 0), u32(regs.ecx ?? 0), u32(regs.edx ?? 0)]]]);
  prune(d, [...d.keys()][0]!);
  return d;
}

/** virCPUx86VendorToData: the 12-character vendor string in leaf 0's ebx, edx, ecx */
export function vendorData(s: string): CpuData {
  const b = Buffer.from(s, 'latin1');
  return cpuidItem(0, 0, { ebx: b.readUInt32LE(0), edx: b.readUInt32LE(4), ecx: b.readUInt32LE(8) });
}

/** x86MakeSignature: family/model/stepping as leaf 1's eax */
export function makeSignature(family: number, model: number, stepping: number): number {
  let sig = 0;
  let fam = family;
  if (fam > 0xf) {
    sig |= (fam - 0xf) << 20;
    fam = 0xf;
  }
  sig |= (model >> 4) << 16;
  sig |= fam << 8;
  sig |= (model & 0xf) << 4;
  sig |= stepping & 0xf;
  return u32(sig);
}

/** x86DataToSignature: leaf 1's eax without the reserved bits (SIGNATURE_MASK) */
export const dataSignature = (d: CpuData): number => u32((d.get('c:1:0')?.[0] ?? 0) & 0x0fff3fff);

export function signatureParts(sig: number): { family: number; model: number; stepping: number } {
  return { family: ((sig >>> 20) & 0xff) + ((sig >>> 8) & 0xf), model: ((sig >>> 12) & 0xf0) + ((sig >>> 4) & 0xf), stepping: sig & 0xf };
}

/** virCPUx86SignaturesMatch */
export function signaturesMatch(sigs: readonly X86Signature[], sig: number): boolean {
  const p = signatureParts(sig);
  return sigs.some((s) => s.family === p.family && s.model === p.model && (!s.steppings || s.steppings.has(p.stepping)));
}

// ------------------------------------------------------------------ the map files

const num = (s: string | undefined): number => (s === undefined ? 0 : u32(Number(s)));

/** x86ParseDataItemList: the <cpuid>/<msr> children of a feature or vendor (aliases skipped) */
function parseItems(el: XElement): CpuData {
  const d: CpuData = new Map();
  for (const c of elementChildren(el)) {
    if (c.local === 'cpuid') {
      dataAdd(d, cpuidItem(num(attr(c, 'eax_in')), num(attr(c, 'ecx_in')), {
        eax: num(attr(c, 'eax')), ebx: num(attr(c, 'ebx')), ecx: num(attr(c, 'ecx')), edx: num(attr(c, 'edx')),
      }));
    } else if (c.local === 'msr') {
      const k = `m:${num(attr(c, 'index'))}`;
      dataAdd(d, new Map([[k, [num(attr(c, 'eax')), num(attr(c, 'edx')), 0, 0]]]));
    }
  }
  return d;
}

/** virBitmapParse of a stepping list such as `0-3,5` */
function parseSteppings(s: string): Set<number> {
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const [a, b] = part.split('-').map((n) => Number(n.trim()));
    for (let i = a!; i <= (b ?? a!); i++) out.add(i);
  }
  return out;
}

/**
 * Loads the `x86` arch of `index.xml` with its includes, in file order (libvirt's cpuMapLoad):
 * vendors, features and models in the order libvirt keeps them, which decides both which model
 * a decode prefers (newest first) and the order features are listed in.
 */
export function loadX86Map(readFile: (name: string) => string): X86Map {
  const vendors: X86Vendor[] = [];
  const features: X86Feature[] = [];
  const models: X86Model[] = [];
  const featureByName = new Map<string, X86Feature>();
  const modelByName = new Map<string, X86Model>();
  const index = parseXmlDocument(readFile('index.xml'));
  const arch = elementChildren(index).find((e) => e.local === 'arch' && attr(e, 'name') === 'x86');
  if (!arch) throw new Error('cpu_map index.xml has no x86 arch');
  const load = (el: XElement): void => {
    for (const c of elementChildren(el)) {
      if (c.local === 'include') load(parseXmlDocument(readFile(attr(c, 'filename') ?? '')));
      else if (c.local === 'vendor') vendors.push({ name: attr(c, 'name') ?? '', data: vendorData(attr(c, 'string') ?? '') });
      else if (c.local === 'feature') {
        const f = { name: attr(c, 'name') ?? '', data: parseItems(c), migratable: attr(c, 'migratable') !== 'no' };
        features.push(f);
        featureByName.set(f.name, f);
      } else if (c.local === 'model') models.push(parseModel(c));
    }
  };
  const parseModel = (el: XElement): X86Model => {
    const kids = elementChildren(el);
    const decode = kids.find((k) => k.local === 'decode');
    const ancestorName = kids.find((k) => k.local === 'model');
    const ancestor = ancestorName ? modelByName.get(attr(ancestorName, 'name') ?? '') : undefined;
    const m: X86Model = {
      name: attr(el, 'name') ?? '',
      ...(ancestor?.vendor ? { vendor: ancestor.vendor } : {}),
      signatures: ancestor ? [...ancestor.signatures] : [],
      data: ancestor ? dataCopy(ancestor.data) : new Map(),
      decodeHost: decode ? attr(decode, 'host') === 'on' : true,
      decodeGuest: decode ? attr(decode, 'guest') === 'on' : true,
      removedFeatures: [],
    };
    const sigs = kids.filter((k) => k.local === 'signature');
    if (sigs.length > 0) {
      m.signatures = sigs.map((s) => {
        const st = attr(s, 'stepping');
        return { family: num(attr(s, 'family')), model: num(attr(s, 'model')), ...(st ? { steppings: parseSteppings(st) } : {}) };
      });
    }
    const v = kids.find((k) => k.local === 'vendor');
    if (v) {
      const vendor = vendors.find((x) => x.name === attr(v, 'name'));
      if (vendor) m.vendor = vendor;
    }
    for (const f of kids.filter((k) => k.local === 'feature')) {
      const name = attr(f, 'name') ?? '';
      if (attr(f, 'removed') === 'yes') m.removedFeatures.push(name);
      else if (featureByName.has(name)) dataAdd(m.data, featureByName.get(name)!.data);
    }
    modelByName.set(m.name, m);
    return m;
  };
  load(arch);
  return { vendors, features, models, featureByName, modelByName };
}

/**
 * The model names `virsh cpu-models ARCH` lists (virCPUGetModels): those of the arch's section of
 * index.xml, in include order. Reading the includes' file names is enough: one model per file.
 */
export function cpuMapModelNames(readFile: (name: string) => string, archSection: string): string[] {
  const index = parseXmlDocument(readFile('index.xml'));
  const arch = elementChildren(index).find((e) => e.local === 'arch' && attr(e, 'name') === archSection);
  if (!arch) return [];
  const names: string[] = [];
  for (const inc of elementChildren(arch).filter((c) => c.local === 'include')) {
    for (const m of elementChildren(parseXmlDocument(readFile(attr(inc, 'filename') ?? ''))).filter((c) => c.local === 'model')) {
      names.push(attr(m, 'name') ?? '');
    }
  }
  return names;
}
