// `virsh pool-*` / `vol-*` on a `dir` pool, run step by step against mpvirtd and against a private
// libvirtd in the same run: every step's exit code, stdout and stderr must be the same once the
// pool's directory, uuids, timestamps and filesystem sizes (which differ between the two runs)
// are masked. Covers define/build/start/autostart/info/list (all flags)/dumpxml/refresh/destroy/
// delete/undefine, transient pools, raw and qcow2 volumes (create-as, clone, info, dumpxml,
// resize, wipe, delete, path/key/name lookups), and the refusals: bad names, volumes that exist,
// inactive pools, unknown pools and volumes, a pool directory that is not empty.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sideBySide } from './side-by-side.js';

const s = sideBySide('pools');

/**
 * What may differ between two daemons run side by side: the directory, uuids, timestamps, and the
 * filesystem's sizes (pool-info, pool-list --details, pool-dumpxml; they move as files are
 * written). Volume sizes are compared as they are.
 */
function mask(text: string, dir: string): string {
  let t = text
    .replaceAll(dir, 'POOLDIR')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID')
    .replace(/<(atime|mtime|ctime)>[\d.]+</g, '<$1>T<');
  if (t.includes('<pool ')) t = t.replace(/<(capacity|allocation|available) unit='bytes'>\d+<\/\1>/g, (m, k: string) => (/>0</.test(m) ? m : `<${k} unit='bytes'>N</${k}>`));
  if (t.includes('Available')) {
    t = t
      .replace(/^-+$/gm, '---') // table widths follow the sizes
      .replace(/^(Capacity|Allocation|Available):\s+[\d.]+ \w+$/gm, '$1: SIZE')
      .replace(/( +[\d.]+ (?:B|KiB|MiB|GiB|TiB))+\s*$/gm, ' SIZES');
  }
  return t;
}

type Step = string[] | (() => void);

function steps(dir: string, dir2: string, pool = 'p1'): Array<[string, Step]> {
  const v = (...a: string[]): string[] => a;
  return [
    ['pool-define-as', v('pool-define-as', pool, 'dir', '--target', dir)],
    ['list all (inactive)', v('pool-list', '--all')],
    ['info inactive', v('pool-info', pool)],
    ['vol-list inactive', v('vol-list', pool)],
    ['build', v('pool-build', pool)],
    ['start', v('pool-start', pool)],
    ['start again', v('pool-start', pool)],
    ['autostart', v('pool-autostart', pool)],
    ['list', v('pool-list')],
    ['list --all --details', v('pool-list', '--all', '--details')],
    ['list --autostart', v('pool-list', '--autostart')],
    ['list --transient', v('pool-list', '--transient')],
    ['list --persistent --type dir', v('pool-list', '--persistent', '--type', 'dir')],
    ['list --name', v('pool-list', '--all', '--name')],
    ['info', v('pool-info', pool)],
    ['uuid roundtrip name', v('pool-name', pool)],
    ['dumpxml', v('pool-dumpxml', pool)],
    ['dumpxml --inactive', v('pool-dumpxml', '--inactive', pool)],
    ['raw volume', v('vol-create-as', pool, 'a.img', '10M')],
    ['qcow2 volume', v('vol-create-as', pool, 'b.qcow2', '20M', '--format', 'qcow2')],
    ['sparse raw', v('vol-create-as', pool, 's.img', '64M', '--allocation', '0')],
    ['exists', v('vol-create-as', pool, 'a.img', '1M')],
    ['slash', v('vol-create-as', pool, '../escape.img', '1M')],
    ['bad size', v('vol-create-as', pool, 'x.img', '12Q')],
    ['vol-list', v('vol-list', pool)],
    ['vol-list --details', v('vol-list', pool, '--details')],
    ['vol-info raw', v('vol-info', 'a.img', '--pool', pool)],
    ['vol-info qcow2', v('vol-info', 'b.qcow2', '--pool', pool)],
    ['vol-info --bytes', v('vol-info', '--bytes', 's.img', '--pool', pool)],
    ['vol-dumpxml raw', v('vol-dumpxml', 'a.img', '--pool', pool)],
    ['vol-dumpxml qcow2', v('vol-dumpxml', 'b.qcow2', '--pool', pool)],
    ['vol-path', v('vol-path', 'a.img', '--pool', pool)],
    ['vol-key', v('vol-key', 'a.img', '--pool', pool)],
    ['vol-name by path', v('vol-name', join(dir, 'a.img'))],
    ['vol-pool by path', v('vol-pool', join(dir, 'a.img'))],
    ['vol-info by path', v('vol-info', join(dir, 'b.qcow2'))],
    ['vol-info unknown path', v('vol-info', join(dir, 'nope.img'))],
    ['vol-info unknown', v('vol-info', 'nope.img', '--pool', pool)],
    ['upload source', () => writeFileSync(join(dir, '..', 'up.bin'), Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 7) % 251)))],
    ['upload', v('vol-upload', 'a.img', join(dir, '..', 'up.bin'), '--pool', pool)],
    ['upload at an offset', v('vol-upload', 'a.img', join(dir, '..', 'up.bin'), '--pool', pool, '--offset', '1048576', '--length', '600000')],
    ['upload more than --length', v('vol-upload', 'a.img', join(dir, '..', 'up.bin'), '--pool', pool, '--length', '1000')],
    ['download', v('vol-download', 'a.img', join(dir, '..', 'down.bin'), '--pool', pool, '--offset', '4096', '--length', '700000')],
    ['download all', v('vol-download', 's.img', join(dir, '..', 'all.bin'), '--pool', pool)],
    ['resize up', v('vol-resize', 'a.img', '20M', '--pool', pool)],
    ['resize down without --shrink', v('vol-resize', 'a.img', '5M', '--pool', pool)],
    ['resize qcow2', v('vol-resize', 'b.qcow2', '30M', '--pool', pool)],
    ['vol-info after resize', v('vol-info', '--bytes', 'a.img', '--pool', pool)],
    ['clone', v('vol-clone', 'a.img', 'c.img', '--pool', pool)],
    ['clone qcow2', v('vol-clone', 'b.qcow2', 'd.qcow2', '--pool', pool)],
    ['clone exists', v('vol-clone', 'a.img', 'c.img', '--pool', pool)],
    ['vol-info clone', v('vol-info', '--bytes', 'c.img', '--pool', pool)],
    ['wipe', v('vol-wipe', 'c.img', '--pool', pool)],
    ['wipe trim', v('vol-wipe', 'c.img', '--pool', pool, '--algorithm', 'trim')],
    ['delete', v('vol-delete', 'c.img', '--pool', pool)],
    ['delete again', v('vol-delete', 'c.img', '--pool', pool)],
    ['a file appears', () => writeFileSync(join(dir, 'outside.iso'), Buffer.alloc(4096))],
    ['refresh', v('pool-refresh', pool)],
    ['vol-list after refresh', v('vol-list', pool)],
    ['undefine active', v('pool-undefine', pool)],
    ['delete active', v('pool-delete', pool)],
    ['build active', v('pool-build', pool)],
    ['destroy', v('pool-destroy', pool)],
    ['destroy again', v('pool-destroy', pool)],
    ['refresh inactive', v('pool-refresh', pool)],
    ['list after destroy', v('pool-list', '--all', '--details')],
    ['delete non-empty', v('pool-delete', pool)],
    ['transient pool', v('pool-create-as', 't1', 'dir', '--target', dir2, '--build')],
    ['same target', v('pool-define-as', 'p2', 'dir', '--target', dir2)],
    ['list transient', v('pool-list', '--transient', '--all')],
    ['autostart transient', v('pool-autostart', 't1')],
    ['destroy transient', v('pool-destroy', 't1')],
    ['transient gone', v('pool-info', 't1')],
    ['no autostart', v('pool-autostart', pool, '--disable')],
    ['undefine', v('pool-undefine', pool)],
    ['unknown pool', v('pool-info', pool)],
    ['bad name', v('pool-define-as', 'a/b', 'dir', '--target', dir2)],
  ];
}

describe('virsh pool-* and vol-* print as on libvirt', () => {
  it('every step gives the same exit code and output on both daemons', async () => {
    const oursDir = join(s.work, 'mpv', 'pool');
    const theirsDir = join(s.work, 'ref', 'pool');
    mkdirSync(join(s.work, 'mpv'), { recursive: true });
    mkdirSync(join(s.work, 'ref'), { recursive: true });
    const ours = steps(oursDir, join(s.work, 'mpv', 'pool2'));
    const theirs = steps(theirsDir, join(s.work, 'ref', 'pool2'));
    const diffs: string[] = [];
    for (let i = 0; i < ours.length; i++) {
      const [name, a] = ours[i]!;
      const b = theirs[i]![1];
      if (typeof a === 'function' && typeof b === 'function') {
        a();
        b();
        continue;
      }
      const o = await s.ours(...(a as string[]));
      const t = s.theirs(...(b as string[]));
      const mo = { code: o.code, stdout: mask(o.stdout, oursDir), stderr: mask(o.stderr, oursDir) };
      const mt = { code: t.code, stdout: mask(t.stdout, theirsDir), stderr: mask(t.stderr, theirsDir) };
      if (JSON.stringify(mo) !== JSON.stringify(mt)) diffs.push(`${name}:\n  ours   ${JSON.stringify(mo)}\n  theirs ${JSON.stringify(mt)}`);
    }
    console.log(`pool/vol steps: ${ours.filter(([, st]) => typeof st !== 'function').length - diffs.length} of ${ours.filter(([, st]) => typeof st !== 'function').length} identical\n${diffs.join('\n')}`);
    // nothing outside the pools was touched: the pool directory kept the file mpvirtd did not make
    expect(existsSync(join(oursDir, 'outside.iso'))).toBe(true);
    expect(readdirSync(join(s.work, 'mpv')).sort()).toEqual(['all.bin', 'down.bin', 'pool', 'pool2', 'up.bin']);
    // what came back through the streams is the same bytes on both daemons, and the right ones
    const up = readFileSync(join(s.work, 'mpv', 'up.bin'));
    const down = readFileSync(join(s.work, 'mpv', 'down.bin'));
    expect(down.equals(readFileSync(join(s.work, 'ref', 'down.bin')))).toBe(true);
    expect(down.subarray(0, 600_000 - 4096).equals(up.subarray(4096))).toBe(true);
    expect(down.length).toBe(700_000);
    expect(statSync(join(s.work, 'mpv', 'all.bin')).size).toBe(64 * 1024 ** 2);
    expect(diffs).toEqual([]);
  }, 300_000);
});
