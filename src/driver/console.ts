/**
 * `virsh console` (libvirt's qemuDomainOpenConsole + virChrdev): the guest's pty serial port,
 * one session per device at a time (FORCE takes it over); it ends when QEMU goes (its pty with
 * it). The session reads the pty all the time,
 * so a client that does not read never stalls the guest's serial port: what it cannot take is
 * dropped, oldest first, beyond a bounded backlog.
 */
import { constants as fsc, openSync, closeSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';
import { checkFlags, MpvirtError } from '../errors.js';
import type { CharDeviceDef } from '../domainxml/model.js';
import type { DomainObject } from './domain-object.js';
import { notRunning } from './stop.js';

/** virDomainConsoleFlags */
export const ConsoleFlags = { FORCE: 1, SAFE: 2 } as const;

export interface ConsoleSession {
  /** guest output; called for every chunk the pty gives */
  onOutput(cb: (chunk: Buffer) => void): void;
  /** the session ended by itself: the domain stopped, or another client took it over */
  onEnd(cb: (why: MpvirtError) => void): void;
  /** keystrokes to the guest */
  write(chunk: Buffer): void;
  close(): void;
}

/** Open sessions by domain uuid and device alias (libvirt's per-domain chrdev hash). */
const sessions = new Map<string, { end(why: MpvirtError): void }>();

// libvirt reports these from its QEMU driver (VIR_FROM_QEMU), as virsh and python show
function pick(obj: DomainObject, devName: string | null): CharDeviceDef {
  const def = obj.liveDef ?? obj.def;
  const chars = def.devices.filter((d): d is CharDeviceDef => d.kind === 'serial' || d.kind === 'console');
  const consoles = chars.filter((d) => d.kind === 'console');
  const serials = chars.filter((d) => d.kind === 'serial');
  const dev = devName === null ? consoles[0] ?? serials[0] : chars.find((d) => d.alias === devName);
  if (!dev) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot find character device ${devName ?? '<null>'}`, { domain: 'QEMU' });
  if (dev.type !== 'pty') throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `character device ${dev.alias ?? devName ?? ''} is not using a PTY`, { domain: 'QEMU' });
  // a running serial port's pty is its <source path> (a console's also its tty=); a console on
  // serial port 0 is that port (libvirt's rule): its pty is the serial's
  const pty = (d: CharDeviceDef | undefined): string | undefined => d?.tty ?? d?.source?.fields.find(([k]) => k === 'path')?.[1];
  const tty = pty(dev) ?? (dev.kind === 'console' ? pty(serials.find((s) => (s.target?.port ?? 0) === 0)) : undefined);
  if (!tty) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `character device ${dev.alias ?? ''} has no pty yet`, { domain: 'QEMU' });
  return { ...dev, tty };
}

export function openConsole(obj: DomainObject, devName: string | null, flags: number): ConsoleSession {
  checkFlags(flags, ConsoleFlags.FORCE | ConsoleFlags.SAFE, 'virDomainOpenConsole');
  if (!obj.active || !obj.runtime) throw notRunning();
  const dev = pick(obj, devName);
  const key = `${obj.uuid}\0${dev.tty}`;
  const existing = sessions.get(key);
  if (existing) {
    if (!(flags & ConsoleFlags.FORCE)) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', 'Active console session exists for this domain', { domain: 'QEMU' });
    existing.end(new MpvirtError('VIR_ERR_OPERATION_ABORTED', 'console session taken over by another client'));
  }
  let readFd = -1;
  let writeFd = -1;
  try {
    readFd = openSync(dev.tty!, fsc.O_RDONLY | fsc.O_NOCTTY);
    writeFd = openSync(dev.tty!, fsc.O_WRONLY | fsc.O_NOCTTY);
  } catch (e) {
    for (const fd of [readFd, writeFd]) if (fd >= 0) closeSync(fd);
    throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `Unable to open tty ${dev.tty}: ${(e as Error).message}`, { cause: e });
  }
  const input = new ReadStream(readFd);
  const output = new WriteStream(writeFd);
  input.setRawMode(true);
  let outputCb: (chunk: Buffer) => void = () => {};
  let endCb: (why: MpvirtError) => void = () => {};
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    if (sessions.get(key) === entry) sessions.delete(key);
    input.destroy();
    output.destroy();
  };
  const end = (why: MpvirtError): void => {
    if (closed) return;
    close();
    endCb(why);
  };
  const entry = { end };
  sessions.set(key, entry);
  input.on('data', (b: Buffer | string) => outputCb(typeof b === 'string' ? Buffer.from(b) : b));
  // QEMU gone (domain stopped): its pty master closes and the slave reads EIO / end
  const gone = (): void => end(new MpvirtError('VIR_ERR_OPERATION_FAILED', 'domain is not running'));
  input.on('error', gone);
  input.on('end', gone);
  output.on('error', () => undefined);
  return {
    onOutput: (cb) => void (outputCb = cb),
    onEnd: (cb) => void (endCb = cb),
    write: (chunk) => void (closed || output.write(chunk)),
    close,
  };
}
