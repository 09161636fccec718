/**
 * Where a guest's vCPUs and its emulator threads may run: `<cputune>`'s `<vcpupin>` and
 * `<emulatorpin>`, else `<vcpu cpuset>`, else every host CPU (libvirt's
 * virDomainDefGetVcpuPinInfoHelper and qemuProcessSetupEmulator/SetupVcpu). The definition side
 * is pure; `applyPinning` sets the threads' affinity with sched_setaffinity(2) — libvirt uses
 * the same call (and cgroup cpusets where it has them) — at start and after `vcpupin` /
 * `emulatorpin`.
 */
import { availableParallelism } from 'node:os';
import koffi from 'koffi';
import type { DomainDef, TopLevelExtra } from '../domainxml/model.js';
import { makeElement, type XElement } from '../domainxml/xmltree.js';
import { MpvirtError } from '../errors.js';
import type { DomainObject } from './domain-object.js';
import { hostThreadIds, parseCpuList } from './proc-stats.js';

const hostCpus = (): number[] => Array.from({ length: availableParallelism() }, (_, i) => i);

/** virBitmapFormat: `0-2,4` */
export function formatCpuList(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? String(s[i]) : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** CPU numbers as libvirt's cpumap (bit N of byte N/8), `maplen` bytes; CPUs beyond it are left out. */
export function listToCpumap(cpus: readonly number[], maplen: number): Buffer {
  const b = Buffer.alloc(maplen);
  for (const c of cpus) if (c >= 0 && c < maplen * 8) b[c >> 3]! |= 1 << (c & 7);
  return b;
}

/** A cpumap (bit N of byte N/8) as CPU numbers. */
export function cpumapToList(map: Uint8Array): number[] {
  const out: number[] = [];
  map.forEach((b, i) => {
    for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) out.push(i * 8 + bit);
  });
  return out;
}

const cputuneOf = (def: DomainDef): XElement | undefined => def.extraTop.find((t) => t.element.ns === null && t.element.local === 'cputune')?.element;
const attr = (e: XElement, name: string): string | undefined => e.attrs.find((a) => a.name === name)?.value;
const pins = (def: DomainDef, local: string): XElement[] => (cputuneOf(def)?.children ?? []).filter((c): c is XElement => c.kind === 'element' && c.ns === null && c.local === local);

/** Whether the definition restricts any thread at all (else nothing is set at start). */
export function hasPinning(def: DomainDef): boolean {
  return def.vcpu.cpuset !== undefined || pins(def, 'vcpupin').length > 0 || pins(def, 'emulatorpin').length > 0;
}

/** The CPUs vCPU `n` may run on. */
export function vcpuCpus(def: DomainDef, n: number): number[] {
  const pin = pins(def, 'vcpupin').find((p) => attr(p, 'vcpu') === String(n));
  const set = pin ? attr(pin, 'cpuset') : def.vcpu.cpuset;
  return set ? parseCpuList(set) : hostCpus();
}

/** The CPUs the emulator threads may run on. */
export function emulatorCpus(def: DomainDef): number[] {
  const pin = pins(def, 'emulatorpin')[0];
  const set = pin ? attr(pin, 'cpuset') : def.vcpu.cpuset;
  return set ? parseCpuList(set) : hostCpus();
}

/** The definition with `<cputune>` changed by `edit` (created after `<vcpu>` when missing, dropped when empty). */
function withCputune(def: DomainDef, edit: (children: XElement[]) => XElement[]): DomainDef {
  const i = def.extraTop.findIndex((t) => t.element.ns === null && t.element.local === 'cputune');
  const old = i >= 0 ? def.extraTop[i]!.element : makeElement('cputune');
  const children = edit(old.children.filter((c): c is XElement => c.kind === 'element'));
  const extraTop: TopLevelExtra[] = [...def.extraTop];
  const next: TopLevelExtra = { after: i >= 0 ? def.extraTop[i]!.after : 'vcpu', element: { ...old, children } };
  if (i >= 0) extraTop.splice(i, 1, ...(children.length ? [next] : []));
  else if (children.length) extraTop.push(next);
  return { ...def, extraTop };
}

/** libvirt's order inside <cputune>: the vcpupins by vCPU, then the emulatorpin. */
function ordered(children: XElement[]): XElement[] {
  const v = children.filter((c) => c.local === 'vcpupin').sort((a, b) => Number(attr(a, 'vcpu')) - Number(attr(b, 'vcpu')));
  const e = children.filter((c) => c.local === 'emulatorpin');
  return [...v, ...e, ...children.filter((c) => c.local !== 'vcpupin' && c.local !== 'emulatorpin')];
}

export function withVcpuPin(def: DomainDef, n: number, cpus: readonly number[]): DomainDef {
  return withCputune(def, (ch) => ordered([...ch.filter((c) => !(c.local === 'vcpupin' && attr(c, 'vcpu') === String(n))), makeElement('vcpupin', [['vcpu', n], ['cpuset', formatCpuList(cpus)]])]));
}

export function withEmulatorPin(def: DomainDef, cpus: readonly number[]): DomainDef {
  return withCputune(def, (ch) => ordered([...ch.filter((c) => c.local !== 'emulatorpin'), makeElement('emulatorpin', [['cpuset', formatCpuList(cpus)]])]));
}

/** libvirt's checks of a new pinning's CPUs (qemuDomainPinVcpuFlags / PinEmulator). */
export function checkPinCpus(cpus: readonly number[]): void {
  if (cpus.length === 0) throw new MpvirtError('VIR_ERR_INVALID_ARG', 'Empty cpu list for pinning');
  const max = availableParallelism();
  const bad = cpus.find((c) => c >= max);
  if (bad !== undefined) throw new MpvirtError('VIR_ERR_INVALID_ARG', `Invalid cpuset '${formatCpuList(cpus)}' for pinning: CPU ${bad} is not present on the host`);
}

type SetAffinity = (tid: number, size: number, mask: Uint8Array) => number;
let setaffinity: SetAffinity | undefined;

function setAffinity(tid: number, cpus: readonly number[]): void {
  setaffinity ??= koffi.load('libc.so.6').func('int sched_setaffinity(int, size_t, const uint8_t *)') as SetAffinity;
  // the kernel's cpumask_t is whole longs
  const mask = listToCpumap(cpus, Math.max(8, Math.ceil((Math.max(...cpus) + 1) / 64) * 8));
  if (setaffinity(tid, mask.length, mask) !== 0) {
    throw new MpvirtError('VIR_ERR_SYSTEM_ERROR', `cannot set CPU affinity on process ${tid}: errno ${koffi.errno()}`);
  }
}

interface QmpCpu { 'cpu-index': number; 'thread-id': number }

/**
 * The running main QEMU's threads as the definition pins them: each vCPU thread to its CPUs,
 * every other thread (the emulator's) to the emulator's. Threads QEMU starts later inherit from
 * the thread that starts them, as with libvirt.
 */
export async function applyPinning(obj: DomainObject, def: DomainDef): Promise<void> {
  const rt = obj.runtime;
  if (!rt) return;
  const pid = rt.main.handle.pid;
  const cpus = await rt.main.qmp.execute<QmpCpu[]>('query-cpus-fast');
  const host = hostThreadIds(pid);
  const vcpuTids = new Set<number>();
  for (const c of cpus) {
    const tid = host.get(c['thread-id']) ?? c['thread-id'];
    vcpuTids.add(tid);
    setAffinity(tid, vcpuCpus(def, c['cpu-index']));
  }
  const emu = emulatorCpus(def);
  for (const tid of host.values()) if (!vcpuTids.has(tid)) setAffinity(tid, emu);
}
