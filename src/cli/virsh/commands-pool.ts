/**
 * Storage pool commands, as tools/virsh-pool.c writes them: pool-autostart, -build, -create,
 * -create-as, -define, -define-as, -delete, -destroy, -dumpxml, -info, -name, -refresh, -start,
 * -undefine, -uuid (pool-list, -edit, -event and -capabilities are in commands-pool-more.ts).
 */
import type { StoragePool } from '../../libvirt/storage.js';
import '../../libvirt/storage-more.js';
import { commonOpt, type CmdDef, type OptDef, type ParsedCommand } from '../vsh/command-def.js';
import { exclusive, optBool, optString, optStringQuiet } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { readXmlFile } from './commands-lifecycle.js';
import { BY_NAME, BY_UUID } from './lookup.js';
import { POOLS, poolOpt, withPool } from './lookup-storage.js';
import { pretty } from './storage-format.js';
import { dumpXml, xpathOpts } from './xml-xpath.js';

type Cmd = CmdDef<Ctl>;

const poolFull = (flags: number): OptDef => poolOpt('pool name or uuid', flags);
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });
const str = (name: string, help: string): OptDef => ({ name, type: 'string', help });
const buildOpt = bool('build', 'build the pool as normal');
const noOverwriteOpt = bool('no-overwrite', 'do not overwrite any existing data');
const overwriteOpt = bool('overwrite', 'overwrite any existing data');

/** VIRSH_COMMON_OPT_POOL_X_AS */
const xAsOpts: OptDef[] = [
  { name: 'name', type: 'data', required: true, help: 'name of the pool' },
  { name: 'type', type: 'data', required: true, help: 'type of the pool', completer: 'pool-type' },
  bool('print-xml', "print XML document, but don't define/create"),
  str('source-host', 'source-host for underlying storage'), str('source-path', 'source path for underlying storage'),
  str('source-dev', 'source device for underlying storage'), str('source-name', 'source name for underlying storage'),
  str('target', 'target for underlying storage'), str('source-format', 'format for underlying storage'),
  str('auth-type', 'auth type to be used for underlying storage'), str('auth-username', 'auth username to be used for underlying storage'),
  str('secret-usage', 'auth secret usage to be used for underlying storage'), str('secret-uuid', 'auth secret UUID to be used for underlying storage'),
  str('adapter-name', 'adapter name to be used for underlying storage'), str('adapter-wwnn', 'adapter wwnn to be used for underlying storage'),
  str('adapter-wwpn', 'adapter wwpn to be used for underlying storage'), str('adapter-parent', 'adapter parent scsi_hostN to be used for underlying vHBA storage'),
  str('adapter-parent-wwnn', 'adapter parent scsi_hostN wwnn to be used for underlying vHBA storage'),
  str('adapter-parent-wwpn', 'adapter parent scsi_hostN wwpn to be used for underlying vHBA storage'),
  str('adapter-parent-fabric-wwn', 'adapter parent scsi_hostN fabric_wwn to be used for underlying vHBA storage'),
  str('source-protocol-ver', 'nfsvers value for NFS pool mount option'), str('source-initiator', 'initiator iqn for underlying storage'),
];

/** virshBuildPoolXML: the pool XML the -as commands make of their options. */
function buildPoolXml(cmd: ParsedCommand): { name: string; xml: string } {
  exclusive(cmd, 'secret-usage', 'secret-uuid');
  const name = optString(cmd, 'name')!;
  const type = optString(cmd, 'type')!;
  const o = (n: string): string | undefined => optString(cmd, n);
  const [srcHost, srcPath, srcDev, srcName, srcFormat, target, authType, authUsername, secretUsage, secretUUID, adapterName, adapterWwnn, adapterWwpn,
    adapterParent, adapterParentWwnn, adapterParentWwpn, adapterParentFabricWwn, protoVer, srcInitiator] =
    ['source-host', 'source-path', 'source-dev', 'source-name', 'source-format', 'target', 'auth-type', 'auth-username', 'secret-usage', 'secret-uuid',
      'adapter-name', 'adapter-wwnn', 'adapter-wwpn', 'adapter-parent', 'adapter-parent-wwnn', 'adapter-parent-wwpn', 'adapter-parent-fabric-wwn',
      'source-protocol-ver', 'source-initiator'].map(o);
  let xml = `<pool type='${type}'>\n  <name>${name}</name>\n`;
  if (srcHost || srcPath || srcDev || srcInitiator || srcFormat || srcName || (adapterWwnn && adapterWwpn) || adapterName) {
    xml += '  <source>\n';
    if (srcHost) xml += `    <host name='${srcHost}'/>\n`;
    if (srcPath) xml += `    <dir path='${srcPath}'/>\n`;
    if (srcDev) xml += `    <device path='${srcDev}'/>\n`;
    if (srcInitiator) xml += `    <initiator>\n      <iqn name='${srcInitiator}'/>\n    </initiator>\n`;
    if (adapterWwnn && adapterWwpn) {
      xml += "    <adapter type='fc_host'";
      if (adapterParent) xml += ` parent='${adapterParent}'`;
      else if (adapterParentWwnn && adapterParentWwpn) xml += ` parent_wwnn='${adapterParentWwnn}' parent_wwpn='${adapterParentWwpn}'`;
      else if (adapterParentFabricWwn) xml += ` parent_fabric_wwn='${adapterParentFabricWwn}'`;
      xml += ` wwnn='${adapterWwnn}' wwpn='${adapterWwpn}'/>\n`;
    } else if (adapterName) xml += `    <adapter type='scsi_host' name='${adapterName}'/>\n`;
    if (authType && authUsername && (secretUsage || secretUUID)) {
      xml += `    <auth type='${authType}' username='${authUsername}'>\n`;
      xml += secretUsage ? `      <secret usage='${secretUsage}'/>\n` : `      <secret uuid='${secretUUID}'/>\n`;
      xml += '    </auth>\n';
    }
    if (srcFormat) xml += `    <format type='${srcFormat}'/>\n`;
    if (srcName) xml += `    <name>${srcName}</name>\n`;
    if (protoVer) xml += `    <protocol ver='${protoVer}'/>\n`;
    xml += '  </source>\n';
  }
  if (target) xml += `  <target>\n    <path>${target}</path>\n  </target>\n`;
  return { name, xml: `${xml}</pool>\n` };
}

/** --build / --overwrite / --no-overwrite: virStoragePoolCreateFlags */
function createFlags(cmd: ParsedCommand): number {
  exclusive(cmd, 'overwrite', 'no-overwrite');
  return (optBool(cmd, 'build') ? 1 : 0) | (optBool(cmd, 'overwrite') ? 2 : 0) | (optBool(cmd, 'no-overwrite') ? 4 : 0);
}

/** A command that makes one call on the pool and says so: `Pool X destroyed`. */
function simple(name: string, help: string, desc: string, listFlags: number, call: (p: StoragePool, cmd: ParsedCommand) => void, failed: string, done: string, opts: OptDef[] = []): Cmd {
  return {
    name, help, desc, opts: [poolFull(listFlags), ...opts],
    handler: (ctl, cmd) => withPool(ctl, cmd, (pool, n) => {
      if (attempt(ctl, failed.replace('%s', n), () => (call(pool, cmd), true)) === undefined) return false;
      ctl.printExtra(done.replace('%s', n));
      return true;
    }),
  };
}

/** Run a call that gives a new pool, free it after `then`. */
function withNewPool(ctl: Ctl, failed: string, make: () => StoragePool, then: (p: StoragePool) => void): boolean {
  const pool = attempt(ctl, failed, make);
  if (!pool) return false;
  try {
    then(pool);
  } finally {
    pool.free();
  }
  return true;
}

const line15 = (label: string, value: string): string => `${label.padEnd(15)} ${value}\n`;

export const poolCommands: Cmd[] = [
  {
    name: 'pool-autostart', help: 'autostart a pool', desc: 'Configure a pool to be automatically started at boot.',
    opts: [poolFull(POOLS.PERSISTENT), bool('disable', 'disable autostarting')],
    handler: (ctl, cmd) => withPool(ctl, cmd, (pool, n) => {
      const on = !optBool(cmd, 'disable');
      if (attempt(ctl, on ? `failed to mark pool ${n} as autostarted` : `failed to unmark pool ${n} as autostarted`, () => { pool.autostart = on; return true; }) === undefined) return false;
      ctl.printExtra(on ? `Pool ${n} marked as autostarted\n` : `Pool ${n} unmarked as autostarted\n`);
      return true;
    }),
  },
  simple('pool-build', 'build a pool', 'Build a given pool.', 0,
    (p, cmd) => p.build((optBool(cmd, 'no-overwrite') ? 4 : 0) | (optBool(cmd, 'overwrite') ? 8 : 0)),
    'Failed to build pool %s', 'Pool %s built\n', [noOverwriteOpt, overwriteOpt]),
  {
    name: 'pool-create-as', help: 'create a pool from a set of args', desc: 'Create a pool.', opts: [...xAsOpts, buildOpt, noOverwriteOpt, overwriteOpt],
    handler: (ctl, cmd) => {
      const printXml = optBool(cmd, 'print-xml');
      const flags = createFlags(cmd);
      const { name, xml } = buildPoolXml(cmd);
      if (printXml) return (ctl.print(xml), true);
      return withNewPool(ctl, `Failed to create pool ${name}`, () => ctl.connected!.createStoragePool(xml, flags), () => ctl.printExtra(`Pool ${name} created\n`));
    },
  },
  {
    name: 'pool-create', help: 'create a pool from an XML file', desc: 'Create a pool.',
    opts: [commonOpt.file('file containing an XML pool description'), buildOpt, noOverwriteOpt, overwriteOpt],
    handler: (ctl, cmd) => {
      const from = optString(cmd, 'file')!;
      const flags = createFlags(cmd);
      const xml = readXmlFile(from);
      return withNewPool(ctl, `Failed to create pool from ${from}`, () => ctl.connected!.createStoragePool(xml, flags), (p) => ctl.printExtra(`Pool ${p.name} created from ${from}\n`));
    },
  },
  {
    name: 'pool-define-as', help: 'define a pool from a set of args', desc: 'Define a pool.', opts: xAsOpts,
    handler: (ctl, cmd) => {
      const printXml = optBool(cmd, 'print-xml');
      const { name, xml } = buildPoolXml(cmd);
      if (printXml) return (ctl.print(xml), true);
      return withNewPool(ctl, `Failed to define pool ${name}`, () => ctl.connected!.defineStoragePool(xml, 0), () => ctl.printExtra(`Pool ${name} defined\n`));
    },
  },
  {
    name: 'pool-define', help: 'define an inactive persistent storage pool or modify an existing persistent one from an XML file',
    desc: 'Define or modify a persistent storage pool.',
    opts: [commonOpt.file('file containing an XML pool description'), bool('validate', 'validate the XML against the schema')],
    handler: (ctl, cmd) => {
      const from = optString(cmd, 'file')!;
      const flags = optBool(cmd, 'validate') ? 1 : 0;
      const xml = readXmlFile(from);
      return withNewPool(ctl, `Failed to define pool from ${from}`, () => ctl.connected!.defineStoragePool(xml, flags), (p) => ctl.printExtra(`Pool ${p.name} defined from ${from}\n`));
    },
  },
  simple('pool-delete', 'delete a pool', 'Delete a given pool.', POOLS.INACTIVE, (p) => p.delete(0), 'Failed to delete pool %s', 'Pool %s deleted\n'),
  simple('pool-destroy', 'destroy (stop) a pool', 'Forcefully stop a given pool. Raw data in the pool is untouched', POOLS.ACTIVE,
    (p) => p.destroy(), 'Failed to destroy pool %s', 'Pool %s destroyed\n'),
  {
    name: 'pool-dumpxml', help: 'pool information in XML', desc: 'Output the pool information as an XML dump to stdout.',
    opts: [poolFull(0), bool('inactive', 'show inactive defined XML'), ...xpathOpts],
    handler: (ctl, cmd) => {
      const inactive = optBool(cmd, 'inactive');
      return withPool(ctl, cmd, (pool) => {
        const xpath = optStringQuiet(cmd, 'xpath');
        if (xpath === '') return false; // vshCommandOptStringQuiet refuses an empty value, silently
        const xml = attempt(ctl, undefined, () => pool.xml({ inactive }));
        if (xml === undefined) return false;
        return dumpXml(ctl, xml, 'pool', xpath, optBool(cmd, 'wrap'));
      });
    },
  },
  {
    name: 'pool-info', help: 'storage pool information', desc: 'Returns basic information about the storage pool.',
    opts: [poolFull(0), bool('bytes', 'Return pool info in bytes')],
    handler: (ctl, cmd) => withPool(ctl, cmd, (pool) => {
      const bytes = optBool(cmd, 'bytes');
      ctl.print(line15('Name:', pool.name));
      const uuid = attempt(ctl, undefined, () => pool.uuid);
      if (uuid !== undefined) ctl.print(line15('UUID:', uuid));
      const info = attempt(ctl, undefined, () => pool.info());
      if (!info) return false;
      ctl.print(line15('State:', poolStateName(info.state)));
      const persistent = attempt(ctl, undefined, () => pool.isPersistent());
      ctl.print(line15('Persistent:', persistent === undefined ? 'unknown' : persistent ? 'yes' : 'no'));
      const autostart = attempt(ctl, undefined, () => pool.autostart);
      ctl.print(line15('Autostart:', autostart === undefined ? 'no autostart' : autostart ? 'yes' : 'no'));
      if (info.state === 2 || info.state === 3) {
        const show = (v: number | bigint): string => (bytes ? String(v) : pretty(v));
        ctl.print(line15('Capacity:', show(info.capacity)));
        ctl.print(line15('Allocation:', show(info.allocation)));
        ctl.print(line15('Available:', show(info.available)));
      }
      return true;
    }),
  },
  {
    name: 'pool-name', help: 'convert a pool UUID to pool name', desc: '', opts: [poolFull(0)],
    handler: (ctl, cmd) => withPool(ctl, cmd, (pool) => (ctl.print(`${pool.name}\n`), true), BY_UUID),
  },
  simple('pool-refresh', 'refresh a pool', 'Refresh a given pool.', POOLS.ACTIVE, (p) => p.refresh(), 'Failed to refresh pool %s', 'Pool %s refreshed\n'),
  {
    name: 'pool-start', help: 'start a (previously defined) inactive pool', desc: 'Start a pool.',
    opts: [poolFull(POOLS.INACTIVE), buildOpt, noOverwriteOpt, overwriteOpt],
    handler: (ctl, cmd) => withPool(ctl, cmd, (pool, n) => {
      const flags = createFlags(cmd);
      if (attempt(ctl, `Failed to start pool ${n}`, () => (pool.start(flags), true)) === undefined) return false;
      ctl.printExtra(`Pool ${n} started\n`);
      return true;
    }),
  },
  simple('pool-undefine', 'undefine an inactive pool', 'Undefine the configuration for an inactive pool.', POOLS.PERSISTENT,
    (p) => p.undefine(), 'Failed to undefine pool %s', 'Pool %s has been undefined\n'),
  {
    name: 'pool-uuid', help: 'convert a pool name to pool UUID', desc: '', opts: [poolFull(0)],
    handler: (ctl, cmd) => withPool(ctl, cmd, (pool) => {
      const uuid = attempt(ctl, undefined, () => pool.uuid);
      if (uuid !== undefined) ctl.print(`${uuid}\n`);
      else ctl.error('failed to get pool UUID');
      return true;
    }, BY_NAME),
  },
];

const POOL_STATES = ['inactive', 'building', 'running', 'degraded', 'inaccessible'];
/** virshStoragePoolStateToString */
export const poolStateName = (s: number): string => POOL_STATES[s] ?? 'unknown';
