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

const devArgs = x.struct({ dom: nonnullDomain, xml: x.string() });
const devFlagArgs = x.struct({ dom: nonnullDomain, xml: x.string(), flags: x.uint });

export const domainDeviceProcedures: Procedure[] = [
  // virDomainAttachDevice / DetachDevice: the live domain (libvirt's AFFECT_LIVE)
  proc({
    program: R, proc: 8, name: 'DOMAIN_ATTACH_DEVICE', api: 'virDomainAttachDevice',
    args: devArgs, ret: x.none, readOnlySafe: false,
    handler: async (ctx, { dom, xml }) => ctx.driver.attachDeviceFlags(resolveDomain(ctx, dom), xml, Affect.LIVE),
  }),
  proc({
    program: R, proc: 13, name: 'DOMAIN_DETACH_DEVICE', api: 'virDomainDetachDevice',
    args: devArgs, ret: x.none, readOnlySafe: false,
    handler: async (ctx, { dom, xml }) => ctx.driver.detachDeviceFlags(resolveDomain(ctx, dom), xml, Affect.LIVE),
  }),
  proc({
    program: R, proc: 160, name: 'DOMAIN_ATTACH_DEVICE_FLAGS', api: 'virDomainAttachDeviceFlags',
    args: devFlagArgs, ret: x.none, readOnlySafe: false,
    handler: async (ctx, { dom, xml, flags }) => {
      checkFlags(flags, Affect.LIVE | Affect.CONFIG, 'qemuDomainAttachDeviceFlags');
      await ctx.driver.attachDeviceFlags(resolveDomain(ctx, dom), xml, flags);
    },
  }),
  proc({
    program: R, proc: 161, name: 'DOMAIN_DETACH_DEVICE_FLAGS', api: 'virDomainDetachDeviceFlags',
    args: devFlagArgs, ret: x.none, readOnlySafe: false,
    handler: async (ctx, { dom, xml, flags }) => {
      checkFlags(flags, Affect.LIVE | Affect.CONFIG, 'qemuDomainDetachDeviceFlags');
      await ctx.driver.detachDeviceFlags(resolveDomain(ctx, dom), xml, flags);
    },
  }),
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
