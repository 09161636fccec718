/**
 * `virsh domxml-from-native qemu-argv`: a QEMU command line written for the original
 * multi-process patches (the seed's forking mode: `-device …,rid=N` + `-remote rid=N,exec=…,
 * command="…"`) turned into domain XML with mpvirt's extension. Pure: text in, XML text out (the
 * driver then runs it through define's path, so it comes back as define would keep it).
 *
 * What cannot be expressed is refused with an error naming the option, never dropped: the only
 * options taken without a trace are those the daemon provides itself (monitors, `-nographic`
 * style console plumbing is not among them) and the shared RAM backend multi-process needs, which
 * mpvirt always sets up (memfd).
 */
import { MpvirtError } from '../errors.js';
import { qemuOpts, shellWords, splitCommands } from './native-words.js';

const refuse = (what: string): never => {
  throw new MpvirtError('VIR_ERR_CONFIG_UNSUPPORTED', `cannot convert ${what} to domain XML`);
};

const get = (o: Array<[string, string]>, k: string): string | undefined => o.find(([n]) => n === k)?.[1];

/** QEMU sizes: a number of MiB for -m, or with a suffix (k, M, G, T) anywhere. */
function sizeKiB(v: string, defaultUnit: 'M' | 'B'): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT]?)[bB]?$/.exec(v.trim());
  if (!m) return refuse(`the size '${v}'`);
  const n = Number(m[1]);
  const unit = (m[2] || (defaultUnit === 'M' ? 'M' : '')).toUpperCase();
  const kib = unit === '' ? n / 1024 : unit === 'K' ? n : unit === 'M' ? n * 1024 : unit === 'G' ? n * 1024 * 1024 : n * 1024 * 1024 * 1024;
  return Math.round(kib);
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/** Options that take a value (the rest are flags). */
const WITH_VALUE = new Set(['name', 'machine', 'M', 'smp', 'cpu', 'm', 'object', 'numa', 'device', 'drive', 'boot', 'monitor', 'qmp', 'vnc', 'remote', 'uuid', 'serial', 'chardev', 'accel', 'display', 'mon']);
/** Options the daemon provides itself: a monitor of its own for every process. */
const DAEMON_OWNED = new Set(['monitor', 'qmp', 'mon']);
/** `-opt none`: what a definition without such a device means (with -nodefaults). */
const NONE_OK = new Set(['serial', 'display']);

interface Drive { id: string; file?: string; format?: string; readonly?: boolean }
interface Controller { id: string; type: 'scsi'; model: string; index: number; rid?: string }
interface Disk { ctrl: string; unit: number; drive: Drive; rid?: string }

interface Parsed {
  name?: string;
  uuid?: string;
  machine?: string;
  kvm: boolean;
  vcpus?: number;
  topology?: { sockets: number; cores: number; threads: number };
  cpu?: string;
  memKiB?: number;
  boot?: string;
  vnc?: { listen: string; port: number };
  drives: Map<string, Drive>;
  controllers: Controller[];
  disks: Array<{ ctrl: string; unit: number; drive: string; rid?: string }>;
  remotes: Map<string, { exec?: string; drives: Drive[] }>;
  backends: Set<string>;
  /** main QEMU: the ids of its x-pci-proxy-dev devices (upstream multi-process) */
  proxied: string[];
  /** upstream remote processes: each one's x-remote-object (id, devid) */
  remoteObjects: Array<{ id: string; devid: string; rid: string }>;
}

function parseDrive(v: string): Drive {
  const o = qemuOpts(v);
  const id = get(o, 'id') ?? refuse(`-drive '${v}' without an id`);
  for (const [k] of o) if (!['id', 'if', 'format', 'file', 'readonly', 'media'].includes(k)) refuse(`-drive option '${k}'`);
  if ((get(o, 'if') ?? 'none') !== 'none') refuse(`-drive if=${get(o, 'if')}`);
  const file = get(o, 'file');
  const format = get(o, 'format');
  return { id, ...(file !== undefined ? { file } : {}), ...(format !== undefined ? { format } : {}), ...(get(o, 'readonly') === 'on' ? { readonly: true } : {}) };
}

/** The argv of one QEMU (the main one, or a remote's `command=`), into `p`. */
function parseArgs(args: string[], p: Parsed, remote?: string, xremote?: string): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) refuse(`the argument '${a}'`);
    const opt = a.replace(/^--?/, '');
    const v = WITH_VALUE.has(opt) ? args[++i] : undefined;
    if (WITH_VALUE.has(opt) && v === undefined) refuse(`${a} without a value`);
    if (DAEMON_OWNED.has(opt)) continue;
    if ((NONE_OK.has(opt) && v === 'none') || opt === 'nographic') continue;
    if (remote !== undefined && opt !== 'drive') refuse(`'${a}' in the command of remote ${remote}`);
    if (xremote !== undefined) {
      // an upstream `-machine x-remote` process: its device, that device's disks, its link object
      if (opt === 'device') parseDevice(v!, p, xremote);
      else if (opt === 'drive') { const d = parseDrive(v!); p.drives.set(d.id, d); }
      else if (opt === 'object') {
        const o = qemuOpts(v!, 'qom-type');
        if (get(o, 'qom-type') !== 'x-remote-object') refuse(`-object ${get(o, 'qom-type')} in a remote process`);
        p.remoteObjects.push({ id: get(o, 'id') ?? xremote, devid: get(o, 'devid') ?? refuse('-object x-remote-object without a devid'), rid: xremote });
      } else if (!['machine', 'M', 'name', 'nodefaults', 'no-user-config'].includes(opt)) refuse(`'${a}' in a remote process`);
      continue;
    }
    switch (opt) {
      case 'name': p.name = get(qemuOpts(v!, 'guest'), 'guest'); break;
      case 'uuid': p.uuid = v; break;
      case 'machine': case 'M': {
        const o = qemuOpts(v!, 'type');
        p.machine = get(o, 'type');
        const accel = get(o, 'accel');
        if (accel !== undefined) p.kvm = accel.split(':')[0] === 'kvm';
        // memory-backend: the shared RAM object, which mpvirt always provides
        for (const [k] of o) if (!['type', 'accel', 'memory-backend'].includes(k)) refuse(`-machine option '${k}'`);
        break;
      }
      case 'accel': p.kvm = get(qemuOpts(v!, 'accel'), 'accel') === 'kvm'; break;
      case 'enable-kvm': p.kvm = true; break;
      case 'smp': {
        const o = qemuOpts(v!, 'cpus');
        const n = (k: string): number | undefined => (get(o, k) === undefined ? undefined : Number(get(o, k)));
        const [s, c, t] = [n('sockets') ?? 1, n('cores') ?? 1, n('threads') ?? 1];
        p.vcpus = n('cpus') ?? s * c * t;
        if (get(o, 'sockets') !== undefined || get(o, 'cores') !== undefined || get(o, 'threads') !== undefined) p.topology = { sockets: s, cores: c, threads: t };
        break;
      }
      case 'cpu': p.cpu = v; break;
      case 'm': p.memKiB = sizeKiB(get(qemuOpts(v!, 'size'), 'size')!, 'M'); break;
      case 'object': {
        const o = qemuOpts(v!, 'qom-type');
        const type = get(o, 'qom-type');
        // the guest RAM shared with device processes: mpvirt always shares it (memfd)
        if (type !== 'memory-backend-file' && type !== 'memory-backend-memfd') refuse(`-object ${type}`);
        p.backends.add(get(o, 'id') ?? '');
        break;
      }
      case 'numa': {
        const o = qemuOpts(v!, 'type');
        const memdev = get(o, 'memdev');
        if (get(o, 'type') !== 'node' || memdev === undefined || !p.backends.has(memdev) || p.backends.size !== 1) refuse(`-numa '${v}' (only one node backed by the shared RAM object converts)`);
        break;
      }
      case 'drive': {
        const d = parseDrive(v!);
        p.drives.set(d.id, d);
        if (remote !== undefined) p.remotes.get(remote)!.drives.push(d);
        break;
      }
      case 'device': parseDevice(v!, p); break;
      case 'boot': {
        const order = get(qemuOpts(v!, 'order'), 'order') ?? '';
        p.boot = order;
        break;
      }
      case 'vnc': {
        const m = /^([^:,]*):(\d+)$/.exec(v!);
        if (!m) refuse(`-vnc '${v}'`);
        p.vnc = { listen: m![1] || '0.0.0.0', port: 5900 + Number(m![2]) };
        break;
      }
      case 'remote': {
        const o = qemuOpts(v!);
        const rid = get(o, 'rid') ?? refuse(`-remote '${v}' without a rid`);
        for (const [k] of o) if (!['rid', 'exec', 'command'].includes(k)) refuse(`-remote option '${k}'`);
        const r = p.remotes.get(rid) ?? { drives: [] };
        const exec = get(o, 'exec');
        if (exec !== undefined) r.exec = exec;
        p.remotes.set(rid, r);
        parseArgs(shellWords(get(o, 'command') ?? ''), p, rid);
        break;
      }
      case 'nodefaults': case 'no-user-config': case 'S': case 'daemonize': break;
      default: refuse(`the option '${a}'`);
    }
  }
}

const CONTROLLER_MODELS: Record<string, string> = { lsi53c895a: 'lsilogic', 'virtio-scsi-pci': 'virtio-scsi' };

function parseDevice(v: string, p: Parsed, xremote?: string): void {
  const o = qemuOpts(v, 'driver');
  const driver = get(o, 'driver')!;
  // the seed's forking mode: `remote,rid=N,command=EXEC` names the device process
  const rid = get(o, 'rid') ?? xremote;
  const known = new Set(['driver', 'id', 'rid', 'remote', 'command', 'drive', 'bus', 'scsi-id', ...(driver === 'x-pci-proxy-dev' ? ['fd'] : [])]);
  for (const [k] of o) if (!known.has(k)) refuse(`-device ${driver} option '${k}'`);
  if (CONTROLLER_MODELS[driver]) {
    const id = get(o, 'id') ?? `scsi${p.controllers.length}`;
    p.controllers.push({ id, type: 'scsi', model: CONTROLLER_MODELS[driver]!, index: p.controllers.length, ...(rid !== undefined ? { rid } : {}) });
    if (rid !== undefined && xremote === undefined && !p.remotes.has(rid)) p.remotes.set(rid, { drives: [] });
    return;
  }
  if (driver === 'x-pci-proxy-dev' && xremote === undefined) {
    p.proxied.push(get(o, 'id') ?? refuse('-device x-pci-proxy-dev without an id'));
    return;
  }
  if (driver === 'scsi-hd') {
    const bus = get(o, 'bus') ?? refuse(`-device scsi-hd without a bus`);
    const drive = get(o, 'drive') ?? refuse(`-device scsi-hd without a drive`);
    p.disks.push({ ctrl: bus.replace(/\.0$/, ''), unit: Number(get(o, 'scsi-id') ?? 0), drive, ...(rid !== undefined ? { rid } : {}) });
    return;
  }
  refuse(`-device ${driver}`);
}

/**
 * Upstream multi-process: each remote's x-remote-object names its device, which the main QEMU
 * must proxy (x-pci-proxy-dev with the same id); the rid is the link object's id.
 */
function linkUpstreamRemotes(p: Parsed): void {
  for (const o of p.remoteObjects) {
    if (!p.controllers.some((c) => c.id === o.devid && c.rid === o.rid)) refuse(`x-remote-object '${o.id}': no device '${o.devid}' in its process`);
    if (!p.proxied.includes(o.devid)) refuse(`the remote device '${o.devid}', which no x-pci-proxy-dev of the main QEMU proxies`);
    for (const c of p.controllers) if (c.rid === o.rid) c.rid = o.id;
    for (const d of p.disks) if (d.rid === o.rid) d.rid = o.id;
    p.remotes.set(o.id, { drives: [] });
  }
  for (const id of p.proxied) if (!p.remoteObjects.some((o) => o.devid === id)) refuse(`x-pci-proxy-dev '${id}', which no remote process serves`);
  for (const c of p.controllers) if (c.rid !== undefined && /^remote\d+$/.test(c.rid) && !p.remotes.has(c.rid)) refuse(`a -machine x-remote process without an x-remote-object`);
}

/** The domain XML for a seed-style (forking mode) QEMU command line, or an upstream pair. */
export function domainXmlFromSeedArgv(text: string): string {
  const p: Parsed = { kvm: false, drives: new Map(), controllers: [], disks: [], remotes: new Map(), backends: new Set(), proxied: [], remoteObjects: [] };
  // one command line, or an upstream pair: `-machine x-remote` processes and the main QEMU
  const commands = splitCommands(shellWords(text)).map((c) => c.args);
  const isRemote = (args: string[]): boolean => args.some((w, i) => (w === '-machine' || w === '-M') && get(qemuOpts(args[i + 1] ?? '', 'type'), 'type') === 'x-remote');
  let remoteNo = 0;
  for (const c of commands.filter(isRemote)) parseArgs(c, p, undefined, `remote${remoteNo++}`);
  const mains = commands.filter((c) => !isRemote(c));
  if (mains.length !== 1) refuse(`${mains.length} main QEMU command lines (one is expected, with any number of -machine x-remote ones)`);
  parseArgs(mains[0]!, p);
  linkUpstreamRemotes(p);
  const disks: Disk[] = p.disks.map((d) => {
    const drive = p.drives.get(d.drive) ?? refuse(`the disk on drive '${d.drive}', which no -drive defines`);
    if (!p.controllers.some((c) => c.id === d.ctrl)) refuse(`the disk on bus '${d.ctrl}.0', which no controller defines`);
    return { ctrl: d.ctrl, unit: d.unit, drive, ...(d.rid !== undefined ? { rid: d.rid } : {}) };
  });
  const alias = (id: string): string => (id.startsWith('ua-') ? id : `ua-${id}`);
  const lines: string[] = [`<domain type='${p.kvm ? 'kvm' : 'qemu'}'>`, `  <name>${esc(p.name ?? 'unnamed')}</name>`];
  if (p.uuid) lines.push(`  <uuid>${esc(p.uuid)}</uuid>`);
  const remoted = [...p.remotes.keys()].filter((rid) => p.controllers.some((c) => c.rid === rid));
  if (remoted.length) {
    lines.push(`  <metadata>`, `    <mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'>`);
    for (const rid of remoted) {
      lines.push(`      <mpq:process rid='${esc(rid)}'>`);
      for (const c of p.controllers.filter((x) => x.rid === rid)) lines.push(`        <mpq:device alias='${esc(alias(c.id))}'/>`);
      lines.push(`      </mpq:process>`);
    }
    lines.push(`    </mpq:remote>`, `  </metadata>`);
  }
  lines.push(`  <memory unit='KiB'>${p.memKiB ?? 128 * 1024}</memory>`, `  <vcpu>${p.vcpus ?? 1}</vcpu>`);
  lines.push(`  <os>`, `    <type arch='x86_64'${p.machine ? ` machine='${esc(p.machine)}'` : ''}>hvm</type>`);
  const bootDev: Record<string, string> = { c: 'hd', d: 'cdrom', n: 'network', a: 'fd' };
  for (const ch of p.boot ?? '') lines.push(`    <boot dev='${bootDev[ch] ?? refuse(`-boot '${p.boot}'`)}'/>`);
  lines.push(`  </os>`);
  if (p.cpu !== undefined || p.topology) {
    const topo = p.topology ? `<topology sockets='${p.topology.sockets}' cores='${p.topology.cores}' threads='${p.topology.threads}'/>` : '';
    if (p.cpu === 'host') lines.push(`  <cpu mode='host-passthrough'>${topo}</cpu>`);
    else if (p.cpu !== undefined) lines.push(`  <cpu mode='custom' match='exact'><model>${esc(p.cpu)}</model>${topo}</cpu>`);
    else lines.push(`  <cpu>${topo}</cpu>`);
  }
  lines.push(`  <devices>`);
  for (const c of p.controllers) lines.push(`    <controller type='scsi' index='${c.index}' model='${c.model}'><alias name='${esc(alias(c.id))}'/></controller>`);
  let n = 0;
  for (const d of disks) {
    const ctrl = p.controllers.find((c) => c.id === d.ctrl)!;
    const dev = `sd${String.fromCharCode(97 + n++)}`;
    const src = d.drive.file !== undefined ? `<source file='${esc(d.drive.file)}'/>` : '';
    lines.push(`    <disk type='file' device='disk'><driver name='qemu' type='${esc(d.drive.format ?? 'raw')}'/>${src}<target dev='${dev}' bus='scsi'/>${d.drive.readonly ? '<readonly/>' : ''}<address type='drive' controller='${ctrl.index}' bus='0' target='0' unit='${d.unit}'/></disk>`);
  }
  if (p.vnc) lines.push(`    <graphics type='vnc' port='${p.vnc.port}' autoport='no' listen='${esc(p.vnc.listen)}'/>`);
  lines.push(`  </devices>`, `</domain>`, '');
  return lines.join('\n');
}
