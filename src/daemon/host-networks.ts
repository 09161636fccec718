/**
 * The host's network driver as the domain driver uses it for `<interface type='network'>`
 * (driver/networks.ts): one connection of the daemon's own to the network URI secondary-driver
 * calls use (secondary-drivers.ts), opened on first use and again after the host's daemon went
 * away, as libvirt's QEMU driver opens one (virGetConnectNetwork) when a guest needs a port.
 */
import { randomUUID } from 'node:crypto';
import type { Connection } from '../libvirt/connection.js';
import { connect } from '../libvirt/connection.js';
import { LibvirtError } from '../libvirt/errors.js';
import '../libvirt/network.js';
import type { NetworkPlug, NetworkPortRequest, NetworkPorts } from '../driver/networks.js';
import { foreign } from '../rpc/procedures/forward-common.js';
import { secondaryUriFor, type SecondaryUris } from './secondary-drivers.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');
const unesc = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');

/** The port definition libvirt's virDomainNetDefToNetworkPort writes: a new uuid, the owner, the MAC. */
export function networkPortXml(req: NetworkPortRequest, uuid: string = randomUUID()): string {
  return [
    '<networkport>',
    `  <uuid>${uuid}</uuid>`,
    `  <owner>\n    <name>${esc(req.owner.name)}</name>\n    <uuid>${req.owner.uuid}</uuid>\n  </owner>`,
    ...(req.portgroup !== undefined ? [`  <group>${esc(req.portgroup)}</group>`] : []),
    `  <mac address='${req.mac}'/>`,
    '</networkport>',
  ].join('\n');
}

/** `<plug type=… bridge=… macTableManager=…/>` of a port's XML (virNetworkPortDefFormat). */
export function plugOf(portid: string, xml: string): NetworkPlug {
  const plug = /<plug\b([^>]*?)\/?>/.exec(xml);
  const attrs = new Map<string, string>();
  for (const m of (plug?.[1] ?? '').matchAll(/([A-Za-z]+)='([^']*)'/g)) attrs.set(m[1]!, unesc(m[2]!));
  const bridge = attrs.get('bridge');
  const mtm = attrs.get('macTableManager');
  return { portid, type: attrs.get('type') ?? 'none', ...(bridge !== undefined && { bridge }), ...(mtm !== undefined && { macTableManager: mtm }) };
}

/** The ports, and close() for the daemon's stop (the connection is the daemon's own). */
export function hostNetworkPorts(configured: SecondaryUris, uid = process.getuid?.() ?? 0): NetworkPorts & { close(): void } {
  let conn: Connection | undefined;
  const host = (): Connection => {
    if (conn && conn.isAlive()) return conn;
    conn?.close();
    conn = undefined;
    const uri = secondaryUriFor('network', false, configured, uid);
    if (uri === undefined) throw new Error('no network URI');
    conn = connect(uri);
    return conn;
  };
  return {
    allocate(req) {
      try {
        using net = host().lookupNetworkByName(req.network);
        using port = net.createPort(networkPortXml(req));
        return plugOf(port.uuid, port.xml());
      } catch (e) {
        throw foreign(e);
      }
    },
    release(network, portid) {
      try {
        using net = host().lookupNetworkByName(network);
        using port = net.lookupPort(portid);
        port.delete();
      } catch (e) {
        // gone with its network (undefined, destroyed) or already released: nothing to give back
        if (e instanceof LibvirtError && (e.code === 'VIR_ERR_NO_NETWORK' || e.code === 'VIR_ERR_NO_NETWORK_PORT')) return;
        throw foreign(e);
      }
    },
    close() {
      conn?.close();
      conn = undefined;
    },
  };
}
