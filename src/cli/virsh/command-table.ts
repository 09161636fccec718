/**
 * mpvirsh's command groups, in virsh's order (tools/virsh.c cmdGroups), and within a group in the
 * order of virsh's own tables (`help`, completion and usage list them so), which is not quite
 * alphabetical.
 */
import type { CmdDef, CmdGroup } from '../vsh/command-def.js';
import type { CommandLookup } from '../vsh/parse.js';
import type { Ctl } from './ctl.js';
import { lifecycleCommands } from './commands-lifecycle.js';
import { monitorCommands } from './commands-monitor.js';
import { hostCommands, setHelpGroups, shellCommands } from './commands-shell.js';
import { completeCommand } from './complete.js';
import { configCommands } from './commands-config.js';
import { deviceCommands } from './commands-devices.js';
import { editCommands } from './commands-edit.js';
import { saveCommands } from './commands-saves.js';
import { consoleCommands } from './commands-console.js';
import { eventCommands } from './commands-event.js';
import { qemuCommands } from './commands-qemu.js';
import { remoteCommands } from './commands-remote.js';
import { statsCommands } from './commands-stats.js';
import { hostInfoCommands } from './commands-host.js';
import { vcpuCommands } from './commands-vcpu.js';
import { pinCommands } from './commands-pin.js';
import { domainTuningCommands } from './commands-domain-tuning.js';
import { poolCommands } from './commands-pool.js';
import { poolMoreCommands } from './commands-pool-more.js';
import { volumeCommands } from './commands-volume.js';

/** virsh 9.0's table order per group (`virsh help GROUP`). */
const ORDER: Readonly<Record<string, string>> = {
  domain: 'attach-device attach-disk attach-interface autostart blkdeviotune blkiotune blockcommit blockcopy blockjob blockpull blockresize change-media console cpu-stats create define desc destroy detach-device detach-device-alias detach-disk detach-interface domdisplay domfsfreeze domfsthaw domfsinfo domfstrim domhostname domid domif-setlink domiftune domjobabort domjobinfo domlaunchsecinfo domsetlaunchsecstate domname domrename dompmsuspend dompmwakeup domuuid domxml-from-native domxml-to-native dump dumpxml edit get-user-sshkeys inject-nmi iothreadinfo iothreadpin iothreadadd iothreadset iothreaddel send-key send-process-signal lxc-enter-namespace managedsave managedsave-remove managedsave-edit managedsave-dumpxml managedsave-define memtune perf metadata migrate migrate-setmaxdowntime migrate-getmaxdowntime migrate-compcache migrate-setspeed migrate-getspeed migrate-postcopy numatune qemu-attach qemu-monitor-command qemu-monitor-event qemu-agent-command guest-agent-timeout reboot reset restore resume save save-image-define save-image-dumpxml save-image-edit schedinfo screenshot set-lifecycle-action set-user-sshkeys set-user-password setmaxmem setmem setvcpus shutdown start suspend ttyconsole undefine update-device update-memory-device vcpucount vcpuinfo vcpupin emulatorpin vncdisplay guestvcpus setvcpu domblkthreshold guestinfo domdirtyrate-calc dom-fd-associate',
  monitor: 'domblkerror domblkinfo domblklist domblkstat domcontrol domif-getlink domifaddr domiflist domifstat dominfo dommemstat domstate domstats domtime list remote-list',
  events: 'event',
  host: 'allocpages capabilities cpu-baseline cpu-compare cpu-models domcapabilities freecell freepages hostname hypervisor-cpu-baseline hypervisor-cpu-compare maxvcpus node-memory-tune nodecpumap nodecpustats nodeinfo nodememstats nodesevinfo nodesuspend sysinfo uri version',
  pool: 'find-storage-pool-sources-as find-storage-pool-sources pool-autostart pool-build pool-create-as pool-create pool-define-as pool-define pool-delete pool-destroy pool-dumpxml pool-edit pool-info pool-list pool-name pool-refresh pool-start pool-undefine pool-uuid pool-event pool-capabilities',
  volume: 'vol-clone vol-create-as vol-create vol-create-from vol-delete vol-download vol-dumpxml vol-info vol-key vol-list vol-name vol-path vol-pool vol-resize vol-upload vol-wipe',
  virsh: 'cd echo exit help pwd quit self-test complete connect',
};

function group(name: string, keyword: string, commands: CmdDef<Ctl>[]): CmdGroup<Ctl> {
  const order = (ORDER[keyword] ?? '').split(' ');
  const rank = (c: CmdDef<Ctl>): number => {
    const i = order.indexOf(c.name);
    if (i < 0) throw new Error(`mpvirsh bug: command '${c.name}' has no place in virsh's '${keyword}' group`);
    return i;
  };
  return { name, keyword, commands: [...commands].sort((a, b) => rank(a) - rank(b)) };
}

export const COMMAND_GROUPS: readonly CmdGroup<Ctl>[] = [
  group('Domain Management', 'domain', [...lifecycleCommands, ...consoleCommands, ...qemuCommands, ...configCommands, ...deviceCommands, ...editCommands, ...saveCommands, ...vcpuCommands, ...pinCommands, ...domainTuningCommands]),
  group('Domain Monitoring', 'monitor', [...monitorCommands, ...remoteCommands, ...statsCommands]),
  group('Domain Events', 'events', eventCommands),
  group('Host and Hypervisor', 'host', [...hostCommands, ...hostInfoCommands]),
  group('Storage Pool', 'pool', [...poolCommands, ...poolMoreCommands]),
  group('Storage Volume', 'volume', volumeCommands),
  group('Virsh itself', 'virsh', [...shellCommands, completeCommand(() => COMMAND_GROUPS, { find: (name) => index.get(name) as CmdDef | undefined })]),
];
setHelpGroups(COMMAND_GROUPS);

const index = new Map<string, CmdDef<Ctl>>();
for (const g of COMMAND_GROUPS) for (const c of g.commands) index.set(c.name, c);

export const commandLookup: CommandLookup = { find: (name) => index.get(name) as CmdDef | undefined };
