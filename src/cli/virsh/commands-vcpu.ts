/**
 * A domain's CPUs, as tools/virsh-domain.c writes them: vcpucount, vcpuinfo,
 * iothreadinfo, cpu-stats (vcpupin and emulatorpin are in commands-pin.ts).
 */
import '../../libvirt/connection-host.js';
import '../../libvirt/domain-vcpus.js';
import type { Domain } from '../../libvirt/domain.js';
import { LibvirtError } from '../../libvirt/errors.js';
import { TypedParameterType as T } from '../../libvirt/enums-misc.js';
import type { TypedParam } from '../../libvirt/typed-param-list.js';
import { commonOpt, type CmdDef, type OptDef } from '../vsh/command-def.js';
import { exclusive, optBool, optInt, VshError } from '../vsh/options.js';
import { formatTable } from '../vsh/table.js';
import { attempt, type Ctl } from './ctl.js';
import { LIST, withDomain } from './commands-lifecycle.js';
import { AFFECT_CONFIG, AFFECT_LIVE, cpuCountCollect, hostCpuCount, inactiveXml, VCPU_GUEST, VCPU_MAXIMUM } from './vcpu-count.js';
import { bitmapFormat, cpuMapLen, cpuMapString, fixed, typedParamValue } from './format-values.js';
import { attr, child, select, text, xpathInt } from './xml-read.js';

type Cmd = CmdDef<Ctl>;
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });

const vcpucount: Cmd = {
  name: 'vcpucount', help: 'domain vcpu counts', desc: 'Returns the number of virtual CPUs used by the domain.',
  opts: [
    commonOpt.domain(), bool('maximum', 'get maximum count of vcpus'), bool('active', 'get number of currently active vcpus'),
    commonOpt.live('get value from running domain'), commonOpt.config('get value to be used on next boot'),
    commonOpt.current('get value according to current domain state'), bool('guest', 'retrieve vcpu count from the guest instead of the hypervisor'),
  ],
  handler: (ctl, cmd) => {
    const [maximum, active, config, live, guest] = ['maximum', 'active', 'config', 'live', 'guest'].map((n) => optBool(cmd, n)) as [boolean, boolean, boolean, boolean, boolean];
    let current = optBool(cmd, 'current');
    const all = !maximum && !active && !current && !config && !live && !guest;
    // before 0.9.4 --current meant "not --maximum": '--current --live' is '--active --live'
    if (!maximum && !active && current) current = false;
    const ex = (a: string, av: boolean, b: string, bv: boolean): void => {
      if (av && bv) throw new VshError(`Options --${a} and --${b} are mutually exclusive`);
    };
    ex('live', live, 'config', config);
    ex('current', current, 'live', live);
    ex('current', current, 'config', config);
    ex('active', active, 'maximum', maximum);
    ex('guest', guest, 'config', config);
    const flags = (live ? AFFECT_LIVE : 0) | (config ? AFFECT_CONFIG : 0) | (maximum ? VCPU_MAXIMUM : 0) | (guest ? VCPU_GUEST : 0);
    return withDomain(ctl, cmd, (dom) => {
      if (!all) {
        const n = cpuCountCollect(ctl, dom, flags, false);
        if (typeof n !== 'number' || n < 0) return false;
        ctl.print(`${n}\n`);
        return true;
      }
      const confMax = cpuCountCollect(ctl, dom, AFFECT_CONFIG | VCPU_MAXIMUM, true);
      const confCur = cpuCountCollect(ctl, dom, AFFECT_CONFIG, true);
      const liveMax = cpuCountCollect(ctl, dom, AFFECT_LIVE | VCPU_MAXIMUM, true);
      const liveCur = cpuCountCollect(ctl, dom, AFFECT_LIVE, true);
      if ([confMax, confCur, liveMax, liveCur].includes('failed')) return false;
      const line = (v: number | 'n/a' | 'failed', which: string, state: string): void => {
        if (typeof v === 'number' && v > 0) ctl.print(`${which.padEnd(12)} ${state.padEnd(12)} ${String(v).padStart(3)}\n`);
      };
      line(confMax, 'maximum', 'config');
      line(liveMax, 'maximum', 'live');
      line(confCur, 'current', 'config');
      line(liveCur, 'current', 'live');
      return true;
    });
  },
};

const VCPU_STATES = ['offline', 'running', 'blocked'];

function affinityLine(map: Buffer, maxcpu: number, pretty: boolean): string {
  return `${'CPU Affinity:'.padEnd(15)} ${pretty ? `${bitmapFormat(map, cpuMapLen(maxcpu))} (out of ${maxcpu})` : cpuMapString(map, maxcpu)}\n`;
}

/** virshDomainGetVcpuBitmap of the inactive XML: the vCPUs enabled at next boot. */
function enabledVcpus(ctl: Ctl, dom: Domain): { size: number; ids: number[] } {
  const root = inactiveXml(ctl, dom).documentElement!;
  const vcpu = root.localName === 'domain' ? child(root, 'vcpu') : undefined;
  const max = xpathInt(text(vcpu), true);
  if (max === undefined) throw new VshError('Failed to retrieve maximum vcpu count');
  const cur = xpathInt(attr(vcpu, 'current') ?? '', true) || max;
  const nodes = root.localName === 'domain' ? select(root, 'vcpus/vcpu') : [];
  if (nodes.length === 0) return { size: max, ids: Array.from({ length: Math.min(cur, max) }, (_, i) => i) };
  const ids = new Set<number>();
  for (const n of nodes) {
    const id = xpathInt(attr(n, 'id') ?? '', true);
    const enabled = attr(n, 'enabled');
    if (id === undefined || enabled === undefined || enabled === '') continue;
    if (enabled === 'yes' && id < max) ids.add(id);
  }
  if (ids.size !== cur) throw new VshError('Failed to retrieve vcpu state bitmap');
  return { size: max, ids: [...ids].sort((a, b) => a - b) };
}

const vcpuinfo: Cmd = {
  name: 'vcpuinfo', help: 'detailed domain vcpu information', desc: 'Returns basic information about the domain virtual CPUs.',
  opts: [commonOpt.domain(), bool('pretty', 'return human readable output')],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const pretty = optBool(cmd, 'pretty');
    const maxcpu = hostCpuCount(ctl);
    if (maxcpu === undefined || maxcpu < 0) return false;
    const info = dom.info();
    const maplen = cpuMapLen(maxcpu);
    let vcpus;
    try {
      vcpus = dom.vcpus(info.vcpus, maplen);
    } catch (e) {
      if (!(e instanceof LibvirtError) || info.state !== 5) throw e;
      // a shut-off domain: its pinning from the configuration
      const { size, ids } = enabledVcpus(ctl, dom);
      const maps = dom.vcpuPinInfo(size, maplen, AFFECT_CONFIG);
      ctl.print(ids.map((id) => `${'VCPU:'.padEnd(15)} ${id}\n${'CPU:'.padEnd(15)} N/A\n${'State:'.padEnd(15)} N/A\n${'CPU time'.padEnd(15)} N/A\n${affinityLine(maps[id] ?? Buffer.alloc(maplen), maxcpu, pretty)}`).join('\n'));
      return true;
    }
    ctl.print(vcpus.info.map((v, n) => {
      let s = `${'VCPU:'.padEnd(15)} ${v.number}\n${'CPU:'.padEnd(15)} ${v.cpu}\n${'State:'.padEnd(15)} ${VCPU_STATES[v.state] ?? 'no state'}\n`;
      if (Number(v.cpuTime) !== 0) s += `${'CPU time:'.padEnd(15)} ${fixed(Number(v.cpuTime) / 1e9, 1)}s\n`;
      return s + affinityLine(vcpus.cpumaps[n]!, maxcpu, pretty);
    }).join('\n'));
    return true;
  }),
};

const iothreadinfo: Cmd = {
  name: 'iothreadinfo', help: 'view domain IOThreads', desc: 'Returns basic information about the domain IOThreads.',
  opts: [commonOpt.domain(), commonOpt.config('affect next boot'), commonOpt.live('affect running domain'), commonOpt.current('affect current domain')],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'current', 'live');
    exclusive(cmd, 'current', 'config');
    const flags = (optBool(cmd, 'config') ? AFFECT_CONFIG : 0) | (optBool(cmd, 'live') ? AFFECT_LIVE : 0);
    return withDomain(ctl, cmd, (dom) => {
      const threads = attempt(ctl, 'Unable to get domain IOThreads information', () => dom.ioThreadInfo(flags));
      if (!threads) return false;
      if (threads.length === 0) {
        ctl.printExtra('No IOThreads found for the domain');
        return true;
      }
      ctl.print(formatTable(['IOThread ID', 'CPU Affinity'], threads.map((t) => [String(t.id), bitmapFormat(t.cpumap)]), !ctl.opts.quiet));
      return true;
    });
  },
};

const TIME_FIELDS = new Set(['cpu_time', 'vcpu_time', 'user_time', 'system_time']);

/** vshCPUStatsPrintField */
function cpuStatField(p: TypedParam): string {
  if (TIME_FIELDS.has(p.field) && p.type === T.ULLONG) {
    const ns = BigInt(p.value);
    return `\t${p.field.padEnd(12)} ${String(ns / 1000000000n).padStart(9)}.${String(ns % 1000000000n).padStart(9, '0')} seconds\n`;
  }
  return `\t${p.field.padEnd(12)} ${typedParamValue(p)}\n`;
}

const cpuStats: Cmd = {
  name: 'cpu-stats', help: 'show domain cpu statistics', desc: "Display per-CPU and total statistics about the domain's CPUs",
  opts: [
    commonOpt.domain(undefined, LIST.ACTIVE), bool('total', 'Show total statistics only'),
    { name: 'start', type: 'int', help: 'Show statistics from this CPU' }, { name: 'count', type: 'int', help: 'Number of shown CPUs at most' },
  ],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    let showTotal = optBool(cmd, 'total');
    let showPerCpu = false;
    let cpu = optInt(cmd, 'start');
    if (cpu !== undefined) {
      if (cpu < 0) throw new VshError('Invalid value for start CPU');
      showPerCpu = true;
    }
    let count = optInt(cmd, 'count');
    if (count !== undefined) {
      if (count < 0) throw new VshError('Invalid value for number of CPUs to show');
      showPerCpu = true;
    }
    if (!showTotal && !showPerCpu) showTotal = showPerCpu = true;
    const failed = `Failed to retrieve CPU statistics for domain '${dom.name}'`;
    if (showPerCpu) {
      const maxId = attempt(ctl, failed, () => dom.cpuStatsCount(0, 0));
      if (maxId === undefined) return false;
      cpu ??= 0;
      if (cpu >= maxId) throw new VshError(`Start CPU ${cpu} is out of range (min: 0, max: ${maxId - 1})`);
      if (count === undefined || count > maxId) {
        if (count !== undefined) ctl.print(`Only ${maxId} CPUs available to show\n`);
        count = maxId - cpu;
      }
      const nparams = attempt(ctl, failed, () => dom.cpuStatsCount(0, 1));
      if (nparams === undefined) return false;
      if (nparams === 0) {
        ctl.print('No per-CPU stats available');
        if (!showTotal) return false;
      } else {
        while (count > 0) {
          const n = Math.min(count, 128);
          const from = cpu;
          const got = attempt(ctl, failed, () => dom.cpuStats(nparams, from, n));
          if (!got) return false;
          got.cpus.forEach((list, i) => {
            if (list) ctl.print(`CPU${from + i}:\n${list.map(cpuStatField).join('')}`);
          });
          cpu += n;
          count -= n;
        }
        if (!showTotal) return true;
      }
    }
    const nparams = attempt(ctl, failed, () => dom.cpuStatsCount(-1, 1));
    if (nparams === undefined) return false;
    if (nparams === 0) {
      ctl.print('No total stats available');
      return false;
    }
    const total = attempt(ctl, failed, () => dom.cpuStats(nparams, -1, 1));
    if (!total) return false;
    ctl.print(`Total:\n${(total.cpus[0] ?? []).map(cpuStatField).join('')}`);
    return true;
  }),
};

export const vcpuCommands: Cmd[] = [cpuStats, vcpucount, vcpuinfo, iothreadinfo];
