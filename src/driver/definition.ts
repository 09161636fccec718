/**
 * From XML to a definition the driver keeps: what define and create check and fill in (the
 * isolation policy, what mpvirt can run, libvirt's define-time defaults, the launch plan's own
 * refusals), and the defaults a stored definition gets when the daemon loads it.
 */
import { placeholderVolumes } from './volumes.js';
import { placeholderNetworks } from './networks.js';
import { applyAutoIsolation } from '../domainxml/auto-isolate.js';
import { applyDefineDefaults } from '../domainxml/defaults/index.js';
import { assertSupported, formatDomainXml, parseDomainXml, withoutChannelState, withoutLiveState } from '../domainxml/index.js';
import type { DomainDef } from '../domainxml/model.js';
import { assertMultiprocess } from '../emulator/caps-probe.js';
import { buildLaunchPlan } from '../emulator/launch-plan.js';
import type { DriverCore } from './core.js';

/** Parse, apply the isolation policy, validate and check what can run. */
export async function prepareDefinition(core: DriverCore, xml: string, validate: boolean): Promise<DomainDef> {
  // dumpxml of a running domain may come back: its live-only parts are not definition
  const parsed = withoutChannelState(withoutLiveState(parseDomainXml(xml, { validateSchema: validate })), core.dirs.stateDir);
  const def = applyAutoIsolation(parsed, core.autoIsolate);
  if (def !== parsed) parseDomainXml(formatDomainXml(def)); // the added placement obeys every rule too
  assertSupported(def);
  const caps = await core.caps.get(def.emulator ?? core.defaultEmulator);
  if ((def.metadata?.remote?.processes.length ?? 0) > 0) assertMultiprocess(caps);
  // libvirt's define-time defaults: machine type, controllers, addresses — the guest ABI is
  // fixed here, once, not at every start
  const full = applyDefineDefaults(def, caps, { newDomain: true });
  assertSupported(full);
  // everything the launch plan refuses is refused now, not at start
  buildLaunchPlan(placeholderNetworks(placeholderVolumes(full)), caps, { runDir: `${core.dirs.stateDir}/${def.name}` });
  return full;
}

/**
 * A stored definition gets libvirt's defaults when it is loaded, as libvirt's post-parse does
 * (without the USB ports only new domains get): one written before mpvirt filled in addresses
 * gets them now, so the argv never has to invent one. Without its emulator it stays as stored.
 */
export async function withLoadDefaults(core: DriverCore, def: DomainDef): Promise<DomainDef> {
  const caps = await core.caps.get(def.emulator ?? core.defaultEmulator).catch((e: unknown) => {
    core.log.warn({ domain: def.name, err: e }, 'no capabilities for a stored definition; defaults not applied');
    return undefined;
  });
  return caps ? applyDefineDefaults(def, caps) : def;
}
