/**
 * argv of one remote QEMU process (`-machine x-remote`): its controller, the
 * disks on that controller, the link object, its own monitor and sandbox.
 */
import { unsupportedConfig } from '../errors.js';
import type { ControllerDef, DiskDef, DomainDef, RemoteProcessDef } from '../domainxml/model.js';
import type { QemuCaps } from './caps.js';
import { diskArgs, driveAddress } from './device-argv.js';
import { ChildFds } from './child-fds.js';
import { isQemuId, jsonArg, optList } from './qemu-args.js';

/** Denies everything a device emulator never needs (QEMU's -sandbox, seccomp). */
export const SANDBOX_ARG = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

/** fd number of the link socket inside every remote process */
export const REMOTE_LINK_FD = 3;

/** The QMP monitor on a socket the daemon binds at `qmpPath` and hands over (libvirt's way). */
export function monitorArgs(qmpPath: string, fds: ChildFds): string[] {
  return [
    '-chardev', optList([['', 'socket'], ['id', 'charmonitor'], ['fd', fds.listen(qmpPath)], ['server', true], ['wait', false]]),
    '-mon', 'chardev=charmonitor,id=monitor,mode=control',
  ];
}

export interface RemoteArgs {
  argv: string[];
  fds: ChildFds;
  controller: ControllerDef;
  disks: DiskDef[];
}

/**
 * The remote's controller keeps its user alias as QEMU id, the same id the
 * main QEMU's x-pci-proxy-dev uses, so both sides name the device alike.
 */
export function remoteArgs(def: DomainDef, proc: RemoteProcessDef, caps: QemuCaps, qmpPath: string, diskNumbers: Map<DiskDef, number>): RemoteArgs {
  const alias = proc.devices[0]!;
  const controller = def.devices.find((d): d is ControllerDef => d.kind === 'controller' && d.alias === alias);
  if (!controller) throw unsupportedConfig(`remote process '${proc.rid}' names device '${alias}', which the domain does not define`);
  if (!isQemuId(alias)) throw unsupportedConfig(`alias '${alias}' cannot be used as a QEMU device id`);
  const index = controller.index ?? 0;
  const disks = def.devices.filter(
    (d): d is DiskDef => d.kind === 'disk' && d.target.bus === 'scsi' && driveAddress(d).controller === index,
  );
  // fd 3 is the link; the monitor socket and the images follow
  const fds = new ChildFds(REMOTE_LINK_FD + 1);
  const argv: string[] = [
    '-name', optList([['guest', `${def.name}-remote-${proc.rid}`], ['debug-threads', true]]),
    '-machine', 'x-remote',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    ...monitorArgs(qmpPath, fds),
  ];
  if ((proc.sandbox ?? 'on') === 'on') {
    if (!caps.sandbox) throw unsupportedConfig(`${caps.binary} has no -sandbox support; set <mpq:sandbox mode='off'/> for remote process '${proc.rid}'`);
    argv.push('-sandbox', SANDBOX_ARG);
  }
  argv.push('-device', jsonArg({ driver: 'lsi53c895a', id: alias }));
    // a restarted remote's proxy is unplugged first: with a write cache the guest's removal would wait
  // on a cache flush the dead remote never answers (replug.md §6)
  const writeCacheOff = proc.onCrash === 'restart';
  for (const disk of disks) argv.push(...diskArgs(def, disk, diskNumbers.get(disk)!, false, fds, { writeCacheOff }).argv);
  argv.push(
    '-object',
    jsonArg({ 'qom-type': 'x-remote-object', id: `mpvirt-robj-${proc.rid}`, devid: alias, fd: String(REMOTE_LINK_FD) }),
    ...fds.addFdArgs(),
    '-msg', 'timestamp=on',
  );
  return { argv, fds, controller, disks };
}
