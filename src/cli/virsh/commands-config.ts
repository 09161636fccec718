/**
 * Commands that change a domain's settings, as tools/virsh-domain.c writes them: desc, metadata,
 * domrename, setmem, setmaxmem, setvcpus, setvcpu, set-lifecycle-action, inject-nmi, send-key,
 * dompmsuspend, dompmwakeup — and the setting forms of vcpupin / emulatorpin
 * ({@link setVcpuPin}, {@link setEmulatorPin}) for the commands that own their query forms.
 */
import '../../libvirt/domain-config.js';
import '../../libvirt/domain-vcpus.js';
import type { Domain } from '../../libvirt/domain.js';
import { LibvirtError } from '../../libvirt/errors.js';
import { commonOpt, type CmdDef, type OptDef, type ParsedCommand } from '../vsh/command-def.js';
import { exclusive, optArgv, optBool, optString, optStringQuiet, optUInt, optULongLong, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { LIST, withDomain } from './commands-lifecycle.js';
import { editLoop, readBackFile, runEditor, unlinkQuiet, writeTempFile } from './edit-loop.js';
import { childElement, parseXml } from './device-xml.js';
import { linuxKeyCode } from './keycode-names.js';
import { affectFlags, cpuMapFromList, scaledOpt } from './option-values.js';

type Cmd = CmdDef<Ctl>;

const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });
const impactOpts = (): OptDef[] => [commonOpt.config('affect next boot'), commonOpt.live('affect running domain'), commonOpt.current('affect current domain')];
const modifyOpts = (): OptDef[] => [commonOpt.live('modify/get running state'), commonOpt.config('modify/get persistent configuration'), commonOpt.current('modify/get current state configuration')];

/** virshDomainState: virDomainGetState, or virDomainGetInfo where that is not supported. */
function domainState(dom: Domain): number {
  try {
    return dom.state().state;
  } catch (e) {
    if (!(e instanceof LibvirtError) || e.code !== 'VIR_ERR_NO_SUPPORT') throw e;
    return dom.info().state;
  }
}

/** virshGetDomainDescription: the title or description; '' when unset; from the XML where GetMetadata is unsupported. */
function domainDescription(ctl: Ctl, dom: Domain, title: boolean, flags: number): string | undefined {
  try {
    return dom.metadata(title ? 'title' : 'description', undefined, flags);
  } catch (e) {
    if (!(e instanceof LibvirtError)) throw e;
    if (e.code === 'VIR_ERR_NO_DOMAIN_METADATA') return '';
    if (e.code !== 'VIR_ERR_NO_SUPPORT') {
      ctl.lastError = e;
      return undefined;
    }
  }
  const xml = attempt(ctl, undefined, () => dom.xml(flags));
  if (xml === undefined) throw new VshError('Failed to get domain description xml');
  const doc = parseXml(xml);
  if (!doc) throw new VshError('Failed to parse domain description xml');
  return childElement(doc.documentElement!, title ? 'title' : 'description')?.textContent ?? '';
}

const setDescription = (dom: Domain, title: boolean, value: string, flags: number): void =>
  dom.setMetadata(title ? 'title' : 'description', value, { live: (flags & 1) !== 0, config: (flags & 2) !== 0 });

const descCmd: Cmd = {
  name: 'desc', help: "show or set domain's description or title", desc: 'Allows setting or modifying the description or title of a domain.',
  opts: [commonOpt.domain(), ...modifyOpts(), bool('title', 'modify/get the title instead of description'), bool('edit', 'open an editor to modify the description'),
    { name: 'new-desc', type: 'argv', help: 'message' }],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'current', 'live');
    exclusive(cmd, 'current', 'config');
    const flags = affectFlags(cmd);
    const title = optBool(cmd, 'title');
    const edit = optBool(cmd, 'edit');
    return withDomain(ctl, cmd, (dom) => {
      if (attempt(ctl, undefined, () => domainState(dom)) === undefined) return false;
      const words = optArgv(cmd, 'new-desc');
      let descArg = words.length > 0 ? words.join(' ') : undefined;
      if (!edit && descArg === undefined) {
        const desc = domainDescription(ctl, dom, title, flags);
        if (desc === undefined) return false;
        if (desc.length > 0) ctl.print(desc);
        else ctl.printExtra(`No ${title ? 'title' : 'description'} for domain: ${dom.name}`);
        return true;
      }
      const descDom = domainDescription(ctl, dom, title, flags);
      if (descDom === undefined) return false;
      descArg ??= descDom;
      let descNew = descArg;
      if (edit) {
        const tmp = writeTempFile(ctl, descArg);
        if (tmp === undefined) return false;
        try {
          if (!runEditor(ctl, tmp)) return false;
          let edited = readBackFile(ctl, tmp);
          if (edited === undefined) return false;
          // an editor's final newline is dropped from a title
          if (title && edited.endsWith('\n')) edited = edited.slice(0, -1);
          if (edited === descDom) {
            ctl.printExtra(title ? 'Domain title not changed\n' : 'Domain description not changed\n');
            return true;
          }
          descNew = edited;
        } finally {
          unlinkQuiet(tmp);
        }
      }
      if (attempt(ctl, title ? 'Failed to set new domain title' : 'Failed to set new domain description', () => (setDescription(dom, title, descNew, flags), true)) === undefined) return false;
      ctl.printExtra(title ? 'Domain title updated successfully' : 'Domain description updated successfully');
      return true;
    });
  },
};

const metadataCmd: Cmd = {
  name: 'metadata', help: "show or set domain's custom XML metadata", desc: 'Shows or modifies the XML metadata of a domain.',
  opts: [commonOpt.domain(), { name: 'uri', type: 'data', required: true, help: 'URI of the namespace' }, ...modifyOpts(),
    bool('edit', 'use an editor to change the metadata'), { name: 'key', type: 'string', help: 'key to be used as a namespace identifier' },
    { name: 'set', type: 'string', help: 'new metadata to set' }, bool('remove', 'remove the metadata corresponding to an uri')],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'current', 'live');
    exclusive(cmd, 'current', 'config');
    exclusive(cmd, 'edit', 'set');
    exclusive(cmd, 'remove', 'set');
    exclusive(cmd, 'remove', 'edit');
    const flags = affectFlags(cmd);
    const impact = { live: (flags & 1) !== 0, config: (flags & 2) !== 0 };
    return withDomain(ctl, cmd, (dom) => {
      const uri = optString(cmd, 'uri')!;
      const key = optString(cmd, 'key');
      const set = optString(cmd, 'set');
      const edit = optBool(cmd, 'edit');
      const rem = optBool(cmd, 'remove');
      if ((set !== undefined || edit) && key === undefined) throw new VshError('namespace key is required when modifying metadata');
      if (set !== undefined || rem) {
        if (attempt(ctl, undefined, () => (dom.setMetadata('element', set ?? null, { key, uri, ...impact }), true)) === undefined) return false;
        ctl.printExtra(rem ? 'Metadata removed\n' : 'Metadata modified\n');
        return true;
      }
      if (edit) {
        const r = editLoop(ctl, {
          getXml: () => {
            try {
              return dom.metadata('element', uri, flags);
            } catch (e) {
              if (e instanceof LibvirtError) return '\n'; // virshDomainGetEditMetadata: none yet is an empty document
              throw e;
            }
          },
          notChanged: () => ctl.printExtra('Metadata not changed'),
          define: (edited) => dom.setMetadata('element', edited, { key, uri, ...impact }),
        });
        if (r === 'failed') return false;
        if (r === 'edited') ctl.printExtra('Metadata modified\n');
        return true;
      }
      const data = attempt(ctl, undefined, () => dom.metadata('element', uri, flags));
      if (data === undefined) return false;
      ctl.print(`${data}\n`);
      return true;
    });
  },
};

/** A domain call that prints nothing on success (virsh's `return virDomainX(…) == 0`). */
const silent = (ctl: Ctl, fn: () => void): boolean => attempt(ctl, undefined, () => (fn(), true)) !== undefined;

const memOpts = (help: string): OptDef[] => [commonOpt.domain(), { name: 'kilobytes', type: 'alias', help: 'size' }, { name: 'size', type: 'int', required: true, help }, ...impactOpts()];
const ULONG_MAX = 2n ** 64n - 1n;

/** The size in KiB, rounded up (VIR_DIV_UP(bytes, 1024)). */
const kibOf = (ctl: Ctl, cmd: ParsedCommand): number => Number((scaledOpt(ctl, cmd, 'size', 1024n, ULONG_MAX)! + 1023n) / 1024n);

const VCPU_GUEST = 8;
const VCPU_MAXIMUM = 4;
const VCPU_HOTPLUGGABLE = 16;
const MEM_MAXIMUM = 4;

const LIFECYCLE_TYPES = ['poweroff', 'reboot', 'crash'];
const LIFECYCLE_ACTIONS = ['destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart'];
/** virKeycodeSet's names */
const CODESETS = ['linux', 'xt', 'atset1', 'atset2', 'atset3', 'os_x', 'xt_kbd', 'win32', 'usb', 'qnum'];
const SEND_KEY_MAX_KEYS = 16;

/** virshKeyCodeGetInt: strtoul base 0 (0x…, 0…, decimal) over the whole word, at most 0xffff. */
function keyCodeNumber(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*\+?(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(s);
  if (!m) return undefined;
  const v = m[1] !== undefined ? parseInt(m[1], 16) : m[2] !== undefined ? parseInt(m[2], 8) : Number(m[3]);
  return v <= 0xffff ? v : undefined;
}

const SUSPEND_TARGETS = ['mem', 'disk', 'hybrid'];

export const configCommands: Cmd[] = [
  descCmd,
  metadataCmd,
  {
    name: 'domrename', help: 'rename a domain', desc: 'Rename an inactive domain.',
    opts: [commonOpt.domain('domain name or uuid', LIST.INACTIVE), { name: 'new-name', type: 'data', required: true, help: 'new domain name' }],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
      const name = optString(cmd, 'new-name')!;
      if (!silent(ctl, () => dom.rename(name))) return false;
      ctl.printExtra('Domain successfully renamed\n');
      return true;
    }),
  },
  {
    name: 'setmem', help: 'change memory allocation', desc: 'Change the current memory allocation in the guest domain.',
    opts: memOpts('new memory size, as scaled integer (default KiB)'),
    handler: (ctl, cmd) => {
      exclusive(cmd, 'current', 'live');
      exclusive(cmd, 'current', 'config');
      // no option at all: the running domain (VIR_DOMAIN_AFFECT_LIVE), unlike most commands
      const any = optBool(cmd, 'config') || optBool(cmd, 'live') || optBool(cmd, 'current');
      const flags = any ? affectFlags(cmd) : 1;
      return withDomain(ctl, cmd, (dom) => {
        const kib = kibOf(ctl, cmd);
        return silent(ctl, () => dom.setMemory(kib, flags));
      });
    },
  },
  {
    name: 'setmaxmem', help: 'change maximum memory limit', desc: 'Change the maximum memory allocation limit in the guest domain.',
    opts: memOpts('new maximum memory size, as scaled integer (default KiB)'),
    handler: (ctl, cmd) => {
      exclusive(cmd, 'current', 'live');
      exclusive(cmd, 'current', 'config');
      const flags = affectFlags(cmd);
      return withDomain(ctl, cmd, (dom) => {
        const kib = kibOf(ctl, cmd);
        return attempt(ctl, 'Unable to change MaxMemorySize', () => (dom.setMemory(kib, flags | MEM_MAXIMUM), true)) !== undefined;
      });
    },
  },
  {
    name: 'setvcpus', help: 'change number of virtual CPUs', desc: 'Change the number of virtual CPUs in the guest domain.',
    opts: [commonOpt.domain(), { name: 'count', type: 'int', required: true, help: 'number of virtual CPUs' }, bool('maximum', 'set maximum limit on next boot'),
      ...impactOpts(), bool('guest', 'modify cpu state in the guest'), bool('hotpluggable', 'make added vcpus hot(un)pluggable')],
    handler: (ctl, cmd) => {
      exclusive(cmd, 'current', 'live');
      exclusive(cmd, 'current', 'config');
      exclusive(cmd, 'guest', 'config');
      if (optBool(cmd, 'maximum') && !optBool(cmd, 'config')) throw new VshError('Option --config is required by option --maximum');
      const flags = affectFlags(cmd) | (optBool(cmd, 'guest') ? VCPU_GUEST : 0) | (optBool(cmd, 'maximum') ? VCPU_MAXIMUM : 0) | (optBool(cmd, 'hotpluggable') ? VCPU_HOTPLUGGABLE : 0);
      return withDomain(ctl, cmd, (dom) => {
        const count = optUInt(cmd, 'count')!;
        if (count === 0) throw new VshError("Can't set 0 processors for a VM");
        // no option at all: the flagless virDomainSetVcpus
        return silent(ctl, () => dom.setVcpus(count, !optBool(cmd, 'current') && flags === 0 ? undefined : flags));
      });
    },
  },
  {
    name: 'set-lifecycle-action', help: 'change lifecycle actions', desc: 'Change lifecycle actions for the guest domain.',
    opts: [commonOpt.domain(), { name: 'type', type: 'data', required: true, help: 'lifecycle type to modify' },
      { name: 'action', type: 'data', required: true, help: 'lifecycle action to set' }, ...impactOpts()],
    handler: (ctl, cmd) => {
      exclusive(cmd, 'current', 'live');
      exclusive(cmd, 'current', 'config');
      const flags = affectFlags(cmd);
      const typeStr = optString(cmd, 'type')!;
      const actionStr = optString(cmd, 'action')!;
      const type = LIFECYCLE_TYPES.indexOf(typeStr);
      if (type < 0) throw new VshError(`Invalid lifecycle type '${typeStr}'.`);
      const action = LIFECYCLE_ACTIONS.indexOf(actionStr);
      if (action < 0) throw new VshError(`Invalid lifecycle action '${actionStr}'.`);
      return withDomain(ctl, cmd, (dom) => attempt(ctl, 'Unable to change lifecycle action.', () => (dom.setLifecycleAction(type, action, flags), true)) !== undefined);
    },
  },
  {
    name: 'inject-nmi', help: 'Inject NMI to the guest', desc: 'Inject NMI to the guest domain.', opts: [commonOpt.domain(undefined, LIST.ACTIVE)],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => silent(ctl, () => dom.injectNMI())),
  },
  {
    name: 'send-key', help: 'Send keycodes to the guest', desc: 'Send keycodes (integers or symbolic names) to the guest',
    opts: [commonOpt.domain(undefined, LIST.ACTIVE), { name: 'codeset', type: 'string', requireName: true, help: 'the codeset of keycodes, default:linux' },
      { name: 'holdtime', type: 'int', requireName: true, help: 'the time (in milliseconds) how long the keys will be held' },
      { name: 'keycode', type: 'argv', required: true, help: 'the key code' }],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
      let name = optStringQuiet(cmd, 'codeset') || 'linux';
      const holdtime = optUInt(cmd, 'holdtime') ?? 0;
      if (name === 'rfb') name = 'qnum'; // qnum's old name
      const codeset = CODESETS.indexOf(name);
      if (codeset < 0) throw new VshError(`unknown codeset: '${name}'`);
      const codes: number[] = [];
      for (const word of optArgv(cmd, 'keycode')) {
        if (codes.length === SEND_KEY_MAX_KEYS) throw new VshError('too many keycodes');
        const code = keyCodeNumber(word) ?? (codeset === 0 ? linuxKeyCode(word) : undefined);
        if (code === undefined) {
          if (codeset === 5 || codeset === 7) throw new VshError(`invalid keycode: '${word}' (mpvirsh knows key names of the linux codeset only; give ${name}'s numbers)`);
          throw new VshError(`invalid keycode: '${word}'`);
        }
        codes.push(code);
      }
      return silent(ctl, () => dom.sendKey(codeset, holdtime, codes));
    }),
  },
  {
    name: 'dompmsuspend', help: 'suspend a domain gracefully using power management functions',
    desc: "Suspends a running domain using guest OS's power management. (Note: This requires a guest agent configured and running in the guest OS).",
    opts: [commonOpt.domain(undefined, LIST.RUNNING), { name: 'target', type: 'data', required: true, help: 'mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend)' },
      { name: 'duration', type: 'int', requireName: true, help: 'duration in seconds' }],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
      const duration = optULongLong(cmd, 'duration') ?? 0n;
      const target = SUSPEND_TARGETS.indexOf(optString(cmd, 'target')!);
      if (target < 0) throw new VshError('Invalid target');
      const n = dom.name;
      if (attempt(ctl, `Domain '${n}' could not be suspended`, () => (dom.pmSuspend(target, duration), true)) === undefined) return false;
      ctl.printExtra(`Domain '${n}' successfully suspended`);
      return true;
    }),
  },
  {
    name: 'dompmwakeup', help: 'wakeup a domain from pmsuspended state', desc: 'Wakeup a domain that was previously suspended by power management.',
    opts: [commonOpt.domain(undefined, 128)],
    handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
      const n = dom.name;
      if (attempt(ctl, `Domain '${n}' could not be woken up`, () => (dom.pmWakeup(), true)) === undefined) return false;
      ctl.printExtra(`Domain '${n}' successfully woken up`);
      return true;
    }),
  },
  {
    name: 'setvcpu', help: 'attach/detach vcpu or groups of threads', desc: 'Add or remove vcpus',
    opts: [commonOpt.domain(), { name: 'vcpulist', type: 'data', required: true, help: 'ids of vcpus to manipulate' },
      bool('enable', 'enable cpus specified by cpumap'), bool('disable', 'disable cpus specified by cpumap'), ...impactOpts()],
    handler: (ctl, cmd) => {
      exclusive(cmd, 'enable', 'disable');
      exclusive(cmd, 'current', 'live');
      exclusive(cmd, 'current', 'config');
      const flags = affectFlags(cmd);
      const enable = optBool(cmd, 'enable');
      if (!enable && !optBool(cmd, 'disable')) throw new VshError('one of --enable, --disable is required');
      const list = optString(cmd, 'vcpulist')!;
      return withDomain(ctl, cmd, (dom) => silent(ctl, () => dom.setVcpu(list, enable, flags)));
    },
  },
];

/** vcpupin's / emulatorpin's --config, --live, --current. */
export interface PinImpact {
  config?: boolean;
  live?: boolean;
  current?: boolean;
}

/** virshNodeGetCPUCount, or undefined with the error left for the caller's `return false`. */
const hostCpus = (ctl: Ctl): number | undefined => attempt(ctl, undefined, () => ctl.connected!.nodeCpuCount());

/**
 * vcpupin's pin mode (cmdVcpuPin after its option checks): pin `vcpu` to `cpulist` (`r` for every
 * host CPU) with virsh's messages. The flagless virDomainPinVcpu when no option was given.
 * Returns the command's result; a refusal is a thrown VshError, as elsewhere in mpvirsh.
 */
export function setVcpuPin(ctl: Ctl, dom: Domain, vcpu: number, cpulist: string, flags: PinImpact): boolean {
  const maxcpu = hostCpus(ctl);
  if (maxcpu === undefined) return false;
  const cpumap = cpuMapFromList(ctl, cpulist, maxcpu);
  const f = (flags.config ? 2 : 0) | (flags.live ? 1 : 0);
  return silent(ctl, () => dom.pinVcpu(vcpu, cpumap, f === 0 && !flags.current ? undefined : f));
}

/** emulatorpin's pin mode: no option given means the running domain (VIR_DOMAIN_AFFECT_LIVE). */
export function setEmulatorPin(ctl: Ctl, dom: Domain, cpulist: string, flags: PinImpact): boolean {
  const maxcpu = hostCpus(ctl);
  if (maxcpu === undefined) return false;
  const cpumap = cpuMapFromList(ctl, cpulist, maxcpu);
  const none = !flags.config && !flags.live && !flags.current;
  const f = none ? 1 : (flags.config ? 2 : 0) | (flags.live ? 1 : 0);
  return silent(ctl, () => dom.pinEmulator(cpumap, f));
}
