/**
 * Domain parameters and jobs, as tools/virsh-domain.c writes them: numatune, schedinfo,
 * domjobinfo, domlaunchsecinfo, domhostname.
 */
import '../../libvirt/domain-monitor.js';
import '../../libvirt/domain-vcpus.js';
import { TypedParameterType as T } from '../../libvirt/enums-misc.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { JobInfo } from '../../libvirt/domain-vcpus.js';
import type { TypedParam } from '../../libvirt/typed-param-list.js';
import { commonOpt, type CmdDef, type OptDef, type ParsedCommand } from '../vsh/command-def.js';
import { exclusive, optArgv, optBool, optString, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { LIST, withDomain } from './commands-lifecycle.js';
import { printJob } from './job-info.js';
import { typedParamString, typedParamValue } from './format-values.js';

type Cmd = CmdDef<Ctl>;
const bool = (name: string, help: string): OptDef => ({ name, type: 'bool', help });
const impactOpts: OptDef[] = [commonOpt.config('affect next boot'), commonOpt.live('affect running domain'), commonOpt.current('affect current domain')];
const line15 = (p: TypedParam, value = typedParamValue(p)): string => `${p.field.padEnd(15)}: ${value}\n`;

/** virDomainNumatuneMemMode names */
const NUMA_MODES = ['strict', 'preferred', 'interleave', 'restrictive'];

/** --config / --live after virsh's exclusivity checks */
function impact(cmd: ParsedCommand): number {
  exclusive(cmd, 'current', 'live');
  exclusive(cmd, 'current', 'config');
  return (optBool(cmd, 'config') ? 2 : 0) | (optBool(cmd, 'live') ? 1 : 0);
}

/** virStrToLong_i with base 0 (decimal, 0x hex, 0 octal), the whole string. */
function cInt(s: string): number | undefined {
  const m = /^\s*([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  const v = (m[1] === '-' ? -1 : 1) * (body.startsWith('0x') || body.startsWith('0X') ? parseInt(body, 16) : body.length > 1 && body.startsWith('0') ? parseInt(body, 8) : Number(body));
  return v >= -(2 ** 31) && v < 2 ** 31 ? v : undefined;
}

const numatune: Cmd = {
  name: 'numatune', help: 'Get or set numa parameters',
  desc: 'Get or set the current numa parameters for a guest domain.\n    To get the numa parameters use following command: \n\n    virsh # numatune <domain>',
  opts: [
    commonOpt.domain(),
    { name: 'mode', type: 'string', help: 'NUMA mode, one of strict, preferred and interleave \nor a number from the virDomainNumatuneMemMode enum', completer: 'numatune-mode' },
    { name: 'nodeset', type: 'string', help: 'NUMA node selections to set' }, ...impactOpts,
  ],
  handler: (ctl, cmd) => {
    const flags = impact(cmd);
    return withDomain(ctl, cmd, (dom) => {
      const set: TypedParam[] = [];
      const nodeset = optString(cmd, 'nodeset');
      if (nodeset !== undefined) set.push({ field: 'numa_nodeset', type: T.STRING, value: nodeset });
      const mode = optString(cmd, 'mode');
      if (mode !== undefined) {
        const m = NUMA_MODES.includes(mode) ? NUMA_MODES.indexOf(mode) : cInt(mode);
        if (m === undefined) throw new VshError(`Invalid mode: ${mode}`);
        set.push({ field: 'numa_mode', type: T.INT, value: m });
      }
      if (set.length > 0) return attempt(ctl, 'Unable to change numa parameters', () => (dom.setNumaParameters(set, flags), true)) ?? false;
      const params = attempt(ctl, 'Unable to get number of memory parameters', () => dom.numaParameters(flags));
      if (!params) return false;
      for (const p of params) ctl.print(p.type === T.INT && p.field === 'numa_mode' ? line15(p, NUMA_MODES[Number(p.value)] ?? '(null)') : line15(p));
      return true;
    });
  },
};

/** virTypedParamsAddFromString: `value` read as the parameter's type, libvirt's words when it is not one. */
function paramFromString(field: string, type: number, value: string): TypedParam {
  const bad = (what: string): never => {
    throw new VshError(`invalid argument: Invalid value for field '${field}': expected ${what}`);
  };
  const int = (signed: boolean, bits: 32 | 64): number | bigint => {
    if (!/^\s*[-+]?\d+$/.test(value)) return bad(`${signed ? '' : 'unsigned '}${bits === 32 ? 'int' : 'long long'}`);
    const v = BigInt(value.trim());
    const lo = signed ? -(2n ** BigInt(bits - 1)) : 0n;
    const hi = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
    if (v < lo || v > hi) return bad(`${signed ? '' : 'unsigned '}${bits === 32 ? 'int' : 'long long'}`);
    return bits === 32 ? Number(v) : v;
  };
  switch (type) {
    case T.INT: return { field, type, value: int(true, 32) };
    case T.UINT: return { field, type, value: int(false, 32) };
    case T.LLONG: return { field, type, value: int(true, 64) };
    case T.ULLONG: return { field, type, value: int(false, 64) };
    case T.DOUBLE: {
      const d = Number(value);
      return Number.isNaN(d) || value.trim() === '' ? bad('double') : { field, type, value: d };
    }
    case T.BOOLEAN: {
      const v = value.toLowerCase();
      if (v === 'true' || v === '1') return { field, type, value: true };
      if (v === 'false' || v === '0') return { field, type, value: false };
      throw new VshError(`invalid argument: Invalid boolean value for field '${field}'`);
    }
    default: return { field, type, value };
  }
}

/** cmdSchedInfoUpdate: --set name=value…, then --cap, then --weight, each checked against what the domain has. */
function schedUpdates(cmd: ParsedCommand, current: readonly TypedParam[]): TypedParam[] {
  const out: TypedParam[] = [];
  const add = (field: string, value: string): void => {
    const known = current.find((p) => p.field === field);
    if (!known) throw new VshError(`invalid scheduler option: ${field}`);
    out.push(paramFromString(field, known.type, value));
  };
  for (const s of optArgv(cmd, 'set')) {
    const eq = s.indexOf('=');
    if (eq < 0) throw new VshError('Invalid syntax for --set, expecting name=value');
    add(s.slice(0, eq), s.slice(eq + 1));
  }
  const cap = optString(cmd, 'cap');
  if (cap !== undefined) add('cap', cap);
  const weight = optString(cmd, 'weight');
  if (weight !== undefined) add('weight', weight);
  return out;
}

const schedinfo: Cmd = {
  name: 'schedinfo', help: 'show/set scheduler parameters', desc: 'Show/Set scheduler parameters.',
  opts: [
    commonOpt.domain(), { name: 'weight', type: 'int', requireName: true, help: 'weight for XEN_CREDIT' },
    { name: 'cap', type: 'int', requireName: true, help: 'cap for XEN_CREDIT' }, commonOpt.current('get/set current scheduler info'),
    commonOpt.config('get/set value to be used on next boot'), commonOpt.live('get/set value from running domain'),
    { name: 'set', type: 'argv', help: 'parameter=value' },
  ],
  handler: (ctl, cmd) => {
    const flags = impact(cmd);
    const current = optBool(cmd, 'current');
    const both = flags === 3;
    // live and config cannot be queried at once: current then
    const queryFlags = both ? 0 : flags;
    const useFlags = flags !== 0 || current;
    return withDomain(ctl, cmd, (dom) => {
      let type;
      try {
        type = dom.schedulerType();
      } catch (e) {
        if (!(e instanceof LibvirtError)) throw e;
        ctl.print(`${'Scheduler'.padEnd(15)}: Unknown\n`);
        throw e;
      }
      ctl.print(`${'Scheduler'.padEnd(15)}: ${type.type}\n`);
      if (type.nparams === 0) return false;
      let params = dom.schedulerParameters(type.nparams, useFlags ? queryFlags : undefined);
      const updates = schedUpdates(cmd, params);
      if (updates.length > 0) {
        dom.setSchedulerParameters(updates, useFlags ? flags : undefined);
        params = dom.schedulerParameters(type.nparams, useFlags ? queryFlags : undefined);
      } else if (both) throw new VshError('cannot query both live and config at once');
      for (const p of params) ctl.print(line15(p));
      return true;
    });
  },
};

const domjobinfo: Cmd = {
  name: 'domjobinfo', help: 'domain job information', desc: 'Returns information about jobs running on a domain.',
  opts: [
    commonOpt.domain(undefined, LIST.ACTIVE), bool('completed', 'return statistics of a recently completed job'),
    bool('keep-completed', "don't destroy statistics of a recently completed job when reading"),
    bool('anystats', 'print statistics for any kind of job (even failed ones)'), bool('rawstats', 'print the raw data returned by libvirt'),
  ],
  handler: (ctl, cmd) => {
    if (optBool(cmd, 'keep-completed') && !optBool(cmd, 'completed')) throw new VshError('Option --completed is required by option --keep-completed');
    return withDomain(ctl, cmd, (dom) => {
      const flags = (optBool(cmd, 'completed') ? 1 : 0) | (optBool(cmd, 'keep-completed') ? 2 : 0);
      const raw = optBool(cmd, 'rawstats');
      let info: JobInfo;
      let params: TypedParam[] = [];
      try {
        const st = dom.jobStats(flags);
        params = st.params;
        const ull = (f: string): number | bigint => {
          const p = params.find((x) => x.field === f);
          if (p && p.type !== T.ULLONG) throw new VshError(`invalid argument: Invalid type '${p.type}' requested for parameter '${f}', actual type is '${p.type}'`);
          return p ? (p.value as number | bigint) : 0;
        };
        info = {
          type: st.type, timeElapsed: ull('time_elapsed'), timeRemaining: ull('time_remaining'), dataTotal: ull('data_total'),
          dataProcessed: ull('data_processed'), dataRemaining: ull('data_remaining'), memTotal: ull('memory_total'),
          memProcessed: ull('memory_processed'), memRemaining: ull('memory_remaining'), fileTotal: ull('disk_total'),
          fileProcessed: ull('disk_processed'), fileRemaining: ull('disk_remaining'),
        };
      } catch (e) {
        if (!(e instanceof LibvirtError) || e.code !== 'VIR_ERR_NO_SUPPORT') throw e;
        if (flags !== 0 || raw) {
          ctl.error('Optional flags or --rawstats are not supported by the daemon');
          ctl.lastError = e; // still reported after virsh's line
          return false;
        }
        info = dom.jobInfo();
      }
      if (raw) {
        ctl.print(`Job type: ${info.type}\n\n${params.map((p) => `${p.field}: ${typedParamString(p)}\n`).join('')}`);
        return true;
      }
      ctl.print(printJob(info, params, (flags & 1) !== 0, optBool(cmd, 'anystats')));
      return true;
    });
  },
};

const domlaunchsecinfo: Cmd = {
  name: 'domlaunchsecinfo', help: 'Get domain launch security info', desc: 'Get the launch security parameters for a guest domain', opts: [commonOpt.domain()],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const params = attempt(ctl, 'Unable to get launch security parameters', () => dom.launchSecurityInfo());
    if (!params) return false;
    ctl.print(params.map((p) => line15(p)).join(''));
    return true;
  }),
};

const HOSTNAME_SOURCES: Readonly<Record<string, number>> = { agent: 2, lease: 1 };

const domhostname: Cmd = {
  name: 'domhostname', help: "print the domain's hostname", desc: '',
  opts: [commonOpt.domain(undefined, LIST.ACTIVE), { name: 'source', type: 'string', help: "address source: 'lease' or 'agent'", completer: 'hostname-source' }],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const source = optString(cmd, 'source');
    const flags = source === undefined ? 0 : HOSTNAME_SOURCES[source];
    if (flags === undefined) throw new VshError(`Unknown data source '${source}'`);
    const name = attempt(ctl, 'failed to get hostname', () => dom.hostname(flags));
    if (name === undefined) return false;
    ctl.print(`${name}\n`);
    return true;
  }),
};

export const domainTuningCommands: Cmd[] = [numatune, schedinfo, domjobinfo, domlaunchsecinfo, domhostname];
