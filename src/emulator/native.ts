/**
 * `virsh domxml-to-native qemu-argv`: the launch plan rendered as shell
 * command lines, one block per process in start order (remotes first).
 */
import type { PlannedFile, PlannedListener, PlannedTap } from './child-fds.js';
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
  const links = [
    ...plan.remotes.map((r) => `fd ${r.mainLinkFd}: link to remote process ${r.rid}`),
    ...plan.main.taps.map((t) => `fd ${t.childFd}: tap ${t.ifname ?? 'vnetN'} on bridge ${t.bridge}, made by the daemon`),
  ].join('; ');
  blocks.push(`# main QEMU${links ? `; ${links}` : ''}\n${commandLine(plan.main.binary, plan.main.argv)}`);
  return `${blocks.join('\n\n')}\n`;
}

/** A QEMU option value: commas doubled. */
const optValue = (v: string): string => v.replaceAll(',', ',,');

/** One process's argv as a person would run it: fd sets and bound sockets by their paths. */
function argvWithPaths(argv: readonly string[], files: readonly PlannedFile[], listeners: readonly PlannedListener[], taps: readonly PlannedTap[] = []): string[] {
  const tapByFd = new Map(taps.map((t) => [String(t.childFd), t]));
  const bySet = new Map(files.map((f) => [`/dev/fdset/${f.set}`, f.path]));
  const byFd = new Map(listeners.map((l) => [String(l.childFd), l.path]));
  const fileFds = new Set(files.map((f) => `fd=${f.childFd},`));
  const deep = (v: unknown): unknown =>
    typeof v === 'string' ? (bySet.get(v) ?? v) : Array.isArray(v) ? v.map(deep) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)])) : v;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const prev = argv[i - 1];
    if (a === '-add-fd' && [...fileFds].some((f) => argv[i + 1]?.startsWith(f))) {
      i++; // the file is named where it is used
      continue;
    }
    const tap = prev === '-netdev' && a.startsWith('{') ? netdevTap(a, tapByFd) : undefined;
    // a tap the daemon makes on a bridge is, run by hand, QEMU's bridge netdev (its helper makes it)
    if (tap) out.push(JSON.stringify({ type: 'bridge', br: tap.tap.bridge, id: tap.id }));
    else if (a.startsWith('{')) out.push(JSON.stringify(deep(JSON.parse(a))));
    else if (prev === '-chardev' || prev === '-drive') {
      out.push(
        a
          .replace(/(^|,)path=(\/dev\/fdset\/\d+)(?=,|$)/, (m, lead: string, set: string) => (bySet.has(set) ? `${lead}path=${optValue(bySet.get(set)!)}` : m))
          .replace(/(^|,)fd=(\d+)(?=,|$)/, (m, lead: string, fd: string) => (prev === '-chardev' && byFd.has(fd) ? `${lead}path=${optValue(byFd.get(fd)!)}` : m)),
      );
    } else out.push(a);
  }
  return out;
}

function netdevTap(arg: string, taps: ReadonlyMap<string, PlannedTap>): { tap: PlannedTap; id: string } | undefined {
  const p = JSON.parse(arg) as { type?: unknown; fd?: unknown; id?: unknown };
  const tap = p.type === 'tap' && typeof p.fd === 'string' ? taps.get(p.fd) : undefined;
  return tap && typeof p.id === 'string' ? { tap, id: p.id } : undefined;
}

/**
 * The plan as domxml-to-native shows it (libvirt's shows paths too): every image and chardev file
 * by its path instead of the fd set the daemon passes, every monitor or channel socket by its path
 * instead of the bound fd. A remote's link stays an fd: a socketpair has no path.
 */
export function planWithPaths(plan: LaunchPlan): LaunchPlan {
  return {
    // a tap becomes QEMU's bridge netdev there: nothing is left for the daemon to make
    main: { ...plan.main, argv: argvWithPaths(plan.main.argv, plan.main.files, plan.main.listeners, plan.main.taps), taps: [] },
    remotes: plan.remotes.map((r) => ({ ...r, argv: argvWithPaths(r.argv, r.files, r.listeners) })),
  };
}
