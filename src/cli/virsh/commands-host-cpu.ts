/**
 * CPU model commands, as tools/virsh-host.c writes them: cpu-baseline, cpu-compare, cpu-models,
 * hypervisor-cpu-baseline, hypervisor-cpu-compare. CPU definitions come out of a file as
 * vshExtractCPUDefXMLs finds them: a bare `<cpu>`, a domain's, host capabilities' or domain
 * capabilities' host-model mode (renamed `<cpu>`, its attributes dropped).
 */
import { XMLSerializer, type Element } from '@xmldom/xmldom';
import '../../libvirt/connection-host.js';
import type { Connection } from '../../libvirt/connection.js';
import type { HypervisorTarget } from '../../libvirt/connection-host.js';
import { commonOpt, type CmdDef, type OptDef, type ParsedCommand } from '../vsh/command-def.js';
import { optBool, optString, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { readXmlFile } from './commands-lifecycle.js';
import { children, parseXml } from './xml-read.js';

type Cmd = CmdDef<Ctl>;
const conn = (ctl: Ctl): Connection => ctl.connected!;
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });
const str = (name: string, help: string, completer?: string): OptDef => ({ name, type: 'string', help, ...(completer ? { completer } : {}) });

/** Which elements of `<container>` hold a CPU definition, as vshExtractCPUDefXMLs' XPath union picks them. */
function isCpuDef(e: Element): boolean {
  const path: string[] = [];
  for (let n: Element | null = e; n && n.nodeType === 1; n = n.parentNode as Element | null) path.unshift(n.localName ?? '');
  const p = path.join('/');
  if (p === 'container/cpu' || p === 'container/domain/cpu' || p === 'container/capabilities/host/cpu') return true;
  return p === 'container/domainCapabilities/cpu/mode' && e.getAttribute('name') === 'host-model' && e.getAttribute('supported') === 'yes';
}

function* descendants(e: Element): Generator<Element> {
  for (const c of children(e)) {
    yield c;
    yield* descendants(c);
  }
}

/** vshExtractCPUDefXMLs */
export function cpuDefinitions(file: string): string[] {
  const buffer = readXmlFile(file);
  let doc = buffer;
  if (buffer.startsWith('<?xml')) {
    const end = buffer.indexOf('?>');
    if (end >= 0) doc = buffer.slice(end + 2);
  }
  const parsed = parseXml(`<container>${doc}</container>`);
  if (!parsed) throw new VshError(`(${file}):1: XML document is not well-formed`);
  const found = [...descendants(parsed.documentElement!)].filter(isCpuDef);
  if (found.length === 0) {
    throw new VshError(`File '${file}' does not contain any <cpu> element or valid domain XML, host capabilities XML, or domain capabilities XML`);
  }
  const ser = new XMLSerializer();
  return found.map((e) => {
    if (e.localName !== 'mode') return ser.serializeToString(e);
    const cpu = e.ownerDocument!.createElement('cpu');
    while (e.firstChild) cpu.appendChild(e.firstChild);
    return ser.serializeToString(cpu);
  });
}

const target = (cmd: ParsedCommand): HypervisorTarget => ({
  emulator: optString(cmd, 'emulator') ?? null, arch: optString(cmd, 'arch') ?? null, machine: optString(cmd, 'machine') ?? null, virttype: optString(cmd, 'virttype') ?? null,
});
const hypervisorOpts: OptDef[] = [
  str('virttype', 'virtualization type (/domain/@type)', 'virt-type'), str('emulator', 'path to emulator binary (/domain/devices/emulator)'),
  str('arch', 'CPU architecture (/domain/os/type/@arch)', 'arch'), str('machine', 'machine type (/domain/os/type/@machine)'),
];
const compareFlags = (cmd: ParsedCommand): number => (optBool(cmd, 'error') ? 1 : 0) | (optBool(cmd, 'validate') ? 2 : 0);
const baselineFlags = (cmd: ParsedCommand): number => (optBool(cmd, 'features') ? 1 : 0) | (optBool(cmd, 'migratable') ? 2 : 0);

/** cpu-compare and hypervisor-cpu-compare: what virsh says about each virCPUCompareResult. */
function reportCompare(ctl: Ctl, result: number | undefined, failed: string, texts: [string, string, string]): boolean {
  if (result === undefined || result < 0 || result > 2) {
    ctl.error(failed);
    return false;
  }
  ctl.print(texts[result]!);
  return result !== 0;
}

const cpuCompare: Cmd = {
  name: 'cpu-compare', help: 'compare host CPU with a CPU described by an XML file', desc: 'compare CPU with host CPU',
  opts: [commonOpt.file('file containing an XML CPU description'), bool('error', 'report error if CPUs are incompatible'), bool('validate', 'validate the XML document against schema')],
  handler: (ctl, cmd) => {
    const flags = compareFlags(cmd);
    const from = optString(cmd, 'file')!;
    const cpus = cpuDefinitions(from);
    return reportCompare(ctl, attempt(ctl, undefined, () => conn(ctl).compareCpu(cpus[0]!, flags)), `Failed to compare host CPU with ${from}`, [
      `CPU described in ${from} is incompatible with host CPU\n`, `CPU described in ${from} is identical to host CPU\n`, `Host CPU is a superset of CPU described in ${from}\n`,
    ]);
  },
};

const cpuBaseline: Cmd = {
  name: 'cpu-baseline', help: 'compute baseline CPU', desc: 'Compute baseline CPU for a set of given CPUs.',
  opts: [commonOpt.file('file containing XML CPU descriptions'), bool('features', 'Show features that are part of the CPU model type'), bool('migratable', 'Do not include features that block migration')],
  handler: (ctl, cmd) => {
    const flags = baselineFlags(cmd);
    const list = cpuDefinitions(optString(cmd, 'file')!);
    ctl.print(conn(ctl).baselineCpu(list, flags));
    return true;
  },
};

const hypervisorCpuCompare: Cmd = {
  name: 'hypervisor-cpu-compare', help: 'compare a CPU with the CPU created by a hypervisor on the host', desc: 'compare CPU with hypervisor CPU',
  opts: [commonOpt.file('file containing an XML CPU description'), ...hypervisorOpts, bool('error', 'report error if CPUs are incompatible'), bool('validate', 'validate the XML document against schema')],
  handler: (ctl, cmd) => {
    const flags = compareFlags(cmd);
    const from = optString(cmd, 'file')!;
    const t = target(cmd);
    const cpus = cpuDefinitions(from);
    return reportCompare(ctl, attempt(ctl, undefined, () => conn(ctl).compareHypervisorCpu(t, cpus[0]!, flags)), `Failed to compare hypervisor CPU with ${from}`, [
      `CPU described in ${from} is incompatible with the CPU provided by hypervisor on the host\n`,
      `CPU described in ${from} is identical to the CPU provided by hypervisor on the host\n`,
      `The CPU provided by hypervisor on the host is a superset of CPU described in ${from}\n`,
    ]);
  },
};

const hypervisorCpuBaseline: Cmd = {
  name: 'hypervisor-cpu-baseline', help: 'compute baseline CPU usable by a specific hypervisor',
  desc: 'Compute baseline CPU for a set of given CPUs. The result will be tailored to the specified hypervisor.',
  opts: [
    { name: 'file', type: 'string', help: 'file containing XML CPU descriptions' }, ...hypervisorOpts,
    bool('features', 'Show features that are part of the CPU model type'), bool('migratable', 'Do not include features that block migration'),
    str('model', 'Shortcut for calling the command with a single CPU model and no additional features', 'cpu-model'),
  ],
  handler: (ctl, cmd) => {
    const flags = baselineFlags(cmd);
    const from = optString(cmd, 'file');
    const t = target(cmd);
    const model = optString(cmd, 'model');
    if (from !== undefined && model !== undefined) throw new VshError('Options --file and --model are mutually exclusive');
    if (from === undefined && model === undefined) throw new VshError('Either --file or --model must be provided');
    const list = from !== undefined ? cpuDefinitions(from) : [`<cpu><model>${model}</model></cpu>`];
    ctl.print(conn(ctl).baselineHypervisorCpu(t, list, flags));
    return true;
  },
};

const cpuModels: Cmd = {
  name: 'cpu-models', help: 'CPU models', desc: 'Get the CPU models for an arch.',
  opts: [{ name: 'arch', type: 'data', required: true, help: 'architecture', completer: 'arch' }],
  handler: (ctl, cmd) => {
    const models = attempt(ctl, 'failed to get CPU model names', () => conn(ctl).cpuModelNames(optString(cmd, 'arch')!));
    if (!models) return false;
    if (models.length === 0) ctl.printExtra('all CPU models are accepted\n');
    else ctl.print(models.map((m) => `${m}\n`).join(''));
    return true;
  },
};

export const hostCpuCommands: Cmd[] = [cpuBaseline, cpuCompare, cpuModels, hypervisorCpuBaseline, hypervisorCpuCompare];
