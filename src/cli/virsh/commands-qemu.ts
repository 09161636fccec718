/**
 * The QEMU passthrough commands, as tools/virsh-domain.c writes them: qemu-monitor-command (QMP,
 * wrapped from words as virsh wraps them, or HMP), qemu-monitor-event and qemu-agent-command. JSON
 * is read and written by libvirt's own virJSON code (domain-qemu.ts), so its spellings, its yajl
 * pretty form and its parse errors are virsh's.
 */
import type { Domain } from '../../libvirt/domain.js';
import { AGENT_TIMEOUT, LibvirtJson, resetLibvirtError } from '../../libvirt/domain-qemu.js';
import { lastError } from '../../libvirt/errors.js';
import { declareFunctions, takeString, type Ptr } from '../../libvirt/ffi.js';
import { LibvirtObject } from '../../libvirt/object.js';
import { commonOpt, type CmdDef, type ParsedCommand } from '../vsh/command-def.js';
import { exclusive, optArgv, optBool, optInt, optString, optStringQuiet, VshError } from '../vsh/options.js';
import { attempt, type Ctl } from './ctl.js';
import { LIST, withDomain } from './commands-lifecycle.js';
import { domainFilterOpt, EventWait, reportWaitEnd, timeoutMs, timestampNow } from './commands-event.js';
import { lookupDomain } from './lookup.js';

type Cmd = CmdDef<Ctl>;

interface WithFilesFns {
  virDomainQemuMonitorCommandWithFiles(d: Ptr, cmd: string, nin: number, fds: Int32Array, nout: null, outfds: null, result: [Ptr | null], flags: number): number;
}
const withFiles = declareFunctions<WithFilesFns>({
  virDomainQemuMonitorCommandWithFiles: 'int virDomainQemuMonitorCommandWithFiles(void *d, const char *cmd, uint nin, int *fds, void *nout, void *outfds, _Out_ void **result, uint flags)',
}, 'libvirt-qemu.so.0');

/** virshFetchPassFdsList: `N,M,…` as integers; an empty value passes none. */
function passFds(cmd: ParsedCommand): number[] {
  const list = optStringQuiet(cmd, 'pass-fds');
  if (list === undefined || list === '') return [];
  return list.split(',').map((f) => {
    if (!/^\s*[-+]?\d+$/.test(f) || Math.abs(Number(f)) > 2 ** 31) throw new VshError(`Unable to parse FD number '${f}'`);
    return Number(f);
  });
}

/** Parse with libvirt; undefined (its error forgotten, as vshResetLibvirtError does) when it cannot. */
function tryParse(text: string): LibvirtJson | undefined {
  const v = LibvirtJson.parse(text);
  if (!v) resetLibvirtError();
  return v;
}

/** cmdQemuMonitorCommandQMPWrap: a JSON object passes through; `cmd args…` becomes {"execute":…,"arguments":…}. */
function qmpWrap(ctl: Ctl, words: string[]): string | undefined {
  const full = words.join(' ');
  const whole = tryParse(full);
  try {
    if (whole?.isObject) return full;
  } finally {
    whole?.free();
  }
  const rest = words.slice(1).join(' ');
  let args = rest === '' ? undefined : tryParse(rest);
  try {
    if (rest !== '' && !args?.isObject) {
      args?.free();
      args = LibvirtJson.parse(`{${words.slice(1).join(',')}}`);
      if (!args) {
        ctl.error(`failed to wrap arguments '${rest}' into a QMP command wrapper`);
        ctl.lastError = lastError('virJSONValueFromString');
        return undefined;
      }
    }
    const name = LibvirtJson.string(words[0] ?? '');
    try {
      return `{"execute":${name.toString()}${args ? `,"arguments":${args.toString()}` : ''}}`;
    } finally {
      name.free();
    }
  } finally {
    args?.free();
  }
}

function monitorCommand(dom: Domain, command: string, fds: number[], hmp: boolean): string {
  if (fds.length === 0) return dom.qemuMonitorCommand(command, { hmp });
  const out: [Ptr | null] = [null];
  if (withFiles().virDomainQemuMonitorCommandWithFiles(LibvirtObject.pointerOf(dom), command, fds.length, Int32Array.from(fds), null, null, out, hmp ? 1 : 0) < 0) {
    throw lastError('virDomainQemuMonitorCommandWithFiles');
  }
  return takeString(out[0]) ?? '';
}

const monitorCommandCmd: Cmd = {
  name: 'qemu-monitor-command', help: 'QEMU Monitor Command', desc: 'QEMU Monitor Command',
  opts: [
    commonOpt.domain(undefined, LIST.ACTIVE),
    { name: 'hmp', type: 'bool', help: 'command is in human monitor protocol' },
    { name: 'pretty', type: 'bool', help: 'pretty-print any qemu monitor protocol output' },
    { name: 'return-value', type: 'bool', help: "extract the value of the 'return' key from the returned string" },
    { name: 'pass-fds', type: 'string', requireName: true, help: 'pass file descriptors N,M,... along with the command' },
    { name: 'cmd', type: 'argv', required: true, help: 'command' },
  ],
  handler: (ctl, cmd) => {
    exclusive(cmd, 'hmp', 'pretty');
    exclusive(cmd, 'hmp', 'return-value');
    return withDomain(ctl, cmd, (dom) => {
      const hmp = optBool(cmd, 'hmp');
      const pretty = optBool(cmd, 'pretty');
      const returnValue = optBool(cmd, 'return-value');
      const words = optArgv(cmd, 'cmd');
      const command = hmp ? words.join(' ') : qmpWrap(ctl, words);
      if (command === undefined) return false;
      const fds = passFds(cmd);
      const result = attempt(ctl, undefined, () => monitorCommand(dom, command, fds, hmp));
      if (result === undefined) return false;
      const json = returnValue || pretty ? tryParse(result) : undefined;
      try {
        if (returnValue && !json) throw new VshError('failed to parse JSON returned by qemu');
        if (!json) {
          ctl.print(`${result}\n`);
          return true;
        }
        const shown = returnValue ? json.member('return') : json;
        if (!shown) throw new VshError("'return' member missing");
        // virTrimSpaces, then no newline of its own: the shell's blank line ends it
        ctl.print(shown.toString(pretty).trim());
        return true;
      } finally {
        json?.free();
      }
    });
  },
};

const monitorEventCmd: Cmd = {
  name: 'qemu-monitor-event', help: 'QEMU Monitor Events', desc: 'Listen for QEMU Monitor Events',
  opts: [
    domainFilterOpt('filter by domain name, id or uuid'),
    { name: 'event', type: 'string', help: 'filter by event name' },
    { name: 'pretty', type: 'bool', help: 'pretty-print any JSON output' },
    { name: 'loop', type: 'bool', help: 'loop until timeout or interrupt, rather than one-shot' },
    { name: 'timeout', type: 'int', help: 'timeout seconds' },
    { name: 'regex', type: 'bool', help: 'treat event as a regex rather than literal filter' },
    { name: 'no-case', type: 'bool', help: 'treat event case-insensitively' },
    { name: 'timestamp', type: 'bool', help: 'show timestamp for each printed event' },
  ],
  handler: async (ctl, cmd) => {
    const [loop, pretty, stamp, regex, nocase] = ['loop', 'pretty', 'timestamp', 'regex', 'no-case'].map((o) => optBool(cmd, o));
    const timeout = timeoutMs(cmd);
    const event = optString(cmd, 'event');
    const domName = optString(cmd, 'domain');
    const dom = domName === undefined ? undefined : lookupDomain(ctl, domName);
    const wait = new EventWait(timeout);
    let count = 0;
    try {
      const sub = ctl.connected!.onQemuMonitorEvent((e) => {
        if (!loop && count) return;
        let details = e.details;
        if (pretty && details !== null) {
          const v = tryParse(details);
          if (v) {
            details = v.toString(true);
            v.free();
          }
        }
        ctl.print(stamp
          ? `${timestampNow()}: event ${e.event} for domain '${e.domain.name}': ${details ?? '<null>'}\n`
          : `event ${e.event} at ${e.seconds}.${String(e.micros).padStart(6, '0')} for domain '${e.domain.name}': ${details ?? '<null>'}\n`);
        count++;
        if (!loop) wait.done();
      }, { ...(dom ? { domain: dom } : {}), ...(event !== undefined ? { event } : {}), regex, nocase });
      try {
        return reportWaitEnd(ctl, await wait.wait(), count);
      } finally {
        sub.close();
      }
    } finally {
      wait.cleanup();
      dom?.free();
    }
  },
};

const agentCommandCmd: Cmd = {
  name: 'qemu-agent-command', help: 'QEMU Guest Agent Command', desc: 'Run an arbitrary qemu guest agent command; use at your own risk',
  opts: [
    commonOpt.domain(undefined, LIST.ACTIVE),
    { name: 'timeout', type: 'int', requireName: true, help: 'timeout seconds. must be positive.' },
    { name: 'async', type: 'bool', help: 'execute command without waiting for timeout' },
    { name: 'block', type: 'bool', help: 'execute command without timeout' },
    { name: 'pretty', type: 'bool', help: 'pretty-print the output' },
    { name: 'cmd', type: 'argv', required: true, help: 'command' },
  ],
  handler: (ctl, cmd) => withDomain(ctl, cmd, (dom) => {
    const command = optArgv(cmd, 'cmd').join(' ');
    const given = optInt(cmd, 'timeout');
    let timeout: number = given ?? AGENT_TIMEOUT.DEFAULT;
    let judge = given !== undefined ? 1 : 0;
    if (judge && timeout < 1) throw new VshError('timeout must be positive');
    if (optBool(cmd, 'async')) {
      timeout = AGENT_TIMEOUT.NOWAIT;
      judge++;
    }
    if (optBool(cmd, 'block')) {
      timeout = AGENT_TIMEOUT.BLOCK;
      judge++;
    }
    if (judge > 1) throw new VshError('timeout, async and block options are exclusive');
    let result = attempt(ctl, undefined, () => dom.qemuAgentCommand(command, timeout));
    if (result === undefined) return false;
    if (optBool(cmd, 'pretty')) {
      const v = tryParse(result);
      if (v) {
        result = v.toString(true);
        v.free();
      }
    }
    ctl.print(`${result}\n`);
    return true;
  }),
};

export const qemuCommands: Cmd[] = [monitorCommandCmd, monitorEventCmd, agentCommandCmd];
