/**
 * What the host and the hypervisor offer: `virsh capabilities` (which
 * virt-install, virt-xml and virt-manager call on every connection and cannot
 * do without) and `virsh maxvcpus`. The XML itself is the driver's
 * (src/driver/capabilities.ts): this layer knows nothing of QEMU.
 *
 * Domain capabilities (342) and the CPU APIs are in host-cpu-and-domain-caps.ts.
 */
import { REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { proc, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;

export const capabilitiesProcedures: Procedure[] = [
  proc({
    program: R, proc: 7, name: 'CONNECT_GET_CAPABILITIES', api: 'virConnectGetCapabilities',
    args: x.none, ret: x.struct({ capabilities: x.string() }), readOnlySafe: true,
    handler: async (ctx) => ({ capabilities: await ctx.driver.getCapabilities() }),
  }),
  proc({
    program: R, proc: 5, name: 'CONNECT_GET_MAX_VCPUS', api: 'virConnectGetMaxVcpus',
    args: x.struct({ type: x.optional(x.string()) }), ret: x.struct({ maxVcpus: x.int }), readOnlySafe: true,
    handler: async (ctx, { type }) => ({ maxVcpus: await ctx.driver.getMaxVcpus(type) }),
  }),
];
