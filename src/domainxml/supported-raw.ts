/**
 * The device elements the model keeps verbatim that mpvirt can run, and the top-level pieces
 * kept as elements (`<features>` children, clock timers): each check returns why the element
 * cannot be run, or undefined when the launch plan builds exactly what it says.
 */
import { attr, elementChildren, textOf, type XElement } from './xmltree.js';

/** The Hyper-V enlightenments the argv builder passes to QEMU, in libvirt's order. */
export const HYPERV_FEATURES = [
  'relaxed', 'vapic', 'spinlocks', 'vpindex', 'runtime', 'synic', 'stimer', 'reset', 'vendor_id', 'frequencies',
  'reenlightenment', 'tlbflush', 'ipi', 'evmcs', 'avic',
] as const;

export const SOUND_MODELS: Readonly<Record<string, string>> = { ich6: 'intel-hda', ich9: 'ich9-intel-hda', ac97: 'AC97', es1370: 'ES1370' };
// libvirt 9.0 knows no 'itco' (its schema and parser refuse it)
export const WATCHDOG_MODELS: ReadonlySet<string> = new Set(['i6300esb', 'ib700']);
// not 'dump': libvirt writes a core dump itself and then lets the guest run on
export const WATCHDOG_ACTIONS: ReadonlySet<string> = new Set(['reset', 'shutdown', 'poweroff', 'pause', 'none', 'inject-nmi']);
const AUDIO_TYPES: ReadonlySet<string> = new Set(['none', 'spice']);

/** Clock timers and the attributes of each the argv builder acts on. */
const TIMERS: Readonly<Record<string, ReadonlySet<string>>> = {
  rtc: new Set(['name', 'tickpolicy', 'track']),
  pit: new Set(['name', 'tickpolicy']),
  hpet: new Set(['name', 'present']),
  hypervclock: new Set(['name', 'present']),
  kvmclock: new Set(['name', 'present']),
};
const TICK_POLICIES: Readonly<Record<string, ReadonlySet<string>>> = {
  rtc: new Set(['catchup', 'delay']),
  pit: new Set(['delay', 'discard']),
};

const kids = (el: XElement): XElement[] => elementChildren(el);
const only = (el: XElement, allowed: readonly string[]): string | undefined => {
  const bad = kids(el).find((c) => !allowed.includes(c.name));
  return bad ? `<${bad.name}> in <${el.name}> is not supported` : undefined;
};

function rng(el: XElement): string | undefined {
  const backend = kids(el).find((c) => c.name === 'backend');
  if (attr(el, 'model') !== 'virtio') return `rng model '${attr(el, 'model')}' is not supported`;
  if (!backend || !['random', 'builtin'].includes(attr(backend, 'model') ?? '')) return `rng backend '${backend ? attr(backend, 'model') : ''}' is not supported`;
  if (attr(backend, 'model') === 'random' && !['', '/dev/urandom', '/dev/random', '/dev/hwrng'].includes(textOf(backend).trim())) {
    return `rng backend '${textOf(backend).trim()}' is not supported`;
  }
  return only(el, ['backend', 'rate', 'alias', 'address']);
}

/** Guest-agent channels (unix, socket made by the daemon) and SPICE's agent channel. */
function channel(el: XElement): string | undefined {
  const target = kids(el).find((c) => c.name === 'target');
  const type = attr(el, 'type');
  if ((type !== 'unix' && type !== 'spicevmc') || !target || attr(target, 'type') !== 'virtio') {
    return `channel type '${type}'${target ? ` with target '${attr(target, 'type')}'` : ''} is not supported`;
  }
  return only(el, ['source', 'target', 'alias', 'address']);
}

function sound(el: XElement): string | undefined {
  const model = attr(el, 'model') ?? '';
  if (SOUND_MODELS[model] === undefined) return `sound model '${model}' is not supported`;
  return only(el, ['codec', 'audio', 'alias', 'address']);
}

function watchdog(el: XElement): string | undefined {
  const model = attr(el, 'model') ?? '';
  if (!WATCHDOG_MODELS.has(model)) return `watchdog model '${model}' is not supported`;
  const action = attr(el, 'action') ?? 'reset';
  if (!WATCHDOG_ACTIONS.has(action)) return `watchdog action '${action}' is not supported`;
  return only(el, ['alias', 'address']);
}

function redirdev(el: XElement): string | undefined {
  if (attr(el, 'bus') !== 'usb' || attr(el, 'type') !== 'spicevmc') return `redirdev type '${attr(el, 'type')}' on bus '${attr(el, 'bus')}' is not supported`;
  return only(el, ['alias', 'address', 'boot']);
}

function audio(el: XElement): string | undefined {
  const type = attr(el, 'type') ?? '';
  if (!AUDIO_TYPES.has(type)) return `audio type '${type}' is not supported`;
  return only(el, []);
}

const RAW_CHECKS: Readonly<Record<string, (el: XElement) => string | undefined>> = { rng, channel, sound, watchdog, redirdev, audio };

/** What a device needs that mpvirt does not run, for the ones users meet most. */
const NEEDS: Readonly<Record<string, string>> = {
  hostdev: 'it passes a host device through, which mpvirt does not do',
  tpm: 'it needs a TPM emulator (swtpm) or the host TPM, which mpvirt does not run',
  filesystem: 'it needs a file system daemon (virtiofsd) or a 9p export, which mpvirt does not run',
  smartcard: 'it needs a smartcard backend, which mpvirt does not run',
};

/** Why a verbatim device element cannot be run (undefined: it can). */
export function rawDeviceProblem(el: XElement): string | undefined {
  const check = el.ns === null ? RAW_CHECKS[el.local] : undefined;
  if (check) return check(el);
  const why = el.ns === null ? NEEDS[el.local] : undefined;
  return `device <${el.name}${attr(el, 'type') ? ` type='${attr(el, 'type')}'` : ''}> is not supported${why ? `: ${why}` : ''}`;
}

/** Why a `<features>` child cannot be run, for the ones that carry settings. */
export function featureProblem(f: XElement): string | undefined {
  if (f.local === 'hyperv') {
    const mode = attr(f, 'mode') ?? 'custom';
    if (mode !== 'custom' && mode !== 'passthrough') return `hyperv mode '${mode}' is not supported`;
    const bad = kids(f).find((c) => !(HYPERV_FEATURES as readonly string[]).includes(c.name));
    if (bad) return `Hyper-V enlightenment <${bad.name}> is not supported`;
    const stimer = kids(f).find((c) => c.name === 'stimer');
    return stimer ? only(stimer, ['direct']) : undefined;
  }
  if (f.local === 'smm') return only(f, []);
  return undefined;
}

/** Why a clock `<timer>` cannot be run. */
export function timerProblem(t: XElement): string | undefined {
  const name = attr(t, 'name') ?? '';
  const allowed = TIMERS[name];
  if (!allowed) return `timer '${name}' is not supported`;
  const bad = t.attrs.find((a) => !allowed.has(a.name));
  if (bad) return `timer '${name}' attribute '${bad.name}' is not supported`;
  const policy = attr(t, 'tickpolicy');
  if (policy !== undefined && !TICK_POLICIES[name]?.has(policy)) return `timer '${name}' tickpolicy '${policy}' is not supported`;
  const track = attr(t, 'track');
  if (track !== undefined && !['guest', 'wall', 'realtime'].includes(track)) return `timer '${name}' track '${track}' is not supported`;
  return only(t, []);
}
