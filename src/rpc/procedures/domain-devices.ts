/**
 * A running guest's devices: `virsh change-media` / `update-device` (removable media, live and
 * persistent) and `virsh domblkinfo`. What changes and how is the driver's.
 */
import { Affect } from '../../driver/affect.js';
import { MODIFY_FORCE } from '../../driver/media.js';
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { checkFlags, proc, resolveDomain, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;

export const domainDeviceProcedures: Procedure[] = [
  proc({
    program: R, proc: 174, name: 'DOMAIN_UPDATE_DEVICE_FLAGS', api: 'virDomainUpdateDeviceFlags',
    args: x.struct({ dom: nonnullDomain, xml: x.string(), flags: x.uint }),
    ret: x.none,
    readOnlySafe: false,
    handler: async (ctx, { dom, xml, flags }) => {
      checkFlags(flags, Affect.LIVE | Affect.CONFIG | MODIFY_FORCE, 'qemuDomainUpdateDeviceFlags');
      await ctx.driver.updateDeviceFlags(resolveDomain(ctx, dom), xml, flags);
    },
  }),
  proc({
    program: R, proc: 194, name: 'DOMAIN_GET_BLOCK_INFO', api: 'virDomainGetBlockInfo',
    args: x.struct({ dom: nonnullDomain, path: x.string(), flags: x.uint }),
    ret: x.struct({ allocation: x.uhyper, capacity: x.uhyper, physical: x.uhyper }),
    readOnlySafe: true,
    handler: (ctx, { dom, path, flags }) => {
      checkFlags(flags, 0, 'qemuDomainGetBlockInfo');
      return ctx.driver.blockInfo(resolveDomain(ctx, dom), path);
    },
  }),
];
