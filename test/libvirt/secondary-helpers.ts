/** What the secondary-driver binding tests import: the package's entry points plus the release counters. */
import { releaseCounts } from '../../src/libvirt/object.js';
export { connect, LibvirtError } from '../../src/libvirt/index.js';

export function releaseCountsForTests(): { explicit: number; finalizer: number } {
  return { ...releaseCounts };
}
