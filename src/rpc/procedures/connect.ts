/**
 * The connection handshake and connection-level queries (libvirt-rpc.md §2):
 * AUTH_LIST, SUPPORTS_FEATURE, CONNECT_OPEN, close callbacks, CONNECT_CLOSE,
 * type/version/hostname/URI, plus domxml-to-native.
 */
import { hostname } from 'node:os';
import { MpvirtError } from '../../errors.js';
import { REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { checkFlags, proc, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;

/** virDrvFeature numbers we answer 1 for (src/libvirt_internal.h). */
export const Feature = { FD_PASSING: 8, PROGRAM_KEEPALIVE: 10, REMOTE_EVENT_CALLBACK: 14, REMOTE_CLOSE_CALLBACK: 15 } as const;
const SUPPORTED_FEATURES: ReadonlySet<number> = new Set(Object.values(Feature));

const VIR_CONNECT_RO = 1;

/**
 * The names we serve (interfaces.md §2). `qemu:///…` is accepted on our own
 * sockets because virtinst-based tools pick QEMU defaults only for that scheme.
 */
const ACCEPTED_URIS: ReadonlySet<string> = new Set(['mpqemu:///system', 'mpqemu:///session', 'qemu:///system', 'qemu:///session']);

/**
 * What libvirtd 9.0 reports for virConnectGetLibVersion. We speak its protocol
 * and implement its semantics at that level; clients such as virtinst compare
 * this number with libvirt releases to decide what the daemon supports, so
 * mpvirt's own version (0.1.0) would make them assume an ancient daemon.
 */
export const LIBVIRT_COMPAT_VERSION = 9_000_000n;

const openArgs = x.struct({ name: x.optional(x.string()), flags: x.uint });
const stringRet = x.string();

export const connectProcedures: Procedure[] = [
  proc({
    program: R, proc: 66, name: 'AUTH_LIST', api: 'virConnectOpenAuth',
    args: x.none, ret: x.struct({ types: x.array(x.int, 20) }),
    readOnlySafe: true, beforeOpen: true,
    // REMOTE_AUTH_NONE: a UNIX socket's permissions are the authentication
    handler: () => ({ types: [0] }),
  }),
  proc({
    program: R, proc: 60, name: 'CONNECT_SUPPORTS_FEATURE', api: 'virConnectSupportsFeature',
    args: x.struct({ feature: x.int }), ret: x.struct({ supported: x.int }),
    readOnlySafe: true, beforeOpen: true,
    handler: (ctx, { feature }) => {
      // libvirtd starts its own PINGs only for clients that asked: they are the ones that answer them
      if (feature === Feature.PROGRAM_KEEPALIVE) ctx.conn.enableKeepalive();
      return { supported: SUPPORTED_FEATURES.has(feature) ? 1 : 0 };
    },
  }),
  proc({
    program: R, proc: 1, name: 'CONNECT_OPEN', api: 'virConnectOpen',
    args: openArgs, ret: x.none,
    readOnlySafe: true, beforeOpen: true,
    handler: (ctx, { name, flags }) => {
      if (ctx.conn.opened) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'connection already open');
      // the client strips its transport parameters (socket=, mode=, …) but forwards unknown ones
      // "" is a client with no URI asking the daemon to probe (libvirtd picks its first driver):
      // plain `virsh` as root reaches us that way on the drop-in sockets
      const uri = name === null || name === '' ? 'mpqemu:///system' : name.replace(/\?.*$/s, '');
      if (!ACCEPTED_URIS.has(uri)) throw new MpvirtError('VIR_ERR_NO_CONNECT', name ?? '<null>', { domain: 'NONE' });
      ctx.conn.markOpen(uri, (flags & VIR_CONNECT_RO) !== 0);
    },
  }),
  proc({
    program: R, proc: 2, name: 'CONNECT_CLOSE', api: 'virConnectClose',
    args: x.none, ret: x.none,
    readOnlySafe: true, beforeOpen: true,
    handler: (ctx) => ctx.conn.closeAfterReply(),
  }),
  // The close callback fires when the connection breaks, which the client detects itself;
  // the server only has to accept the registration.
  proc({
    program: R, proc: 360, name: 'CONNECT_REGISTER_CLOSE_CALLBACK', api: 'virConnectRegisterCloseCallback',
    args: x.none, ret: x.none, readOnlySafe: true, handler: () => {},
  }),
  proc({
    program: R, proc: 361, name: 'CONNECT_UNREGISTER_CLOSE_CALLBACK', api: 'virConnectUnregisterCloseCallback',
    args: x.none, ret: x.none, readOnlySafe: true, handler: () => {},
  }),
  proc({
    program: R, proc: 3, name: 'CONNECT_GET_TYPE', api: 'virConnectGetType',
    args: x.none, ret: x.struct({ type: stringRet }), readOnlySafe: true,
    handler: () => ({ type: 'QEMU' }),
  }),
  proc({
    program: R, proc: 4, name: 'CONNECT_GET_VERSION', api: 'virConnectGetVersion',
    args: x.none, ret: x.struct({ hvVer: x.uhyper }), readOnlySafe: true,
    handler: async (ctx) => ({ hvVer: BigInt(await ctx.driver.hypervisorVersion()) }),
  }),
  proc({
    program: R, proc: 157, name: 'CONNECT_GET_LIB_VERSION', api: 'virConnectGetLibVersion',
    args: x.none, ret: x.struct({ libVer: x.uhyper }), readOnlySafe: true,
    handler: () => ({ libVer: LIBVIRT_COMPAT_VERSION }),
  }),
  proc({
    program: R, proc: 59, name: 'CONNECT_GET_HOSTNAME', api: 'virConnectGetHostname',
    args: x.none, ret: x.struct({ hostname: stringRet }), readOnlySafe: true,
    handler: () => ({ hostname: hostname() }),
  }),
  proc({
    program: R, proc: 110, name: 'CONNECT_GET_URI', api: 'virConnectGetURI',
    args: x.none, ret: x.struct({ uri: stringRet }), readOnlySafe: true,
    handler: (ctx) => ({ uri: ctx.conn.uri ?? 'mpqemu:///system' }),
  }),
  proc({
    program: R, proc: 149, name: 'CONNECT_IS_SECURE', api: 'virConnectIsSecure',
    // a UNIX socket never leaves the host
    args: x.none, ret: x.struct({ secure: x.int }), readOnlySafe: true,
    handler: () => ({ secure: 1 }),
  }),
  proc({
    program: R, proc: 135, name: 'CONNECT_DOMAIN_XML_FROM_NATIVE', api: 'virConnectDomainXMLFromNative',
    args: x.struct({ nativeFormat: x.string(), nativeConfig: x.string(), flags: x.uint }),
    ret: x.struct({ domainXml: x.string() }),
    readOnlySafe: false,
    handler: async (ctx, a) => {
      checkFlags(a.flags, 0, 'qemuConnectDomainXMLFromNative');
      if (a.nativeFormat !== 'qemu-argv') {
        throw new MpvirtError('VIR_ERR_INVALID_ARG', `unsupported config type ${a.nativeFormat}`);
      }
      return { domainXml: await ctx.driver.domxmlFromNative(a.nativeConfig) };
    },
  }),
  proc({
    program: R, proc: 136, name: 'CONNECT_DOMAIN_XML_TO_NATIVE', api: 'virConnectDomainXMLToNative',
    args: x.struct({ nativeFormat: x.string(), domainXml: x.string(), flags: x.uint }),
    ret: x.struct({ nativeConfig: x.string() }),
    readOnlySafe: false,
    handler: async (ctx, a) => {
      checkFlags(a.flags, 0, 'qemuConnectDomainXMLToNative');
      if (a.nativeFormat !== 'qemu-argv') {
        throw new MpvirtError('VIR_ERR_INVALID_ARG', `unsupported config type ${a.nativeFormat}`);
      }
      return { nativeConfig: await ctx.driver.domxmlToNative(a.domainXml) };
    },
  }),
];
