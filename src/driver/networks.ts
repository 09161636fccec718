/**
 * The driver's side of `<interface type='network'>`, as libvirt's QEMU driver resolves it at
 * start (virDomainNetAllocateActualDevice): a port on the host's network (virNetworkPortCreateXML,
 * which also requires the network to be active) whose plug names the bridge; the interface then
 * runs as a bridge interface on it, and the live XML shows `<source network=… portid=… bridge=…/>`
 * as libvirt 9.0's does. The port goes again at stop (virDomainNetReleaseActualDevice). Who talks
 * to the host's network driver is the daemon's business (the driver does not import the binding).
 */
import { ForeignLibvirtError, MpvirtError } from '../errors.js';
import type { DomainDef, InterfaceDef } from '../domainxml/model.js';
import type { Logger } from './core.js';

/** What the host's network driver said about a new port: its uuid and how it plugs in. */
export interface NetworkPlug {
  portid: string;
  /** the port's `<plug type=…>`: network (the network's own bridge), bridge (a host bridge), direct, hostdev-pci */
  type: string;
  bridge?: string;
  macTableManager?: string;
}

export interface NetworkPortRequest {
  network: string;
  portgroup?: string;
  mac: string;
  owner: { name: string; uuid: string };
}

/** The host's network driver as the domain driver needs it (wired by the daemon). */
export interface NetworkPorts {
  /** creates a port; throws the host's error (no network, not active, no network daemon) */
  allocate(req: NetworkPortRequest): NetworkPlug;
  /** deletes a port again; a network or port already gone is not an error */
  release(network: string, portid: string): void;
}

const ALTERNATIVES = "mpvirt runs <interface type='network'> on the network's bridge; otherwise use <interface type='bridge'><source bridge='BRIDGE'/></interface> with a bridge of the host, or <interface type='user'>";

const field = (nic: InterfaceDef, k: string): string | undefined => nic.source?.fields.find(([n]) => n === k)?.[1];

/** The host's refusal, its code and domain unchanged, with what does run named after it. */
function refusal(nic: InterfaceDef, e: unknown): Error {
  const net = field(nic, 'network');
  if (e instanceof ForeignLibvirtError) return new ForeignLibvirtError(e.number, e.domain, `${e.message}; ${ALTERNATIVES}`, e.extra);
  if (e instanceof MpvirtError) return new MpvirtError(e.code, `${e.detail}; ${ALTERNATIVES}`, { cause: e });
  return new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot plug an interface into network '${net}': ${(e as Error).message}; ${ALTERNATIVES}`, { cause: e });
}

/** The network interfaces of a definition whose port this run made (what stop releases). */
function pluggedInterfaces(def: DomainDef): InterfaceDef[] {
  return def.devices.filter((d): d is InterfaceDef => d.kind === 'interface' && field(d, 'network') !== undefined && field(d, 'portid') !== undefined);
}

/**
 * The definition with every network interface plugged in (a port each, in device order), or
 * every port made so far released again and the start refused.
 */
export function plugNetworks(def: DomainDef, ports: NetworkPorts | undefined, log: Logger): DomainDef {
  const nics = def.devices.filter((d): d is InterfaceDef => d.kind === 'interface' && d.type === 'network');
  if (nics.length === 0) return def;
  const made: Array<{ network: string; portid: string }> = [];
  const plugged = new Map<InterfaceDef, InterfaceDef>();
  let current = nics[0]!;
  try {
    for (const nic of nics) {
      current = nic;
      const network = field(nic, 'network')!;
      if (!ports) throw new MpvirtError('VIR_ERR_NO_SUPPORT', `no network driver to resolve network '${network}'`);
      if (nic.mac === undefined) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `interface on network '${network}' has no MAC address; its definition must be defined again to get one`);
      const portgroup = field(nic, 'portgroup');
      const plug = ports.allocate({ network, mac: nic.mac, owner: { name: def.name, uuid: def.uuid! }, ...(portgroup !== undefined && { portgroup }) });
      made.push({ network, portid: plug.portid });
      if ((plug.type !== 'network' && plug.type !== 'bridge') || plug.bridge === undefined) {
        throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `network '${network}' plugs guests in as '${plug.type}', which mpvirt does not run`);
      }
      // libvirt's live <source>: the network's name and portgroup, the port, the bridge (virDomainActualNetDefContentsFormat)
      const fields: Array<readonly [string, string]> = [['network', network]];
      if (portgroup !== undefined) fields.push(['portgroup', portgroup]);
      fields.push(['portid', plug.portid], ['bridge', plug.bridge]);
      if (plug.macTableManager !== undefined) fields.push(['macTableManager', plug.macTableManager]);
      // a network of host-bridge forwarding shows as the bridge interface it is, as libvirt's does
      plugged.set(nic, { ...nic, type: plug.type === 'bridge' ? 'bridge' : 'network', source: { fields, extra: nic.source!.extra } });
    }
  } catch (e) {
    for (const m of made) releasePort(ports!, m.network, m.portid, log, def.name);
    throw refusal(current, e);
  }
  return { ...def, devices: def.devices.map((d) => (d.kind === 'interface' ? plugged.get(d) ?? d : d)) };
}

function releasePort(ports: NetworkPorts, network: string, portid: string, log: Logger, domain: string): void {
  try {
    ports.release(network, portid);
  } catch (e) {
    // libvirt logs a port it cannot delete and goes on stopping the domain
    log.warn({ domain, network, portid, err: (e as Error).message }, 'cannot release a network port');
  }
}

/** At stop (and for a domain found dead after a daemon restart): every port of the run, released. */
export function unplugNetworks(def: DomainDef | undefined, ports: NetworkPorts | undefined, log: Logger, domain: string): void {
  if (!def || !ports) return;
  for (const nic of pluggedInterfaces(def)) releasePort(ports, field(nic, 'network')!, field(nic, 'portid')!, log, domain);
}

/**
 * For the define-time check of the launch plan only: each network interface as a bridge one on a
 * stand-in bridge (define does not need the network to exist or be active, as libvirt's does not).
 */
export function placeholderNetworks(def: DomainDef): DomainDef {
  if (!def.devices.some((d) => d.kind === 'interface' && d.type === 'network')) return def;
  return {
    ...def,
    devices: def.devices.map((d) => (d.kind === 'interface' && d.type === 'network'
      ? { ...d, source: { fields: [...(d.source?.fields ?? []), ['bridge', 'virbr0'] as const], extra: d.source!.extra } }
      : d)),
  };
}
