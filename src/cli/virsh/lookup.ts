/**
 * virsh's object lookups (tools/virsh-util.c virshLookupDomainInternal): a `<domain>` argument
 * tried as an id, then as a UUID, then as a name; a miss is virsh's single line `failed to get
 * domain 'X'` (the lookup's own libvirt error is dropped, as virsh drops it).
 */
import type { Domain } from '../../libvirt/domain.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { ParsedCommand } from '../vsh/command-def.js';
import { optString, VshError } from '../vsh/options.js';
import type { Ctl } from './ctl.js';

export const BY_ID = 1;
export const BY_UUID = 2;
export const BY_NAME = 4;
export const BY_ANY = BY_ID | BY_UUID | BY_NAME;

/** virStrToLong_i with no end pointer: optional blanks and sign, digits, nothing after. */
export function strictInt(text: string): number | undefined {
  if (!/^\s*[-+]?\d+$/.test(text)) return undefined;
  const v = Number(text);
  return v >= -(2 ** 31) && v < 2 ** 31 ? v : undefined;
}

function tryLookup(fn: () => Domain): Domain | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LibvirtError) return undefined;
    throw e;
  }
}

export function lookupDomain(ctl: Ctl, name: string, by = BY_ANY): Domain {
  const conn = ctl.connected!;
  let dom: Domain | undefined;
  const id = strictInt(name);
  if (by & BY_ID && id !== undefined && id >= 0) dom = tryLookup(() => conn.lookupDomainByID(id));
  if (!dom && by & BY_UUID && Buffer.byteLength(name) === 36) dom = tryLookup(() => conn.lookupDomainByUUID(name));
  if (!dom && by & BY_NAME) dom = tryLookup(() => conn.lookupDomainByName(name));
  if (!dom) throw new VshError(`failed to get domain '${name}'`);
  return dom;
}

/** virshCommandOptDomainBy: the command's `--domain`. */
export function optDomain(ctl: Ctl, cmd: ParsedCommand, by = BY_ANY): { dom: Domain; name: string } {
  const name = optString(cmd, 'domain')!;
  return { dom: lookupDomain(ctl, name, by), name };
}
