/**
 * Everyday changes to a domain, each a job with libvirt's checks and wording:
 * `setmem`/`setmaxmem` (qemuDomainSetMemoryFlags), `setvcpus` (qemuDomainSetVcpusFlags, vCPU
 * hot-plug with device_add as libvirt does it), `dommemstat --period`, `send-key`, `domrename`.
 * A vCPU and the balloon are the main QEMU's: no remote process is involved.
 */
import { formatDomainXml } from '../domainxml/index.js';
import { NO_EXTRA, type DomainDef, type MemballoonDef } from '../domainxml/model.js';
import { validateDomainName } from '../domainxml/validate.js';
import { makeElement } from '../domainxml/xmltree.js';
import { checkFlags, MpvirtError } from '../errors.js';
import { Affect, affected, persistentDef, savePersistentDef } from './affect.js';
import type { DriverCore } from './core.js';
import type { DomainObject } from './domain-object.js';
import { runJob } from './domain-job.js';
import { LifecycleEvent } from './events.js';
import { writeStatus } from './stop.js';
import { linuxToQnum } from './keycodes.js';
import { forgetVcpuThreads, hasBalloon } from './domain-stats.js';
import { applyPinning, checkPinCpus, withEmulatorPin, withVcpuPin } from './cpu-pinning.js';

/** VIR_DOMAIN_MEM_MAXIMUM / VIR_DOMAIN_VCPU_MAXIMUM */
const MAXIMUM = 4;
const VCPU_GUEST = 8;
const VCPU_HOTPLUGGABLE = 16;


/** virDomainObjGetDefs: both definitions a call changes (undefined: not that one). */
function defsOf(obj: DomainObject, flags: number): { live?: DomainDef; config?: DomainDef } {
  const { live, config } = affected(obj, flags);
  return { ...(live ? { live: obj.liveDef ?? obj.def } : {}), ...(config ? { config: persistentDef(obj) } : {}) };
}


/** virDomainSetMemoryFlags: the balloon target (live), the current or maximum memory (config). */
export function setMemory(core: DriverCore, obj: DomainObject, kib: number, flags: number): Promise<void> {
  checkFlags(flags, Affect.LIVE | Affect.CONFIG | MAXIMUM, 'qemuDomainSetMemoryFlags');
  return runJob(core, obj, 'remoteDispatchDomainSetMemoryFlags', async () => {
    const { live, config } = defsOf(obj, flags & (Affect.LIVE | Affect.CONFIG));
    if (flags & MAXIMUM) {
      if (live) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot resize the maximum memory on an active domain');
      if (!config) return;
      const cur = config.currentMemory?.kib ?? config.memory.kib;
      const next: DomainDef = { ...config, memory: { ...config.memory, kib }, ...(config.currentMemory ? { currentMemory: { ...config.currentMemory, kib: Math.min(cur, kib) } } : {}) };
      await savePersistentDef(core, obj, next);
      return;
    }
    let max = live ? live.memory.kib : 0;
    if (config && (!live || max > config.memory.kib)) max = config.memory.kib;
    if (kib > max) throw new MpvirtError('VIR_ERR_INVALID_ARG', 'cannot set memory higher than max memory');
    if (live) {
      if (!hasBalloon(live)) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'Unable to change memory of active domain without the balloon device and guest OS balloon driver');
      // the live currentMemory follows QEMU's BALLOON_CHANGE events, as in libvirt
      await obj.runtime!.main.qmp.execute('balloon', { value: kib * 1024 });
    }
    if (config) {
      await savePersistentDef(core, obj, { ...config, currentMemory: { extra: config.currentMemory?.extra ?? NO_EXTRA, kib } });
    }
  });
}

/** QEMU's BALLOON_CHANGE (bytes): the live definition's current memory (qemuProcessHandleBalloonChange). */
export function onBalloonChange(core: DriverCore, obj: DomainObject, actualBytes: number): void {
  if (!obj.liveDef || !Number.isFinite(actualBytes)) return;
  const kib = Math.floor(actualBytes / 1024);
  const cur = obj.liveDef.currentMemory;
  obj.liveDef = { ...obj.liveDef, currentMemory: { extra: cur?.extra ?? NO_EXTRA, kib } };
  void writeStatus(core, obj).catch(() => {});
}

interface HotpluggableCpu { type: string; 'vcpus-count': number; props: Record<string, number>; 'qom-path'?: string }

/** virDomainSetVcpusFlags: the vCPU count of the definition, or vCPUs plugged into the guest. */
export function setVcpus(core: DriverCore, obj: DomainObject, n: number, flags: number): Promise<void> {
  checkFlags(flags, Affect.LIVE | Affect.CONFIG | MAXIMUM | VCPU_GUEST | VCPU_HOTPLUGGABLE, 'qemuDomainSetVcpusFlags');
  return runJob(core, obj, 'remoteDispatchDomainSetVcpusFlags', async () => {
    const { live, config } = defsOf(obj, flags & (Affect.LIVE | Affect.CONFIG));
    if (flags & VCPU_GUEST) throw new MpvirtError('VIR_ERR_ARGUMENT_UNSUPPORTED', 'QEMU guest agent is not configured');
    if (flags & MAXIMUM) {
      if (live) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', "maximum vcpu count of a live domain can't be modified");
      if (config) await savePersistentDef(core, obj, { ...config, vcpu: { ...config.vcpu, count: n, ...(config.vcpu.current !== undefined && config.vcpu.current > n ? { current: n } : {}) } });
      return;
    }
    if (live && n > live.vcpu.count) throw new MpvirtError('VIR_ERR_INVALID_ARG', `requested vcpus is greater than max allowable vcpus for the live domain: ${n} > ${live.vcpu.count}`);
    if (config && n > config.vcpu.count) throw new MpvirtError('VIR_ERR_INVALID_ARG', `requested vcpus is greater than max allowable vcpus for the persistent domain: ${n} > ${config.vcpu.count}`);
    if (n < 1) throw new MpvirtError('VIR_ERR_INVALID_ARG', 'requested vcpu count must be at least 1');
    if (live) await plugVcpus(core, obj, live, n);
    if (config) await savePersistentDef(core, obj, { ...config, vcpu: withCurrent(config.vcpu, n) });
  });
}

const withCurrent = (v: DomainDef['vcpu'], n: number): DomainDef['vcpu'] => {
  const { current: _c, ...rest } = v;
  return n === v.count ? rest : { ...rest, current: n };
};

/** qemuDomainHotplugAddVcpu / DelVcpu: device_add of the next free slots, device_del from the last. */
async function plugVcpus(core: DriverCore, obj: DomainObject, live: DomainDef, n: number): Promise<void> {
  const qmp = obj.runtime!.main.qmp;
  const have = live.vcpu.current ?? live.vcpu.count;
  if (n === have) return;
  const slots = await qmp.execute<HotpluggableCpu[]>('query-hotpluggable-cpus');
  // QEMU lists the slots last first; libvirt's vCPU N is the Nth slot in topology order
  const ordered = [...slots].reverse();
  if (n > have) {
    for (let i = have; i < n; i++) {
      const slot = ordered[i];
      if (!slot || slot['qom-path']) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', 'cpu hotplug is not supported');
      await qmp.execute('device_add', { driver: slot.type, id: `vcpu${i}`, ...slot.props });
    }
  } else {
    for (let i = have - 1; i >= n; i--) {
      const slot = ordered[i];
      if (!slot?.['qom-path']?.startsWith('/machine/peripheral/')) throw new MpvirtError('VIR_ERR_OPERATION_UNSUPPORTED', `vcpu '${i}' can't be unplugged`);
      await qmp.execute('device_del', { id: slot['qom-path'].slice('/machine/peripheral/'.length) });
    }
  }
  forgetVcpuThreads(obj.runtime!);
  obj.liveDef = { ...live, vcpu: withCurrent(live.vcpu, n) };
  await writeStatus(core, obj);
}

/** A definition whose balloon reports every `period` seconds (`<stats period>`; 0 removes it). */
function withStatsPeriod(def: DomainDef, period: number): DomainDef {
  return {
    ...def,
    devices: def.devices.map((d) => {
      if (d.kind !== 'memballoon') return d;
      const children = d.extra.children.filter((c) => !(c.ns === null && c.local === 'stats'));
      if (period > 0) children.unshift(makeElement('stats', [['period', period]]));
      return { ...d, extra: { attrs: d.extra.attrs, children } };
    }),
  };
}

/** virDomainSetMemoryStatsPeriod: how often the guest's balloon driver reports (start.ts applies it at start). */
export function setMemoryStatsPeriod(core: DriverCore, obj: DomainObject, period: number, flags: number): Promise<void> {
  checkFlags(flags, Affect.LIVE | Affect.CONFIG, 'qemuDomainSetMemoryStatsPeriod');
  return runJob(core, obj, 'remoteDispatchDomainSetMemoryStatsPeriod', async () => {
    const { live, config } = defsOf(obj, flags);
    const noBalloon = (): MpvirtError => new MpvirtError('VIR_ERR_INTERNAL_ERROR', 'No memory balloon device configured, can not set the collection period');
    if (live) {
      if (!hasBalloon(live)) throw noBalloon();
      const alias = live.devices.find((d): d is MemballoonDef => d.kind === 'memballoon')?.alias ?? 'balloon0';
      try {
        await obj.runtime!.main.qmp.execute('qom-set', { path: `/machine/peripheral/${alias}`, property: 'guest-stats-polling-interval', value: period });
      } catch {
        throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'unable to set balloon driver collection period');
      }
      obj.liveDef = withStatsPeriod(live, period);
      await writeStatus(core, obj);
    }
    if (config) {
      if (!hasBalloon(config)) throw noBalloon();
      await savePersistentDef(core, obj, withStatsPeriod(config, period));
    }
  });
}

/** VIR_KEYCODE_SET_LINUX / VIR_KEYCODE_SET_QNUM */
const CODESET_LINUX = 0;
const CODESET_QNUM = 9;
const CODESET_NAMES = ['linux', 'xt', 'atset1', 'atset2', 'atset3', 'os_x', 'xt_kbd', 'usb', 'win32', 'qnum'];

/** virDomainSendKey: keys pressed together for `holdtime` ms (qemuDomainSendKey). */
export function sendKey(core: DriverCore, obj: DomainObject, codeset: number, holdtime: number, keycodes: number[], flags: number): Promise<void> {
  checkFlags(flags, 0, 'qemuDomainSendKey');
  const qnums = keycodes.map((k) => {
    const q = codeset === CODESET_QNUM ? k : codeset === CODESET_LINUX ? linuxToQnum(k) : undefined;
    if (q === undefined) throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot translate keycode ${k} of ${CODESET_NAMES[codeset] ?? String(codeset)} codeset to qnum keycode`);
    return q;
  });
  return runJob(core, obj, 'remoteDispatchDomainSendKey', async () => {
    if (!obj.active || !obj.runtime) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
    await obj.runtime.main.qmp.execute('send-key', { keys: qnums.map((data) => ({ type: 'number', data })), ...(holdtime ? { 'hold-time': holdtime } : {}) });
  });
}

/** virDomainRename: a shut-off persistent domain gets a new name; its file and autostart link follow. */
export function rename(core: DriverCore, obj: DomainObject, newName: string | null, flags: number): Promise<void> {
  checkFlags(flags, 0, 'qemuDomainRename');
  return runJob(core, obj, 'remoteDispatchDomainRename', async () => {
    if (newName === null) throw new MpvirtError('VIR_ERR_INVALID_ARG', 'new_name in virDomainRename must not be NULL');
    if (obj.active) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot rename active domain');
    if (!obj.persistent) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'cannot rename a transient domain');
    if (newName === obj.name) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', "Can't rename domain to itself");
    if (core.domains.findByName(newName)) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `domain with name '${newName}' already exists`);
    if (newName.includes('/')) throw new MpvirtError('VIR_ERR_XML_ERROR', `name ${newName} cannot contain '/'`);
    validateDomainName(newName);
    const old = obj.ref();
    const next: DomainDef = { ...obj.def, name: newName };
    // the new file first: a crash in between leaves both names, never none
    await core.defs.save(newName, formatDomainXml(next));
    const autostart = obj.autostart;
    if (autostart) await core.defs.setAutostart(newName, true);
    core.domains.rename(obj, next);
    if (autostart) await core.defs.setAutostart(old.name, false);
    await core.defs.remove(old.name);
    core.events.lifecycle(old, LifecycleEvent.UNDEFINED, 1); // VIR_DOMAIN_EVENT_UNDEFINED_RENAMED
    core.events.lifecycle(obj.ref(), LifecycleEvent.DEFINED, 2); // VIR_DOMAIN_EVENT_DEFINED_RENAMED
  });
}

/** virDomainPinVcpuFlags: vCPU `n` to these CPUs, in the running guest and/or its definition. */
export function pinVcpu(core: DriverCore, obj: DomainObject, n: number, cpus: number[], flags: number): Promise<void> {
  checkFlags(flags, Affect.LIVE | Affect.CONFIG, 'qemuDomainPinVcpuFlags');
  return runJob(core, obj, 'remoteDispatchDomainPinVcpuFlags', async () => {
    const { live, config } = defsOf(obj, flags);
    if (config && n >= config.vcpu.count) throw new MpvirtError('VIR_ERR_INVALID_ARG', `vcpu ${n} is out of range of persistent cpu count ${config.vcpu.count}`);
    checkPinCpus(cpus);
    if (live) {
      const online = live.vcpu.current ?? live.vcpu.count;
      if (n >= online) throw new MpvirtError('VIR_ERR_INVALID_ARG', `vcpu ${n} is out of range of live cpu count ${online}`);
      const next = withVcpuPin(live, n, cpus);
      await applyPinning(obj, next);
      obj.liveDef = next;
      await writeStatus(core, obj);
    }
    if (config) await savePersistentDef(core, obj, withVcpuPin(config, n, cpus));
  });
}

/** virDomainPinEmulator: the emulator threads to these CPUs. */
export function pinEmulator(core: DriverCore, obj: DomainObject, cpus: number[], flags: number): Promise<void> {
  checkFlags(flags, Affect.LIVE | Affect.CONFIG, 'qemuDomainPinEmulator');
  return runJob(core, obj, 'remoteDispatchDomainPinEmulator', async () => {
    const { live, config } = defsOf(obj, flags);
    checkPinCpus(cpus);
    if (live) {
      const next = withEmulatorPin(live, cpus);
      await applyPinning(obj, next);
      obj.liveDef = next;
      await writeStatus(core, obj);
    }
    if (config) await savePersistentDef(core, obj, withEmulatorPin(config, cpus));
  });
}
