#!/usr/bin/env node
/**
 * mpvirtd: the mpvirt daemon. The managed path (domain lifecycle, remote-process
 * supervision, the libvirt wire protocol) lands in later issues; until then the
 * entry point only documents itself.
 */
import { parseArgs } from 'node:util';

const USAGE = `Usage: mpvirtd [--system|--session] [--socket PATH] [--socket-ro PATH]
               [--config-dir DIR] [--state-dir DIR] [--log-dir DIR]
               [--config FILE] [--log-level LEVEL] [--timeout SECONDS]

The mpvirt daemon: manages multi-process QEMU domains and serves libvirt's
RPC protocol at mpqemu:///system (or mpqemu:///session).

Not yet available in this version: the daemon cannot run domains yet.
`;

const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } }, strict: false });
if (values.version) {
  process.stdout.write('mpvirtd 0.1.0\n');
} else {
  process.stdout.write(USAGE);
  process.exitCode = values.help ? 0 : 1;
}
