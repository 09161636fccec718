/**
 * What the same-run comparisons with libvirt's own daemon leave out, and why: the parts of a
 * domain XML that differ by nature between two daemons on one host, and what libvirt adds that
 * mpvirt does not have yet (each named, so a test can print what it did not compare).
 */

/** mpvirtd's own additions: the isolation policy's placement and the alias it gives the HBA. */
export function withoutIsolation(xml: string): string {
  return xml
    .replace(/\n *<mpq:remote[\s\S]*?<\/mpq:remote>/, '')
    .replace(/\n *<metadata>\n *<\/metadata>/, '')
    .replace(/\n *<alias name='ua-scsi0'\/>/, '');
}

/** What libvirt has and mpvirt does not: DAC labels (mpvirt's ids are per process, on <mpq:process>: docs/security.md), the guest CPU libvirt reads back from QEMU after start. */
export const KNOWN_LIVE_DIFFERENCES: ReadonlyArray<readonly [string, RegExp]> = [
  ['<seclabel> DAC labels', /\n *<seclabel[^>]*\/>|\n *<seclabel[\s\S]*?<\/seclabel>/],
  ['<cpu> as QEMU expanded it', /\n *<cpu [^>]*\/>|\n *<cpu [\s\S]*?<\/cpu>/],
];

export const withoutKnownDifferences = (xml: string): string => KNOWN_LIVE_DIFFERENCES.reduce((x, [, re]) => x.replace(re, ''), xml);

/** A live XML without what differs by nature: domain id, pty numbers, display ports, the daemons' own socket directories. */
export function comparableLive(xml: string): string {
  const out = xml
    .replace(/<domain type='(\w+)' id='\d+'/, "<domain type='$1' id='N'")
    .replace(/\/dev\/pts\/\d+/g, '/dev/pts/N')
    .replace(/ port='59\d\d'/g, " port='PORT'")
    .replace(/(<source mode='bind' path=')[^']*\/(org\.qemu\.guest_agent\.0')/g, '$1DIR/$2')
    .replace(/ socket='[^']*\/((vnc|spice)\.sock)'/g, " socket='DIR/$1'");
  return withoutKnownDifferences(out);
}
