/**
 * `virsh domxml-to-native qemu-argv`: the launch plan rendered as shell
 * command lines, one block per process in start order (remotes first).
 */
import type { LaunchPlan } from './launch-plan.js';

/** Quote an argument for a POSIX shell the way libvirt's virCommandToString does. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

function commandLine(binary: string, argv: readonly string[]): string {
  return [binary, ...argv].map(shellQuote).join(' ');
}

export function renderNativeArgv(plan: LaunchPlan): string {
  const blocks: string[] = [];
  for (const r of plan.remotes) {
    blocks.push(
      `# remote process rid=${r.rid} (device ${r.alias}); fd ${r.linkFd}: socketpair to the main QEMU's fd ${r.mainLinkFd}\n` +
        commandLine(r.binary, r.argv),
    );
  }
  const links = plan.remotes.map((r) => `fd ${r.mainLinkFd}: link to remote process ${r.rid}`).join('; ');
  blocks.push(`# main QEMU${links ? `; ${links}` : ''}\n${commandLine(plan.main.binary, plan.main.argv)}`);
  return `${blocks.join('\n\n')}\n`;
}
