/**
 * virsh's command and option definitions (tools/vsh.h: vshCmdDef, vshCmdOptDef), as mpvirsh's
 * command table declares them: the parser, `help` and the option getters all read these, so a
 * command's syntax, its help page and its errors come from one place, as in virsh.
 */

/** vshCmdOptType */
export type OptType =
  | 'bool' // optional flag
  | 'string' // optional `--name value`
  | 'int' // `--name number`, or positional when not `requireName`
  | 'data' // positional string (or `--name value`)
  | 'argv' // every remaining argument
  | 'alias'; // another spelling of a later option: `help` names it ("name" or "name=value")

export interface OptDef {
  readonly name: string;
  readonly type: OptType;
  /** VSH_OFLAG_REQ */
  readonly required?: boolean;
  /** VSH_OFLAG_REQ_OPT: only as `--name value`, never positional */
  readonly requireName?: boolean;
  /** VSH_OFLAG_EMPTY_OK */
  readonly emptyOk?: boolean;
  /** the help text; for an alias, what it stands for */
  readonly help: string;
  /** what completes its value (virsh's completer): a name the shell knows */
  readonly completer?: string;
  /** the completer's filter (virsh's completer_flags: VIR_CONNECT_LIST_* for domains) */
  readonly completerFlags?: number;
  /** left out of help and completion: an mpvirsh addition (`--json`), so virsh's pages stay virsh's */
  readonly hidden?: boolean;
}

/** What a command handler gets: its parsed options, and the shell's state. */
export interface ParsedOpt {
  readonly def: OptDef;
  /** undefined for a bool */
  readonly data?: string;
}

export interface ParsedCommand {
  readonly def: CmdDef;
  readonly opts: readonly ParsedOpt[];
}

export interface CmdDef<Ctl = unknown> {
  readonly name: string;
  /** one line: `help`'s list and NAME */
  readonly help: string;
  /** DESCRIPTION ('' for none) */
  readonly desc: string;
  readonly opts: readonly OptDef[];
  /** VSH_CMD_FLAG_NOCONNECT: runs without a connection */
  readonly noConnect?: boolean;
  /** VSH_CMD_FLAG_ALIAS: the command it stands for (hidden from `help`) */
  readonly alias?: string;
  /** hidden from `help`'s list (virsh's `complete`) */
  readonly hidden?: boolean;
  /** true on success; a false return prints the pending libvirt error as virsh does */
  // method syntax: a table of CmdDef<Ctl> is usable where a CmdDef is read (parser, help)
  handler?(ctl: Ctl, cmd: ParsedCommand): boolean | Promise<boolean>;
}

export interface CmdGroup<Ctl = unknown> {
  /** "Domain Management" */
  readonly name: string;
  /** "domain", what `help GROUP` takes */
  readonly keyword: string;
  readonly commands: readonly CmdDef<Ctl>[];
}

/** VIRSH_COMMON_OPT_DOMAIN and friends (tools/virsh.h). */
export const commonOpt = {
  domain: (help = 'domain name, id or uuid', completerFlags = 0, completer = 'domain'): OptDef => ({ name: 'domain', type: 'data', required: true, help, completer, completerFlags }),
  config: (help: string): OptDef => ({ name: 'config', type: 'bool', help }),
  live: (help: string): OptDef => ({ name: 'live', type: 'bool', help }),
  current: (help: string): OptDef => ({ name: 'current', type: 'bool', help }),
  file: (help: string): OptDef => ({ name: 'file', type: 'data', required: true, help }),
  pool: (help = 'pool name or uuid'): OptDef => ({ name: 'pool', type: 'data', required: true, help }),
} as const;
