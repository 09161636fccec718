/**
 * Storage pool XML ⇄ model, libvirt's (src/conf/storage_conf.c): the `dir` pool type, its target
 * path and permissions. Parsing checks what libvirt checks, with its wording; formatting writes
 * exactly what libvirt writes, sizes included (zero for an inactive pool).
 */
import { MpvirtError } from '../errors.js';
import { generateUuid, parseUuid } from '../domainxml/values.js';
import { attr, elementChildren, parseXmlDocument, textOf, type XElement } from '../domainxml/xmltree.js';

export interface StoragePerms {
  /** octal file mode bits (0-0777); undefined: not given */
  mode?: number;
  owner?: number;
  group?: number;
  label?: string;
}

export interface StoragePoolDef {
  type: 'dir';
  name: string;
  uuid: string;
  /** absolute, sanitized (libvirt's virFileSanitizePath) */
  targetPath: string;
  perms: StoragePerms;
}

export interface PoolSizes { capacity: bigint; allocation: bigint; available: bigint }

/** Every pool type libvirt's XML knows; only `dir` has a backend here. */
const POOL_TYPES = ['dir', 'fs', 'netfs', 'logical', 'disk', 'iscsi', 'iscsi-direct', 'scsi', 'mpath', 'rbd', 'sheepdog', 'gluster', 'zfs', 'vstorage'];

const xmlError = (msg: string): MpvirtError => new MpvirtError('VIR_ERR_XML_ERROR', msg);

const child = (el: XElement, name: string): XElement | undefined => elementChildren(el).find((c) => c.name === name);

/** libvirt's virFileSanitizePath: `//` collapsed, a trailing `/` dropped (but `/` stays). */
export function sanitizePath(path: string): string {
  let p = path.replace(/\/{2,}/g, '/');
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/** `<permissions>` (virStorageDefParsePerms). */
export function parsePerms(el: XElement | undefined): StoragePerms {
  if (!el) return {};
  const perms: StoragePerms = {};
  const mode = child(el, 'mode');
  if (mode) {
    const t = textOf(mode).trim();
    const n = /^[0-7]+$/.test(t) ? parseInt(t, 8) : NaN;
    if (!Number.isInteger(n) || (n & ~0o777) !== 0) throw xmlError('malformed octal mode');
    perms.mode = n;
  }
  for (const k of ['owner', 'group'] as const) {
    const e = child(el, k);
    if (!e) continue;
    const t = textOf(e).trim();
    const n = /^-?\d+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < -1 || n > 0xffffffff) throw xmlError(`malformed ${k} element`);
    if (n !== -1) perms[k] = n;
  }
  const label = child(el, 'label');
  if (label) perms.label = textOf(label);
  return perms;
}

export function formatPerms(perms: StoragePerms, indent: string): string {
  if (perms.mode === undefined && perms.owner === undefined && perms.group === undefined && perms.label === undefined) return '';
  const lines = [`${indent}<permissions>`];
  if (perms.mode !== undefined) lines.push(`${indent}  <mode>0${perms.mode.toString(8)}</mode>`);
  if (perms.owner !== undefined) lines.push(`${indent}  <owner>${perms.owner}</owner>`);
  if (perms.group !== undefined) lines.push(`${indent}  <group>${perms.group}</group>`);
  if (perms.label !== undefined) lines.push(`${indent}  <label>${escapeText(perms.label)}</label>`);
  lines.push(`${indent}</permissions>`);
  return `${lines.join('\n')}\n`;
}

export const escapeText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The document's root element, which must be `<name>` (virXMLParse with a root name); `doc` names it in errors. */
export function parseRoot(xml: string, name: string, doc: string): XElement {
  let root: XElement;
  try {
    root = parseXmlDocument(xml);
  } catch (e) {
    throw new MpvirtError('VIR_ERR_XML_ERROR', `(${doc}):1: ${(e as Error).message}`, { cause: e });
  }
  if (root.name !== name) throw xmlError(`unexpected root element <${root.name}>, expecting <${name}>`);
  return root;
}

/** Pool XML → model (virStoragePoolDefParseXML for type='dir'). */
export function parsePoolXml(xml: string): StoragePoolDef {
  const root = parseRoot(xml, 'pool', 'storage_pool_definition');
  const type = attr(root, 'type');
  if (type === undefined) throw xmlError("Missing required attribute 'type' in element 'pool'");
  if (!POOL_TYPES.includes(type)) throw xmlError(`Invalid value for attribute 'type' in element 'pool': '${type}'.`);
  if (type !== 'dir') throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `storage pool type '${type}' is not supported by mpvirtd (only 'dir')`);
  const nameEl = child(root, 'name');
  if (!nameEl) throw xmlError('missing pool source name element');
  const name = textOf(nameEl);
  if (name.includes('/')) throw xmlError(`name ${name} cannot contain '/'`);
  if (name === '' || name.startsWith('.') || name.includes('\0')) throw new MpvirtError('VIR_ERR_INVALID_ARG', `pool name '${name}' is not a safe file name`);
  const uuidEl = child(root, 'uuid');
  let uuid: string;
  if (uuidEl) {
    const u = parseUuid(textOf(uuidEl).trim());
    if (u === undefined) throw xmlError('malformed uuid element');
    uuid = u;
  } else uuid = generateUuid();
  const target = child(root, 'target');
  const path = target ? child(target, 'path') : undefined;
  if (!path || textOf(path).trim() === '') throw xmlError('missing storage pool target path');
  const targetPath = sanitizePath(textOf(path).trim());
  if (!targetPath.startsWith('/')) throw xmlError(`storage pool target path '${targetPath}' must be absolute`);
  return { type: 'dir', name, uuid, targetPath, perms: parsePerms(target ? child(target, 'permissions') : undefined) };
}

/** Model → pool XML, as virStoragePoolDefFormat writes it. */
export function formatPoolXml(def: StoragePoolDef, sizes: PoolSizes = { capacity: 0n, allocation: 0n, available: 0n }): string {
  return [
    `<pool type='${def.type}'>`,
    `  <name>${escapeText(def.name)}</name>`,
    `  <uuid>${def.uuid}</uuid>`,
    `  <capacity unit='bytes'>${sizes.capacity}</capacity>`,
    `  <allocation unit='bytes'>${sizes.allocation}</allocation>`,
    `  <available unit='bytes'>${sizes.available}</available>`,
    '  <source>',
    '  </source>',
    '  <target>',
    `    <path>${escapeText(def.targetPath)}</path>`,
    `${formatPerms(def.perms, '    ')}  </target>`,
    '</pool>',
    '',
  ].join('\n');
}
