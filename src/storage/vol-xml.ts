/**
 * Storage volume XML ⇄ model, libvirt's (virStorageVolDefParseXML / virStorageVolDefFormat) for
 * volumes of a `dir` pool: files, raw or qcow2 (others are listed as probed, not created).
 */
import { MpvirtError } from '../errors.js';
import { attr, elementChildren, textOf, type XElement } from '../domainxml/xmltree.js';
import { escapeText, formatPerms, parsePerms, parseRoot, type StoragePerms } from './pool-xml.js';

/** libvirt's virStorageFileFormat names a dir pool's volumes can have. */
export const VOLUME_FORMATS = ['none', 'raw', 'dir', 'bochs', 'cloop', 'dmg', 'iso', 'vpc', 'vdi', 'fat', 'vhd', 'ploop', 'cow', 'qcow', 'qcow2', 'qed', 'vmdk'] as const;
/** What mpvirtd creates, resizes and converts (qcow2 through qemu-img). */
export const CREATABLE_FORMATS: ReadonlySet<string> = new Set(['raw', 'qcow2']);

export type VolumeType = 'file' | 'block' | 'dir' | 'network' | 'netdir' | 'ploop';
const VOLUME_TYPES: readonly VolumeType[] = ['file', 'block', 'dir', 'network', 'netdir', 'ploop'];

export interface VolumeTimestamps { atime: bigint; mtime: bigint; ctime: bigint }

/** A volume as asked for (create) or as found in the pool (refresh). */
export interface StorageVolDef {
  name: string;
  type: VolumeType;
  key?: string;
  capacity: bigint;
  allocation: bigint;
  /** `<allocation>` was given (else it equals the capacity, as libvirt's parser sets it) */
  hasAllocation: boolean;
  physical?: bigint;
  path?: string;
  format: string;
  perms: StoragePerms;
  timestamps?: VolumeTimestamps;
  compat?: string;
  clusterSize?: bigint;
  /** qcow2 feature names (lazy_refcounts, extended_l2); undefined: no `<features>` */
  features?: string[];
  backingStore?: { path: string; format: string };
}

const xmlError = (msg: string): MpvirtError => new MpvirtError('VIR_ERR_XML_ERROR', msg);
const child = (el: XElement | undefined, name: string): XElement | undefined => (el ? elementChildren(el).find((c) => c.name === name) : undefined);

const LLONG_MAX = 2n ** 63n - 1n;

/** libvirt's virScaleInteger: b/bytes, k/KiB (1024), KB (1000), … up to E; refuses overflow. */
export function scaleInteger(value: bigint, suffix: string | undefined, limit = LLONG_MAX): bigint {
  let scale = 1n;
  const s = suffix ?? '';
  if (s !== '' && !['b', 'byte', 'bytes'].includes(s.toLowerCase())) {
    let base: bigint;
    if (s.length === 1 || s.slice(1).toLowerCase() === 'ib') base = 1024n;
    else if (s.length === 2 && s[1]!.toLowerCase() === 'b') base = 1000n;
    else throw new MpvirtError('VIR_ERR_INVALID_ARG', `unknown suffix '${s}'`);
    const power = 'kmgtpe'.indexOf(s[0]!.toLowerCase());
    if (power < 0) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unknown suffix '${s}'`);
    scale = base ** BigInt(power + 1);
  }
  if (value > 0n && value > limit / scale) throw new MpvirtError('VIR_ERR_OVERFLOW', `value too large: ${value}${s}`);
  return value * scale;
}

function size(el: XElement, what: string): bigint {
  const t = textOf(el).trim();
  if (!/^\d+$/.test(t)) throw xmlError(`malformed ${what} element`);
  return scaleInteger(BigInt(t), attr(el, 'unit'));
}

/** A volume name libvirt and mpvirtd accept for a dir pool: one file name inside it. */
export function checkVolumeName(name: string): void {
  // volumes of a dir pool are not recursive: no escape to ../ or a subdirectory (libvirt's wording)
  if (name.includes('/')) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `volume name '${name}' cannot contain '/'`, { domain: 'STORAGE' });
  if (name === '' || name === '.' || name === '..' || name.includes('\0')) throw new MpvirtError('VIR_ERR_INVALID_ARG', `volume name '${name}' is not a file name`);
}

export interface VolParseOptions {
  /** create-from: the capacity may come from the source volume */
  capacityOptional?: boolean;
}

/** Volume XML → model. */
export function parseVolXml(xml: string, opts: VolParseOptions = {}): StorageVolDef {
  const root = parseRoot(xml, 'volume', 'storage_volume_definition');
  const nameEl = child(root, 'name');
  if (!nameEl) throw xmlError('missing volume name element');
  // the name is checked where it becomes a path (dir-backend.ts), as libvirt's backend does
  const name = textOf(nameEl);
  const typeAttr = attr(root, 'type');
  if (typeAttr !== undefined && !(VOLUME_TYPES as readonly string[]).includes(typeAttr)) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `unknown volume type '${typeAttr}'`);
  const capEl = child(root, 'capacity');
  if (!capEl && !opts.capacityOptional) throw xmlError('missing capacity element');
  const capacity = capEl ? size(capEl, 'capacity') : 0n;
  const allocEl = child(root, 'allocation');
  const target = child(root, 'target');
  const formatEl = child(target, 'format');
  const format = formatEl ? attr(formatEl, 'type') ?? 'raw' : 'raw';
  if (!(VOLUME_FORMATS as readonly string[]).includes(format)) throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `unknown volume format type ${format}`);
  const backing = child(root, 'backingStore');
  const backingPath = child(backing, 'path');
  const def: StorageVolDef = {
    name, type: (typeAttr as VolumeType | undefined) ?? 'file', capacity,
    allocation: allocEl ? size(allocEl, 'allocation') : capacity, hasAllocation: allocEl !== undefined,
    format, perms: parsePerms(child(target, 'permissions')),
  };
  const compat = child(target, 'compat');
  if (compat) {
    const c = textOf(compat).trim();
    if (!/^\d+\.\d+$/.test(c)) throw xmlError(`forbidden characters in 'compat' attribute`);
    if (c !== '0.10' && c !== '1.1') throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `unsupported compat '${c}' (0.10 or 1.1)`);
    def.compat = c;
  }
  const features = child(target, 'features');
  if (features) {
    def.features = elementChildren(features).map((f) => {
      if (f.name !== 'lazy_refcounts' && f.name !== 'extended_l2') throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `unsupported feature ${f.name}`);
      return f.name;
    });
    def.compat ??= '1.1';
  }
  if (backingPath) {
    const bf = attr(child(backing, 'format') ?? backing!, 'type') ?? 'raw';
    def.backingStore = { path: textOf(backingPath).trim(), format: bf };
  }
  return def;
}

const ts = (ns: bigint): string => {
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  return frac === 0n ? `${sec}` : `${sec}.${frac.toString().padStart(9, '0')}`;
};

function formatTarget(tag: string, path: string | undefined, format: string, perms: StoragePerms | undefined, v: StorageVolDef | undefined): string[] {
  const lines = [`  <${tag}>`];
  if (path !== undefined) lines.push(`    <path>${escapeText(path)}</path>`);
  lines.push(`    <format type='${format}'/>`);
  const p = perms ? formatPerms(perms, '    ') : '';
  if (p) lines.push(p.trimEnd());
  if (v?.timestamps) {
    lines.push('    <timestamps>', `      <atime>${ts(v.timestamps.atime)}</atime>`, `      <mtime>${ts(v.timestamps.mtime)}</mtime>`, `      <ctime>${ts(v.timestamps.ctime)}</ctime>`, '      <btime>0</btime>', '    </timestamps>');
  }
  if (v?.compat !== undefined) lines.push(`    <compat>${v.compat}</compat>`);
  if (v?.clusterSize !== undefined && v.clusterSize > 0n) lines.push(`    <clusterSize unit='B'>${v.clusterSize}</clusterSize>`);
  if (v?.features !== undefined) {
    if (v.features.length === 0) lines.push('    <features/>');
    else lines.push('    <features>', ...v.features.map((f) => `      <${f}/>`), '    </features>');
  }
  lines.push(`  </${tag}>`);
  return lines;
}

/** Model → volume XML, as virStorageVolDefFormat writes it for a dir pool. */
export function formatVolXml(v: StorageVolDef): string {
  const lines = [`<volume type='${v.type}'>`, `  <name>${escapeText(v.name)}</name>`];
  if (v.key !== undefined) lines.push(`  <key>${escapeText(v.key)}</key>`);
  lines.push(`  <capacity unit='bytes'>${v.capacity}</capacity>`, `  <allocation unit='bytes'>${v.allocation}</allocation>`);
  if (v.physical !== undefined && v.physical > 0n) lines.push(`  <physical unit='bytes'>${v.physical}</physical>`);
  lines.push(...formatTarget('target', v.path, v.format, v.perms, v));
  if (v.backingStore) lines.push(...formatTarget('backingStore', v.backingStore.path, v.backingStore.format, undefined, undefined));
  return `${lines.join('\n')}\n</volume>\n`;
}
