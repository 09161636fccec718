/**
 * virDomainOpenGraphicsFD (libvirt's qemuDomainOpenGraphicsFD): a connected socket to the guest's
 * VNC or SPICE server, without a TCP port. The daemon makes a socketpair, hands one end to the main
 * QEMU (`getfd` + `add_client`, which attaches it to the display as a client) and returns the
 * other to the caller, which passes it to the client over the RPC socket (REPLY_WITH_FDS).
 * virt-manager opens a local domain's graphical console this way, and only this way.
 */
import { checkFlags, MpvirtError } from '../errors.js';
import { closeFd, socketpair } from '../emulator/unixfd.js';
import type { DriverCore } from './core.js';
import type { DomainObject } from './domain-object.js';
import { runJob } from './domain-job.js';
import { notRunning } from './stop.js';

/** virDomainOpenGraphicsFlags */
export const OpenGraphicsFlags = { SKIPAUTH: 1 } as const;

/** The daemon's end of a new display client; the caller owns (and closes) it. */
export function openGraphicsFd(core: DriverCore, obj: DomainObject, idx: number, flags: number): Promise<number> {
  checkFlags(flags, OpenGraphicsFlags.SKIPAUTH, 'qemuDomainOpenGraphicsFD');
  if (!obj.active || !obj.runtime) throw notRunning();
  return runJob(core, obj, 'remoteDispatchDomainOpenGraphicsFd', async () => {
    const rt = obj.runtime;
    if (!obj.active || !rt) throw notRunning();
    const graphics = (obj.liveDef ?? obj.def).devices.filter((d) => d.kind === 'graphics');
    const g = graphics[idx];
    if (!g) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `No graphics backend with index ${idx}`, { domain: 'QEMU' });
    if (g.type !== 'vnc' && g.type !== 'spice') {
      throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `Can only open VNC or SPICE graphics backends, not ${g.type}`, { domain: 'QEMU' });
    }
    const [ours, theirs] = socketpair();
    try {
      // qemuMonitorOpenGraphics: the fd under a name, then the display takes it as a client
      await rt.main.qmp.execute('getfd', { fdname: 'graphicsfd' }, { fds: [theirs] });
      try {
        await rt.main.qmp.execute('add_client', { protocol: g.type, fdname: 'graphicsfd', skipauth: (flags & OpenGraphicsFlags.SKIPAUTH) !== 0 });
      } catch (e) {
        await rt.main.qmp.execute('closefd', { fdname: 'graphicsfd' }).catch(() => {});
        throw e;
      }
    } catch (e) {
      closeFd(ours);
      throw e;
    } finally {
      closeFd(theirs);
    }
    return ours;
  });
}
