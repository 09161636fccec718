/**
 * The unprivileged user and group ids QEMU processes run as (system mode): one id per process,
 * from a configured range (mpvirtd.conf `jail_ids`), like systemd's dynamic users — no account
 * needs to exist, and no two processes, of one domain or of two, share an id. So a remote process
 * cannot signal, ptrace or open anything of its main QEMU's, of another remote's or of another
 * domain's; what it needs the daemon opened for it. uid and gid are the same number; a main
 * QEMU of a KVM domain keeps the host's kvm group as its gid, for /dev/kvm.
 *
 * Held while the process runs, re-adopted from the status files after a daemon restart.
 */
import { readFileSync } from 'node:fs';
import { MpvirtError } from '../errors.js';

export interface Credentials { uid: number; gid: number }

/** Default range: far above login users and Debian's reserved ids (60000-64999), below 2^31. */
export const DEFAULT_JAIL_IDS: readonly [number, number] = [720000, 729999];

export class JailIds {
  private readonly held = new Map<number, string>();

  constructor(readonly first: number, readonly last: number) {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 1 || last < first || last > 0x7ffffffe) {
      throw new MpvirtError('VIR_ERR_CONF_SYNTAX', `jail_ids must be two ids [first, last] with 1 <= first <= last < 2^31, not [${first}, ${last}]`);
    }
  }

  /** `n` ids no running process holds, now held by `owner`. */
  take(owner: string, n: number): number[] {
    const out: number[] = [];
    for (let id = this.first; id <= this.last && out.length < n; id++) {
      if (this.held.has(id)) continue;
      this.held.set(id, owner);
      out.push(id);
    }
    if (out.length < n) {
      for (const id of out) this.held.delete(id);
      throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `no free jail ids left in ${this.first}-${this.last} for ${n} processes`);
    }
    return out;
  }

  adopt(owner: string, ids: readonly number[]): void {
    for (const id of ids) this.held.set(id, owner);
  }

  /** One id of `owner`'s back (a hot-unplugged remote's). */
  releaseId(owner: string, id: number): void {
    if (this.held.get(id) === owner) this.held.delete(id);
  }

  release(owner: string): void {
    for (const [id, o] of this.held) if (o === owner) this.held.delete(id);
  }
}

/** The host's kvm group (owner group of /dev/kvm), if it has one. */
export function kvmGroupId(groupFile = '/etc/group'): number | undefined {
  try {
    const line = readFileSync(groupFile, 'utf8').split('\n').find((l) => l.startsWith('kvm:'));
    const gid = line ? Number(line.split(':')[2]) : NaN;
    return Number.isInteger(gid) ? gid : undefined;
  } catch {
    return undefined;
  }
}
