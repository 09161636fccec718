#!/usr/bin/env node
/**
 * mpvirsh: a virsh-compatible CLI over libvirt's C library. Commands land with
 * the wire protocol; until then the entry point only documents itself.
 */
import { parseArgs } from 'node:util';

const USAGE = `Usage: mpvirsh [-c URI] [-r] [-q] COMMAND [ARGS...]

A virsh-compatible shell for mpvirt (default URI mpqemu:///system).

Not yet available in this version: no command is implemented yet.
`;

const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } }, strict: false });
if (values.version) {
  process.stdout.write('mpvirsh 0.1.0\n');
} else {
  process.stdout.write(USAGE);
  process.exitCode = values.help ? 0 : 1;
}
