/**
 * vcpupin and emulatorpin, as tools/virsh-domain.c writes them: without a cpulist they show the
 * affinity (a table of vCPUs, or the emulator's one map); with one they pin
 * ({@link pinVcpuTo}, {@link pinEmulatorTo}), the cpulist read as virshParseCPUList reads it.
 */
import '../../libvirt/domain-vcpus.js';
import type { Domain } from '../../libvirt/domain.js';
import { commonOpt, type CmdDef, type OptDef } from '../vsh/command-def.js';
import { exclusive, optBool, optString, optUInt, VshError } from '../vsh/options.js';
import { formatTable } from '../vsh/table.js';
import type { Ctl } from './ctl.js';
import { withDomain } from './commands-lifecycle.js';
import { AFFECT_CONFIG, AFFECT_LIVE, cpuCountCollect, hostCpuCount, VCPU_MAXIMUM } from './vcpu-count.js';
import { bitmapFormat, cpuMapLen, parseCpuList } from './format-values.js';

type Cmd = CmdDef<Ctl>;

const cpulistOpt: OptDef = { name: 'cpulist', type: 'string', emptyOk: true, help: 'host cpu number(s) to set, or omit option to query', completer: 'cpulist' };
const impactOpts: OptDef[] = [commonOpt.config('affect next boot'), commonOpt.live('affect running domain'), commonOpt.current('affect current domain')];

/** virshParseCPUList: `r` for every host CPU, else a virBitmapParse list within the host's CPUs. */
export function cpuListMap(ctl: Ctl, cpulist: string, maxcpu: number): Buffer {
  if (cpulist.startsWith('r')) {
    const map = Buffer.alloc(cpuMapLen(maxcpu));
    for (let i = 0; i < maxcpu; i++) map[i >> 3]! |= 1 << (i & 7);
    return map;
  }
  const cpus = parseCpuList(cpulist);
  if (!cpus) {
    // virBitmapParse's own error follows virsh's line
    ctl.error(`Invalid cpulist '${cpulist}'`);
    throw new VshError(`invalid argument: Failed to parse bitmap '${cpulist}'`);
  }
  if (cpus.size === 0) throw new VshError(`Invalid cpulist '${cpulist}'`);
  const last = Math.max(...cpus);
  if (last >= maxcpu) throw new VshError(`CPU ${last} in cpulist '${cpulist}' exceed the maxcpu ${maxcpu}`);
  const map = Buffer.alloc(128); // virBitmapParse's 1024-bit map, as virBitmapToData hands it over
  for (const c of cpus) map[c >> 3]! |= 1 << (c & 7);
  return map;
}

/** vcpupin's pin mode: the old API when no impact option was given, as virsh calls it. */
export function pinVcpuTo(dom: Domain, vcpu: number, map: Buffer, flags: number, explicitCurrent: boolean): void {
  if (flags === 0 && !explicitCurrent) dom.pinVcpu(vcpu, map);
  else dom.pinVcpu(vcpu, map, flags);
}

/** emulatorpin's pin mode (no impact option: the running domain). */
export function pinEmulatorTo(dom: Domain, map: Buffer, flags: number | undefined): void {
  dom.pinEmulator(map, flags ?? AFFECT_LIVE);
}

/** virshVcpuPinQuery */
function vcpuPinQuery(ctl: Ctl, dom: Domain, vcpu: number | undefined, maxcpu: number, flags: number): boolean {
  const n = cpuCountCollect(ctl, dom, flags | VCPU_MAXIMUM, true);
  if (n === 'n/a') throw new VshError(flags & AFFECT_LIVE ? 'cannot get vcpupin for offline domain' : 'cannot get vcpupin for transient domain');
  if (n === 'failed' || n < 0) return false;
  if (vcpu !== undefined && vcpu >= n) {
    const live = flags & AFFECT_LIVE || (!(flags & AFFECT_CONFIG) && dom.isActive());
    throw new VshError(live ? `vcpu ${vcpu} is out of range of live cpu count ${n}` : `vcpu ${vcpu} is out of range of persistent cpu count ${n}`);
  }
  const maplen = cpuMapLen(maxcpu);
  let maps: Buffer[];
  try {
    maps = dom.vcpuPinInfo(n, maplen, flags);
  } catch {
    return true; // virsh prints nothing and succeeds when the pinning cannot be read
  }
  const rows = maps.flatMap((m, i) => (vcpu !== undefined && i !== vcpu ? [] : [[String(i), bitmapFormat(m, maplen)]]));
  ctl.print(formatTable(['VCPU', 'CPU Affinity'], rows, !ctl.opts.quiet));
  return true;
}

const vcpupin: Cmd = {
  name: 'vcpupin', help: 'control or query domain vcpu affinity', desc: 'Pin domain VCPUs to host physical CPUs.',
  opts: [commonOpt.domain(), { name: 'vcpu', type: 'int', help: 'vcpu number', completer: 'vcpu' }, cpulistOpt, ...impactOpts],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'current', 'live');
    exclusive(cmd, 'current', 'config');
    const flags = (optBool(cmd, 'config') ? AFFECT_CONFIG : 0) | (optBool(cmd, 'live') ? AFFECT_LIVE : 0);
    const cpulist = optString(cmd, 'cpulist');
    if (cpulist === undefined) exclusive(cmd, 'live', 'config');
    const vcpu = optUInt(cmd, 'vcpu');
    if (cpulist !== undefined && vcpu === undefined) throw new VshError('vcpupin: Missing vCPU number in pin mode.');
    const maxcpu = hostCpuCount(ctl);
    if (maxcpu === undefined || maxcpu < 0) return false;
    return withDomain(ctl, cmd, (dom) => {
      if (cpulist === undefined) return vcpuPinQuery(ctl, dom, vcpu, maxcpu, flags);
      pinVcpuTo(dom, vcpu!, cpuListMap(ctl, cpulist, maxcpu), flags, optBool(cmd, 'current'));
      return true;
    });
  },
};

const emulatorpin: Cmd = {
  name: 'emulatorpin', help: 'control or query domain emulator affinity', desc: 'Pin domain emulator threads to host physical CPUs.',
  opts: [commonOpt.domain(), cpulistOpt, ...impactOpts],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'current', 'live');
    exclusive(cmd, 'current', 'config');
    const [config, live, current] = ['config', 'live', 'current'].map((n) => optBool(cmd, n));
    const flags = !current && !live && !config ? undefined : (config ? AFFECT_CONFIG : 0) | (live ? AFFECT_LIVE : 0);
    return withDomain(ctl, cmd, (dom) => {
      const cpulist = optString(cmd, 'cpulist');
      const maxcpu = hostCpuCount(ctl);
      if (maxcpu === undefined || maxcpu < 0) return false;
      if (cpulist !== undefined) {
        pinEmulatorTo(dom, cpuListMap(ctl, cpulist, maxcpu), flags);
        return true;
      }
      const maplen = cpuMapLen(maxcpu);
      const map = dom.emulatorPinInfo(maplen, flags ?? 0);
      ctl.printExtra('emulator: CPU Affinity\n----------------------------------\n       *: ');
      ctl.print(`${bitmapFormat(map, maplen)}\n`);
      return true;
    });
  },
};

export const pinCommands: Cmd[] = [vcpupin, emulatorpin];
