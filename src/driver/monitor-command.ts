/**
 * `virsh qemu-monitor-command`: raw QMP passthrough. The reply is returned as
 * QEMU's JSON text, errors included (libvirt returns the raw reply, and virsh
 * prints it). A remote process is addressed with the wrapper of
 * interfaces.md §7: {"execute":"x-mpvirt-remote","arguments":{"rid":…,"command":{…}}}.
 */
import { MpvirtError } from '../errors.js';
import type { QmpClient } from '../emulator/qmp.js';
import type { DomainObject } from './domain-object.js';
import { notRunning } from './stop.js';
import { forgetDirtyRate } from './domain-stats.js';

interface QmpCommand {
  execute: string;
  arguments?: object;
}

function parseCommand(text: string): QmpCommand {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot parse json ${text}: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || typeof (v as QmpCommand).execute !== 'string') {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot parse json ${text}: expected an object with "execute"`);
  }
  const args = (v as QmpCommand).arguments;
  if (args !== undefined && (typeof args !== 'object' || args === null)) {
    throw new MpvirtError('VIR_ERR_INTERNAL_ERROR', `cannot parse json ${text}: "arguments" must be an object`);
  }
  return v as QmpCommand;
}

/** QEMU's reply as it sent it, `id` included (libvirt returns the reply line verbatim). */
async function passThrough(qmp: QmpClient, cmd: QmpCommand): Promise<string> {
  let id = '';
  try {
    const ret = await qmp.execute(cmd.execute, cmd.arguments, { onId: (i) => (id = i) });
    return JSON.stringify({ return: ret ?? {}, id });
  } catch (e) {
    const q = (e as MpvirtError).qmp;
    if (q) return JSON.stringify({ error: { class: q.class, desc: q.desc }, id });
    throw e;
  }
}

/** `--hmp`: libvirt wraps the command in human-monitor-command and returns its text. */
export async function hmpCommand(obj: DomainObject, line: string): Promise<string> {
  const rt = obj.runtime;
  if (!obj.active || !rt) throw notRunning();
  if (/dirty/i.test(line)) forgetDirtyRate(rt.main.qmp); // calc_dirty_rate changes what domstats reports
  return rt.main.qmp.execute<string>('human-monitor-command', { 'command-line': line });
}

export async function monitorCommand(obj: DomainObject, text: string): Promise<string> {
  const rt = obj.runtime;
  if (!obj.active || !rt) throw notRunning();
  const cmd = parseCommand(text);
  if (cmd.execute !== 'x-mpvirt-remote') {
    if (/dirty/i.test(text)) forgetDirtyRate(rt.main.qmp); // calc-dirty-rate changes what domstats reports
    return passThrough(rt.main.qmp, cmd);
  }
  const args = (cmd.arguments ?? {}) as { rid?: unknown; command?: unknown };
  if (typeof args.rid !== 'string') throw new MpvirtError('VIR_ERR_INVALID_ARG', 'x-mpvirt-remote needs a string "rid"');
  const remote = rt.remotes.find((r) => r.rid === args.rid);
  if (!remote) throw new MpvirtError('VIR_ERR_INVALID_ARG', `domain '${obj.name}' has no remote process with rid '${args.rid}'`);
  const inner = parseCommand(JSON.stringify(args.command ?? null));
  if (remote.qmp.closed) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', `remote process '${remote.rid}' is not running`);
  return passThrough(remote.qmp, inner);
}
