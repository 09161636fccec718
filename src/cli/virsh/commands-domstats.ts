/**
 * `domstats`, as tools/virsh-domain-monitor.c cmdDomstats writes it: the groups and list filters
 * as virDomainStatsTypes / virConnectGetAllDomainStatsFlags bits, named domains through
 * virDomainListGetStats (each looked up as virsh does), every record's parameters printed by type.
 */
import '../../libvirt/connection-host.js';
import type { Domain } from '../../libvirt/domain.js';
import type { TypedStatsRecord } from '../../libvirt/connection-host.js';
import type { CmdDef, OptDef } from '../vsh/command-def.js';
import { optArgv, optBool } from '../vsh/options.js';
import type { Ctl } from './ctl.js';
import { typedParamValue } from './format-values.js';
import { lookupDomain } from './lookup.js';

const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });

/** virDomainStatsTypes by option */
const GROUPS: ReadonlyArray<[string, number, string]> = [
  ['state', 1, 'report domain state'], ['cpu-total', 2, 'report domain physical cpu usage'], ['balloon', 4, 'report domain balloon statistics'],
  ['vcpu', 8, 'report domain virtual cpu information'], ['interface', 16, 'report domain network interface information'],
  ['block', 32, 'report domain block device statistics'], ['perf', 64, 'report domain perf event statistics'],
  ['iothread', 128, 'report domain IOThread information'], ['memory', 256, 'report domain memory usage'],
  ['dirtyrate', 512, 'report domain dirty rate information'], ['vm', 1024, 'report hypervisor-specific statistics'],
];

/** virConnectGetAllDomainStatsFlags by option */
const FILTERS: ReadonlyArray<[string, number, string]> = [
  ['list-active', 1, 'list only active domains'], ['list-inactive', 2, 'list only inactive domains'],
  ['list-persistent', 4, 'list only persistent domains'], ['list-transient', 8, 'list only transient domains'],
  ['list-running', 16, 'list only running domains'], ['list-paused', 32, 'list only paused domains'],
  ['list-shutoff', 64, 'list only shutoff domains'], ['list-other', 128, 'list only domains in other states'],
];
const RAW: [string, number, string] = ['raw', 0, 'do not pretty-print the fields'];
const TAIL: ReadonlyArray<[string, number, string]> = [
  ['enforce', 0x80000000, 'enforce requested stats parameters'], ['backing', 0x40000000, 'add backing chain information to block stats'],
  ['nowait', 0x20000000, 'report only stats that are accessible instantly'],
];

export const domstatsCommand: CmdDef<Ctl> = {
  name: 'domstats', help: 'get statistics about one or multiple domains', desc: 'Gets statistics about one or more (or all) domains',
  opts: [
    ...[...GROUPS, ...FILTERS, RAW, ...TAIL].map(([n, , h]) => bool(n, h)),
    { name: 'domain', type: 'argv', help: 'list of domains to get stats for', completer: 'domain' },
  ],
  handler: (ctl, cmd) => {
    let stats = 0;
    let flags = 0;
    for (const [n, bit] of GROUPS) if (optBool(cmd, n)) stats |= bit;
    for (const [n, bit] of [...FILTERS, ...TAIL]) if (optBool(cmd, n)) flags = (flags | bit) >>> 0;
    const conn = ctl.connected!;
    const names = optArgv(cmd, 'domain');
    const doms: Domain[] = [];
    let records: TypedStatsRecord[] = [];
    try {
      if (names.length > 0) {
        for (const n of names) doms.push(lookupDomain(ctl, n));
        records = conn.domainListStatsTyped(doms, stats, flags);
      } else records = conn.allDomainStatsTyped(stats, flags);
      let out = '';
      records.forEach((r, i) => {
        // virsh has no pretty-printing yet (--raw changes nothing)
        out += `Domain: '${r.domain.name}'\n`;
        for (const p of r.params) out += `  ${p.field}=${typedParamValue(p)}\n`;
        if (i < records.length - 1) out += '\n';
      });
      ctl.print(out);
      return true;
    } finally {
      for (const r of records) r.domain.free();
      for (const d of doms) d.free();
    }
  },
};
