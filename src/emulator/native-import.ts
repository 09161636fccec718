/**
 * `virsh domxml-from-native qemu-argv`: command lines into domain XML with mpvirt's extension.
 * Two dialects: libvirt's (JSON devices and -blockdev, what domxml-to-native prints and what
 * libvirt runs), and the hand-written ones of the multi-process documents (the seed's forking
 * mode, `-device …,rid=N` + `-remote`, and upstream's `-machine x-remote` pairs with -drive).
 * Pure: text in, XML text out; the driver then runs it through define's path.
 */
import { domainXmlFromLibvirtArgv, isLibvirtStyle } from './native-libvirt-import.js';
import { domainXmlFromSeedArgv } from './native-seed-import.js';
import { shellWords, splitCommands } from './native-words.js';

export function domainXmlFromNative(text: string): string {
  const commands = splitCommands(shellWords(text));
  return isLibvirtStyle(commands) ? domainXmlFromLibvirtArgv(commands) : domainXmlFromSeedArgv(text);
}
