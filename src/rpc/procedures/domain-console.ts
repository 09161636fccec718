/**
 * DOMAIN_OPEN_CONSOLE (201): `virsh console` and virt-manager's serial console, a stream between
 * the client and the guest's pty. Guest output waits in a bounded backlog while the client reads
 * slowly, the oldest dropped beyond it, so a stalled client never stalls the guest or the daemon.
 * DOMAIN_OPEN_GRAPHICS_FD (343): virt-manager's graphical console, a socket to the guest's display
 * passed to the client with the reply.
 */
import { MpvirtError } from '../../errors.js';
import { nonnullDomain, REMOTE_PROGRAM } from '../protocol.js';
import type { StreamOutput } from '../stream.js';
import * as x from '../xdr.js';
import { proc, resolveDomain, type Procedure } from './types.js';

/** Guest output kept for a client that does not keep up. */
export const CONSOLE_BACKLOG_BYTES = 1024 * 1024;

export const domainConsoleProcedures: Procedure[] = [
  proc({
    program: REMOTE_PROGRAM, proc: 343, name: 'DOMAIN_OPEN_GRAPHICS_FD', api: 'virDomainOpenGraphicsFD',
    args: x.struct({ dom: nonnullDomain, idx: x.uint, flags: x.uint }), ret: x.none,
    readOnlySafe: false,
    handler: async (ctx, { dom, idx, flags }) => {
      ctx.passFds([await ctx.driver.openGraphicsFd(resolveDomain(ctx, dom), idx, flags)]);
    },
  }),
  proc({
    program: REMOTE_PROGRAM, proc: 201, name: 'DOMAIN_OPEN_CONSOLE', api: 'virDomainOpenConsole',
    args: x.struct({ dom: nonnullDomain, dev_name: x.optional(x.string()), flags: x.uint }), ret: x.none,
    readOnlySafe: false,
    handler: (ctx, { dom, dev_name, flags }) => {
      const session = ctx.driver.openConsole(resolveDomain(ctx, dom), dev_name, flags);
      let out: StreamOutput | undefined;
      let backlog: Buffer[] = [];
      let bytes = 0;
      let sending = false;
      let ended: MpvirtError | undefined;
      const pump = async (): Promise<void> => {
        if (sending || !out) return;
        sending = true;
        while (backlog.length > 0 && !out.closed) {
          const chunk = Buffer.concat(backlog);
          backlog = [];
          bytes = 0;
          await out.send(chunk);
        }
        sending = false;
        if (ended && !out.closed) {
          // the domain went away: end of data; a takeover: the stream fails with why
          if (ended.code === 'VIR_ERR_OPERATION_ABORTED') out.fail(ended);
          else out.end();
        }
      };
      session.onOutput((chunk) => {
        backlog.push(chunk);
        bytes += chunk.length;
        while (bytes > CONSOLE_BACKLOG_BYTES && backlog.length > 1) bytes -= backlog.shift()!.length;
        void pump();
      });
      session.onEnd((why) => {
        ended = why;
        void pump();
      });
      ctx.openStream({
        onStart: (o) => {
          out = o;
          void pump();
        },
        onData: (chunk) => session.write(chunk),
        onFinish: () => session.close(),
        onAbort: () => session.close(),
      });
    },
  }),
];
