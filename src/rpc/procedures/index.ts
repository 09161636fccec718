/**
 * The procedure registry: (program, procedure) → codec pair, handler and
 * read-only policy. Each area file exports an array; a new area is one more
 * import in AREAS below, the server core never changes for it.
 */
import { QEMU_PROGRAM, QEMU_PROTOCOL_VERSION, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION } from '../protocol.js';
import { capabilitiesProcedures } from './capabilities.js';
import { connectProcedures } from './connect.js';
import { domainConsoleProcedures } from './domain-console.js';
import { domainDeviceProcedures } from './domain-devices.js';
import { domainJobVcpuProcedures } from './domain-jobs-and-vcpus.js';
import { domainSaveSnapshotProcedures } from './domain-saves-and-snapshots.js';
import { domainStatsProcedures } from './domain-stats.js';
import { domainChangeProcedures } from './domain-changes.js';
import { domainTuningQueryProcedures } from './domain-tuning-queries.js';
import { domainLifecycleProcedures } from './domain-lifecycle.js';
import { domainMetadataProcedures } from './domain-metadata.js';
import { domainQueryProcedures } from './domain-query.js';
import { eventProcedures } from './events.js';
import { forwardedInterfaceProcedures } from './forward-interface.js';
import { forwardedNetworkProcedures } from './forward-network.js';
import { forwardedNodeDeviceProcedures } from './forward-nodedev.js';
import { forwardedNWFilterProcedures } from './forward-nwfilter.js';
import { forwardedSecretProcedures } from './forward-secret.js';
import { hostCpuAndDomainCapsProcedures } from './host-cpu-and-domain-caps.js';
import { nodeProcedures } from './node.js';
import { qemuProcedures } from './qemu.js';
import { storagePoolProcedures } from './storage-pools.js';
import { storageVolumeProcedures } from './storage-volumes.js';
import type { Procedure } from './types.js';

export type { CallContext, Procedure, RpcConnection, RpcDriver } from './types.js';
export type { SecondaryDriverOpener, SecondaryKind } from './forward-common.js';

const AREAS: readonly Procedure[][] = [
  connectProcedures,
  nodeProcedures,
  domainQueryProcedures,
  domainLifecycleProcedures,
  eventProcedures,
  qemuProcedures,
  capabilitiesProcedures,
  domainMetadataProcedures,
  domainDeviceProcedures,
  domainConsoleProcedures,
  domainSaveSnapshotProcedures,
  domainJobVcpuProcedures,
  domainStatsProcedures,
  domainChangeProcedures,
  domainTuningQueryProcedures,
  storagePoolProcedures,
  storageVolumeProcedures,
  hostCpuAndDomainCapsProcedures,
  // the host's libvirt drivers, forwarded (forward-common.ts)
  forwardedNetworkProcedures,
  forwardedNodeDeviceProcedures,
  forwardedNWFilterProcedures,
  forwardedSecretProcedures,
  forwardedInterfaceProcedures,
];

/** `${program}:${procedure}`: procedure numbers are only unique within a program. */
export type ProcKey = `${number}:${number}`;
export const procKey = (program: number, proc: number): ProcKey => `${program}:${proc}`;

export class ProcedureRegistry {
  readonly procedures = new Map<ProcKey, Procedure>();
  /** program → the one version we speak */
  readonly programs = new Map<number, number>([
    [REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION],
    [QEMU_PROGRAM, QEMU_PROTOCOL_VERSION],
  ]);

  add(procs: readonly Procedure[]): this {
    for (const p of procs) {
      const k = procKey(p.program, p.proc);
      if (this.procedures.has(k)) throw new Error(`procedure ${k} (${p.name}) registered twice`);
      if (!this.programs.has(p.program)) throw new Error(`procedure ${p.name}: unknown program 0x${p.program.toString(16)}`);
      this.procedures.set(k, p);
    }
    return this;
  }

  get(program: number, proc: number): Procedure | undefined {
    return this.procedures.get(procKey(program, proc));
  }

  speaks(program: number, version: number): boolean {
    return this.programs.get(program) === version;
  }
}

export function defaultRegistry(): ProcedureRegistry {
  const r = new ProcedureRegistry();
  for (const area of AREAS) r.add(area);
  return r;
}

/**
 * libvirt names the public API function in VIR_ERR_NO_SUPPORT messages
 * (virReportUnsupportedError). For procedures we do not serve we only know
 * names of the common ones clients probe; the rest are named by number.
 */
const UNSUPPORTED_NAMES: Readonly<Record<number, string>> = {
  5: 'virConnectGetMaxVcpus',
  7: 'virConnectGetCapabilities',
  20: 'virDomainGetVcpus',
  102: 'virNodeGetFreeMemory',
  163: 'virDomainGetJobInfo',
  167: 'virConnectDomainEventRegisterAny',
  184: 'virDomainManagedSaveRemove',
  187: 'virDomainSnapshotNum',
  188: 'virDomainSnapshotListNames',
  200: 'virDomainGetVcpusFlags',
  202: 'virDomainIsUpdated',
  203: 'virConnectGetSysinfo',
  229: 'virDomainGetControlInfo',
  265: 'virDomainGetMetadata',
  274: 'virDomainListAllSnapshots',
  // secondary-driver events: the binding has no callbacks for them yet (docs/secondary-drivers.md)
  313: 'virConnectNetworkEventRegisterAny',
  342: 'virConnectGetDomainCapabilities',
  374: 'virConnectNodeDeviceEventRegisterAny',
  380: 'virConnectSecretEventRegisterAny',
  413: 'virDomainListAllCheckpoints',
};

export function unsupportedName(program: number, proc: number): string {
  if (program === REMOTE_PROGRAM) return UNSUPPORTED_NAMES[proc] ?? `remote procedure ${proc}`;
  if (program === QEMU_PROGRAM) return `qemu procedure ${proc}`;
  return `procedure ${proc} of program 0x${program.toString(16)}`;
}
