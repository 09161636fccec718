/**
 * mpvirtd's configuration file (`/etc/mpvirt/mpvirtd.conf`, interfaces.md §3) in
 * libvirt's virconf syntax. Unknown settings and wrong types are refused with
 * the file and line, so a typo never silently falls back to a default.
 */
import { readFile } from 'node:fs/promises';
import { getSystemErrorMap } from 'node:util';
import { MpvirtError, type ErrorCode } from '../errors.js';

export interface DaemonConfig {
  autoIsolate?: string[];
  autoIsolateOnCrash?: 'destroy' | 'preserve' | 'restart';
  logLevel?: string;
  remoteHeartbeatMs?: number;
  remoteHangDeadlineMs?: number;
  remoteRestartLimit?: number;
  remoteRestartWindowMs?: number;
  jobTimeoutMs?: number;
  logLimitBytes?: number;
  /** [first, last] ids QEMU processes run as; null (`[]`): as the daemon's own user */
  jailIds?: readonly [number, number] | null;
  /** `drop_in = 1`: also answer plain qemu:///system at libvirt's own socket paths (drop-in.ts) */
  dropIn?: boolean;
  /** the host libvirt URIs secondary-driver calls go to (secondary-drivers.ts); default libvirt's own choice */
  networkUri?: string;
  nodedevUri?: string;
  nwfilterUri?: string;
  secretUri?: string;
  interfaceUri?: string;
}

type ConfValue = string | number | ConfValue[];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
/** libvirt's numeric log levels */
const LIBVIRT_LEVELS: Record<number, string> = { 1: 'debug', 2: 'info', 3: 'warn', 4: 'error' };

/** A log level by pino name or libvirt number (1 debug … 4 error); undefined when it is neither. */
export function normalizeLogLevel(v: string | number): string | undefined {
  const s = String(v).trim().toLowerCase();
  return LOG_LEVELS.includes(s) ? s : /^[1-4]$/.test(s) ? LIBVIRT_LEVELS[Number(s)] : undefined;
}

type Setting = (v: ConfValue, bad: (expected: string) => MpvirtError) => Partial<DaemonConfig>;
const int = (min: number, key: keyof DaemonConfig): Setting => (v, bad) => {
  if (typeof v !== 'number' || v < min) throw bad(`an integer >= ${min}`);
  return { [key]: v };
};
/** A libvirt URI such as `network:///system` or `network+unix:///system?socket=/path` */
const uri = (key: 'networkUri' | 'nodedevUri' | 'nwfilterUri' | 'secretUri' | 'interfaceUri'): Setting => (v, bad) => {
  if (typeof v !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\//.test(v)) throw bad('a libvirt URI string such as "network:///system"');
  return { [key]: v };
};
const SETTINGS: Record<string, Setting> = {
  auto_isolate: (v, bad) => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad('a list of strings');
    return { autoIsolate: v as string[] };
  },
  auto_isolate_on_crash: (v, bad) => {
    if (v !== 'destroy' && v !== 'preserve' && v !== 'restart') throw bad('"destroy", "preserve" or "restart"');
    return { autoIsolateOnCrash: v };
  },
  log_level: (v, bad) => {
    const level = typeof v === 'object' ? undefined : normalizeLogLevel(v);
    if (!level) throw bad(`one of ${LOG_LEVELS.map((l) => `"${l}"`).join(', ')} or 1-4`);
    return { logLevel: level };
  },
  remote_heartbeat_ms: int(1, 'remoteHeartbeatMs'),
  remote_hang_deadline_ms: int(1, 'remoteHangDeadlineMs'),
  remote_restart_limit: int(1, 'remoteRestartLimit'),
  remote_restart_window_ms: int(1, 'remoteRestartWindowMs'),
  job_timeout_ms: int(0, 'jobTimeoutMs'),
  log_limit_bytes: int(0, 'logLimitBytes'),
  jail_ids: (v, bad) => {
    if (Array.isArray(v) && v.length === 0) return { jailIds: null };
    const ok = Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x < 0x7fffffff) && (v[0] as number) <= (v[1] as number);
    if (!ok) throw bad('[first, last] ids with 1 <= first <= last < 2147483647, or [] to run QEMU as the daemon\'s user');
    return { jailIds: [v[0] as number, v[1] as number] as const };
  },
  network_uri: uri('networkUri'),
  nodedev_uri: uri('nodedevUri'),
  nwfilter_uri: uri('nwfilterUri'),
  secret_uri: uri('secretUri'),
  interface_uri: uri('interfaceUri'),
  // virconf has no booleans: libvirt's own switches are 0/1 integers
  drop_in: (v, bad) => {
    if (v !== 0 && v !== 1) throw bad('0 or 1');
    return { dropIn: v === 1 };
  },
};

/**
 * libvirt's virconf syntax: `key = value` per line (or `;`-separated), `#`
 * comments, strings in double or single quotes (no escapes), integers, and
 * lists `["a", "b"]` that may span lines. Errors name the file and line.
 */
export function parseDaemonConfig(text: string, file = 'mpvirtd.conf'): DaemonConfig {
  let pos = 0;
  let line = 1;
  const err = (code: ErrorCode, detail: string, at = line): MpvirtError =>
    new MpvirtError(code, `${file}:${at}: ${detail}`, { domain: 'CONF', line: at });
  const syntax = (detail: string): MpvirtError => err('VIR_ERR_CONF_SYNTAX', detail);
  const skip = (newlines: boolean): void => {
    for (;;) {
      const c = text[pos];
      if (c === ' ' || c === '\t' || c === '\r') pos++;
      else if (c === '#') while (pos < text.length && text[pos] !== '\n') pos++;
      else if (c === '\n' && newlines) (pos++, line++);
      else return;
    }
  };
  const value = (inList: boolean): ConfValue => {
    const c = text[pos];
    if (c === '"' || c === "'") {
      const end = text.indexOf(c, pos + 1);
      const nl = text.indexOf('\n', pos + 1);
      if (end < 0 || (nl >= 0 && nl < end)) throw syntax('unterminated string');
      const s = text.slice(pos + 1, end);
      pos = end + 1;
      return s;
    }
    const num = /^[-+]?[0-9]+/.exec(text.slice(pos, pos + 32));
    if (num && !/[A-Za-z0-9_.]/.test(text[pos + num[0].length] ?? '')) {
      pos += num[0].length;
      const n = Number(num[0]);
      if (!Number.isSafeInteger(n)) throw syntax(`integer out of range: ${num[0]}`);
      return n;
    }
    if (c === '[' && !inList) {
      pos++;
      const list: ConfValue[] = [];
      for (;;) {
        skip(true);
        if (text[pos] === ']') break;
        list.push(value(true));
        skip(true);
        if (text[pos] === ',') pos++;
        else if (text[pos] !== ']') throw syntax("expecting ',' or ']' in a list");
      }
      pos++;
      return list;
    }
    throw syntax(c === undefined || c === '\n' ? 'expecting a value' : `unexpected '${c}' where a value should be`);
  };

  const out: DaemonConfig = {};
  for (;;) {
    skip(true);
    if (pos >= text.length) return out;
    if (text[pos] === ';') {
      pos++;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(pos, pos + 256))?.[0];
    if (!name) throw syntax(`expecting a setting name, got '${text[pos]}'`);
    const keyLine = line;
    pos += name.length;
    skip(false);
    if (text[pos] !== '=') throw syntax(`expecting '=' after '${name}'`);
    pos++;
    skip(false);
    const v = value(false);
    skip(false);
    if (pos < text.length && text[pos] !== '\n' && text[pos] !== ';') throw syntax(`unexpected '${text[pos]}' after the value of '${name}'`);
    const setting = SETTINGS[name];
    if (!setting) throw err('VIR_ERR_CONFIG_UNSUPPORTED', `unknown setting '${name}'`, keyLine);
    const bad = (expected: string): MpvirtError =>
      err('VIR_ERR_CONFIG_UNSUPPORTED', `setting '${name}' must be ${expected}`, keyLine);
    Object.assign(out, setting(v, bad));
  }
}

const errnoText = (e: unknown): string => {
  const n = (e as NodeJS.ErrnoException)?.errno;
  return (typeof n === 'number' ? getSystemErrorMap().get(n)?.[1] : undefined) ?? String((e as Error)?.message ?? e);
};
export const failed = (what: string, cause: unknown): MpvirtError =>
  new MpvirtError('VIR_ERR_OPERATION_FAILED', `${what}: ${errnoText(cause)}`, { cause });

/** Read and parse a configuration file; a missing one is an empty configuration unless `mustExist`. */
export async function readDaemonConfig(file: string, mustExist = false): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !mustExist) return {};
    throw failed(`cannot read configuration file '${file}'`, e);
  }
  return parseDaemonConfig(text, file);
}
