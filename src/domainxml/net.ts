/**
 * Guest network interfaces in the live and the persistent definition: the tap a bridge
 * interface runs on is named in the live XML (`<target dev='vnet0'/>`, as libvirt shows it) and
 * a name libvirt would have generated leaves the definition again at define, as libvirt's parser
 * drops it (virDomainNetDefParseXML with VIR_DOMAIN_DEF_PARSE_INACTIVE): a `dumpxml` fed back to
 * `define` must not pin the next start to the tap of this run.
 */
import { NO_EXTRA, type DomainDef, type InterfaceDef } from './model.js';

/** libvirt's prefixes of generated host-side names (VIR_NET_GENERATED_*_PREFIX). */
const GENERATED_PREFIXES = ['vnet', 'macvtap', 'macvlan'];

/** The bridge an interface's `<source bridge=…/>` names. */
export function sourceBridge(nic: InterfaceDef): string | undefined {
  return nic.source?.fields.find(([k]) => k === 'bridge')?.[1];
}

/** Whether libvirt would have generated this host-side name (and so drops it from a definition). */
export function isGeneratedTapName(dev: string): boolean {
  return GENERATED_PREFIXES.some((p) => dev.startsWith(p));
}

const managedNo = (nic: InterfaceDef): boolean => nic.target?.extra.attrs.some((a) => a.name === 'managed' && a.value === 'no') ?? false;

/** The definition without generated tap names (libvirt keeps one marked `managed='no'`). */
export function withoutGeneratedTapNames(def: DomainDef): DomainDef {
  const drops = (d: DomainDef['devices'][number]): d is InterfaceDef =>
    d.kind === 'interface' && d.target?.dev !== undefined && isGeneratedTapName(d.target.dev) && !managedNo(d);
  if (!def.devices.some(drops)) return def;
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (!drops(d)) return d;
      const { dev: _dev, ...target } = d.target!;
      return { ...d, target };
    }),
  };
}

/** The live definition with the tap each interface runs on, by interface alias. */
export function withTapNames(def: DomainDef, taps: ReadonlyMap<string, string>): DomainDef {
  if (taps.size === 0) return def;
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (d.kind !== 'interface' || d.alias === undefined) return d;
      const dev = taps.get(d.alias);
      return dev === undefined ? d : { ...d, target: { extra: d.target?.extra ?? NO_EXTRA, dev } };
    }),
  };
}

/** The taps of a running definition's bridge and network interfaces (what stop removes). */
export function tapNamesOf(def: DomainDef): string[] {
  return def.devices.filter((d): d is InterfaceDef => d.kind === 'interface' && (d.type === 'bridge' || d.type === 'network') && d.target?.dev !== undefined).map((d) => d.target!.dev!);
}

/** What a network interface's `<source>` says only while it runs: its port and the bridge it resolved to. */
const NETWORK_LIVE_ONLY = new Set(['portid', 'bridge', 'macTableManager']);

/**
 * The definition without a running network interface's port and bridge: libvirt's parser reads
 * portid only from a live document and the bridge of a network never (virDomainNetDefParseXML),
 * so a live `dumpxml` fed back to `define` asks for a new port at the next start.
 */
export function withoutNetworkPorts(def: DomainDef): DomainDef {
  const live = (d: DomainDef['devices'][number]): d is InterfaceDef =>
    d.kind === 'interface' && d.type === 'network' && (d.source?.fields.some(([k]) => NETWORK_LIVE_ONLY.has(k)) ?? false);
  if (!def.devices.some(live)) return def;
  return {
    ...def,
    devices: def.devices.map((d) => (live(d) ? { ...d, source: { fields: d.source!.fields.filter(([k]) => !NETWORK_LIVE_ONLY.has(k)), extra: d.source!.extra } } : d)),
  };
}
