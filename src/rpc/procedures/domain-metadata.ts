/**
 * Title, description and `<metadata>` elements: `virsh desc`, `virsh
 * metadata`, `virsh list --title`, python's setMetadata()/metadata(). The
 * semantics (which definition, our own namespace, events) are the driver's.
 */
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import * as x from '../xdr.js';
import { proc, resolveDomain, type Procedure } from './types.js';

const R = REMOTE_PROGRAM;
const optionalString = x.optional(x.string());

export const domainMetadataProcedures: Procedure[] = [
  proc({
    program: R, proc: 264, name: 'DOMAIN_SET_METADATA', api: 'virDomainSetMetadata',
    args: x.struct({ dom: nonnullDomain, type: x.int, metadata: optionalString, key: optionalString, uri: optionalString, flags: x.uint }),
    ret: x.none,
    readOnlySafe: false,
    handler: (ctx, { dom, type, metadata, key, uri, flags }) =>
      ctx.driver.setMetadata(resolveDomain(ctx, dom), { type, value: metadata, key, uri, flags }),
  }),
  proc({
    program: R, proc: 265, name: 'DOMAIN_GET_METADATA', api: 'virDomainGetMetadata',
    args: x.struct({ dom: nonnullDomain, type: x.int, uri: optionalString, flags: x.uint }),
    ret: x.struct({ metadata: x.string() }),
    readOnlySafe: true,
    handler: (ctx, { dom, type, uri, flags }) => ({ metadata: ctx.driver.getMetadata(resolveDomain(ctx, dom), type, uri, flags) }),
  }),
];
