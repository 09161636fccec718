/**
 * The secret procedures (remote_protocol.x: virsh secret-*), forwarded to the host's secret
 * driver (forward-common.ts). A value never crosses a read-only connection: the procedure is
 * refused by the server (read-only access prevents virSecretGetValue) and the host connection
 * of a read-only client is itself opened read-only.
 */
import type { Connection } from '../../libvirt/connection.js';
import type { Secret } from '../../libvirt/secret.js';
import '../../libvirt/secret.js';
import { bytesToUuid, uuidToBytes } from '../protocol.js';
import * as x from '../xdr.js';
import { checkMax, forward } from './forward-common.js';
import type { Procedure } from './types.js';

const LIST_MAX = 16384; // REMOTE_SECRET_LIST_MAX
const VALUE_MAX = 65536; // REMOTE_SECRET_VALUE_MAX

const nonnullSecret = x.struct({ uuid: x.fixedOpaque(16), usageType: x.int, usageID: x.string() });
type WireSecret = x.Infer<typeof nonnullSecret>;
const secretRet = x.struct({ secret: nonnullSecret });
const secretArg = x.struct({ secret: nonnullSecret });

const toWire = (s: Secret): WireSecret => ({ uuid: uuidToBytes(s.uuid), usageType: s.usageType, usageID: s.usageID ?? '' });

const ret = (s: Secret): { secret: WireSecret } => {
  try {
    return { secret: toWire(s) };
  } finally {
    s.free();
  }
};

function onSecret<T>(c: Connection, w: WireSecret, fn: (s: Secret) => T): T {
  using s = c.lookupSecretByUUID(bytesToUuid(w.uuid));
  return fn(s);
}

function uuids(c: Connection): string[] {
  return c.listAllSecrets().map((s) => {
    const u = s.uuid;
    s.free();
    return u;
  });
}

const S = 'secret' as const;

export const forwardedSecretProcedures: Procedure[] = [
  forward(S, 139, 'CONNECT_NUM_OF_SECRETS', 'virConnectNumOfSecrets', x.none, x.struct({ num: x.int }), true, (c) => ({ num: uuids(c).length })),
  forward(S, 140, 'CONNECT_LIST_SECRETS', 'virConnectListSecrets', x.struct({ maxuuids: x.int }), x.struct({ uuids: x.array(x.string(), LIST_MAX) }), true, (c, a) => {
    checkMax(a.maxuuids, LIST_MAX, 'REMOTE_SECRET_LIST_MAX');
    return { uuids: uuids(c).slice(0, a.maxuuids) };
  }),
  forward(S, 287, 'CONNECT_LIST_ALL_SECRETS', 'virConnectListAllSecrets', x.struct({ need_results: x.int, flags: x.uint }),
    x.struct({ secrets: x.array(nonnullSecret, LIST_MAX), ret: x.uint }), true, (c, a) => {
      const all = c.listAllSecrets(a.flags);
      const secrets = a.need_results ? all.map(toWire) : [];
      for (const s of all) s.free();
      return { secrets, ret: all.length };
    }),
  forward(S, 141, 'SECRET_LOOKUP_BY_UUID', 'virSecretLookupByUUID', x.struct({ uuid: x.fixedOpaque(16) }), secretRet, true, (c, a) => ret(c.lookupSecretByUUID(bytesToUuid(a.uuid)))),
  forward(S, 147, 'SECRET_LOOKUP_BY_USAGE', 'virSecretLookupByUsage', x.struct({ usageType: x.int, usageID: x.string() }), secretRet, true,
    (c, a) => ret(c.lookupSecretByUsage(a.usageType, a.usageID))),
  forward(S, 142, 'SECRET_DEFINE_XML', 'virSecretDefineXML', x.struct({ xml: x.string(), flags: x.uint }), secretRet, false, (c, a) => ret(c.defineSecret(a.xml, a.flags))),
  forward(S, 143, 'SECRET_GET_XML_DESC', 'virSecretGetXMLDesc', x.struct({ secret: nonnullSecret, flags: x.uint }), x.struct({ xml: x.string() }), true,
    (c, a) => onSecret(c, a.secret, (s) => ({ xml: s.xml(a.flags) }))),
  forward(S, 144, 'SECRET_SET_VALUE', 'virSecretSetValue', x.struct({ secret: nonnullSecret, value: x.opaque(VALUE_MAX), flags: x.uint }), x.none, false,
    (c, a) => onSecret(c, a.secret, (s) => s.setValue(Buffer.from(a.value), a.flags))),
  forward(S, 145, 'SECRET_GET_VALUE', 'virSecretGetValue', x.struct({ secret: nonnullSecret, flags: x.uint }), x.struct({ value: x.opaque(VALUE_MAX) }), false,
    (c, a) => onSecret(c, a.secret, (s) => ({ value: s.value(a.flags) }))),
  forward(S, 146, 'SECRET_UNDEFINE', 'virSecretUndefine', secretArg, x.none, false, (c, a) => onSecret(c, a.secret, (s) => s.undefine())),
];
