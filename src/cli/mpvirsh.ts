#!/usr/bin/env node
/**
 * mpvirsh: virsh's syntax, output and exit codes over libvirt's own C library (src/libvirt), for
 * any libvirt daemon; by default mpvirtd at mpqemu:///system (root) or mpqemu:///session.
 * docs/cli-reference.md lists the commands it has.
 */
import { mpvirsh } from './virsh/main.js';

process.exitCode = await mpvirsh(process.argv.slice(2));
