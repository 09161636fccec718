/**
 * The driver's host-level APIs: version, capabilities, max vcpus, domxml-to-native, and the QEMU
 * monitor passthrough (`virsh qemu-monitor-command`).
 */
import { MpvirtError } from '../errors.js';
import { buildLaunchPlan } from '../emulator/launch-plan.js';
import { domainXmlFromNative } from '../emulator/native-import.js';
import { planWithPaths, renderNativeArgv } from '../emulator/native.js';
import { formatDomainXml } from '../domainxml/index.js';
import { buildCapabilitiesXml, maxVcpusFor, readHost } from './capabilities.js';
import type { DriverCore } from './core.js';
import { prepareDefinition } from './definition.js';
import type { DomainObject } from './domain-object.js';
import { runJob } from './domain-job.js';
import { hmpCommand, monitorCommand } from './monitor-command.js';
import { resolveVolumes } from './volumes.js';

/** `virConnectGetVersion`: the default emulator's version as major*1e6 + minor*1e3 + micro. */
export async function hypervisorVersion(core: DriverCore): Promise<number> {
  const { major, minor, micro } = (await core.caps.get(core.defaultEmulator)).version;
  return major * 1_000_000 + minor * 1_000 + micro;
}

/** `virConnectGetCapabilities` (capabilities.ts): the host plus the default emulator's hvm x86_64 guest. */
export async function getCapabilities(core: DriverCore): Promise<string> {
  const caps = await core.caps.get(core.defaultEmulator);
  return buildCapabilitiesXml(readHost(), { emulator: core.defaultEmulator, caps });
}

/** `virConnectGetMaxVcpus`: the default machine's cpu-max; libvirt's error for a type it does not know. */
export async function getMaxVcpus(core: DriverCore, type: string | null): Promise<number> {
  const caps = await core.caps.get(core.defaultEmulator);
  const n = maxVcpusFor(type, { emulator: core.defaultEmulator, caps });
  if (n === undefined) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unknown type '${type}'`);
  return n;
}

/** `virsh domxml-to-native qemu-argv`: the command lines with paths where the daemon passes fds. */
export async function domxmlToNative(core: DriverCore, xml: string): Promise<string> {
  const def = await prepareDefinition(core, xml, false);
  const caps = await core.caps.get(def.emulator ?? core.defaultEmulator);
  return renderNativeArgv(planWithPaths(buildLaunchPlan(resolveVolumes(def, core.volumes), caps, { runDir: `${core.dirs.stateDir}/${def.name}` })));
}

/** `virsh qemu-monitor-command`: the main QEMU, or a remote through the x-mpvirt-remote wrapper. */
export function qemuMonitorCommand(core: DriverCore, obj: DomainObject, cmd: string, opts: { hmp?: boolean } = {}): Promise<string> {
  return runJob(core, obj, 'remoteDispatchDomainQemuMonitorCommand', async () => (opts.hmp ? hmpCommand(obj, cmd) : monitorCommand(obj, cmd)));
}

/**
 * `virsh domxml-from-native qemu-argv`: libvirt-style command lines (what domxml-to-native prints)
 * or seed-style ones, as define would keep them (the isolation, checks and defaults of define's
 * path; nothing is defined).
 */
export async function domxmlFromNative(core: DriverCore, argv: string): Promise<string> {
  return formatDomainXml(await prepareDefinition(core, domainXmlFromNative(argv), false));
}
