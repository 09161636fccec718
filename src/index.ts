/** mpvirt's library entry: XML parse/format and the error table. */
export { parseDomainXml, formatDomainXml, validateDomainDef } from './domainxml/index.js';
export type { ParseOptions } from './domainxml/index.js';
export * from './domainxml/model.js';
export { MpvirtError, ErrorKinds, ErrorDomain, isMpvirtError } from './errors.js';
export type { ErrorCode } from './errors.js';

/** The libvirt binding (docs/binding.md): `connect(uri)` to any libvirt daemon or driver. */
export {
  connect, libvirtVersion, Connection, ConnectionEvents, Subscription, Domain, StoragePool, StorageVolume, Stream,
  LibvirtError, BindingError, BindingErrors, LibvirtObject,
} from './libvirt/index.js';
export type {
  AuthOptions, ConnectOptions, Credential, DomainStatsRecord, ListDomainsOptions, CloseEvent, ConnectionEventMap,
  QemuMonitorEventFilter, CreateOptions, DomainInfo, DomainStateName, Flags, Impact, MetadataType, UndefineOptions,
  XmlOptions, DomainEventKind, DomainEventMap, EventDomain, LifecycleEvent, LifecycleEventName, QemuMonitorEvent,
  Size, StoragePoolInfo, StorageVolumeInfo, DomainStats, StatsItem, TypedParamValue, BindingErrorCode,
  LibvirtErrorCode, LibvirtErrorDomain,
} from './libvirt/index.js';
/** libvirt's enums (numbers from libvirt 9.0's headers): `libvirtEnums.DomainState.RUNNING`, … */
export * as libvirtEnums from './libvirt/enums.js';
