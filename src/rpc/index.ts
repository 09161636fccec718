/**
 * The libvirt wire-protocol server: what the daemon (and tests) start.
 * Procedure areas live in procedures/; see procedures/index.ts to add one.
 */
export { startRpcServer, type RpcServer, type RpcServerOptions } from './server.js';
export { defaultRegistry, ProcedureRegistry, procKey, type ProcKey } from './procedures/index.js';
export type { CallContext, Procedure, RpcConnection, RpcDriver } from './procedures/types.js';
export { XdrDecodeError, XdrEncodeError } from './xdr.js';
