/**
 * Domain monitoring commands that read counters and state, as tools/virsh-domain-monitor.c writes
 * them: domblkerror, domblkinfo, domblkstat, domcontrol, domif-getlink, domifaddr, domifstat,
 * dommemstat, domtime (domstats is in commands-domstats.ts).
 */
import '../../libvirt/domain-monitor.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { TypedParam } from '../../libvirt/typed-param-list.js';
import { commonOpt, type CmdDef, type OptDef } from '../vsh/command-def.js';
import { exclusive, optBool, optInt, optLongLong, optString, optStringQuiet, VshError } from '../vsh/options.js';
import { formatTable } from '../vsh/table.js';
import { attempt, type Ctl } from './ctl.js';
import { withDomain, LIST } from './commands-lifecycle.js';
import { domstatsCommand } from './commands-domstats.js';
import { fixed, prettySize, typedParamValue } from './format-values.js';
import { attr, child, parseXml, select } from './xml-read.js';

type Cmd = CmdDef<Ctl>;
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });
const activeDomain = (): OptDef => commonOpt.domain(undefined, LIST.ACTIVE);

const IO_ERRORS = ['no error', 'unspecified error', 'no space'];
const CONTROL_STATES = ['ok', 'background job', 'occupied', 'error'];
const CONTROL_ERROR_REASONS = ['', 'unknown', 'monitor failure', 'internal (locking) error'];

/** domblkstat's fields in virsh's order: libvirt's name, the legacy spelling, the --human one. */
const BLKSTAT_FIELDS: ReadonlyArray<[string, string | null, string]> = [
  ['rd_operations', 'rd_req', 'number of read operations:'], ['rd_bytes', 'rd_bytes', 'number of bytes read:'],
  ['wr_operations', 'wr_req', 'number of write operations:'], ['wr_bytes', 'wr_bytes', 'number of bytes written:'],
  ['errs', 'errs', 'error count:'], ['flush_operations', null, 'number of flush operations:'],
  ['rd_total_times', null, 'total duration of reads (ns):'], ['wr_total_times', null, 'total duration of writes (ns):'],
  ['flush_total_times', null, 'total duration of flushes (ns):'],
];

/** virshDomainGetXML's document, or the command's failure. */
function domainXml(ctl: Ctl, xml: string | undefined): ReturnType<typeof parseXml> & object {
  if (xml === undefined) throw new VshError('Failed to get domain description xml');
  const doc = parseXml(xml);
  if (!doc) throw new VshError('Failed to parse domain description xml');
  return doc;
}

/** virMacAddrParse + virMacAddrFormat: the normalized MAC, '' when `s` is not one. */
function normalizedMac(s: string): string {
  const parts: string[] = [];
  let rest = s;
  for (let i = 0; i < 6; i++) {
    const m = /^[0-9a-fA-F]{1,2}/.exec(rest);
    if (!m || /^[0-9a-fA-F]/.test(rest.slice(m[0].length))) return '';
    parts.push(m[0].toLowerCase().padStart(2, '0'));
    rest = rest.slice(m[0].length);
    if (i === 5) return rest === '' || rest.charCodeAt(0) <= 32 ? parts.join(':') : '';
    if (rest[0] !== ':') return '';
    rest = rest.slice(1);
  }
  return '';
}

const domblkinfo: Cmd = {
  name: 'domblkinfo', help: 'domain block device size information', desc: 'Get block device size info for a domain.',
  opts: [commonOpt.domain(), { name: 'device', type: 'string', help: 'block device', completer: 'disk-target' }, bool('human', 'Human readable output'), bool('all', 'display all block devices info')],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'all', 'device');
    return withDomain(ctl, cmd, (dom) => {
      const all = optBool(cmd, 'all');
      const device = optStringQuiet(cmd, 'device');
      if (!all && !device) throw new VshError("command 'domblkinfo' requires <device> option");
      const human = optBool(cmd, 'human');
      const cells = (i: { capacity: number | bigint; allocation: number | bigint; physical: number | bigint }): string[] => {
        const vals = [i.capacity, i.allocation, i.physical];
        if (vals.every((v) => Number(v) === 0)) return ['-', '-', '-'];
        return vals.map((v) => (human ? prettySize(v) : String(v)));
      };
      if (!all) {
        const [cap, alloc, phy] = cells(dom.blockInfo(device!));
        ctl.print(`${'Capacity:'.padEnd(15)} ${cap}\n${'Allocation:'.padEnd(15)} ${alloc}\n${'Physical:'.padEnd(15)} ${phy}\n`);
        return true;
      }
      const active = attempt(ctl, undefined, () => dom.isActive()) === true;
      const doc = domainXml(ctl, attempt(ctl, undefined, () => dom.xml(0)));
      const rows: string[][] = [];
      for (const disk of select(doc.documentElement!, 'devices/disk')) {
        const source = child(disk, 'source');
        const protocol = attr(source, 'protocol');
        const target = attr(child(disk, 'target'), 'dev') ?? '';
        let info = { capacity: 0 as number | bigint, allocation: 0 as number | bigint, physical: 0 as number | bigint };
        if (source) {
          try {
            info = dom.blockInfo(target);
          } catch (e) {
            // networked storage of an inactive domain has no sizes: virsh shows it as '-'
            if (!(e instanceof LibvirtError && protocol && !active && e.code === 'VIR_ERR_INTERNAL_ERROR' && e.domainName === 'VIR_FROM_STORAGE')) throw e;
          }
        }
        rows.push([target, ...cells(info)]);
      }
      ctl.print(formatTable(['Target', 'Capacity', 'Allocation', 'Physical'], rows, !ctl.opts.quiet));
      return true;
    });
  },
};

const domblkstat: Cmd = {
  name: 'domblkstat', help: 'get device block stats for a domain',
  desc: 'Get device block stats for a running domain. See man page or use --human for explanation of fields',
  opts: [activeDomain(), { name: 'device', type: 'string', emptyOk: true, help: 'block device', completer: 'disk-target' }, bool('human', 'print a more human readable output')],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom, name) => {
    const human = optBool(cmd, 'human');
    let device = optString(cmd, 'device') ?? '';
    const line = (field: string, value: string): string => `${device} ${human ? field.padEnd(31) : field} ${value}\n`;
    let params: TypedParam[];
    try {
      params = dom.blockStatsFlags(device);
    } catch (e) {
      if (!(e instanceof LibvirtError) || e.code !== 'VIR_ERR_NO_SUPPORT') throw e;
      // the pre-0.9.5 API, as virsh falls back to it
      const st = attempt(ctl, `Failed to get block stats ${name} ${device}`, () => dom.blockStats(device));
      if (!st) return false;
      if (human) {
        ctl.print(`Device: ${device}\n`);
        device = '';
      }
      [st.rdReq, st.rdBytes, st.wrReq, st.wrBytes, st.errs].forEach((v, i) => {
        const [, legacy, humanName] = BLKSTAT_FIELDS[i]!;
        if (Number(v) >= 0) ctl.print(line(human ? humanName : legacy!, String(v)));
      });
      return true;
    }
    if (human) {
      ctl.print(`Device: ${device}\n`);
      device = '';
    }
    const printed = new Set<TypedParam>();
    for (const [field, legacy, humanName] of BLKSTAT_FIELDS) {
      const p = params.find((x) => x.field === field && !printed.has(x));
      if (!p) continue;
      printed.add(p);
      ctl.print(line(human ? humanName : legacy ?? field, typedParamValue(p)));
    }
    for (const p of params) if (!printed.has(p) && p.field !== '') ctl.print(`${device} ${p.field} ${typedParamValue(p)}\n`);
    return true;
  }),
};

const MEMSTAT_TAGS: Readonly<Record<number, string>> = {
  0: 'swap_in', 1: 'swap_out', 2: 'major_fault', 3: 'minor_fault', 4: 'unused', 5: 'available', 6: 'actual', 7: 'rss', 8: 'usable',
  9: 'last_update', 10: 'disk_caches', 11: 'hugetlb_pgalloc', 12: 'hugetlb_pgfail',
};

const dommemstat: Cmd = {
  name: 'dommemstat', help: 'get memory statistics for a domain', desc: 'Get memory statistics for a running domain.',
  opts: [
    activeDomain(), { name: 'period', type: 'int', requireName: true, help: 'period in seconds to set collection' },
    commonOpt.config('affect next boot'), commonOpt.live('affect running domain'), commonOpt.current('affect current domain'),
  ],
  handler: (ctl, cmd) => {
    const [config, live, current] = ['config', 'live', 'current'].map((n) => optBool(cmd, n));
    exclusive(cmd, 'current', 'live');
    exclusive(cmd, 'current', 'config');
    let flags = (config ? 2 : 0) | (live ? 1 : 0);
    return withDomain(ctl, cmd, (dom, name) => {
      if (!current && !live && !config && attempt(ctl, undefined, () => dom.isActive()) === true) flags |= 1;
      const period = optInt(cmd, 'period');
      if (period !== undefined) {
        if (period < 0) throw new VshError(`Invalid collection period value '${period}'`);
        return attempt(ctl, 'Unable to change balloon collection period.', () => (dom.setMemoryStatsPeriod(period, flags), true)) ?? false;
      }
      const stats = attempt(ctl, `Failed to get memory statistics for domain ${name}`, () => dom.memoryStats());
      if (!stats) return false;
      for (const s of stats) {
        const tag = MEMSTAT_TAGS[s.tag];
        if (tag !== undefined) ctl.print(`${tag} ${s.value}\n`);
      }
      return true;
    });
  },
};

const IFSTAT_NAMES = ['rx_bytes', 'rx_packets', 'rx_errs', 'rx_drop', 'tx_bytes', 'tx_packets', 'tx_errs', 'tx_drop'];

const domifstat: Cmd = {
  name: 'domifstat', help: 'get network interface stats for a domain', desc: 'Get network interface stats for a running domain.',
  opts: [activeDomain(), { name: 'interface', type: 'data', required: true, help: 'interface device specified by name or MAC Address', completer: 'interface' }],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom, name) => {
    const device = optString(cmd, 'interface')!;
    const st = attempt(ctl, `Failed to get interface stats ${name} ${device}`, () => dom.interfaceStats(device));
    if (!st) return false;
    Object.values(st).forEach((v, i) => {
      if (Number(v) >= 0) ctl.print(`${device} ${IFSTAT_NAMES[i]} ${v}\n`);
    });
    return true;
  }),
};

const ADDR_SOURCES = ['lease', 'agent', 'arp'];

const domifaddr: Cmd = {
  name: 'domifaddr', help: "Get network interfaces' addresses for a running domain", desc: "Get network interfaces' addresses for a running domain",
  opts: [
    activeDomain(), { name: 'interface', type: 'string', help: 'network interface name', completer: 'interface' },
    bool('full', 'always display names and MACs of interfaces'),
    { name: 'source', type: 'string', help: "address source: 'lease', 'agent', or 'arp'", completer: 'interface-addr-source' },
  ],
  handler: (ctl, cmd) => {
    const only = optString(cmd, 'interface');
    const sourceName = optString(cmd, 'source');
    const full = optBool(cmd, 'full');
    const source = sourceName === undefined ? 0 : ADDR_SOURCES.indexOf(sourceName);
    if (source < 0) throw new VshError(`Unknown data source '${sourceName}'`);
    return withDomain(ctl, cmd, (dom) => {
      const ifaces = attempt(ctl, 'Failed to query for interfaces addresses', () => dom.interfaceAddresses(source));
      if (!ifaces) return false;
      ctl.printExtra(` ${'Name'.padEnd(10)} ${'MAC address'.padEnd(20)} ${'Protocol'.padEnd(8)}     Address\n${'-'.repeat(79)}\n`);
      for (const iface of ifaces) {
        if (only !== undefined && only !== iface.name) continue;
        if (iface.addrs.length === 0) {
          ctl.print(` ${iface.name.padEnd(10)} ${(iface.hwaddr ?? 'N/A').padEnd(17)}    ${'N/A'.padEnd(12)} N/A\n`);
          continue;
        }
        iface.addrs.forEach((a, j) => {
          const type = a.type === 0 ? 'ipv4' : a.type === 1 ? 'ipv6' : '(null)';
          const addr = `${type.padEnd(12)} ${a.addr}/${a.prefix}`;
          if (full || j === 0) ctl.print(` ${iface.name.padEnd(10)} ${(iface.hwaddr ?? '').padEnd(17)}    ${addr}\n`);
          else ctl.print(` ${'-'.padEnd(10)} ${'-'.padEnd(17)}    ${addr}\n`);
        });
      }
      return true;
    });
  },
};

const domifGetlink: Cmd = {
  name: 'domif-getlink', help: 'get link state of a virtual interface', desc: "Get link state of a domain's virtual interface.",
  opts: [
    commonOpt.domain(), { name: 'interface', type: 'data', required: true, help: 'interface device (MAC Address)', completer: 'interface' },
    { name: 'persistent', type: 'alias', help: 'config' }, commonOpt.config('Get persistent interface state'),
  ],
  handler: (ctl, cmd) => {
    const iface = optString(cmd, 'interface')!;
    return withDomain(ctl, cmd, (dom) => {
      const doc = domainXml(ctl, attempt(ctl, undefined, () => dom.xml(optBool(cmd, 'config') ? 2 : 0)));
      const mac = normalizedMac(iface);
      const root = doc.documentElement!;
      const matches = root.localName !== 'domain' ? [] : select(root, 'devices/interface').filter((n) =>
        select(n, 'mac').some((m) => attr(m, 'address') === mac) || select(n, 'target').some((t) => attr(t, 'dev') === iface));
      if (matches.length < 1) throw new VshError(mac ? `Interface (mac: ${mac}) not found.` : `Interface (dev: ${iface}) not found.`);
      if (matches.length > 1) throw new VshError('multiple matching interfaces found');
      const state = attr(child(matches[0], 'link'), 'state');
      ctl.print(state ? `${iface} ${state}` : `${iface} up`);
      return true;
    });
  },
};

const domcontrol: Cmd = {
  name: 'domcontrol', help: 'domain control interface state', desc: 'Returns state of a control interface to the domain.', opts: [activeDomain()],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const info = dom.controlInfo();
    const state = CONTROL_STATES[info.state] ?? 'unknown';
    if (info.state !== 0 && info.state !== 3) ctl.print(`${state} (${fixed(Number(info.stateTime) / 1000, 3)}s)\n`);
    else if (info.state === 3 && info.details > 0) ctl.print(`${state}: ${CONTROL_ERROR_REASONS[info.details] ?? 'unknown'}\n`);
    else ctl.print(`${state}\n`);
    return true;
  }),
};

const domblkerror: Cmd = {
  name: 'domblkerror', help: 'Show errors on block devices', desc: 'Show block device errors', opts: [activeDomain()],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const errors = dom.diskErrors();
    if (errors.length === 0) ctl.print('No errors found\n');
    for (const e of errors) ctl.print(`${e.disk}: ${IO_ERRORS[e.error] ?? 'unknown error'}\n`);
    return true;
  }),
};

/** g_date_time_format(…, "%Y-%m-%d %H:%M:%S") of a UTC time */
const utcText = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');

const domtime: Cmd = {
  name: 'domtime', help: 'domain time', desc: "Gets or sets the domain's system time",
  opts: [
    activeDomain(), bool('now', 'set to the time of the host running virsh'), bool('pretty', "print domain's time in human readable form"),
    bool('sync', "instead of setting given time, synchronize from domain's RTC"), { name: 'time', type: 'int', help: 'time to set' },
  ],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'time', 'now');
    exclusive(cmd, 'time', 'sync');
    exclusive(cmd, 'now', 'sync');
    return withDomain(ctl, cmd, (dom) => {
      const set = optLongLong(cmd, 'time');
      const now = optBool(cmd, 'now');
      const sync = optBool(cmd, 'sync');
      if (set !== undefined || now || sync) {
        dom.setTime(now ? Math.floor(Date.now() / 1000) : set ?? 0, 0, sync ? 1 : 0);
        return true;
      }
      const { seconds } = dom.time();
      ctl.print(optBool(cmd, 'pretty') ? `Time: ${utcText(Number(seconds))}` : `Time: ${seconds}`);
      return true;
    });
  },
};

export const statsCommands: Cmd[] = [domblkerror, domblkinfo, domblkstat, domcontrol, domifGetlink, domifaddr, domifstat, dommemstat, domstatsCommand, domtime];
