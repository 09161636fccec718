/**
 * Storage volume commands, as tools/virsh-volume.c writes them: vol-clone, vol-create-as,
 * vol-create, vol-create-from, vol-delete, vol-wipe, vol-info, vol-resize, vol-dumpxml, vol-list,
 * vol-name, vol-pool, vol-key, vol-path (vol-upload and vol-download: commands-volume-transfer.ts).
 */
import { ErrorNumber } from '../../libvirt/enums-errors.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { StoragePool, StorageVolume } from '../../libvirt/storage.js';
import { WIPE_ALGORITHMS } from '../../libvirt/storage-more.js';
import { commonOpt, type CmdDef, type OptDef } from '../vsh/command-def.js';
import { optBool, optString, optStringQuiet, VshError } from '../vsh/options.js';
import { formatTable } from '../vsh/table.js';
import { attempt, type Ctl } from './ctl.js';
import { readXmlFile } from './commands-lifecycle.js';
import { BY_UUID } from './lookup.js';
import { optVol, POOLS, poolOpt, poolOptional, volOpt, withPool, withVol } from './lookup-storage.js';
import { pretty, volSize } from './storage-format.js';
import { cloneVolumeXml, dumpXml, xpathOpts } from './xml-xpath.js';
import { volumeTransferCommands } from './commands-volume-transfer.js';
import './complete-storage.js';

type Cmd = CmdDef<Ctl>;
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });
const poolFull = poolOpt('pool name or uuid', POOLS.ACTIVE);
const poolName = poolOpt('pool name', POOLS.ACTIVE);
const volFull = volOpt('vol name, key or path');
const preallocOpt = bool('prealloc-metadata', 'preallocate metadata (for qcow2 instead of full allocation)');
const reflinkOpt = bool('reflink', 'use btrfs COW lightweight copy');
const validateOpt = bool('validate', 'validate the XML against the schema');

/** virshVolSize, or virsh's `Malformed size X` (and virScaleInteger's own error after it). */
function size(ctl: Ctl, text: string): bigint {
  const r = volSize(text);
  if ('value' in r) return r.value;
  if (r.error) ctl.lastError = new LibvirtError({ code: ErrorNumber[r.error.code], domain: 0, message: r.error.message, level: 2, str1: null, str2: null, str3: null, int1: 0, int2: 0 }, 'virScaleInteger');
  throw new VshError(`Malformed size ${text}`);
}

/** Free a volume (or pool) after `then`. */
function using<T extends { free(): void }>(o: T, then: (o: T) => boolean): boolean {
  try {
    return then(o);
  } finally {
    o.free();
  }
}

const VOL_TYPES = ['file', 'block', 'dir', 'network', 'netdir', 'ploop'];
/** virshVolumeTypeToString */
const volTypeName = (t: number): string => VOL_TYPES[t] ?? 'unknown';
const line15 = (label: string, value: string): string => `${label.padEnd(15)} ${value}\n`;

/** A volume's pool (virStoragePoolLookupByVolume), or virsh's `failed to get parent pool`. */
function parentPool(ctl: Ctl, vol: StorageVolume): StoragePool {
  const pool = attempt(ctl, undefined, () => vol.pool());
  if (!pool) throw new VshError('failed to get parent pool');
  return pool;
}

const createAs: Cmd = {
  name: 'vol-create-as', help: 'create a volume from a set of args', desc: 'Create a vol.',
  opts: [
    poolName,
    { name: 'name', type: 'data', required: true, help: 'name of the volume' },
    { name: 'capacity', type: 'data', required: true, help: 'size of the vol, as scaled integer (default bytes)' },
    { name: 'allocation', type: 'string', help: 'initial allocation size, as scaled integer (default bytes)' },
    { name: 'format', type: 'string', help: 'file format type raw,bochs,qcow,qcow2,qed,vmdk' },
    { name: 'backing-vol', type: 'string', help: 'the backing volume if taking a snapshot' },
    { name: 'backing-vol-format', type: 'string', help: 'format of backing volume if taking a snapshot' },
    preallocOpt,
    bool('print-xml', "print XML document, but don't define/create"),
  ],
  handler: (ctl, cmd) => {
    const printXml = optBool(cmd, 'print-xml');
    const flags = optBool(cmd, 'prealloc-metadata') ? 1 : 0;
    return withPool(ctl, cmd, (pool) => {
      const name = optString(cmd, 'name')!;
      const capacityStr = optString(cmd, 'capacity')!;
      const capacity = size(ctl, capacityStr);
      const allocationStr = optStringQuiet(cmd, 'allocation') || undefined; // an empty value counts as none
      const allocation = allocationStr === undefined ? 0n : size(ctl, allocationStr);
      const format = optString(cmd, 'format');
      const backing = optString(cmd, 'backing-vol');
      const backingFormat = optString(cmd, 'backing-vol-format');
      let xml = `<volume>\n  <name>${name}</name>\n  <capacity>${capacity}</capacity>\n`;
      if (allocationStr !== undefined) xml += `  <allocation>${allocation}</allocation>\n`;
      if (format !== undefined) xml += `  <target>\n    <format type='${format}'/>\n  </target>\n`;
      if (backing !== undefined) {
        // the backing volume: a name in the pool, then a key, then a path
        const conn = ctl.connected!;
        const tries: Array<() => StorageVolume> = [() => pool.lookupVolume(backing), () => conn.lookupStorageVolumeByKey(backing), () => conn.lookupStorageVolumeByPath(backing)];
        let snap: StorageVolume | undefined;
        for (const t of tries) if (!snap) snap = attempt(ctl, undefined, t);
        if (!snap) throw new VshError(`failed to get vol '${backing}'`);
        const path = attempt(ctl, undefined, () => snap.path);
        snap.free();
        if (path === undefined) return false;
        xml += `  <backingStore>\n    <path>${path}</path>\n`;
        if (backingFormat !== undefined) xml += `    <format type='${backingFormat}'/>\n`;
        xml += '  </backingStore>\n';
      }
      xml += '</volume>\n';
      if (printXml) return (ctl.print(xml), true);
      const vol = attempt(ctl, `Failed to create vol ${name}`, () => pool.createVolume(xml, flags));
      if (!vol) return false;
      vol.free();
      ctl.printExtra(`Vol ${name} created\n`);
      return true;
    });
  },
};

const create: Cmd = {
  name: 'vol-create', help: 'create a vol from an XML file', desc: 'Create a vol.',
  opts: [poolName, commonOpt.file('file containing an XML vol description'), preallocOpt, validateOpt],
  handler: (ctl, cmd) => {
    const flags = (optBool(cmd, 'prealloc-metadata') ? 1 : 0) | (optBool(cmd, 'validate') ? 4 : 0);
    return withPool(ctl, cmd, (pool) => {
      const from = optString(cmd, 'file')!;
      const xml = readXmlFile(from);
      const vol = attempt(ctl, `Failed to create vol from ${from}`, () => pool.createVolume(xml, flags));
      if (!vol) return false;
      return using(vol, (v) => (ctl.printExtra(`Vol ${v.name} created from ${from}\n`), true));
    });
  },
};

const createFrom: Cmd = {
  name: 'vol-create-from', help: 'create a vol, using another volume as input', desc: 'Create a vol from an existing volume.',
  opts: [
    poolFull, commonOpt.file('file containing an XML vol description'), volFull,
    { name: 'inputpool', type: 'string', help: "pool name or uuid of the input volume's pool", completer: 'storage-pool' },
    preallocOpt, reflinkOpt, validateOpt,
  ],
  handler: (ctl, cmd) => withPool(ctl, cmd, (pool) => {
    const flags = (optBool(cmd, 'prealloc-metadata') ? 1 : 0) | (optBool(cmd, 'reflink') ? 2 : 0) | (optBool(cmd, 'validate') ? 4 : 0);
    const from = optString(cmd, 'file')!;
    const { vol: input } = optVol(ctl, cmd, 'vol', 'inputpool');
    return using(input, () => {
      const xml = readXmlFile(from);
      const vol = attempt(ctl, `Failed to create vol from ${from}`, () => pool.createVolumeFrom(xml, input, flags));
      if (!vol) return false;
      return using(vol, (v) => (ctl.printExtra(`Vol ${v.name} created from input vol ${input.name}\n`), true));
    });
  }),
};

const clone: Cmd = {
  name: 'vol-clone', help: 'clone a volume.', desc: 'Clone an existing volume within the parent pool.',
  opts: [
    volFull,
    { name: 'newname', type: 'data', required: true, help: 'clone name' },
    poolOptional, preallocOpt, reflinkOpt,
    bool('print-xml', 'print XML document rather than clone the volume'),
  ],
  handler: (ctl, cmd) => withVol(ctl, cmd, (orig) => {
    const flags = (optBool(cmd, 'prealloc-metadata') ? 1 : 0) | (optBool(cmd, 'reflink') ? 2 : 0);
    return using(parentPool(ctl, orig), (pool) => {
      const name = optString(cmd, 'newname')!;
      const origXml = attempt(ctl, undefined, () => orig.xml());
      if (origXml === undefined) return false;
      const xml = cloneVolumeXml(ctl, origXml, name);
      if (xml === undefined) throw new VshError('Failed to allocate XML buffer');
      if (optBool(cmd, 'print-xml')) return (ctl.print(xml), true);
      const vol = attempt(ctl, `Failed to clone vol from ${orig.name}`, () => pool.createVolumeFrom(xml, orig, flags));
      if (!vol) return false;
      return using(vol, (v) => (ctl.printExtra(`Vol ${v.name} cloned from ${orig.name}\n`), true));
    });
  }),
};

const del: Cmd = {
  name: 'vol-delete', help: 'delete a vol', desc: 'Delete a given vol.',
  opts: [volFull, poolOptional, bool('delete-snapshots', 'delete snapshots associated with volume (must be supported by storage driver)')],
  handler: (ctl, cmd) => withVol(ctl, cmd, (vol, name) => {
    const flags = optBool(cmd, 'delete-snapshots') ? 2 : 0;
    if (attempt(ctl, `Failed to delete vol ${name}`, () => (vol.delete(flags), true)) === undefined) return false;
    ctl.printExtra(`Vol ${name} deleted\n`);
    return true;
  }),
};

const wipe: Cmd = {
  name: 'vol-wipe', help: 'wipe a vol', desc: 'Ensure data previously on a volume is not accessible to future reads',
  opts: [volFull, poolOptional, { name: 'algorithm', type: 'string', help: 'perform selected wiping algorithm', completer: 'vol-wipe-algorithm' }],
  handler: (ctl, cmd) => withVol(ctl, cmd, (vol, name) => {
    const algorithmStr = optString(cmd, 'algorithm');
    let algorithm = 0;
    if (algorithmStr !== undefined) {
      algorithm = (WIPE_ALGORITHMS as readonly string[]).indexOf(algorithmStr);
      if (algorithm < 0) throw new VshError(`Unsupported algorithm '${algorithmStr}'`);
    }
    let ok = attempt(ctl, undefined, () => (vol.wipePattern(algorithm, 0), true));
    // a driver without wipe patterns may still wipe with zeroes
    if (!ok && ctl.lastError?.code === 'VIR_ERR_NO_SUPPORT' && algorithm === 0) ok = attempt(ctl, undefined, () => (vol.wipe(0), true));
    if (!ok) throw new VshError(`Failed to wipe vol ${name}`);
    ctl.printExtra(`Vol ${name} wiped\n`);
    return true;
  }),
};

const info: Cmd = {
  name: 'vol-info', help: 'storage vol information', desc: 'Returns basic information about the storage vol.',
  opts: [volFull, poolOptional, bool('bytes', 'sizes are represented in bytes rather than pretty units'), bool('physical', 'return the physical size of the volume in allocation field')],
  handler: (ctl, cmd) => withVol(ctl, cmd, (vol) => {
    const bytes = optBool(cmd, 'bytes');
    const physical = optBool(cmd, 'physical');
    ctl.print(line15('Name:', vol.name));
    const i = attempt(ctl, undefined, () => (physical ? vol.infoFlags(1) : vol.info()));
    if (!i) return false;
    ctl.print(line15('Type:', volTypeName(i.type)));
    const show = (v: number | bigint): string => (bytes ? `${v} bytes` : pretty(v));
    ctl.print(line15('Capacity:', show(i.capacity)));
    ctl.print(line15(physical ? 'Physical:' : 'Allocation:', show(i.allocation)));
    return true;
  }),
};

const resize: Cmd = {
  name: 'vol-resize', help: 'resize a vol',
  desc: 'Resizes a storage volume. This is safe only for storage volumes not in use by an active guest.\nSee blockresize for live resizing.',
  opts: [
    volFull,
    { name: 'capacity', type: 'data', required: true, help: 'new capacity for the vol, as scaled integer (default bytes)' },
    poolOptional,
    bool('allocate', 'allocate the new capacity, rather than leaving it sparse'),
    bool('delta', 'use capacity as a delta to current size, rather than the new size'),
    bool('shrink', 'allow the resize to shrink the volume'),
  ],
  handler: (ctl, cmd) => {
    let delta = optBool(cmd, 'delta');
    const shrink = optBool(cmd, 'shrink');
    let flags = (optBool(cmd, 'allocate') ? 1 : 0) | (shrink ? 4 : 0);
    return withVol(ctl, cmd, (vol) => {
      let capacityStr = optString(cmd, 'capacity')!.replace(/^[ \t\n\v\f\r]+/, ''); // virSkipSpaces
      if (capacityStr.startsWith('-')) {
        // the API wants a positive value; virsh takes a negative one as a shrinking delta
        if (!shrink) throw new VshError('negative size requires --shrink');
        capacityStr = capacityStr.slice(1);
        delta = true;
      }
      if (delta) flags |= 2;
      const capacity = size(ctl, capacityStr);
      const by = delta ? 'by' : 'to';
      if (attempt(ctl, `Failed to change size of volume '${vol.name}' ${by} ${capacityStr}`, () => (vol.resize(capacity, flags), true)) === undefined) return false;
      ctl.printExtra(`Size of volume '${vol.name}' successfully changed ${by} ${capacityStr}\n`);
      return true;
    });
  },
};

const dumpxml: Cmd = {
  name: 'vol-dumpxml', help: 'vol information in XML', desc: 'Output the vol information as an XML dump to stdout.',
  opts: [volFull, poolOptional, ...xpathOpts],
  handler: (ctl, cmd) => withVol(ctl, cmd, (vol) => {
    const xpath = optStringQuiet(cmd, 'xpath');
    if (xpath === '') return false; // vshCommandOptStringQuiet refuses an empty value, silently
    const xml = attempt(ctl, undefined, () => vol.xml());
    if (xml === undefined) return false;
    return dumpXml(ctl, xml, 'volume', xpath, optBool(cmd, 'wrap'));
  }),
};

const caseless = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

const list: Cmd = {
  name: 'vol-list', help: 'list vols', desc: 'Returns list of vols by pool.', opts: [poolFull, bool('details', 'display extended details for volumes')],
  handler: (ctl, cmd) => withPool(ctl, cmd, (pool) => {
    const details = optBool(cmd, 'details');
    const vols = attempt(ctl, 'Failed to list volumes', () => pool.listVolumes());
    if (!vols) return false;
    try {
      const rows = vols.map((v) => ({ v, name: v.name })).sort((a, b) => (caseless(a.name) < caseless(b.name) ? -1 : caseless(a.name) > caseless(b.name) ? 1 : 0)).map(({ v, name }) => {
        let path: string;
        try {
          path = v.path;
        } catch (e) {
          if (!(e instanceof LibvirtError)) throw e;
          path = 'unknown';
        }
        if (!details) return [name, path];
        try {
          const i = v.info();
          return [name, path, volTypeName(i.type), pretty(i.capacity), pretty(i.allocation)];
        } catch (e) {
          if (!(e instanceof LibvirtError)) throw e;
          return [name, path, 'unknown', 'unknown', 'unknown'];
        }
      });
      ctl.print(formatTable(details ? ['Name', 'Path', 'Type', 'Capacity', 'Allocation'] : ['Name', 'Path'], rows, !ctl.opts.quiet));
      return true;
    } finally {
      for (const v of vols) v.free();
    }
  }),
};

const volByKey = volOpt('volume key or path', 'storage-vol-key');

export const volumeCommands: Cmd[] = [
  clone, createAs, create, createFrom, del, wipe, info, resize, dumpxml, list,
  {
    name: 'vol-name', help: 'returns the volume name for a given volume key or path', desc: '', opts: [volByKey],
    handler: (ctl, cmd) => withVol(ctl, cmd, (vol) => (ctl.print(`${vol.name}\n`), true), null, BY_UUID),
  },
  {
    name: 'vol-pool', help: 'returns the storage pool for a given volume key or path', desc: '',
    opts: [volByKey, bool('uuid', 'return the pool uuid rather than pool name')],
    handler: (ctl, cmd) => withVol(ctl, cmd, (vol) => using(parentPool(ctl, vol), (pool) => {
      if (optBool(cmd, 'uuid')) {
        const uuid = attempt(ctl, undefined, () => pool.uuid);
        if (uuid !== undefined) ctl.print(`${uuid}\n`);
      } else ctl.print(`${pool.name}\n`);
      return true;
    }), null, BY_UUID),
  },
  {
    name: 'vol-key', help: 'returns the volume key for a given volume name or path', desc: '', opts: [volOpt('volume name or path'), poolOptional],
    handler: (ctl, cmd) => withVol(ctl, cmd, (vol) => (ctl.print(`${vol.key}\n`), true)),
  },
  {
    name: 'vol-path', help: 'returns the volume path for a given volume name or key', desc: '', opts: [volOpt('volume name or key'), poolOptional],
    handler: (ctl, cmd) => withVol(ctl, cmd, (vol) => {
      const path = attempt(ctl, undefined, () => vol.path);
      if (path === undefined) return false;
      ctl.print(`${path}\n`);
      return true;
    }),
  },
  ...volumeTransferCommands,
];
