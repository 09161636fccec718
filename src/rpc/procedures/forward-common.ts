/**
 * Secondary drivers forwarded, as libvirt's hypervisor daemons do in modular mode
 * (remote_daemon_dispatch.c, remoteOpenConn): a client's network, node device, nwfilter, secret
 * and interface calls go to the host's libvirt through one connection per client and driver,
 * opened on the first such call with the client's read-only flag and closed when the client goes.
 * Which URI each driver uses is the daemon's business (the opener it wires in); the procedures
 * only translate the wire to the binding and back, and pass the host daemon's errors unchanged.
 */
import { ForeignLibvirtError, MpvirtError } from '../../errors.js';
import type { Connection } from '../../libvirt/connection.js';
import { LibvirtError } from '../../libvirt/errors.js';
import { REMOTE_PROGRAM } from '../protocol.js';
import type * as x from '../xdr.js';
import { proc, type CallContext, type Procedure } from './types.js';

export type SecondaryKind = 'network' | 'nodedev' | 'nwfilter' | 'secret' | 'interface';

/** What the daemon wires in: a connection to the host's driver of one kind (libvirt's remoteOpenConn). */
export interface SecondaryDriverOpener {
  /** throws the binding's LibvirtError when the host's daemon cannot be reached */
  open(kind: SecondaryKind, readOnly: boolean): Connection;
}

/** The host's error, unchanged (code, domain, text), for the client. */
export function foreign(e: unknown): unknown {
  if (!(e instanceof LibvirtError)) return e;
  return new ForeignLibvirtError(e.number, e.domain, e.message, { level: e.level, str1: e.str1, str2: e.str2, str3: e.str3, int1: e.int1, int2: e.int2 });
}

const SLOT = Symbol('secondary driver connections');

/** This client's connection to the host's driver of `kind`, opened on first use. */
export function hostOf(ctx: CallContext, kind: SecondaryKind, api: string): Connection {
  const opener = ctx.secondary;
  if (!opener) throw new MpvirtError('VIR_ERR_NO_SUPPORT', api);
  const conns = ctx.conn.slot(SLOT, () => {
    const m = new Map<SecondaryKind, Connection>();
    ctx.conn.onClose(() => {
      for (const c of m.values()) c.close();
      m.clear();
    });
    return m;
  });
  const held = conns.get(kind);
  // libvirt keeps a dead one (every call then fails); a host daemon restarted is reached again
  if (held && held.isAlive()) return held;
  held?.close();
  conns.delete(kind);
  let c: Connection;
  try {
    c = opener.open(kind, ctx.conn.readOnly);
  } catch (e) {
    throw foreign(e);
  }
  conns.set(kind, c);
  return c;
}

/**
 * One forwarded procedure: `fn` gets the host connection of `kind`; whatever the host's libvirt
 * throws goes to the client as it said it.
 */
export function forward<A, R>(kind: SecondaryKind, num: number, name: string, api: string, args: x.Codec<A>, ret: x.Codec<R>, readOnlySafe: boolean, fn: (c: Connection, a: A) => R): Procedure {
  return proc({
    program: REMOTE_PROGRAM, proc: num, name, api, args, ret, readOnlySafe,
    handler: (ctx, a) => {
      const c = hostOf(ctx, kind, api);
      try {
        return fn(c, a);
      } catch (e) {
        throw foreign(e);
      }
    },
  });
}

/** libvirt's REMOTE_*_LIST_MAX check of a legacy list call's maxnames. */
export function checkMax(max: number, limit: number, what: string): void {
  if (max < 0 || max > limit) throw new MpvirtError('VIR_ERR_RPC', `maxnames > ${what}`);
}
