/**
 * `virsh attach-device` / `detach-device` of a SCSI controller (libvirt's
 * qemuDomainAttachControllerDevice / qemuDomainDetachPrepController), and what no other tool
 * can do: a controller placed in a remote process — by an `<mpq:process>` inside the
 * `<controller>` element or by the isolation policy — gets a fresh remote QEMU of its own while
 * the guest runs (the remote's plan from the live definition, jailed and in a cgroup leaf as at
 * start), its link passed with `getfd`, `device_add x-pci-proxy-dev` on a free hot-pluggable
 * slot; the guest finds it by ACPI PCI hot-plug. Detach unplugs the proxy and the remote ends by
 * itself once its link closes. Every check passes before anything is spawned or changed.
 */
import { MpvirtError, xmlError } from '../errors.js';
import { applyAutoIsolation } from '../domainxml/auto-isolate.js';
import { controllerAlias } from '../domainxml/aliases.js';
import { isQ35 } from '../domainxml/defaults/caps.js';
import { hotplugPciAddress } from '../domainxml/defaults/hotplug-address.js';
import { assertSupported, formatDomainXml, validateDomainDef, withoutLiveState, MPQ_NS, MPQ_PREFIX } from '../domainxml/index.js';
import type { ControllerDef, DomainDef, RemoteProcessDef } from '../domainxml/model.js';
import { parseRemoteProcess } from '../domainxml/parse.js';
import { parseDevices } from '../domainxml/parse-devices.js';
import { makeElement, type XElement } from '../domainxml/xmltree.js';
import { assertMultiprocess } from '../emulator/caps-probe.js';
import { refuseKnownCrashes } from '../emulator/known-crashes.js';
import { controllerArgs, driveAddress, findController } from '../emulator/device-argv.js';
import { buildLaunchPlan, type RemotePlan } from '../emulator/launch-plan.js';
import type { QmpEvent } from '../emulator/qmp.js';
import { affected, persistentDef, savePersistentDef } from './affect.js';
import type { DriverCore } from './core.js';
import { prepareDefinition } from './definition.js';
import { deviceDeleted } from './device-deleted.js';
import type { DomainObject, DomainRuntime } from './domain-object.js';
import { logLine } from './domain-log.js';
import { startRemoteForHotplug, stopHotplugRemote } from './remote-hotplug.js';
import { writeStatus } from './stop.js';

/** libvirt's QEMU_UNPLUG_TIMEOUT */
const UNPLUG_TIMEOUT_MS = 5000;

interface ParsedController {
  controller: ControllerDef;
  /** the `<mpq:process>` the element brought along */
  process?: RemoteProcessDef;
}

/** The `<controller>` of an attach/detach XML, its `<mpq:process>` (if any) taken out. */
export function parseControllerDevice(el: XElement): ParsedController {
  const ours = el.children.filter((c): c is XElement => c.kind === 'element' && c.ns === MPQ_NS);
  const bad = ours.find((c) => c.local !== 'process');
  if (bad) throw xmlError(`unknown element <${bad.name}> in <controller>: only <mpq:process> places a controller`, { where: `/controller/${bad.name}` });
  if (ours.length > 1) throw xmlError('more than one <mpq:process> in <controller>', { where: '/controller' });
  const plain = { ...el, children: el.children.filter((c) => !(c.kind === 'element' && c.ns === MPQ_NS)) };
  const d = parseDevices(makeElement('devices', [], [plain])).devices[0];
  if (!d || d.kind !== 'controller') throw new MpvirtError('VIR_ERR_XML_ERROR', 'cannot parse the controller');
  if (!ours[0]) return { controller: d };
  const process = parseRemoteProcess(ours[0], '/controller/mpq:process');
  if (process.devices.length > 0) throw xmlError(`<mpq:device> in the <mpq:process> of a <controller>: the controller itself is the process's device`, { where: '/controller/mpq:process' });
  if (process.live) throw xmlError('live-only attributes (pid, state, …) in the <mpq:process> of a <controller>', { where: '/controller/mpq:process' });
  return { controller: d, process };
}

/** virDomainControllerFindUnusedIndex */
function unusedIndex(def: DomainDef, type: string): number {
  let i = 0;
  while (findController(def, type, i)) i++;
  return i;
}

/** After the last controller (libvirt's virDomainControllerInsert keeps type/index order loosely). */
function insertController(def: DomainDef, c: ControllerDef): DomainDef {
  const devices = [...def.devices];
  let at = -1;
  devices.forEach((d, i) => {
    if (d.kind === 'controller') at = i;
  });
  devices.splice(at < 0 ? devices.length : at + 1, 0, c);
  return { ...def, devices };
}

/** The definition with the controller and, when it goes into a remote process, its placement. */
function placed(core: DriverCore, def: DomainDef, c: ControllerDef, process: RemoteProcessDef | undefined): { def: DomainDef; rid?: string } {
  const remote = def.metadata?.remote ?? { prefix: MPQ_PREFIX, processes: [] };
  const withProcess = (p: RemoteProcessDef, ctrl: ControllerDef): DomainDef => ({
    ...insertController(def, ctrl),
    metadata: { others: def.metadata?.others ?? [], remote: { ...remote, processes: [...remote.processes, p] } },
  });
  if (process) {
    const aliases = new Set(def.devices.map((d) => ('alias' in d ? d.alias : undefined)));
    let alias = c.alias?.startsWith('ua-') ? c.alias : `ua-scsi${c.index ?? 0}`;
    for (let n = 1; !c.alias?.startsWith('ua-') && aliases.has(alias); n++) alias = `ua-scsi${c.index ?? 0}-${n}`;
    return { def: withProcess({ ...process, devices: [alias] }, { ...c, alias }), rid: process.rid };
  }
  // the isolation policy, for this controller only: the others were placed when defined
  const probe = applyAutoIsolation({ ...def, devices: [c] }, core.autoIsolate);
  const added = (probe.metadata?.remote?.processes ?? []).slice(remote.processes.length);
  const ctrl = probe.devices[0] as ControllerDef;
  if (added.length === 0 || !ctrl.alias) return { def: insertController(def, { ...c, alias: c.alias ?? controllerAlias(c, isQ35(def.os.machine)) }) };
  let p = added[0]!;
  // a rid the policy derives from the index may be taken by a process of another name
  for (let n = 1; remote.processes.some((x) => x.rid === p.rid); n++) p = { ...p, rid: `${added[0]!.rid}-${n}` };
  return { def: withProcess(p, ctrl), rid: p.rid };
}

interface LiveAttach {
  live: DomainDef;
  controller: ControllerDef;
  remote?: { plan: RemotePlan; proxy: Record<string, unknown> };
  device?: Record<string, unknown>;
}

/** Every check of a live attach; nothing changes. */
async function prepareLiveAttach(core: DriverCore, obj: DomainObject, rt: DomainRuntime, parsed: ParsedController): Promise<LiveAttach> {
  const base = obj.liveDef ?? obj.def;
  const c0 = parsed.controller;
  if (c0.type !== 'scsi') throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `'${c0.type}' controller cannot be hot plugged.`);
  const index = c0.index ?? unusedIndex(base, 'scsi');
  if (findController(base, 'scsi', index)) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', `target scsi:${index} already exists`);
  let c: ControllerDef = { ...c0, index, model: c0.model ?? 'lsilogic' };
  c = { ...c, address: hotplugPciAddress(base, c) };
  const { def: live, rid } = placed(core, base, c, parsed.process);
  validateDomainDef(live);
  assertSupported(live);
  const caps = await core.caps.get(live.emulator ?? core.defaultEmulator);
  if (rid !== undefined) assertMultiprocess(caps);
  const plan = buildLaunchPlan(live, caps, { runDir: rt.runDir });
  const controller = live.devices.find((d): d is ControllerDef => d.kind === 'controller' && d.type === 'scsi' && d.index === index)!;
  if (rid === undefined) {
    const argv = controllerArgs(controller, isQ35(live.os.machine));
    return { live, controller, device: JSON.parse(argv[1]!) as Record<string, unknown> };
  }
  const remote = plan.remotes.find((r) => r.rid === rid)!;
  // the main QEMU would crash at device_add, as at start (known-crashes.ts)
  refuseKnownCrashes(caps, { domainType: live.type, remotes: [remote] });
  const argv = plan.main.argv;
  const proxyArg = argv.find((a, i) => argv[i - 1] === '-device' && a.startsWith('{') && (JSON.parse(a) as { id?: string }).id === controller.alias)!;
  return { live, controller, remote: { plan: remote, proxy: JSON.parse(proxyArg) as Record<string, unknown> } };
}

/** virDomainAttachDeviceFlags of a controller, inside the domain's job. */
export async function attachController(core: DriverCore, obj: DomainObject, el: XElement, flags: number): Promise<void> {
  const { live, config } = affected(obj, flags & 3);
  const parsed = parseControllerDevice(el);
  let newConfig: DomainDef | undefined;
  if (config) {
    const cfg = persistentDef(obj);
    const c = parsed.controller;
    if (c.index !== undefined && findController(cfg, c.type, c.index)) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `controller index='${c.index}' already exists`);
    const index = c.index ?? unusedIndex(cfg, c.type);
    const { def } = c.type === 'scsi' ? placed(core, cfg, { ...c, index }, parsed.process) : { def: insertController(cfg, { ...c, index }) };
    newConfig = await prepareDefinition(core, formatDomainXml(withoutLiveState(def)), false);
  }
  let plan: LiveAttach | undefined;
  if (live) plan = await prepareLiveAttach(core, obj, obj.runtime!, parsed);
  if (plan) {
    const rt = obj.runtime!;
    const alias = plan.controller.alias!;
    if (plan.remote) {
      await startRemoteForHotplug(core, obj, rt, plan.live, plan.remote.plan, plan.remote.proxy);
      logLine(core, obj.name, `controller ${alias} hot-plugged in a new remote process ${plan.remote.plan.rid}`);
    } else {
      await rt.main.qmp.execute('device_add', plan.device!);
    }
    obj.liveDef = plan.live;
    await writeStatus(core, obj);
    core.events.emit('device-added', { dom: obj.ref(), alias });
  }
  if (newConfig) await savePersistentDef(core, obj, newConfig);
}

/** virDomainDetachDeviceFlags of a controller, inside the domain's job. */
export async function detachController(core: DriverCore, obj: DomainObject, el: XElement, flags: number): Promise<void> {
  const { live, config } = affected(obj, flags & 3);
  const match = parseControllerDevice(el).controller;
  const index = match.index ?? 0;
  let newConfig: DomainDef | undefined;
  if (config) {
    const cfg = persistentDef(obj);
    const c = findController(cfg, match.type, index);
    if (!c) throw new MpvirtError('VIR_ERR_DEVICE_MISSING', 'device not present in domain configuration');
    newConfig = withoutController(cfg, c);
  }
  let found: ControllerDef | undefined;
  if (live) {
    const def = obj.liveDef ?? obj.def;
    if (match.type !== 'scsi') throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `'${match.type}' controller cannot be hot unplugged.`);
    found = findController(def, 'scsi', index);
    if (!found) throw new MpvirtError('VIR_ERR_DEVICE_MISSING', `controller scsi:${index} not found`);
    const busy = def.devices.some((d) => d.kind === 'disk' && d.target.bus === 'scsi' && driveAddress(d).controller === index);
    if (busy) throw new MpvirtError('VIR_ERR_OPERATION_FAILED', 'device cannot be detached: device is busy');
  }
  if (found) {
    const rt = obj.runtime!;
    const alias = found.alias ?? controllerAlias(found, isQ35((obj.liveDef ?? obj.def).os.machine));
    const r = rt.remotes.find((x) => x.alias === alias);
    // from here its exit is the end of the unplug, not a crash for the on-crash policy
    r?.supervisor.expectExit();
    const deleted = deviceDeleted(rt.main.qmp, alias, UNPLUG_TIMEOUT_MS);
    try {
      await rt.main.qmp.execute('device_del', { id: alias });
    } catch (e) {
      deleted.cancel();
      throw e;
    }
    const finish = async (): Promise<void> => {
      if (r) await stopHotplugRemote(core, obj, rt, r);
      obj.liveDef = withoutController(obj.liveDef ?? obj.def, found);
      await writeStatus(core, obj);
      core.events.emit('device-removed', { dom: obj.ref(), alias });
    };
    if (await deleted.done) await finish();
    else {
      // as libvirt: the request stands (a paused guest, one still in its firmware); the removal
      // is finished by a job of its own when the guest lets go and QEMU reports DEVICE_DELETED
      logLine(core, obj.name, `detach of controller ${alias}: the guest did not release it within ${UNPLUG_TIMEOUT_MS} ms; it is removed when it does`);
      onLateDeletion(rt, alias, () =>
        void obj.jobs
          .run({ owner: 'qemuProcessHandleDeviceDeleted' }, async () => {
            if (obj.runtime === rt && !rt.stopping) await finish();
          })
          .catch((e: unknown) => core.log.error({ err: e, domain: obj.name, alias }, 'finishing a controller removal failed')),
      );
    }
  }
  if (newConfig) await savePersistentDef(core, obj, newConfig);
}

/** Calls `then` once when QEMU reports the device deleted; forgotten when the monitor closes. */
function onLateDeletion(rt: DomainRuntime, alias: string, then: () => void): void {
  const onEvent = (ev: QmpEvent): void => {
    if (ev.event !== 'DEVICE_DELETED' || (ev.data as { device?: string }).device !== alias) return;
    off();
    then();
  };
  const off = (): void => {
    rt.main.qmp.off('event', onEvent);
    rt.main.qmp.off('close', off);
  };
  rt.main.qmp.on('event', onEvent);
  rt.main.qmp.on('close', off);
}

/** The definition without the controller and without the remote process that served it. */
function withoutController(def: DomainDef, c: ControllerDef): DomainDef {
  const devices = def.devices.filter((d) => d !== c);
  const remote = def.metadata?.remote;
  if (!remote || c.alias === undefined) return { ...def, devices };
  const processes = remote.processes.filter((p) => !p.devices.includes(c.alias!));
  return { ...def, devices, metadata: { others: def.metadata?.others ?? [], remote: { ...remote, processes } } };
}
