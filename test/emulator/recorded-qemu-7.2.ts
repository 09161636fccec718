/**
 * libvirt 9.0's recorded QMP session with QEMU 7.2 (../shared/libvirt-9.0-testdata), turned
 * into the replies a probe collects: shared by the capability tests and the define-time
 * defaults oracle. How the recording is adapted: capabilities-from-recorded-qemu-7.2-replies.test.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { capsFromReplies, type CapsReplies, type QmpCommandLineOption, type QmpMachineInfo, type QomTypeInfo } from '../../src/emulator/caps-probe.js';
import type { QemuCaps } from '../../src/emulator/caps.js';

export const REPLIES = fileURLToPath(
  new URL('../../../shared/libvirt-9.0-testdata/qemucapabilitiesdata/caps_7.2.0.x86_64.replies', import.meta.url),
);

/** The top-level JSON values of a libvirt `.replies` file (pretty-printed, separated by blank lines). */
function readJsonSequence(text: string): unknown[] {
  const values: unknown[] = [];
  let chunk: string[] = [];
  const flush = (force: boolean): void => {
    const src = chunk.join('\n').trim();
    if (!src) return void (chunk = []);
    try {
      values.push(JSON.parse(src));
      chunk = [];
    } catch (e) {
      if (force) throw e; // a blank line inside a value: keep collecting
    }
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') flush(false);
    else chunk.push(line);
  }
  flush(true);
  return values;
}

interface Command { execute: string; arguments?: Record<string, unknown>; id: string }
interface Reply { return?: unknown; error?: unknown; id: string }

/**
 * Commands with their replies, in recording order. Each command is followed by its reply; ids
 * restart at libvirt-1 in the second monitor session (libvirt's TCG probe), so pairing is positional.
 */
export function recordedSession(): Array<{ command: Command; reply: Reply }> {
  const values = readJsonSequence(readFileSync(REPLIES, 'utf8')) as Array<Command | Reply>;
  const session: Array<{ command: Command; reply: Reply }> = [];
  for (let i = 0; i < values.length; i += 2) {
    const command = values[i] as Command;
    const reply = values[i + 1] as Reply | undefined;
    if (!('execute' in command) || !reply || 'execute' in reply || reply.id !== command.id) {
      throw new Error(`recording out of step at value ${i}: ${JSON.stringify(command).slice(0, 80)}`);
    }
    session.push({ command, reply });
  }
  return session;
}

const NON_DEVICE_BASES = new Set([
  'object', 'bus', 'virtio-bus', 'chardev', 'chardev-fd', 'chardev-spice', 'qio-channel', 'iommu-memory-region',
  'memory-backend', 'tpm-backend', 'netfilter', 'authz', 'tls-creds', 'secret_common', 'rng-backend', 'pr-manager',
  'event-loop-base', 'confidential-guest-support', 'can-host', 'machine', 'generic-pc-machine', 'x86-machine',
]);

export function recordedReplies(): { replies: CapsReplies; session: ReturnType<typeof recordedSession> } {
  const session = recordedSession();
  const first = (execute: string): { command: Command; reply: Reply } => {
    const hit = session.find((s) => s.command.execute === execute);
    if (!hit) throw new Error(`no ${execute} in the recording`);
    return hit;
  };
  const types = first('qom-list-types').reply.return as QomTypeInfo[];
  const parentOf = new Map(types.map((t) => [t.name, t.parent]));
  const base = (name: string): string | undefined => { // first unlisted ancestor
    let p: string | undefined = name;
    for (let hops = 0; p !== undefined && parentOf.has(p) && hops < 100; hops++) p = parentOf.get(p);
    return p;
  };

  type SchemaEntry = { name: string; 'meta-type': string; 'arg-type'?: string; members?: Array<{ name: string; type: string }>; tag?: string; values?: string[] };
  const schema = new Map((first('query-qmp-schema').reply.return as SchemaEntry[]).map((e) => [e.name, e]));
  const objectAdd = schema.get(schema.get('object-add')!['arg-type']!)!;
  const qomTypeEnum = schema.get(objectAdd.members!.find((m) => m.name === objectAdd.tag)!.type)!;
  const userCreatable = new Set(qomTypeEnum.values);

  const accels = types.filter((t) => t.parent === 'accel');
  const objects = types.filter((t) => userCreatable.has(t.name));
  const devices = types.filter((t) => !userCreatable.has(t.name) && t.parent !== 'accel' && t.name !== 'accel' &&
    !t.name.endsWith('-machine') && !NON_DEVICE_BASES.has(base(t.name) ?? 'object'));
  const options = first('query-command-line-options').reply.return as QmpCommandLineOption[];
  return {
    session,
    replies: {
      version: first('query-version').reply.return as CapsReplies['version'],
      machines: first('query-machines').reply.return as QmpMachineInfo[],
      devices, objects, accels,
      sandbox: options.filter((o) => o.option === 'sandbox'),
    },
  };
}

/** QEMU 7.2's capabilities as a probe of `binary` would give them. */
export function recordedQemu72Caps(binary = '/usr/bin/qemu-system-x86_64'): QemuCaps {
  return capsFromReplies(binary, recordedReplies().replies);
}
