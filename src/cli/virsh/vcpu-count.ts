/**
 * What virsh's vCPU commands share (tools/virsh-domain.c): virshNodeGetCPUCount (the host's CPU
 * count, virNodeGetCPUMap then virNodeGetInfo), and virshCPUCountCollect, which tries
 * virDomainGetVcpusFlags, then the older APIs, then the inactive XML, exactly as virsh does.
 */
import '../../libvirt/connection-host.js';
import '../../libvirt/domain-vcpus.js';
import type { Domain } from '../../libvirt/domain.js';
import { LibvirtError } from '../../libvirt/errors.js';
import { VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { attr, child, parseXml, text, xpathInt } from './xml-read.js';

export const AFFECT_LIVE = 1;
export const AFFECT_CONFIG = 2;
export const VCPU_MAXIMUM = 4;
export const VCPU_GUEST = 8;

/** virshNodeGetCPUCount: virNodeGetCPUMap's count, else virNodeGetInfo's VIR_NODEINFO_MAXCPUS. */
export function hostCpuCount(ctl: Ctl): number | undefined {
  const conn = ctl.connected!;
  try {
    return conn.nodeCpuMap(false).cpus;
  } catch (e) {
    if (!(e instanceof LibvirtError)) throw e;
  }
  const info = attempt(ctl, undefined, () => conn.nodeInfo());
  return info ? info.nodes * info.sockets * info.cores * info.threads : undefined;
}

/** The inactive XML's root, or a VshError as virshDomainGetXMLFromDom reports it. */
export function inactiveXml(ctl: Ctl, dom: Domain): ReturnType<typeof parseXml> & object {
  const xml = attempt(ctl, undefined, () => dom.xml(2));
  if (xml === undefined) throw new VshError('Failed to get domain description xml');
  const doc = parseXml(xml);
  if (!doc) throw new VshError('Failed to parse domain description xml');
  return doc;
}

/**
 * virshCPUCountCollect: the count, 'n/a' (-1: live of an inactive or config of a transient domain
 * when `checkState`), or 'failed' (-2, the error left in ctl.lastError or already printed).
 */
export function cpuCountCollect(ctl: Ctl, dom: Domain, flags: number, checkState: boolean): number | 'n/a' | 'failed' {
  const yes = (f: () => boolean): boolean => attempt(ctl, undefined, f) === true; // virDomainIs*() < 1: no (or failed)
  if (checkState && ((flags & AFFECT_LIVE && !yes(() => dom.isActive())) || (flags & AFFECT_CONFIG && !yes(() => dom.isPersistent())))) return 'n/a';
  try {
    return dom.vcpusFlags(flags);
  } catch (e) {
    if (!(e instanceof LibvirtError)) throw e;
    ctl.lastError = e;
    if (e.code !== 'VIR_ERR_NO_SUPPORT' && e.code !== 'VIR_ERR_INVALID_ARG') return 'failed';
  }
  if (flags & VCPU_GUEST) {
    ctl.error('Failed to retrieve vCPU count from the guest');
    return 'failed';
  }
  if (!(flags & (AFFECT_LIVE | AFFECT_CONFIG)) && attempt(ctl, undefined, () => dom.isActive()) === true) flags |= AFFECT_LIVE;
  ctl.lastError = undefined;
  if (flags & AFFECT_LIVE) {
    if (flags & VCPU_MAXIMUM) return attempt(ctl, undefined, () => dom.maxVcpus()) ?? 'n/a';
    const info = attempt(ctl, undefined, () => dom.info());
    return info ? info.vcpus : 'failed';
  }
  const root = inactiveXml(ctl, dom).documentElement!;
  const vcpu = root.localName === 'domain' ? child(root, 'vcpu') : undefined;
  const count = xpathInt(flags & VCPU_MAXIMUM ? text(vcpu) : attr(vcpu, 'current') ?? '');
  if (count === undefined) {
    ctl.error(flags & VCPU_MAXIMUM ? 'Failed to retrieve maximum vcpu count' : 'Failed to retrieve current vcpu count');
    return 'failed';
  }
  return count;
}
