/**
 * What a procedure area sees: the procedure record, the per-call context, and
 * the connection facilities (events, cleanup, per-connection storage). Areas
 * (connect.ts, domain-*.ts, events.ts, …) only depend on this file, the codecs
 * and the driver's public methods, so new areas can be added without touching
 * the server core.
 */
import { MpvirtError } from '../../errors.js';
import type { Logger } from '../../driver/core.js';
import type { DomainObject } from '../../driver/domain-object.js';
import type { QemuDriver } from '../../driver/driver.js';
import type { StorageDriver } from '../../storage/storage-driver.js';
import type { SecondaryDriverOpener } from './forward-common.js';
import type { StreamHandlers, StreamOutput } from '../stream.js';
import { bytesToUuid, type WireDomain } from '../protocol.js';
import type { Codec } from '../xdr.js';

/** The driver methods the RPC layer calls (and nothing else of the driver). */
export type RpcDriver = Pick<
  QemuDriver,
  | 'events'
  | 'lookupByName'
  | 'lookupByUuid'
  | 'lookupById'
  | 'listDomains'
  | 'getXMLDesc'
  | 'getInfo'
  | 'getOSType'
  | 'hypervisorVersion'
  | 'defineXML'
  | 'createXML'
  | 'start'
  | 'destroy'
  | 'undefine'
  | 'shutdown'
  | 'reboot'
  | 'reset'
  | 'suspend'
  | 'resume'
  | 'setAutostart'
  | 'qemuMonitorCommand'
  | 'domxmlToNative'
  | 'getCapabilities'
  | 'getMaxVcpus'
  | 'setMetadata'
  | 'getMetadata'
  | 'updateDeviceFlags'
  | 'domxmlFromNative'
  | 'attachDeviceFlags'
  | 'detachDeviceFlags'
  | 'blockInfo'
  | 'openConsole'
  | 'openGraphicsFd'
  | 'getDomainCapabilities'
  | 'getCpuModelNames'
  | 'compareCpu'
  | 'baselineCpu'
  | 'compareHypervisorCpu'
  | 'baselineHypervisorCpu'
  | 'allDomainStats'
  | 'blockStats'
  | 'memoryStats'
  | 'interfaceStats'
  | 'getVcpus'
  | 'setMemory'
  | 'setVcpus'
  | 'setMemoryStatsPeriod'
  | 'sendKey'
  | 'rename'
  | 'screenshot'
  | 'pinVcpu'
  | 'pinEmulator'
>;

/** The connection as procedures see it. */
export interface RpcConnection {
  readonly id: number;
  /** true once CONNECT_OPEN succeeded */
  readonly opened: boolean;
  /** read-only socket, or CONNECT_OPEN with VIR_CONNECT_RO */
  readonly readOnly: boolean;
  /** the name the client opened, e.g. `mpqemu:///system` */
  readonly uri: string | undefined;
  /** CONNECT_OPEN succeeded: from now on every procedure is allowed */
  markOpen(uri: string, readOnly: boolean): void;
  /** SUPPORTS_FEATURE(PROGRAM_KEEPALIVE) was asked: the client answers our PINGs */
  enableKeepalive(): void;
  /** close the socket once the current reply is written (CONNECT_CLOSE) */
  closeAfterReply(): void;
  /** an async MESSAGE (event) on this connection: serial 0, status OK */
  sendMessage<T>(program: number, proc: number, codec: Codec<T>, body: T): void;
  /** runs when the connection goes away, however it goes; returns an unregister function */
  onClose(fn: () => void | Promise<void>): () => void;
  /** per-connection storage for an area, created on first use */
  slot<T>(key: symbol, init: () => T): T;
}

export interface CallContext {
  driver: RpcDriver;
  /** storage pools and volumes; absent: their procedures answer NO_SUPPORT */
  storage?: StorageDriver;
  /** the host's libvirt drivers the secondary-driver procedures forward to; absent: NO_SUPPORT */
  secondary?: SecondaryDriverOpener;
  /** a stream for this call (upload, download, console): it starts once the reply is out */
  openStream(handlers: StreamHandlers): StreamOutput;
  /**
   * fds the reply carries (REPLY_WITH_FDS, SCM_RIGHTS): the connection owns them from now on,
   * sends them right after the reply and closes its copies; if the call fails they are closed
   */
  passFds(fds: number[]): void;
  conn: RpcConnection;
  log: Logger;
}

export interface Procedure<A = unknown, R = unknown> {
  program: number;
  proc: number;
  /** the REMOTE_PROC_* name without its prefix, for logs */
  name: string;
  /** libvirt's public API function, as read-only and unsupported-flag errors name it */
  api: string;
  args: Codec<A>;
  ret: Codec<R>;
  /** allowed on a read-only connection */
  readOnlySafe: boolean;
  /** allowed before CONNECT_OPEN (the handshake) */
  beforeOpen?: boolean;
  handler(ctx: CallContext, args: A): R | Promise<R>;
}

/** Erases the type parameters once the handler and its codecs were checked together. */
export function proc<A, R>(p: Procedure<A, R>): Procedure {
  return p as unknown as Procedure;
}

// ------------------------------------------------------------------ helpers every area uses

/**
 * Handles are resolved by UUID: the name and id a client holds may be stale
 * (libvirt-rpc.md §9.5). libvirt's qemuDomainObjFromDomain wording.
 */
export function resolveDomain(ctx: CallContext, dom: WireDomain): DomainObject {
  const uuid = bytesToUuid(dom.uuid);
  try {
    return ctx.driver.lookupByUuid(uuid);
  } catch (e) {
    throw new MpvirtError('VIR_ERR_NO_DOMAIN', `no domain with matching uuid '${uuid}' (${dom.name})`, { domain: 'QEMU', cause: e });
  }
}

export { checkFlags } from '../../errors.js';

/** libvirt's virCheckReadOnlyGoto for checks that depend on arguments (e.g. a flag). */
export function denyOnReadOnly(ctx: CallContext, what: string): void {
  if (ctx.conn.readOnly) throw new MpvirtError('VIR_ERR_OPERATION_DENIED', what);
}
