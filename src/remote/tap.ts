/**
 * Tap devices on host bridges for guest NICs, made by the daemon the way libvirt's
 * virNetDevTapCreateInBridgePort makes them (util/virnetdevtap.c): open /dev/net/tun, TUNSETIFF
 * (IFF_TAP|IFF_NO_PI, IFF_VNET_HDR for virtio/e1000e), give the tap the guest's MAC with the
 * first byte FE (so the bridge never takes it as its own and the kernel never sees the guest's
 * address on the host side), the bridge's MTU, join the bridge, bring it up. The fd goes to the
 * main QEMU; the tap is not persistent, so it vanishes with the last fd — when QEMU is gone.
 *
 * QEMU never gets the privilege: it runs jailed (own uid, seccomp, `spawn=deny`), so it could
 * neither create a tap nor run qemu-bridge-helper itself. An unprivileged daemon gets the fd from
 * the setuid qemu-bridge-helper, as libvirt's session mode does (qemuCreateInBridgePortWithHelper).
 *
 * Plain ioctls through koffi, no `ip` command. Layouts are Linux x86-64 (struct ifreq: 16-byte
 * name, then a 24-byte union).
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import koffi from 'koffi';
import { MpvirtError } from '../errors.js';
import { closeFd, receiveQueuedFd, socketpair, strerror } from '../emulator/unixfd.js';

const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const TUNGETIFF = 0x800454d2;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCGIFMTU = 0x8921;
const SIOCSIFMTU = 0x8922;
const SIOCSIFHWADDR = 0x8924;
const SIOCBRADDIF = 0x89a2;
const IFF_UP = 0x1;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
/** fail instead of attaching to an existing tap: how a generated name is claimed without a race */
const IFF_TUN_EXCL = 0x8000;
const ARPHRD_ETHER = 1;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const EBUSY = 16;
const IFNAMSIZ = 16;
const TUN_PATH = '/dev/net/tun';

/** libvirt's default (qemu.conf bridge_helper). */
export const BRIDGE_HELPER = '/usr/lib/qemu/qemu-bridge-helper';

interface Libc {
  ioctl: (fd: number, req: number, arg: Buffer | null) => number;
  socket: (domain: number, type: number, proto: number) => number;
  close: (fd: number) => number;
  ifNameToIndex: (name: string) => number;
}

let libc: Libc | undefined;

function lib(): Libc {
  if (libc) return libc;
  const l = koffi.load('libc.so.6');
  libc = {
    ioctl: l.func('int ioctl(int, unsigned long, void *)'),
    socket: l.func('int socket(int, int, int)'),
    close: l.func('int close(int)'),
    ifNameToIndex: l.func('unsigned int if_nametoindex(const char *)'),
  };
  return libc;
}

/** libvirt's virReportSystemError: the message, then the errno's text. */
const sysError = (what: string, errno: number): MpvirtError =>
  new MpvirtError('VIR_ERR_SYSTEM_ERROR', `${what}: ${strerror(errno)}`, { domain: 'NONE' });

/** A struct ifreq naming `name` (refused, in libvirt's words, when it does not fit). */
function ifreq(name: string): Buffer {
  const b = Buffer.alloc(40);
  const bytes = Buffer.from(name);
  if (bytes.length >= IFNAMSIZ) throw sysError(`Network interface name '${name}' is too long`, 34 /* ERANGE */);
  bytes.copy(b, 0);
  return b;
}

const ifreqName = (b: Buffer): string => b.subarray(0, IFNAMSIZ).toString('latin1').replace(/\0.*$/s, '');

/** One ioctl on a control socket (libvirt's virNetDevSetupControl); errno on failure, else 0. */
function controlIoctl(req: number, ifr: Buffer): number {
  const c = lib();
  const s = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return koffi.errno();
  try {
    return c.ioctl(s, req, ifr) < 0 ? koffi.errno() : 0;
  } finally {
    c.close(s);
  }
}

export function netDevExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/**
 * TUNSETIFF on a new fd of /dev/net/tun. A generated name (libvirt's vnetN, counted on from the
 * last one this daemon handed out and skipping names in use) is claimed with IFF_TUN_EXCL, so a
 * tap someone else made in between is never taken over.
 */
let lastVnet = -1;
function createTap(ifname: string | undefined, vnetHdr: boolean): { fd: number; ifname: string } {
  const flags = IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  for (let attempt = 0; ; attempt++) {
    const name = ifname ?? nextVnetName();
    const ifr = ifreq(name);
    ifr.writeUInt16LE(flags | (ifname === undefined ? IFF_TUN_EXCL : 0), 16);
    let fd: number;
    try {
      fd = openSync(TUN_PATH, constants.O_RDWR);
    } catch (e) {
      throw sysError(`Unable to open ${TUN_PATH}, is tun module loaded?`, Math.abs((e as NodeJS.ErrnoException).errno ?? 0));
    }
    if (lib().ioctl(fd, TUNSETIFF, ifr) === 0) return { fd, ifname: ifreqName(ifr) };
    const errno = koffi.errno();
    closeSync(fd);
    if (ifname === undefined && errno === EBUSY && attempt < 1000) continue;
    throw sysError(`Unable to create tap device ${name}`, errno);
  }
}

function nextVnetName(): string {
  // libvirt's virNetDevGenerateName: vnet0 … vnet99999999999, then around again
  for (let i = 0; i < 100_000; i++) {
    lastVnet = lastVnet >= 99_999_999_999 ? 0 : lastVnet + 1;
    const name = `vnet${lastVnet}`;
    if (!netDevExists(name)) return name;
  }
  throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'no free name for a tap device');
}

function getMtu(name: string): number {
  const ifr = ifreq(name);
  const errno = controlIoctl(SIOCGIFMTU, ifr);
  if (errno) throw sysError(`Cannot get interface MTU on '${name}'`, errno);
  return ifr.readInt32LE(16);
}

function setMtu(name: string, mtu: number): void {
  const ifr = ifreq(name);
  ifr.writeInt32LE(mtu, 16);
  const errno = controlIoctl(SIOCSIFMTU, ifr);
  if (errno) throw sysError(`Cannot set interface MTU on '${name}'`, errno);
}

function setMac(name: string, mac: readonly number[]): void {
  const ifr = ifreq(name);
  ifr.writeUInt16LE(ARPHRD_ETHER, 16);
  Buffer.from(mac).copy(ifr, 18);
  const errno = controlIoctl(SIOCSIFHWADDR, ifr);
  if (errno) throw sysError(`Cannot set interface MAC on '${name}'`, errno);
}

function addBridgePort(bridge: string, name: string): void {
  const index = lib().ifNameToIndex(name);
  if (index === 0) throw sysError(`Unable to get interface index for ${name}`, 19 /* ENODEV */);
  const ifr = ifreq(bridge);
  ifr.writeInt32LE(index, 16);
  const errno = controlIoctl(SIOCBRADDIF, ifr);
  if (errno) throw sysError(`Unable to add bridge ${bridge} port ${name}`, errno);
}

function setOnline(name: string): void {
  const ifr = ifreq(name);
  let errno = controlIoctl(SIOCGIFFLAGS, ifr);
  if (errno) throw sysError(`Cannot get interface flags on '${name}'`, errno);
  ifr.writeUInt16LE(ifr.readUInt16LE(16) | IFF_UP, 16);
  errno = controlIoctl(SIOCSIFFLAGS, ifr);
  if (errno) throw sysError(`Cannot set interface flags on '${name}'`, errno);
}

export interface BridgeTapRequest {
  bridge: string;
  /** the name to give it; absent: vnetN */
  ifname?: string;
  /** the guest's MAC, aa:bb:cc:dd:ee:ff */
  mac: string;
  vnetHdr: boolean;
}

export interface BridgeTap {
  /** the daemon's fd of the tap: it hands it to QEMU and closes it */
  fd: number;
  ifname: string;
}

/** A tap on `bridge`, up, as root (virNetDevTapCreateInBridgePort). */
export function createBridgeTap(req: BridgeTapRequest): BridgeTap {
  const tap = createTap(req.ifname, req.vnetHdr);
  try {
    const mac = req.mac.split(':').map((h) => parseInt(h, 16));
    mac[0] = mac[0] === 0xfe ? 0xfa : 0xfe;
    setMac(tap.ifname, mac);
    // the bridge's MTU first (virNetDevTapAttachBridge), so joining never lowers the bridge's:
    // and a bridge that does not exist is reported here, in libvirt's words
    setMtu(tap.ifname, getMtu(req.bridge));
    addBridgePort(req.bridge, tap.ifname);
    setOnline(tap.ifname);
    return tap;
  } catch (e) {
    closeSync(tap.fd); // not persistent: the tap goes with its only fd
    throw e;
  }
}

/** The name of the tap an fd is attached to (virNetDevTapGetName). */
export function tapName(fd: number): string {
  const ifr = Buffer.alloc(40);
  if (lib().ioctl(fd, TUNGETIFF, ifr) < 0) throw sysError('Unable to query tap interface name', koffi.errno());
  return ifreqName(ifr);
}

/**
 * Remove a tap that outlived its QEMU (virNetDevTapDelete): attach to it and drop persistence.
 * A tap still held by a process refuses the attach (EBUSY) and is left alone. Returns whether
 * it was one to remove.
 */
export function deleteTap(ifname: string): boolean {
  if (!netDevExists(ifname)) return false;
  const ifr = ifreq(ifname);
  ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI, 16);
  const fd = openSync(TUN_PATH, constants.O_RDWR);
  try {
    if (lib().ioctl(fd, TUNSETIFF, ifr) < 0) return false;
    lib().ioctl(fd, TUNSETPERSIST, null); // the value 0, not a pointer
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * A tap on `bridge` from the setuid qemu-bridge-helper, for an unprivileged daemon: the helper
 * checks /etc/qemu/bridge.conf (`allow BRIDGE`), makes the tap (tapN), joins and raises it and
 * sends its fd back over a socketpair. The daemon runs it, not QEMU, whose sandbox forbids
 * spawning anything.
 */
export async function helperBridgeTap(bridge: string, vnetHdr: boolean, helper = BRIDGE_HELPER): Promise<BridgeTap> {
  const [mine, theirs] = socketpair();
  const args = [...(vnetHdr ? ['--use-vnet'] : []), `--br=${bridge}`, '--fd=3'];
  const cmd = [helper, ...args].join(' ');
  try {
    const child = spawn(helper, args, { stdio: ['ignore', 'ignore', 'pipe', theirs] });
    closeFd(theirs);
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => { if (stderr.length < 4096) stderr += b.toString(); });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    }).catch((e: unknown) => {
      throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `'${helper}' is not a suitable bridge helper: ${(e as Error).message}`);
    });
    // the helper sends the fd before it exits; it waits in the socket
    const fd = receiveQueuedFd(mine);
    if (fd === undefined || code !== 0) {
      if (fd !== undefined) closeSync(fd);
      throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `${cmd}: failed to communicate with bridge helper: ${stderr.trim() ? `stderr=${stderr.trim()}` : `exit status ${code}`}`);
    }
    try {
      return { fd, ifname: tapName(fd) };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  } finally {
    closeFd(mine);
  }
}
