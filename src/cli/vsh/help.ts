/**
 * virsh's help pages (tools/vsh.c vshCmddefHelp, vshCmdGrpHelp, cmdHelp), character for character.
 */
import type { CmdDef, CmdGroup } from './command-def.js';

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** `help COMMAND` / `COMMAND --help`. */
export function commandHelp(def: CmdDef): string {
  let out = `  NAME\n    ${def.name} - ${def.help}\n\n  SYNOPSIS\n    ${def.name}`;
  let shortopt = false; // a positional word works instead of `--opt arg`
  for (const o of def.opts) {
    if (o.hidden) continue;
    let fmt: string;
    switch (o.type) {
      case 'bool': fmt = `[--${o.name}]`; break;
      case 'int':
        fmt = o.required ? `<${o.name}>` : `[--${o.name} <number>]`;
        if (!o.requireName) shortopt = true;
        break;
      case 'string':
        fmt = `[--${o.name} <string>]`;
        if (!o.requireName) shortopt = true;
        break;
      case 'data':
        fmt = o.required ? `<${o.name}>` : `[<${o.name}>]`;
        if (!o.requireName) shortopt = true;
        break;
      case 'argv':
        fmt = shortopt
          ? (o.required ? `{[--${o.name}] <string>}...` : `[[--${o.name}] <string>]...`)
          : (o.required ? `<${o.name}>...` : `[<${o.name}>]...`);
        break;
      case 'alias': continue; // undocumented on purpose
    }
    out += ` ${fmt}`;
  }
  out += '\n';
  if (def.desc) out += `\n  DESCRIPTION\n    ${def.desc}\n`;
  if (def.opts.length > 0) {
    out += '\n  OPTIONS\n';
    for (const o of def.opts) {
      if (o.hidden) continue;
      let buf: string;
      switch (o.type) {
        case 'bool': buf = `--${o.name}`; break;
        case 'int': buf = o.required ? `[--${o.name}] <number>` : `--${o.name} <number>`; break;
        case 'string': buf = `--${o.name} <string>`; break;
        case 'data': buf = `[--${o.name}] <string>`; break;
        case 'argv': buf = shortopt ? `[--${o.name}] <string>` : `<${o.name}>`; break;
        case 'alias': continue;
      }
      out += `    ${pad(buf, 15)}  ${o.help}\n`;
    }
  }
  return `${out}\n`;
}

const listed = (c: CmdDef): boolean => c.alias === undefined && !c.hidden;

/** `help GROUP`. */
export function groupHelp(g: CmdGroup): string {
  return ` ${g.name} (help keyword '${g.keyword}'):\n${g.commands.filter(listed).map((c) => `    ${pad(c.name, 30)} ${c.help}\n`).join('')}`;
}

/** `help` with no argument. */
export function allHelp(groups: readonly CmdGroup[]): string {
  return `Grouped commands:\n\n${groups.map((g) => `${groupHelp(g)}\n`).join('')}`;
}
