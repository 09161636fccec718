/**
 * `--json`, mpvirsh's one addition to virsh's listing and info commands: the same data as one
 * JSON document on stdout instead of virsh's text. A command opts in with {@link withJson} (which
 * adds the option to its table, so `help CMD` and completion show it) and prints through
 * {@link emitTable} or a {@link Fields} record instead of ctl.print; everything else — lookups,
 * libvirt calls, error messages, exit status — is the text path's own, so failures print exactly
 * what virsh prints. The document is printed only when the command succeeds (a failing command
 * prints its error and no document), pretty-printed with two spaces, keys in camelCase, numbers as
 * JSON numbers, a value virsh shows as `-` (no id, no source) as null.
 */
import type { CmdDef, OptDef, ParsedCommand } from '../vsh/command-def.js';
import { optBool } from '../vsh/options.js';
import { formatTable } from '../vsh/table.js';
import type { Ctl } from './ctl.js';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Hidden from help and completion, so `help CMD` stays virsh's page; docs/mpvirsh.md documents it. */
export const JSON_OPT: OptDef = { name: 'json', type: 'bool', help: 'print the result as one JSON document (mpvirsh only)', hidden: true };

/**
 * The command with `--json` appended to its options (last, so virsh's positional order is kept);
 * `shown` for a command of mpvirsh's own, whose help has no virsh page to match.
 */
export function withJson<C>(def: CmdDef<C>, shown = false): CmdDef<C> {
  if (def.opts.some((o) => o.name === 'json')) return def;
  return { ...def, opts: [...def.opts, shown ? { ...JSON_OPT, hidden: false } : JSON_OPT] };
}

/** Whether this run of the command asked for JSON (false for a command without the option). */
export function wantsJson(cmd: ParsedCommand): boolean {
  return cmd.def.opts.some((o) => o.name === 'json') && optBool(cmd, 'json');
}

export function printJson(ctl: Ctl, doc: Json): void {
  ctl.print(`${JSON.stringify(doc, null, 2)}\n`);
}

/** A table cell: text as virsh prints it; a number prints as digits; null prints as `-`. */
export type Cell = string | number | null | { readonly text: string; readonly json: Json };

const cellText = (c: Cell): string => (c === null ? '-' : typeof c === 'object' ? c.text : String(c));
const cellJson = (c: Cell): Json => (c !== null && typeof c === 'object' ? c.json : c);

export interface Column {
  /** virsh's column header */
  readonly header: string;
  /** the row object's key in JSON */
  readonly key: string;
}

/** A virsh table (header unless -q), or with --json an array of one object per row. */
export function emitTable(ctl: Ctl, cmd: ParsedCommand, columns: readonly Column[], rows: readonly (readonly Cell[])[]): void {
  if (wantsJson(cmd)) {
    printJson(ctl, rows.map((r) => Object.fromEntries(columns.map((c, i) => [c.key, cellJson(r[i] ?? null)]))));
    return;
  }
  ctl.print(formatTable(columns.map((c) => c.header), rows.map((r) => r.map(cellText)), !ctl.opts.quiet));
}

/**
 * virsh's `Label:          value` lines (dominfo, nodeinfo, …) or, with --json, one object with
 * a key per line; call {@link done} at the end: it prints the object when the command succeeded.
 */
export class Fields {
  readonly json: boolean;
  readonly #doc: Record<string, Json> = {};

  constructor(private readonly ctl: Ctl, cmd: ParsedCommand, private readonly labelWidth = 15) {
    this.json = wantsJson(cmd);
  }

  /** One line; `value` is its JSON form (the text by default). */
  field(label: string, key: string, text: string, value: Json = text): void {
    if (this.json) this.#doc[key] = value;
    else this.ctl.print(`${label.padEnd(this.labelWidth)} ${text}\n`);
  }

  /** Text printed as is (no JSON counterpart). */
  text(text: string): void {
    if (!this.json) this.ctl.print(text);
  }

  /** A JSON member with no line of its own. */
  set(key: string, value: Json): void {
    this.#doc[key] = value;
  }

  done(ok: boolean): boolean {
    if (ok && this.json) printJson(this.ctl, this.#doc);
    return ok;
  }
}
