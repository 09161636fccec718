/**
 * MAC addresses of guest interfaces, as libvirt assigns them when it parses a definition
 * (virDomainNetGenerateMAC → virMacAddrGenerate): an interface without `<mac>` gets the QEMU/KVM
 * prefix 52:54:00 and three random bytes. Stored with the definition, so the guest keeps it at
 * every start and across a redefine of its own XML.
 *
 * libvirt draws blindly; here a drawn address is drawn again while it equals another interface's
 * address in the same domain, so two NICs of one guest never share one by chance (libvirt
 * accepts duplicates the XML names explicitly, and so does this).
 */
import { randomBytes } from 'node:crypto';
import type { DeviceDef } from '../model.js';

/** libvirt's default prefix (virDomainXMLOptionNew): KVM's, in the locally administered range. */
export const MAC_PREFIX = [0x52, 0x54, 0x00] as const;

/** Three random bytes per call; injectable so tests get fixed addresses. */
export type MacRandom = () => Uint8Array;

export const cryptoMacRandom: MacRandom = () => randomBytes(3);

const format = (bytes: readonly number[]): string => bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');

export function assignMacAddresses(devices: readonly DeviceDef[], random: MacRandom = cryptoMacRandom): DeviceDef[] {
  if (!devices.some((d) => d.kind === 'interface' && d.mac === undefined)) return [...devices];
  const taken = new Set(devices.flatMap((d) => (d.kind === 'interface' && d.mac !== undefined ? [d.mac] : [])));
  return devices.map((d) => {
    if (d.kind !== 'interface' || d.mac !== undefined) return d;
    let mac: string;
    // 2^24 addresses against a handful of NICs: the loop ends at once in practice
    do {
      const r = random();
      mac = format([...MAC_PREFIX, r[0] ?? 0, r[1] ?? 0, r[2] ?? 0]);
    } while (taken.has(mac));
    taken.add(mac);
    return { ...d, mac };
  });
}
