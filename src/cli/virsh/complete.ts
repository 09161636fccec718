/**
 * virsh's hidden `complete` command (tools/vsh.c cmdComplete, vshReadlineParse), what virsh's own
 * bash completion (/usr/share/bash-completion/completions/virsh) runs as `$1 complete -- WORDS`,
 * so `complete -F _virsh_complete mpvirsh` gives mpvirsh the same completion: command names while
 * the first word is typed, a command's options not given yet, and the values its completers know
 * (domain names filtered as virsh filters them, …), each escaped and filtered by the word typed.
 */
import type { CmdDef, CmdGroup } from '../vsh/command-def.js';
import { optArgv } from '../vsh/options.js';
import { parsePartial, type CommandLookup, type PartialCommand } from '../vsh/parse.js';
import type { Ctl } from './ctl.js';

/** A completer: the option's completerFlags, and the line so far (virsh's completers read its options). */
export type Completer = (ctl: Ctl, flags: number, partial: PartialCommand) => string[] | undefined;

const COMPLETERS: Record<string, Completer> = {
  // virshDomainNameCompleter / virshDomainUUIDCompleter: listAllDomains with the option's flags
  domain: (ctl, flags) => domains(ctl, flags, (d) => d.name),
  'domain-uuid': (ctl, flags) => domains(ctl, flags, (d) => d.uuid),
  // virshDomainShutdownModeCompleter
  'shutdown-mode': () => ['acpi', 'agent', 'initctl', 'signal', 'paravirt'],
};

/** Completers of other command areas (storage pools, volumes, …), by the name their options give. */
export function registerCompleter(name: string, fn: Completer): void {
  COMPLETERS[name] = fn;
}

function domains(ctl: Ctl, flags: number, pick: (d: { name: string; uuid: string }) => string): string[] | undefined {
  const c = ctl.connected;
  if (!c) return undefined;
  try {
    const list = c.listAllDomains(flags);
    try {
      return list.map(pick);
    } finally {
      for (const d of list) d.free();
    }
  } catch {
    return undefined;
  }
}

/** vshReadlineCommandGenerator: every listed command, in the groups' order. */
const commandNames = (groups: readonly CmdGroup<Ctl>[]): string[] =>
  groups.flatMap((g) => g.commands.filter((c) => c.alias === undefined && !c.hidden).map((c) => c.name));

/** vshReadlineOptionsGenerator: the options not given yet (argv options may repeat), aliases left out. */
function optionNames(cmd: CmdDef, given: ReadonlySet<string>): string[] {
  return cmd.opts.filter((o) => o.type !== 'alias' && !o.hidden && !(given.has(o.name) && o.type !== 'argv')).map((o) => `--${o.name}`);
}

/** The completions of `words` (the line so far, the last word being typed), as virsh prints them. */
export function completions(ctl: Ctl, words: readonly string[], groups: readonly CmdGroup<Ctl>[], lookup: CommandLookup): string[] | undefined {
  const line = words.join(' ');
  const text = words.length > 0 ? words[words.length - 1]! : '';
  const partial = parsePartial(line, lookup);
  let cmd = partial.cmd;
  if (cmd && cmd.name === text) cmd = undefined; // `dump<TAB>`: still the command's name (dump, dumpxml)
  let list: string[] | undefined;
  const opt = partial.completing;
  if (!cmd) list = commandNames(groups);
  else if (!opt || opt.type === 'bool') list = optionNames(cmd, new Set(partial.opts.map((o) => o.def.name)));
  else if (opt.completer) list = COMPLETERS[opt.completer]?.(ctl, opt.completerFlags ?? 0, partial);
  if (!list) return undefined;
  // escaped for the shell as readline would (the word was not quoted), then filtered by prefix
  const matches = list.map((s) => s.replaceAll(' ', '\\ ')).filter((s) => s.startsWith(text));
  return matches.length > 0 ? matches : undefined;
}

export function completeCommand(groups: () => readonly CmdGroup<Ctl>[], lookup: CommandLookup): CmdDef<Ctl> {
  return {
    name: 'complete', help: 'internal command for autocompletion', desc: 'internal use only', noConnect: true, hidden: true,
    opts: [{ name: 'string', type: 'argv', emptyOk: true, help: 'partial string to autocomplete' }],
    handler: (ctl, cmd) => {
      const words = optArgv(cmd, 'string');
      if (words.length === 0) return false;
      // connects itself, reading no credentials from stdin (virsh closes it first)
      if (!ctl.connection()) return false;
      const matches = completions(ctl, words, groups(), lookup);
      if (!matches) return false;
      ctl.print(matches.map((m) => `${m}\n`).join(''));
      return true;
    },
  };
}
