/**
 * Domain lookups, listings and read-only queries (`virsh list`, `dominfo`,
 * `domstate`, `dumpxml`, `domid`/`domuuid`/`domname`).
 */
import { MpvirtError } from '../../errors.js';
import type { DomainObject } from '../../driver/domain-object.js';
import { DomainState } from '../../driver/state.js';
import { bytesToUuid, nonnullDomain, REMOTE_PROGRAM, toWireDomain, type WireDomain } from '../protocol.js';
import * as x from '../xdr.js';
import { checkFlags, denyOnReadOnly, proc, resolveDomain, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
/** REMOTE_DOMAIN_LIST_MAX */
const LIST_MAX = 16384;

export const wire = (obj: DomainObject): WireDomain => toWireDomain(obj.ref());

const domArg = x.struct({ dom: nonnullDomain });
const domFlagsArg = x.struct({ dom: nonnullDomain, flags: x.uint });
const domRet = x.struct({ dom: nonnullDomain });

/** virConnectListAllDomainsFlags */
export const ListFlag = {
  ACTIVE: 1 << 0, INACTIVE: 1 << 1,
  PERSISTENT: 1 << 2, TRANSIENT: 1 << 3,
  RUNNING: 1 << 4, PAUSED: 1 << 5, SHUTOFF: 1 << 6, OTHER: 1 << 7,
  MANAGEDSAVE: 1 << 8, NO_MANAGEDSAVE: 1 << 9,
  AUTOSTART: 1 << 10, NO_AUTOSTART: 1 << 11,
  HAS_SNAPSHOT: 1 << 12, NO_SNAPSHOT: 1 << 13,
  HAS_CHECKPOINT: 1 << 14, NO_CHECKPOINT: 1 << 15,
} as const;
const LIST_ALL_FLAGS = (1 << 16) - 1;

/** A pair of opposite filter bits: no bit set → no filter; otherwise the domain must match a set bit. */
const pair = (flags: number, yes: number, no: number, has: boolean): boolean =>
  (flags & (yes | no)) === 0 || (flags & (has ? yes : no)) !== 0;

/** libvirt's virDomainObjMatchFilter, for the state mpvirt has (no managed save, snapshots or checkpoints). */
export function matchesListFilter(obj: DomainObject, flags: number): boolean {
  const s = obj.state.state;
  const stateBit =
    s === DomainState.RUNNING ? ListFlag.RUNNING
    : s === DomainState.PAUSED ? ListFlag.PAUSED
    : s === DomainState.SHUTOFF ? ListFlag.SHUTOFF
    : ListFlag.OTHER;
  const stateMask = ListFlag.RUNNING | ListFlag.PAUSED | ListFlag.SHUTOFF | ListFlag.OTHER;
  return (
    pair(flags, ListFlag.ACTIVE, ListFlag.INACTIVE, obj.active) &&
    pair(flags, ListFlag.PERSISTENT, ListFlag.TRANSIENT, obj.persistent) &&
    ((flags & stateMask) === 0 || (flags & stateBit) !== 0) &&
    pair(flags, ListFlag.MANAGEDSAVE, ListFlag.NO_MANAGEDSAVE, false) &&
    pair(flags, ListFlag.AUTOSTART, ListFlag.NO_AUTOSTART, obj.autostart) &&
    pair(flags, ListFlag.HAS_SNAPSHOT, ListFlag.NO_SNAPSHOT, false) &&
    pair(flags, ListFlag.HAS_CHECKPOINT, ListFlag.NO_CHECKPOINT, false)
  );
}

/** The generated dispatcher's check of a client-supplied maximum. */
function checkMax(n: number, field: string): void {
  if (n > LIST_MAX) throw new MpvirtError('VIR_ERR_RPC', `${field} > REMOTE_DOMAIN_LIST_MAX`, { domain: 'RPC' });
}

const VIR_DOMAIN_XML_SECURE = 1 << 0;
const VIR_DOMAIN_XML_INACTIVE = 1 << 1;
const VIR_DOMAIN_XML_UPDATE_CPU = 1 << 2;
const VIR_DOMAIN_XML_MIGRATABLE = 1 << 3;

export const domainQueryProcedures: Procedure[] = [
  proc({
    program: R, proc: 273, name: 'CONNECT_LIST_ALL_DOMAINS', api: 'virConnectListAllDomains',
    args: x.struct({ needResults: x.int, flags: x.uint }),
    ret: x.struct({ domains: x.array(nonnullDomain, LIST_MAX), ret: x.uint }),
    readOnlySafe: true,
    handler: (ctx, { needResults, flags }) => {
      checkFlags(flags, LIST_ALL_FLAGS, 'qemuConnectListAllDomains');
      const found = ctx.driver.listDomains().filter((d) => matchesListFilter(d, flags));
      return { domains: needResults ? found.map(wire) : [], ret: found.length };
    },
  }),
  // the legacy listing calls: python's numOfDomains/listDomainsID/listDefinedDomains, old clients
  proc({
    program: R, proc: 51, name: 'CONNECT_NUM_OF_DOMAINS', api: 'virConnectNumOfDomains',
    args: x.none, ret: x.struct({ num: x.int }), readOnlySafe: true,
    handler: (ctx) => ({ num: ctx.driver.listDomains().filter((d) => d.active).length }),
  }),
  proc({
    program: R, proc: 37, name: 'CONNECT_LIST_DOMAINS', api: 'virConnectListDomains',
    args: x.struct({ maxids: x.int }), ret: x.struct({ ids: x.array(x.int, LIST_MAX) }), readOnlySafe: true,
    handler: (ctx, { maxids }) => {
      checkMax(maxids, 'maxids');
      const ids = ctx.driver.listDomains().filter((d) => d.active).map((d) => d.id).sort((a, b) => a - b);
      return { ids: ids.slice(0, Math.max(0, maxids)) };
    },
  }),
  proc({
    program: R, proc: 25, name: 'CONNECT_NUM_OF_DEFINED_DOMAINS', api: 'virConnectNumOfDefinedDomains',
    args: x.none, ret: x.struct({ num: x.int }), readOnlySafe: true,
    handler: (ctx) => ({ num: ctx.driver.listDomains().filter((d) => !d.active).length }),
  }),
  proc({
    program: R, proc: 21, name: 'CONNECT_LIST_DEFINED_DOMAINS', api: 'virConnectListDefinedDomains',
    args: x.struct({ maxnames: x.int }), ret: x.struct({ names: x.array(x.string(), LIST_MAX) }), readOnlySafe: true,
    handler: (ctx, { maxnames }) => {
      checkMax(maxnames, 'maxnames');
      const names = ctx.driver.listDomains().filter((d) => !d.active).map((d) => d.name).sort();
      return { names: names.slice(0, Math.max(0, maxnames)) };
    },
  }),
  proc({
    program: R, proc: 22, name: 'DOMAIN_LOOKUP_BY_ID', api: 'virDomainLookupByID',
    args: x.struct({ id: x.int }), ret: domRet, readOnlySafe: true,
    handler: (ctx, { id }) => ({ dom: wire(ctx.driver.lookupById(id)) }),
  }),
  proc({
    program: R, proc: 23, name: 'DOMAIN_LOOKUP_BY_NAME', api: 'virDomainLookupByName',
    args: x.struct({ name: x.string() }), ret: domRet, readOnlySafe: true,
    handler: (ctx, { name }) => ({ dom: wire(ctx.driver.lookupByName(name)) }),
  }),
  proc({
    program: R, proc: 24, name: 'DOMAIN_LOOKUP_BY_UUID', api: 'virDomainLookupByUUID',
    args: x.struct({ uuid: x.fixedOpaque(16) }), ret: domRet, readOnlySafe: true,
    handler: (ctx, { uuid }) => ({ dom: wire(ctx.driver.lookupByUuid(bytesToUuid(uuid))) }),
  }),
  proc({
    program: R, proc: 16, name: 'DOMAIN_GET_INFO', api: 'virDomainGetInfo',
    args: domArg,
    // unsigned char / unsigned short: 4 bytes each on the wire
    ret: x.struct({ state: x.uchar, maxMem: x.uhyper, memory: x.uhyper, nrVirtCpu: x.ushort, cpuTime: x.uhyper }),
    readOnlySafe: true,
    handler: (ctx, { dom }) => {
      const i = ctx.driver.getInfo(resolveDomain(ctx, dom));
      return { state: i.state, maxMem: BigInt(i.maxMemKiB), memory: BigInt(i.memoryKiB), nrVirtCpu: i.vcpus, cpuTime: i.cpuTimeNs };
    },
  }),
  proc({
    program: R, proc: 212, name: 'DOMAIN_GET_STATE', api: 'virDomainGetState',
    args: domFlagsArg, ret: x.struct({ state: x.int, reason: x.int }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, 0, 'qemuDomainGetState');
      const { state, reason } = resolveDomain(ctx, dom).state;
      return { state, reason };
    },
  }),
  proc({
    program: R, proc: 19, name: 'DOMAIN_GET_OS_TYPE', api: 'virDomainGetOSType',
    args: domArg, ret: x.struct({ type: x.string() }), readOnlySafe: true,
    handler: (ctx, { dom }) => ({ type: ctx.driver.getOSType(resolveDomain(ctx, dom)) }),
  }),
  proc({
    program: R, proc: 150, name: 'DOMAIN_IS_ACTIVE', api: 'virDomainIsActive',
    args: domArg, ret: x.struct({ active: x.int }), readOnlySafe: true,
    handler: (ctx, { dom }) => ({ active: resolveDomain(ctx, dom).active ? 1 : 0 }),
  }),
  proc({
    program: R, proc: 151, name: 'DOMAIN_IS_PERSISTENT', api: 'virDomainIsPersistent',
    args: domArg, ret: x.struct({ persistent: x.int }), readOnlySafe: true,
    handler: (ctx, { dom }) => ({ persistent: resolveDomain(ctx, dom).persistent ? 1 : 0 }),
  }),
  proc({
    program: R, proc: 15, name: 'DOMAIN_GET_AUTOSTART', api: 'virDomainGetAutostart',
    args: domArg, ret: x.struct({ autostart: x.int }), readOnlySafe: true,
    handler: (ctx, { dom }) => ({ autostart: resolveDomain(ctx, dom).autostart ? 1 : 0 }),
  }),
  proc({
    program: R, proc: 183, name: 'DOMAIN_HAS_MANAGED_SAVE_IMAGE', api: 'virDomainHasManagedSaveImage',
    args: domFlagsArg, ret: x.struct({ result: x.int }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, 0, 'qemuDomainHasManagedSaveImage');
      resolveDomain(ctx, dom);
      return { result: 0 }; // mpvirt has no managed save
    },
  }),
  proc({
    program: R, proc: 14, name: 'DOMAIN_GET_XML_DESC', api: 'virDomainGetXMLDesc',
    args: domFlagsArg, ret: x.struct({ xml: x.string() }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_UPDATE_CPU | VIR_DOMAIN_XML_MIGRATABLE, 'qemuDomainGetXMLDesc');
      if (flags & VIR_DOMAIN_XML_SECURE) denyOnReadOnly(ctx, 'virDomainGetXMLDesc with secure flag');
      const obj = resolveDomain(ctx, dom);
      return { xml: ctx.driver.getXMLDesc(obj, { inactive: (flags & VIR_DOMAIN_XML_INACTIVE) !== 0 }) };
    },
  }),
  proc({
    program: R, proc: 121, name: 'DOMAIN_GET_SECURITY_LABEL', api: 'virDomainGetSecurityLabel',
    args: domArg, ret: x.struct({ label: x.chars(4097), enforcing: x.int }), readOnlySafe: true,
    handler: (ctx, { dom }) => {
      resolveDomain(ctx, dom);
      // the 'none' security model labels nothing: an empty label, which virsh does not print
      return { label: '', enforcing: 0 };
    },
  }),
  proc({
    program: R, proc: 426, name: 'DOMAIN_GET_MESSAGES', api: 'virDomainGetMessages',
    args: domFlagsArg, ret: x.struct({ msgs: x.array(x.string(), 2048) }), readOnlySafe: true,
    handler: (ctx, { dom, flags }) => {
      checkFlags(flags, 0b11, 'qemuDomainGetMessages'); // TAINTING | DEPRECATION
      resolveDomain(ctx, dom);
      return { msgs: [] }; // the driver records no taints or deprecations
    },
  }),
];
