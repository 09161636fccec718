/**
 * A typed binding to libvirt's C library (libvirt.so.0, libvirt-qemu.so.0) through koffi: works
 * against any libvirt URI — `test:///default`, a libvirtd, mpvirtd. See docs/binding.md.
 */
export { connect, libvirtVersion, Connection } from './connection.js';
export type { AuthOptions, ConnectOptions, Credential, DomainStatsRecord, ListDomainsOptions } from './connection.js';
export { ConnectionEvents, Subscription } from './connection-events.js';
export type { CloseEvent, ConnectionEventMap, QemuMonitorEventFilter } from './connection-events.js';
export { Domain, domainStateName } from './domain.js';
export type { CreateOptions, DomainInfo, DomainStateName, Flags, Impact, MetadataType, UndefineOptions, XmlOptions } from './domain.js';
export { lifecycleNamesOf } from './domain-events.js';
export type { DomainEventKind, DomainEventMap, EventDomain, LifecycleEvent, LifecycleEventName, QemuMonitorEvent } from './domain-events.js';
export { StoragePool, StorageVolume } from './storage.js';
export type { Size, StoragePoolInfo, StoragePoolStateName, StorageVolumeInfo, StorageVolTypeName } from './storage.js';
export { WIPE_ALGORITHMS } from './storage-more.js';
export type { StoragePoolEvent, StoragePoolEventKind } from './storage-more.js';
export { Stream } from './stream.js';
export type { DomainStats, StatsItem, TypedParamValue } from './stats.js';
export { LibvirtError, BindingError, BindingErrors } from './errors.js';
export type { BindingErrorCode, LibvirtErrorCode, LibvirtErrorDomain } from './errors.js';
export { LibvirtObject } from './object.js';
export * as enums from './enums.js';
// Domain/Connection/StorageVolume methods for configuration changes, saves and dumps (module augmentation)
import './domain-config.js';
// Domain/Connection methods for monitoring, vCPUs and the host (module augmentation)
import './domain-monitor.js';
import './domain-vcpus.js';
import './connection-host.js';
export type { BlockInfo, ControlInfo, DiskError, DomainInterface, InterfaceAddress, InterfaceStats, LegacyBlockStats, MemoryStat } from './domain-monitor.js';
export type { IOThreadInfo, JobInfo, VcpuInfo } from './domain-vcpus.js';
export type { HypervisorTarget, NodeInfo, NodeStat, TypedStatsRecord } from './connection-host.js';
export type { TypedParam } from './typed-param-list.js';
export { Network, NetworkPort } from './network.js';
export type { DhcpLease } from './network.js';
export { NodeDevice } from './nodedev.js';
export { NWFilter, NWFilterBinding } from './nwfilter.js';
export { Secret } from './secret.js';
export { Interface } from './interface.js';
// Domain.qemuAgentCommand (libvirt-qemu's guest agent passthrough), by module augmentation
import './domain-qemu.js';
export { AGENT_TIMEOUT } from './domain-qemu.js';
