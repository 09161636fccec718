/**
 * The taps of a domain's bridge interfaces (libvirt's qemuInterfaceBridgeConnect), around the
 * main QEMU's spawn: made before it (by the daemon itself when it is root, else by the setuid
 * qemu-bridge-helper, as libvirt's privileged and session modes do), handed over as fds, the
 * daemon's copies closed right after, so a tap lives exactly as long as its QEMU; checked gone
 * again at stop.
 */
import { isGeneratedTapName } from '../domainxml/net.js';
import { tapNamesOf } from '../domainxml/index.js';
import type { DomainDef } from '../domainxml/model.js';
import type { PlannedTap } from '../emulator/child-fds.js';
import type { FdMapEntry } from '../emulator/process.js';
import { createBridgeTap, deleteTap, helperBridgeTap, netDevExists, type BridgeTap } from '../remote/tap.js';
import { closeSync } from 'node:fs';
import type { Logger } from './core.js';

export interface OpenedTaps {
  /** the fds at the child numbers the plan gave them */
  entries: FdMapEntry[];
  /** interface alias → tap name, for the live XML */
  names: Map<string, string>;
  /** close the daemon's copies (after the spawn, or when it failed) */
  close(): void;
}

const privileged = (): boolean => process.getuid?.() === 0;

/** Make every planned tap; on failure none is left. */
export async function openTaps(planned: readonly PlannedTap[]): Promise<OpenedTaps> {
  const made: Array<{ planned: PlannedTap; tap: BridgeTap }> = [];
  const close = (): void => {
    for (const m of made.splice(0)) closeSync(m.tap.fd);
  };
  try {
    for (const p of planned) {
      // the helper names its taps itself (tapN); libvirt's session mode has the same limit
      const tap = privileged()
        ? createBridgeTap({ bridge: p.bridge, mac: p.mac, vnetHdr: p.vnetHdr, ...(p.ifname !== undefined ? { ifname: p.ifname } : {}) })
        : await helperBridgeTap(p.bridge, p.vnetHdr);
      made.push({ planned: p, tap });
    }
  } catch (e) {
    close();
    throw e;
  }
  return {
    entries: made.map((m) => ({ childFd: m.planned.childFd, source: m.tap.fd })),
    names: new Map(made.map((m) => [m.planned.alias, m.tap.ifname])),
    close,
  };
}

/**
 * After the main QEMU is gone: its taps went with its fds. One that is still there after a
 * moment (something else held a copy) is removed if the daemon named it (vnetN); a tap the
 * definition named may be one the host keeps (persistent), which libvirt leaves alone too.
 */
export async function removeTaps(def: DomainDef | undefined, log: Logger, domain: string): Promise<void> {
  const names = def ? tapNamesOf(def) : [];
  if (names.length === 0) return;
  const deadline = Date.now() + 2000;
  let left = names.filter(netDevExists);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter(netDevExists);
  }
  for (const name of left) {
    if (!isGeneratedTapName(name) || !privileged()) continue;
    let removed = false;
    try {
      removed = deleteTap(name);
    } catch (e) {
      log.warn({ domain, tap: name, err: e }, 'cannot remove a tap left behind');
    }
    if (!removed) log.warn({ domain, tap: name }, 'a tap is still in use after its QEMU exited');
  }
}
