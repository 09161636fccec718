/**
 * Commands that replace or remove a domain's definition, as tools/virsh-domain.c writes them:
 * edit (virsh-edit.c's loop), undefine (every flag, and the storage removal virsh does itself
 * through storage volume lookups), domxml-from-native, domxml-to-native.
 */
import type { Element } from '@xmldom/xmldom';
import '../../libvirt/domain-config.js';
import '../../libvirt/storage-more.js';
import type { Domain } from '../../libvirt/domain.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { StorageVolume } from '../../libvirt/storage.js';
import { commonOpt, type CmdDef, type OptDef } from '../vsh/command-def.js';
import { exclusive, optBool, optString, optStringQuiet, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { LIST, readXmlFile, withDomain } from './commands-lifecycle.js';
import { splitCommas } from './commands-shell.js';
import { editLoop } from './edit-loop.js';
import { childElements, domainDevices, parseXml } from './device-xml.js';

type Cmd = CmdDef<Ctl>;
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });

const DEFINE_VALIDATE = 1;

/** virshDomainDefine: with flags, DefineXMLFlags — retried without when validation alone is unsupported. */
function defineDomain(ctl: Ctl, xml: string, flags: number): Domain {
  const conn = ctl.connected!;
  if (flags === 0) return conn.defineDomain(xml);
  try {
    return conn.defineDomain(xml, flags);
  } catch (e) {
    if (e instanceof LibvirtError && e.code === 'VIR_ERR_NO_SUPPORT' && flags === DEFINE_VALIDATE) return conn.defineDomain(xml);
    throw e;
  }
}

const editCmd: Cmd = {
  name: 'edit', help: 'edit XML configuration for a domain', desc: 'Edit the XML configuration for a domain.',
  opts: [commonOpt.domain(), bool('skip-validate', 'skip validation of the XML against the schema')],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    let defineFlags = optBool(cmd, 'skip-validate') ? 0 : DEFINE_VALIDATE;
    let edited: Domain | undefined;
    try {
      const r = editLoop(ctl, {
        getXml: () => dom.xml({ secure: true, inactive: true }),
        notChanged: () => ctl.printExtra(`Domain '${dom.name}' XML configuration not changed.\n`),
        define: (xml) => {
          edited?.free();
          edited = undefined;
          edited = defineDomain(ctl, xml, defineFlags);
        },
        relax: () => { defineFlags &= ~DEFINE_VALIDATE; },
      });
      if (r === 'failed') return false;
      // a failed define with no terminal to ask on still ends here, nameless, as virsh prints it
      if (r === 'edited') ctl.printExtra(`Domain '${edited ? edited.name : '(null)'}' XML configuration edited.\n`);
      return true;
    } finally {
      edited?.free();
    }
  }),
};

const UNDEFINE = { MANAGED_SAVE: 1, SNAPSHOTS_METADATA: 2, NVRAM: 4, KEEP_NVRAM: 8, CHECKPOINTS_METADATA: 16, TPM: 32, KEEP_TPM: 64 } as const;
const SNAPSHOT_LIST_METADATA = 2;
const VOL_DELETE_WITH_SNAPSHOTS = 2;


/** A count libvirt may not support: NO_SUPPORT counts as 0, any other error is the command's. */
function countOrZero(fn: () => number): number {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LibvirtError && e.code === 'VIR_ERR_NO_SUPPORT') return 0;
    throw e;
  }
}

interface DoomedVolume { vol: StorageVolume; source: string; target: string }

/** The string value virsh's XPath gives: the first non-empty match, undefined if none. */
const firstSourceAttr = (disk: Element, names: readonly string[]): string | undefined => {
  for (const src of childElements(disk)) {
    if (src.nodeName !== 'source') continue;
    for (let i = 0; i < src.attributes.length; i++) {
      const a = src.attributes.item(i)!;
      if (names.includes(a.name)) return a.value === '' ? undefined : a.value;
    }
  }
  return undefined;
};

/** cmdUndefine's volume lookup: which of the domain's disks are libvirt volumes to remove. */
function volumesToRemove(ctl: Ctl, dom: Domain, volString: string | undefined): DoomedVolume[] | undefined {
  const xml = attempt(ctl, undefined, () => dom.xml());
  if (xml === undefined) throw new VshError('Failed to get domain description xml');
  const doc = parseXml(xml);
  if (!doc) throw new VshError('Failed to parse domain description xml');
  const wanted: Array<string | null> | undefined = volString === undefined ? undefined : splitCommas(volString);
  const vols: DoomedVolume[] = [];
  const conn = ctl.connected!;
  for (const disk of domainDevices(doc, 'disk')) {
    const target = [...childElements(disk)].find((c) => c.nodeName === 'target')?.getAttribute('dev') || undefined;
    if (target === undefined) {
      for (const v of vols) v.vol.free();
      return undefined; // virsh gives up here without a message
    }
    const source = firstSourceAttr(disk, ['file', 'dir', 'name', 'dev', 'volume']);
    if (source === undefined) continue;
    const pool = firstSourceAttr(disk, ['pool']);
    if (wanted) {
      const j = wanted.findIndex((w) => w !== null && (w === target || w === source));
      if (j < 0) continue;
      wanted[j] = null;
    }
    let vol: StorageVolume | undefined;
    if (pool !== undefined) {
      let sp;
      try {
        sp = conn.lookupStoragePoolByName(pool);
      } catch (e) {
        if (!(e instanceof LibvirtError)) throw e;
        ctl.error(`Storage pool '${pool}' for volume '${target}' not found.`);
        continue;
      }
      try {
        vol = sp.lookupVolume(source);
      } catch (e) {
        if (!(e instanceof LibvirtError)) throw e;
      } finally {
        sp.free();
      }
    } else {
      try {
        vol = conn.lookupStorageVolumeByPath(source);
      } catch (e) {
        if (!(e instanceof LibvirtError)) throw e;
      }
    }
    if (!vol) {
      ctl.error(`Storage volume '${target}'(${source}) is not managed by libvirt. Remove it manually.\n`);
      continue;
    }
    vols.push({ vol, source, target });
  }
  const missing = (wanted ?? []).filter((w): w is string => w !== null);
  for (const w of missing) ctl.error(`Volume '${w}' was not found in domain's definition.\n`);
  if (missing.length > 0) {
    for (const v of vols) v.vol.free();
    return undefined;
  }
  return vols;
}

const undefineCmd: Cmd = {
  name: 'undefine', help: 'undefine a domain', desc: 'Undefine an inactive domain, or convert persistent to transient.',
  opts: [
    commonOpt.domain(undefined, LIST.PERSISTENT), bool('managed-save', 'remove domain managed state file'),
    { name: 'storage', type: 'string', help: 'remove associated storage volumes (comma separated list of targets or source paths) (see domblklist)' },
    bool('remove-all-storage', 'remove all associated storage volumes (use with caution)'),
    { name: 'delete-snapshots', type: 'alias', help: 'delete-storage-volume-snapshots' },
    bool('delete-storage-volume-snapshots', 'delete snapshots associated with volume(s), requires --remove-all-storage (must be supported by storage driver)'),
    bool('wipe-storage', 'wipe data on the removed volumes'), bool('snapshots-metadata', 'remove all domain snapshot metadata (vm must be inactive)'),
    bool('checkpoints-metadata', 'remove all domain checkpoint metadata (vm must be inactive)'), bool('nvram', 'remove nvram file'),
    bool('keep-nvram', 'keep nvram file'), bool('tpm', 'remove TPM state'), bool('keep-tpm', 'keep TPM state'),
  ],
  handler: (ctl, cmd) => {
    const [managedSave, snapshotsMetadata, checkpointsMetadata, wipe, removeAll, deleteSnapshots, nvram, keepNvram, tpm, keepTpm] =
      ['managed-save', 'snapshots-metadata', 'checkpoints-metadata', 'wipe-storage', 'remove-all-storage', 'delete-storage-volume-snapshots', 'nvram', 'keep-nvram', 'tpm', 'keep-tpm'].map((n) => optBool(cmd, n));
    if (deleteSnapshots && !removeAll) throw new VshError('Option --remove-all-storage is required by option --delete-storage-volume-snapshots');
    exclusive(cmd, 'nvram', 'keep-nvram');
    exclusive(cmd, 'tpm', 'keep-tpm');
    // vshCommandOptStringQuiet: an empty --storage counts as none
    const volString = optStringQuiet(cmd, 'storage') || undefined;
    if (volString === undefined && !removeAll && wipe) throw new VshError("'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'");
    const volFlags = deleteSnapshots ? VOL_DELETE_WITH_SNAPSHOTS : 0;
    let flags = (managedSave ? UNDEFINE.MANAGED_SAVE : 0) | (snapshotsMetadata ? UNDEFINE.SNAPSHOTS_METADATA : 0) | (checkpointsMetadata ? UNDEFINE.CHECKPOINTS_METADATA : 0) |
      (nvram ? UNDEFINE.NVRAM : 0) | (keepNvram ? UNDEFINE.KEEP_NVRAM : 0) | (tpm ? UNDEFINE.TPM : 0) | (keepTpm ? UNDEFINE.KEEP_TPM : 0);
    let managedSaveSafe = managedSave;
    let snapshotsSafe = snapshotsMetadata;
    return withDomain(ctl, cmd, (dom, name) => {
      let vols: DoomedVolume[] = [];
      try {
        const running = dom.isActive();
        let hasManagedSave = 0;
        let hasSnapshots = 0;
        let hasSnapshotsMetadata = 0;
        if (!running) {
          // only an inactive domain can have a managed save or be refused for its snapshots
          hasManagedSave = countOrZero(() => (dom.hasManagedSaveImage() ? 1 : 0));
          hasSnapshots = countOrZero(() => dom.snapshotCount(0));
          if (hasSnapshots) {
            try {
              hasSnapshotsMetadata = dom.snapshotCount(SNAPSHOT_LIST_METADATA);
              managedSaveSafe = snapshotsSafe = true;
            } catch (e) {
              if (!(e instanceof LibvirtError)) throw e;
              hasSnapshotsMetadata = hasSnapshots; // a server without the flag: assume they all have metadata
            }
          }
        }
        if (!hasManagedSave) {
          flags &= ~UNDEFINE.MANAGED_SAVE;
          managedSaveSafe = true;
        }
        if (hasSnapshots === 0) snapshotsSafe = true;
        if (hasSnapshotsMetadata === 0) {
          flags &= ~UNDEFINE.SNAPSHOTS_METADATA;
          snapshotsSafe = true;
        }
        if (volString !== undefined || removeAll) {
          if (running) throw new VshError('Storage volume deletion is supported only on stopped domains');
          if (volString !== undefined && removeAll) throw new VshError('Specified both --storage and --remove-all-storage');
          const found = volumesToRemove(ctl, dom, volString);
          if (!found) return false;
          vols = found;
        }
        let undefined_ = false;
        let last: LibvirtError | undefined;
        if ((managedSaveSafe && snapshotsSafe) || nvram) {
          try {
            dom.undefine(flags);
            undefined_ = true;
          } catch (e) {
            if (!(e instanceof LibvirtError)) throw e;
            last = e;
          }
        }
        const newApiDecided = undefined_ || (last !== undefined && (nvram || (last.code !== 'VIR_ERR_NO_SUPPORT' && last.code !== 'VIR_ERR_INVALID_ARG')));
        if (!newApiDecided) {
          // the older server's way, piece by piece
          if (hasManagedSave) {
            if (!managedSave) throw new VshError('Refusing to undefine while domain managed save image exists');
            if (attempt(ctl, undefined, () => (dom.managedSaveRemove(), true)) === undefined) return false;
          }
          if (hasSnapshotsMetadata) {
            throw new VshError(snapshotsMetadata ? `Unable to remove metadata of ${hasSnapshotsMetadata} snapshots` : `Refusing to undefine while ${hasSnapshotsMetadata} snapshots exist`);
          }
          last = undefined;
          try {
            dom.undefineCurrent();
            undefined_ = true;
          } catch (e) {
            if (!(e instanceof LibvirtError)) throw e;
            last = e;
          }
        }
        if (!undefined_) {
          ctl.lastError = last;
          ctl.error(`Failed to undefine domain '${name}'`);
          return false;
        }
        ctl.printExtra(`Domain '${name}' has been undefined\n`);
        let ok = true;
        for (const v of vols) {
          if (wipe) {
            ctl.printExtra(`Wiping volume '${v.target}'(${v.source}) ... `);
            if (attempt(ctl, 'Failed! Volume not removed.', () => (v.vol.wipe(0), true)) === undefined) {
              ok = false;
              continue;
            }
            ctl.printExtra('Done.\n');
          }
          if (attempt(ctl, `Failed to remove storage volume '${v.target}'(${v.source})`, () => (v.vol.delete(volFlags), true)) === undefined) ok = false;
          else ctl.printExtra(`Volume '${v.target}'(${v.source}) removed.\n`);
        }
        return ok;
      } finally {
        for (const v of vols) v.vol.free();
      }
    });
  },
};

export const editCommands: Cmd[] = [
  editCmd,
  undefineCmd,
  {
    name: 'domxml-from-native', help: 'Convert native config to domain XML', desc: 'Convert native guest configuration format to domain XML format.',
    opts: [{ name: 'format', type: 'data', required: true, help: 'source config data format' }, { name: 'config', type: 'data', required: true, help: 'config data file to import from' }],
    handler: (ctl, cmd) => {
      const format = optString(cmd, 'format')!;
      const config = readXmlFile(optString(cmd, 'config')!);
      const xml = attempt(ctl, undefined, () => ctl.connected!.domainXMLFromNative(format, config));
      if (xml === undefined) return false;
      ctl.print(xml);
      return true;
    },
  },
  {
    name: 'domxml-to-native', help: 'Convert domain XML to native config', desc: 'Convert domain XML config to a native guest configuration format.',
    opts: [{ name: 'format', type: 'data', required: true, help: 'target config data type format' },
      { name: 'domain', type: 'string', requireName: true, help: 'domain name, id or uuid', completer: 'domain', completerFlags: 0 },
      { name: 'xml', type: 'string', help: 'xml data file to export from' }],
    handler: (ctl, cmd) => {
      const format = optString(cmd, 'format')!;
      const xmlFile = optString(cmd, 'xml');
      exclusive(cmd, 'domain', 'xml');
      const convert = (xml: string): boolean => {
        const native = attempt(ctl, undefined, () => ctl.connected!.domainXMLToNative(format, xml));
        if (native === undefined) return false;
        ctl.print(native);
        return true;
      };
      if (optBool(cmd, 'domain')) {
        return withDomain(ctl, cmd, (dom) => {
          const xml = attempt(ctl, undefined, () => dom.xml());
          if (xml === undefined) throw new VshError('failed to retrieve XML');
          return convert(xml);
        });
      }
      if (xmlFile === undefined) throw new VshError('need either domain or domain XML');
      return convert(readXmlFile(xmlFile));
    },
  },
];
