// Every device and machine setting mpvirt accepts, one small guest per variant, side by side with
// libvirt's own daemon in the same run: the same real-virsh session (define, dumpxml --inactive,
// start --paused, dumpxml, destroy, undefine) on each must print the same — definitions, live
// XML (apart from what differs by nature between two daemons, compare.ts), and errors where
// libvirt refuses a variant. On mpvirtd each variant really runs in QEMU 7.2 under TCG.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparableLive, KNOWN_LIVE_DIFFERENCES, withoutIsolation } from './compare.js';
import { sideBySide, type VirshOut as Out } from './side-by-side.js';

const sb = sideBySide('variants');

interface Variant {
  label: string;
  machine?: 'q35' | 'pc';
  devices?: string;
  features?: string;
  clock?: string;
  cpu?: string;
  /** a QMP command for the running guest on mpvirtd and what its reply must contain */
  qmp?: readonly [string, string];
}

const VNC = "<graphics type='vnc'/>";
const VARIANTS: Variant[] = [
  ...['vga', 'cirrus', 'virtio', 'qxl', 'bochs', 'ramfb'].map((m): Variant => ({ label: `video ${m}`, devices: `${VNC}<video><model type='${m}'/></video>` })),
  { label: 'video none, no display', devices: "<video><model type='none'/></video>" },
  { label: 'two qxl heads and a secondary virtio GPU', devices: `${VNC}<video><model type='qxl' heads='2'/></video><video><model type='virtio'/></video>` },
  ...['ich6', 'ich9', 'ac97', 'es1370'].map((m): Variant => ({ label: `sound ${m}`, devices: `${VNC}<sound model='${m}'/>` })),
  { label: 'sound with named codecs', devices: `${VNC}<sound model='ich9'><codec type='micro'/><codec type='output'/></sound>` },
  { label: 'watchdog i6300esb, poweroff', devices: "<watchdog model='i6300esb' action='poweroff'/>" },
  { label: 'watchdog ib700, pause', machine: 'pc', devices: "<watchdog model='ib700' action='pause'/>" },
  { label: 'USB and virtio input', devices: "<input type='mouse' bus='usb'/><input type='keyboard' bus='usb'/><input type='tablet' bus='virtio'/><input type='mouse' bus='virtio'/><input type='keyboard' bus='virtio'/>" },
  { label: 'VNC on a fixed port and all addresses', devices: "<graphics type='vnc' port='5977' autoport='no' listen='0.0.0.0'/>" },
  { label: 'VNC on a unix socket', devices: "<graphics type='vnc'><listen type='socket'/></graphics>" },
  { label: 'SPICE listening nowhere', devices: "<graphics type='spice'><listen type='none'/></graphics>" },
  { label: 'SPICE with agent, USB redirection and tuning', devices: "<graphics type='spice' autoport='yes'><image compression='auto_glz'/><jpeg compression='auto'/><zlib compression='never'/><playback compression='on'/><streaming mode='filter'/><mouse mode='client'/><clipboard copypaste='no'/><filetransfer enable='no'/></graphics><channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel><redirdev bus='usb' type='spicevmc'/>" },
  { label: 'IDE disk, cdrom with media and an empty one (pc)', machine: 'pc', devices: "<disk type='file' device='disk'><source file='DISK'/><target dev='hda' bus='ide'/></disk><disk type='file' device='cdrom'><source file='ISO'/><target dev='hdc' bus='ide'/><readonly/></disk><disk type='file' device='cdrom'><target dev='hdd' bus='ide'/><readonly/></disk>" },
  { label: 'floppies on q35 with a boot order', devices: "<disk type='file' device='floppy'><source file='FLOPPY'/><target dev='fda' bus='fdc'/><boot order='1'/></disk><disk type='file' device='floppy'><target dev='fdb' bus='fdc'/></disk>" },
  { label: 'floppy on pc', machine: 'pc', devices: "<disk type='file' device='floppy'><source file='FLOPPY'/><target dev='fda' bus='fdc'/></disk>" },
  { label: 'SATA cdrom and virtio disk', devices: "<disk type='file' device='cdrom'><source file='ISO'/><target dev='sda' bus='sata'/><readonly/></disk><disk type='file' device='disk'><source file='DISK'/><target dev='vda' bus='virtio'/></disk>" },
  {
    label: 'memballoon with a stats period',
    devices: "<memballoon model='virtio'><stats period='10'/></memballoon>",
    qmp: ['{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats-polling-interval"}}', '"return":10'],
  },
  { label: 'RNG builtin and guest agent', devices: "<rng model='virtio'><backend model='builtin'/></rng><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" },
  {
    label: "Hyper-V as virt-install's Windows template writes it",
    features: "<acpi/><apic/><hyperv><relaxed state='on'/><vapic state='on'/><spinlocks state='on' retries='8191'/></hyperv>",
    clock: "<clock offset='localtime'><timer name='rtc' tickpolicy='catchup'/><timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/><timer name='hypervclock' present='yes'/></clock>",
  },
  {
    // QEMU refuses VP_INDEX without KVM: both daemons must say so at start
    label: 'every Hyper-V enlightenment',
    features: "<acpi/><apic/><hyperv><relaxed state='on'/><vapic state='on'/><spinlocks state='on' retries='8191'/><vpindex state='on'/><runtime state='on'/><synic state='on'/><stimer state='on'><direct state='on'/></stimer><reset state='on'/><vendor_id state='on' value='KVM Hv'/><frequencies state='on'/><reenlightenment state='on'/><tlbflush state='on'/><ipi state='on'/></hyperv>",
    clock: "<clock offset='localtime'><timer name='hypervclock' present='yes'/></clock>",
  },
  { label: 'clock timers', clock: "<clock offset='utc'><timer name='rtc' tickpolicy='catchup' track='guest'/><timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/><timer name='kvmclock' present='no'/></clock>" },
  { label: 'SMM on', features: "<acpi/><smm state='on'/>" },
  { label: 'SMM off, PAE, no vmport', features: "<acpi/><pae/><smm state='off'/><vmport state='off'/>" },
  { label: 'CPU host-model', cpu: "<cpu mode='host-model'/>" },
  { label: 'CPU maximum', cpu: "<cpu mode='maximum'/>" },
  { label: 'CPU host-passthrough', cpu: "<cpu mode='host-passthrough'/>" },
  { label: 'CPU named model with features', cpu: "<cpu mode='custom' match='exact'><model>Westmere</model><feature policy='disable' name='aes'/></cpu>" },
];

function domainXml(name: string, v: Variant, files: Record<string, string>): string {
  const devices = Object.entries(files).reduce((d, [k, f]) => d.replaceAll(`'${k}'`, `'${f}'`), v.devices ?? '');
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>00000000-0000-4000-8000-${String(VARIANTS.indexOf(v)).padStart(12, '0')}</uuid>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='${v.machine ?? 'q35'}'>hvm</type></os>
  <features>${v.features ?? '<acpi/>'}</features>
  ${v.cpu ?? ''}
  ${v.clock ?? ''}
  <devices>${devices}</devices>
</domain>`;
}

describe('every device variant on mpvirtd and on libvirtd', () => {
  for (const v of VARIANTS) {
    it(`${v.label}: the same definition, live XML and errors as libvirt's`, async () => {
      const name = `var-${VARIANTS.indexOf(v)}`;
      const files: Record<string, string> = {};
      for (const [k, size] of [['DISK', '8M'], ['ISO', '1M'], ['FLOPPY', '1440K']] as const) {
        files[k] = join(sb.work, `${name}-${k.toLowerCase()}.img`);
        spawnSync('truncate', ['-s', size, files[k]!]);
      }
      const file = join(sb.work, `${name}.xml`);
      writeFileSync(file, domainXml(name, v, files));
      let qmpReply = '';
      const session = async (virsh: (args: string[]) => Out | Promise<Out>, qmp = false): Promise<string[]> => {
        const t: string[] = [];
        const step = async (...args: string[]): Promise<Out> => {
          const o = await virsh(args);
          // QEMU's own error lines carry a timestamp. And libvirt words a QEMU that dies at start
          // in one of two ways, by a race: "qemu unexpectedly closed the monitor" if it had
          // connected to the monitor socket before QEMU died, else "process exited while
          // connecting to monitor" (seen both ways for the same definition on a loaded machine).
          const stderr = o.stderr.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, 'TIME')
            .replace('internal error: qemu unexpectedly closed the monitor: ', 'internal error: process exited while connecting to monitor: ');
          t.push(`$ virsh ${args.join(' ')}\n[${o.code}] ${comparableLive(withoutIsolation(o.stdout))}${stderr}`);
          return o;
        };
        if ((await step('define', file)).code !== 0) return t;
        await step('dumpxml', '--inactive', name);
        if ((await step('start', '--paused', name)).code === 0) {
          await step('dumpxml', name);
          if (qmp && v.qmp) qmpReply = (await virsh(['qemu-monitor-command', name, v.qmp[0]])).stdout;
          await step('destroy', name);
        }
        await step('undefine', name);
        return t;
      };
      const theirs = await session((args) => sb.theirs(...args));
      const ours = await session((args) => sb.ours(...args), true);
      expect(ours.join('\n')).toBe(theirs.join('\n'));
      if (v.qmp) expect(qmpReply).toContain(v.qmp[1]);
      if (theirs.some((t) => t.startsWith(`$ virsh dumpxml ${name}`))) {
        console.log(`${v.label}: runs; live XML compared without ${KNOWN_LIVE_DIFFERENCES.map(([w]) => w).join(', ')}`);
      } else {
        console.log(`${v.label}: refused as libvirt refuses it: ${(theirs.find((t) => t.includes('error:')) ?? '').split('\n').filter((l) => l.startsWith('error:')).at(-1)}`);
      }
    }, 60_000);
  }
});
