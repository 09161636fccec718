/**
 * Host and hypervisor commands, as tools/virsh-host.c writes them: capabilities,
 * domcapabilities, freecell, freepages, maxvcpus, nodecpumap, nodecpustats, nodeinfo,
 * nodememstats, sysinfo (the CPU model commands are in commands-host-cpu.ts).
 */
import '../../libvirt/connection-host.js';
import type { Connection } from '../../libvirt/connection.js';
import type { CmdDef, OptDef, ParsedCommand } from '../vsh/command-def.js';
import { exclusive, optBool, optInt, optString, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { hostCpuCommands } from './commands-host-cpu.js';
import { bitmapFormat, cpuMapLen, cpuMapString, fixed } from './format-values.js';
import { attr, child, parseXml, select, xpathInt } from './xml-read.js';

type Cmd = CmdDef<Ctl>;
const conn = (ctl: Ctl): Connection => ctl.connected!;
const str = (name: string, help: string, completer?: string): OptDef => ({ name, type: 'string', help, ...(completer ? { completer } : {}) });

/** The node's capabilities document's `<cell>` elements, or virsh's error. */
function capsCells(ctl: Ctl, unparsable: string): ReturnType<typeof select> {
  const caps = attempt(ctl, undefined, () => conn(ctl).capabilities());
  if (caps === undefined) throw new VshError('unable to get node capabilities');
  const doc = parseXml(caps);
  if (!doc || doc.documentElement!.localName !== 'capabilities') throw new VshError(unparsable);
  return select(doc.documentElement!, 'host/topology/cells/cell');
}

/** vshCommandOptScaledInt(…, 1024, max): a size in KiB by default, with libvirt's suffixes. */
function optScaled(ctl: Ctl, cmd: ParsedCommand, name: string, scale: bigint, max: bigint): bigint | undefined {
  const raw = cmd.opts.find((o) => o.def.name === name)?.data;
  if (raw === undefined) return undefined;
  const malformed = `Scaled numeric value '${raw}' for <${name}> option is malformed or out of range`;
  const m = /^\s*(\d+)(.*)$/s.exec(raw);
  if (!m) throw new VshError(malformed);
  const value = BigInt(m[1]!);
  const suffix = m[2]!;
  let factor = scale;
  if (suffix !== '') {
    const lower = suffix.toLowerCase();
    if (lower === 'b' || lower === 'byte' || lower === 'bytes') factor = 1n;
    else {
      const base = suffix.length === 1 || suffix.slice(1).toLowerCase() === 'ib' ? 1024n : lower[1] === 'b' && suffix.length === 2 ? 1000n : 0n;
      const power = 'kmgtpe'.indexOf(lower[0]!) + 1;
      if (base === 0n || power === 0) {
        ctl.error(malformed);
        throw new VshError(`invalid argument: unknown suffix '${suffix}'`);
      }
      factor = base ** BigInt(power);
    }
  }
  if (value !== 0n && value > max / factor) {
    ctl.error(malformed);
    throw new VshError(`numerical overflow: value too large: ${value}${suffix}`);
  }
  return value * factor;
}

const kib = (v: number | bigint): bigint => BigInt(v) / 1024n;

const freecell: Cmd = {
  name: 'freecell', help: 'NUMA free memory', desc: 'display available free memory for the NUMA cell.',
  opts: [{ name: 'cellno', type: 'int', help: 'NUMA cell number', completer: 'cellno' }, { name: 'all', type: 'bool', help: 'show free memory for all NUMA cells' }],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'all', 'cellno');
    const cell = optInt(cmd, 'cellno');
    if (!optBool(cmd, 'all')) {
      if (cell !== undefined) {
        const mem = conn(ctl).cellsFreeMemory(cell, 1);
        if (mem.length !== 1) return false;
        ctl.print(`${cell}: ${kib(mem[0]!)} KiB\n`);
      } else ctl.print(`Total: ${kib(conn(ctl).freeMemory())} KiB\n`);
      return true;
    }
    const cells = capsCells(ctl, 'unable to get node capabilities');
    const free: Array<[string, bigint]> = [];
    for (const c of cells) {
      const id = attr(c, 'id') ?? '';
      if (!/^\d+$/.test(id)) throw new VshError('conversion from string failed');
      const mem = attempt(ctl, undefined, () => conn(ctl).cellsFreeMemory(Number(id), 1));
      if (!mem || mem.length !== 1) throw new VshError(`failed to get free memory for NUMA node number: ${Number(id)}`);
      free.push([String(Number(id)), BigInt(mem[0]!)]);
    }
    let total = 0n;
    for (const [id, bytes] of free) {
      ctl.print(`${id.padStart(5)}: ${String(bytes / 1024n).padStart(10)} KiB\n`);
      total += bytes;
    }
    ctl.printExtra(`--------------------\n${'Total'.padStart(5)}: ${String(total / 1024n).padStart(10)} KiB\n`);
    return true;
  },
};

const freepages: Cmd = {
  name: 'freepages', help: 'NUMA free pages', desc: 'display available free pages for the NUMA cell.',
  opts: [
    { name: 'cellno', type: 'int', help: 'NUMA cell number', completer: 'cellno' }, { name: 'pagesize', type: 'int', help: 'page size (in kibibytes)', completer: 'pagesize' },
    { name: 'all', type: 'bool', help: 'show free pages for all NUMA cells' },
  ],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'all', 'cellno');
    const bytes = optScaled(ctl, cmd, 'pagesize', 1024n, 0xffffffffn);
    const kibibytes = bytes === undefined ? 0 : Number((bytes + 1023n) / 1024n);
    if (optBool(cmd, 'all')) {
      const caps = attempt(ctl, undefined, () => conn(ctl).capabilities());
      if (caps === undefined) throw new VshError('unable to get node capabilities');
      const doc = parseXml(caps);
      if (!doc) throw new VshError('unable to parse node capabilities');
      const root = doc.documentElement!.localName === 'capabilities' ? doc.documentElement! : undefined;
      let sizes: number[];
      if (bytes === undefined) {
        let pages = select(root, 'host/cpu/pages');
        if (pages.length === 0) pages = select(root, 'host/topology/cells/cell/pages');
        if (pages.length === 0) throw new VshError('could not get information about supported page sizes');
        sizes = pages.map((p) => {
          const v = xpathInt(attr(p, 'size'), true);
          if (v === undefined) throw new VshError(`unable to parse page size: ${attr(p, 'size') ?? '(null)'}`);
          return v;
        });
        sizes = [...new Set(sizes.sort((a, b) => a - b))];
      } else sizes = [kibibytes];
      let out = '';
      for (const c of select(root, 'host/topology/cells/cell')) {
        const id = xpathInt(attr(c, 'id'));
        if (id === undefined) throw new VshError(`unable to parse numa node id: ${attr(c, 'id') ?? '(null)'}`);
        const counts = conn(ctl).freePages(sizes, id, 1)[0]!;
        out += `Node ${id}:\n${sizes.map((s, j) => `${s}KiB: ${BigInt.asIntN(64, BigInt(counts[j]!))}\n`).join('')}\n`;
      }
      ctl.print(out);
      return true;
    }
    if (!cmd.opts.some((o) => o.def.name === 'cellno')) throw new VshError('missing cellno argument');
    const cell = optInt(cmd, 'cellno')!;
    if (cell < -1) throw new VshError('cell number must be non-negative integer or -1');
    if (bytes === undefined) throw new VshError('missing pagesize argument');
    const counts = conn(ctl).freePages([kibibytes], cell, 1)[0]!;
    ctl.print(`${kibibytes}KiB: ${BigInt.asIntN(64, BigInt(counts[0]!))}\n`);
    return true;
  },
};

const CPU_STAT_FIELDS = ['user', 'kernel', 'idle', 'iowait', 'intr', 'utilization'];
const CPU_STAT_LABELS = ['user:', 'system:', 'idle:', 'iowait:', 'intr:', 'usage:'];
const USAGE = 5;

const nodecpustats: Cmd = {
  name: 'nodecpustats', help: 'Prints cpu stats of the node.', desc: 'Returns cpu stats of the node, in nanoseconds.',
  opts: [{ name: 'cpu', type: 'int', help: 'prints specified cpu statistics only.', completer: 'node-cpu' }, { name: 'percent', type: 'bool', help: 'prints by percentage during 1 second.' }],
  handler: async (ctl, cmd) => {
    const percent = optBool(cmd, 'percent');
    const cpu = optInt(cmd, 'cpu') ?? -1;
    const n = attempt(ctl, 'Unable to get number of cpu stats', () => conn(ctl).nodeCpuStatsCount(cpu));
    if (n === undefined) return false;
    if (n === 0) return true;
    const stats: bigint[] = Array<bigint>(6).fill(0n);
    const present: boolean[] = Array<boolean>(6).fill(false);
    for (let i = 0; i < 2; i++) {
      const got = attempt(ctl, 'Unable to get node cpu stats', () => conn(ctl).nodeCpuStats(cpu));
      if (!got) return false;
      for (const s of got) {
        const f = CPU_STAT_FIELDS.indexOf(s.field);
        if (f < 0) continue;
        if (i === 0) {
          stats[f] = BigInt(s.value);
          present[f] = true;
        } else if (present[f]) stats[f] = BigInt.asUintN(64, BigInt(s.value) - stats[f]!);
      }
      if (present[USAGE] || !percent) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    let out = '';
    if (!percent) {
      for (let i = 0; i < USAGE; i++) if (present[i]) out += `${CPU_STAT_LABELS[i]!.padEnd(15)} ${String(stats[i]).padStart(20)}\n`;
    } else if (present[USAGE]) {
      out += `${'usage:'.padEnd(15)} ${String(stats[USAGE]).padStart(5)}%\n${'idle:'.padEnd(15)} ${String(BigInt.asUintN(64, 100n - stats[USAGE]!)).padStart(5)}%\n`;
    } else {
      let total = 0;
      for (let i = 0; i < USAGE; i++) total += Number(stats[i]);
      const pct = (v: number): string => fixed((v / total) * 100, 1).padStart(5);
      out += `${'usage:'.padEnd(15)} ${pct(Number(stats[0]) + Number(stats[1]))}%\n`;
      for (let i = 0; i < USAGE; i++) if (present[i]) out += `${CPU_STAT_LABELS[i]!.padEnd(15)} ${pct(Number(stats[i]))}%\n`;
    }
    ctl.print(out);
    return true;
  },
};

const nodememstats: Cmd = {
  name: 'nodememstats', help: 'Prints memory stats of the node.', desc: 'Returns memory stats of the node, in kilobytes.',
  opts: [{ name: 'cell', type: 'int', help: 'prints specified cell statistics only.' }],
  handler: (ctl, cmd) => {
    const cell = optInt(cmd, 'cell') ?? -1;
    const n = attempt(ctl, 'Unable to get number of memory stats', () => conn(ctl).nodeMemoryStatsCount(cell));
    if (n === undefined) return false;
    if (n === 0) return true;
    const stats = attempt(ctl, 'Unable to get memory stats', () => conn(ctl).nodeMemoryStats(cell));
    if (!stats) return false;
    ctl.print(stats.map((s) => `${s.field.padEnd(7)}: ${String(s.value).padStart(20)} KiB\n`).join(''));
    return true;
  },
};

const nodeinfo: Cmd = {
  name: 'nodeinfo', help: 'node information', desc: 'Returns basic information about the node.', opts: [],
  handler: (ctl) => {
    const i = attempt(ctl, 'failed to get node information', () => conn(ctl).nodeInfo());
    if (!i) return false;
    const l = (label: string, v: string): string => `${label.padEnd(20)} ${v}\n`;
    ctl.print(l('CPU model:', i.model) + l('CPU(s):', String(i.cpus)) + (i.mhz ? l('CPU frequency:', `${i.mhz} MHz`) : '') +
      l('CPU socket(s):', String(i.sockets)) + l('Core(s) per socket:', String(i.cores)) + l('Thread(s) per core:', String(i.threads)) +
      l('NUMA cell(s):', String(i.nodes)) + l('Memory size:', `${i.memory} KiB`));
    return true;
  },
};

const nodecpumap: Cmd = {
  name: 'nodecpumap', help: 'node cpu map', desc: "Displays the node's total number of CPUs, the number of online CPUs and the list of online CPUs.",
  opts: [{ name: 'pretty', type: 'bool', help: 'return human readable output' }],
  handler: (ctl, cmd) => {
    const m = attempt(ctl, 'Unable to get cpu map', () => conn(ctl).nodeCpuMap(true));
    if (!m) return false;
    const map = m.map ?? Buffer.alloc(cpuMapLen(m.cpus));
    const shown = optBool(cmd, 'pretty') ? bitmapFormat(map, cpuMapLen(m.cpus)) : cpuMapString(map, m.cpus);
    ctl.print(`${'CPUs present:'.padEnd(15)} ${m.cpus}\n${'CPUs online:'.padEnd(15)} ${m.online}\n${'CPU map:'.padEnd(15)} ${shown}\n`);
    return true;
  },
};

const maxvcpus: Cmd = {
  name: 'maxvcpus', help: 'connection vcpu maximum', desc: 'Show maximum number of virtual CPUs for guests on this connection.',
  opts: [str('type', 'domain type', 'virt-type')],
  handler: (ctl, cmd) => {
    const type = optString(cmd, 'type') ?? null;
    let vcpus: number | undefined;
    try {
      const doc = parseXml(conn(ctl).domainCapabilities({ emulator: null, arch: null, machine: null, virttype: type }));
      if (doc) vcpus = xpathInt(attr(child(doc.documentElement!, 'vcpu'), 'max'));
    } catch {
      vcpus = undefined; // virsh resets the error and asks virConnectGetMaxVcpus
    }
    if (vcpus === undefined || vcpus < 0) vcpus = conn(ctl).maxVcpus(type);
    ctl.print(`${vcpus}\n`);
    return true;
  },
};

const capabilities: Cmd = {
  name: 'capabilities', help: 'capabilities', desc: 'Returns capabilities of hypervisor/driver.', opts: [],
  handler: (ctl) => {
    const caps = attempt(ctl, 'failed to get capabilities', () => conn(ctl).capabilities());
    if (caps === undefined) return false;
    ctl.print(`${caps}\n`);
    return true;
  },
};

const domcapabilities: Cmd = {
  name: 'domcapabilities', help: 'domain capabilities', desc: 'Returns capabilities of emulator with respect to host and libvirt.',
  opts: [
    str('virttype', 'virtualization type (/domain/@type)', 'virt-type'), str('emulatorbin', 'path to emulator binary (/domain/devices/emulator)'),
    str('arch', 'domain architecture (/domain/os/type/@arch)', 'arch'), str('machine', 'machine type (/domain/os/type/@machine)'),
  ],
  handler: (ctl, cmd) => {
    const [virttype, emulator, arch, machine] = ['virttype', 'emulatorbin', 'arch', 'machine'].map((n) => optString(cmd, n) ?? null) as [string | null, string | null, string | null, string | null];
    const caps = attempt(ctl, 'failed to get emulator capabilities', () => conn(ctl).domainCapabilities({ emulator, arch, machine, virttype }));
    if (caps === undefined) return false;
    ctl.print(`${caps}\n`);
    return true;
  },
};

const sysinfo: Cmd = {
  name: 'sysinfo', help: 'print the hypervisor sysinfo', desc: 'output an XML string for the hypervisor sysinfo, if available', opts: [],
  handler: (ctl) => {
    const s = attempt(ctl, 'failed to get sysinfo', () => conn(ctl).sysinfo());
    if (s === undefined) return false;
    ctl.print(s);
    return true;
  },
};

export const hostInfoCommands: Cmd[] = [capabilities, domcapabilities, freecell, freepages, maxvcpus, nodecpumap, nodecpustats, nodeinfo, nodememstats, sysinfo, ...hostCpuCommands];
