// Every user-controlled string that reaches a QEMU option stays one value:
// commas are doubled in `key=value,…` options and JSON carries the rest.
// The splitter below is QEMU's own rule (qemu_opts_parse: ',,' is a literal comma).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDefineDefaults } from '../../src/domainxml/defaults/index.js';
import { parseDomainXml, type DomainDef } from '../../src/domainxml/index.js';
import type { QemuCaps } from '../../src/emulator/caps.js';
import { buildLaunchPlan } from '../../src/emulator/launch-plan.js';
import { optList } from '../../src/emulator/qemu-args.js';

const caps: QemuCaps = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'emulator', 'caps-qemu-7.2.json'), 'utf8'),
);
/** A domain as define stores it (every device at its address). */
const defined = (xml: string): DomainDef => applyDefineDefaults(parseDomainXml(xml), caps, { newDomain: true });

/** QEMU's QemuOpts splitting: ',' separates, ',,' is a literal comma. */
function splitQemuOpts(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ',') {
      if (s[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      out.push(cur);
      cur = '';
      continue;
    }
    cur += s[i];
  }
  out.push(cur);
  return out;
}

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

function domain(name: string, diskPath: string, serialPath: string): string {
  return `<domain type='qemu'><name>${escapeXml(name)}</name><memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <metadata><mpq:remote xmlns:mpq='http://mpvirt.org/schemas/domain/mpqemu/1.0'><mpq:process rid='8'><mpq:device alias='ua-lsi0'/></mpq:process></mpq:remote></metadata>
  <devices><controller type='scsi' index='0' model='lsilogic'><alias name='ua-lsi0'/></controller>
  <disk type='file' device='disk'><source file='${escapeXml(diskPath)}'/><target dev='sda' bus='scsi'/></disk>
  <serial type='file'><source path='${escapeXml(serialPath)}'/></serial></devices></domain>`;
}

const optionAfter = (argv: string[], flag: string, startsWith: string): string => {
  for (let i = 0; i < argv.length - 1; i++) if (argv[i] === flag && argv[i + 1]!.startsWith(startsWith)) return argv[i + 1]!;
  throw new Error(`no ${flag} ${startsWith}…`);
};

describe('user strings in QEMU options', () => {
  it('a disk path that looks like extra options stays the filename', () => {
    const def = defined(domain('web', '/tmp/a,file.driver=ssh,b.img', '/var/log/s.log'));
    const plan = buildLaunchPlan(def, caps, { runDir: '/run/mpvirt/qemu/web' });
    // the path never reaches QEMU: the daemon opens it, QEMU gets the fd set that -add-fd names
    const blockdev = JSON.parse(optionAfter(plan.remotes[0]!.argv, '-blockdev', '{"driver":"file"'));
    expect(blockdev.filename).toBe('/dev/fdset/1');
    expect(blockdev.driver).toBe('file');
    expect(plan.remotes[0]!.files).toEqual([{ childFd: 5, path: '/tmp/a,file.driver=ssh,b.img', access: 'readwrite', set: 1, opaque: 'libvirt-1-storage' }]);
    expect(optionAfter(plan.remotes[0]!.argv, '-add-fd', 'fd=')).toBe('fd=5,set=1,opaque=libvirt-1-storage');
    expect(plan.remotes[0]!.argv.join(' ')).not.toContain('ssh');
  });

  it('a name with commas stays the guest name and the socket path stays one path', () => {
    const def = defined(domain('web,debug-threads=off,x', '/img.raw', '/var/log/a,path=/etc/passwd'));
    const plan = buildLaunchPlan(def, caps, { runDir: '/run/mpvirt/qemu/web,x' });
    const name = splitQemuOpts(optionAfter(plan.main.argv, '-name', 'guest='));
    expect(name).toEqual(['guest=web,debug-threads=off,x', 'debug-threads=on']);
    // paths stay the daemon's: the monitor socket it binds, the serial file it opens
    const mon = splitQemuOpts(optionAfter(plan.main.argv, '-chardev', 'socket'));
    expect(mon).toEqual(['socket', 'id=charmonitor', `fd=${plan.main.listeners[0]!.childFd}`, 'server=on', 'wait=off']);
    expect(plan.main.listeners.map((l) => l.path)).toEqual(['/run/mpvirt/qemu/web,x/monitor.qmp']);
    const serial = splitQemuOpts(optionAfter(plan.main.argv, '-chardev', 'file'));
    const serialFile = plan.main.files.find((f) => f.path === '/var/log/a,path=/etc/passwd')!;
    expect(serial).toEqual(['file', 'id=charserial0', `path=/dev/fdset/${serialFile.set}`]);
    expect(plan.main.argv.join(' ')).not.toContain('/etc/passwd');
  });

  it('property: optList values survive QEMU option splitting for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ',', '=', ' ', '"', "'", '\\', '/', 'é', '😀') }), (v) => {
        const parts = splitQemuOpts(optList([['', 'file'], ['path', v], ['id', 'x']]));
        expect(parts).toEqual(['file', `path=${v}`, 'id=x']);
      }),
      { numRuns: 500 },
    );
  });

  it('property: JSON -blockdev carries any path as exactly the filename', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: fc.constantFrom('a', ',', '=', '"', '{', '}', ':', '/', ' ', '\\') }), (p) => {
        const def = defined(domain('d', `/x/${p}`, '/s'));
        const plan = buildLaunchPlan(def, caps, { runDir: '/run/d' });
        expect(JSON.parse(optionAfter(plan.remotes[0]!.argv, '-blockdev', '{"driver":"file"')).filename).toBe('/dev/fdset/1');
        expect(plan.remotes[0]!.files[0]!.path).toBe(`/x/${p}`);
      }),
      { numRuns: 200 },
    );
  });
});
