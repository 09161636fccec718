// mpvirsh's domain-changing commands against the real virsh, same words, same connection, same
// run: stdout, stderr and exit status byte for byte, and for a command that changes the domain the
// resulting XML too (virsh runs, virsh undoes, mpvirsh runs: both start from the same state). On
// test:///default (a fresh driver per process) and on a real mpvirtd with a running guest.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../domainxml/helpers.js';
import { RpcHarness } from '../rpc/harness.js';
import { setEmulatorPin, setVcpuPin, type PinImpact } from '../../src/cli/virsh/commands-config.js';
import { Ctl } from '../../src/cli/virsh/ctl.js';
import { lookupDomain } from '../../src/cli/virsh/lookup.js';
import { VshError } from '../../src/cli/vsh/options.js';

interface Result { code: number; stdout: string; stderr: string }

function run(bin: string[], args: string[], env: Record<string, string> = {}, timeout = 60_000): Promise<Result & { killed: boolean }> {
  return new Promise((resolve) => {
    const child = execFile(bin[0]!, [...bin.slice(1), ...args], { timeout, cwd: dir, env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, killed: err?.killed === true }));
    child.stdin?.end(); // no terminal: virsh's edit loop asks nothing
  });
}

/**
 * virsh runs save, managedsave and dump on a worker thread and waits in a GLib main loop the
 * worker quits; when the call returns before the loop runs (the in-process test driver is that
 * fast) virsh 9.0 waits forever. Such a run is killed and tried again.
 */
async function virshRetryingItsRace(args: string[], env: Record<string, string>): Promise<Result> {
  for (let i = 0; ; i++) {
    const r = await run(VIRSH, args, env, 8000);
    if (!r.killed) return r;
    if (i === 5) throw new Error(`virsh ${args.join(' ')} hung ${i + 1} times`);
  }
}

const VIRSH = ['/usr/bin/virsh'];
const MPVIRSH = [process.execPath, join(projectRoot, 'dist/cli/mpvirsh.js')];

/** What differs between two runs by nature: the test driver's CPU time, editors' random temp files, screenshot timestamps. */
const settled = (r: Result): Result => {
  const norm = (s: string): string => s.replace(/^(CPU time: +)[\d.]+s$/gm, '$1Ns').replace(/\/virsh[A-Za-z0-9]{6}\.xml/g, '/virshXXXXXX.xml')
    .replace(/-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d(\.\w+)?,/g, '-TIME$1,');
  return { code: r.code, stdout: norm(r.stdout), stderr: norm(r.stderr) };
};

async function alike(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const racy = args.some((a) => /^(save|managedsave|dump)\b/.test(a));
  const [theirs, ours] = await Promise.all([racy ? virshRetryingItsRace(args, env) : run(VIRSH, args, env), run(MPVIRSH, args, env)]);
  expect(settled(ours), `mpvirsh ${args.join(' ')}`).toEqual(settled(theirs));
  return ours;
}

const dir = mkdtempSync(join(tmpdir(), 'mpvirsh-changes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An EDITOR: a shell script doing `body` to the file "$1". */
function editor(name: string, body: string): string {
  const p = join(dir, `${name}.sh`);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('mpvirsh on test:///default, compared with virsh', () => {
  const T = ['-c', 'test:///default'];
  const disk = file('disk.xml', "<disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='vdb' bus='virtio'/></disk>\n");
  const native = file('native.args', 'LC_ALL=C /usr/bin/qemu-system-x86_64 -name n1 -m 64 -nodefaults\n');
  const cases: string[][] = [
    ['desc test hello world; desc test'], ['desc test --title T1; desc test --title; desc --config test'], ['desc', 'test', '--current', '--live'],
    ['desc test --config hello; desc test --config; desc test --live'], ['desc', 'nosuch'], ["desc test ''; desc test"], ['-q', 'desc', 'test', 'x'], ['-q', 'desc', 'test'],
    ["metadata test http://x/ --key k --set '<a>b</a>'; metadata test http://x/; metadata test http://x/ --remove; metadata test http://x/"],
    ['metadata', 'test', 'http://x/'], ['metadata', 'test', 'http://x/', '--set', '<a/>'], ['metadata', 'test', 'http://x/', '--edit', '--set', 'x'],
    ['metadata', 'test', 'http://x/', '--key', 'k', '--set', 'bad<'], ['domrename', 'test', 't2'],
    ['setmem test 1G; dominfo test'], ['setmem', 'test', '10x'], ['setmem', 'test', '20000000e'], ['setmem', 'test', '1000000G'], ['setmem', 'test', '512M', '--config'],
    ['setmem', 'test', '512M', '--current', '--live'], ['setmem', 'test', '-5'], ['setmem', 'test', '5bb'], ['setmem', 'test', '+5kib'],
    ['setmaxmem test 4G; dominfo test'], ['setmaxmem', 'test', '10x'], ['setmaxmem', 'test', '1', '--live'],
    ['setvcpus test 1; vcpucount test'], ['setvcpus', 'test', '0'], ['setvcpus', 'test', '1', '--maximum'], ['setvcpus', 'test', '1', '--guest', '--config'],
    ['setvcpus', 'test', '2', '--maximum', '--config'], ['setvcpus', 'test', 'x'], ['setvcpus', 'test', '1', '--hotpluggable', '--live'],
    ['setvcpu', 'test', '1', '--enable'], ['setvcpu', 'test', '1'], ['setvcpu', 'test', '1', '--enable', '--disable'],
    ['set-lifecycle-action', 'test', 'poweroff', 'restart'], ['set-lifecycle-action test crash preserve --config; dumpxml --inactive test'],
    ['set-lifecycle-action', 'test', 'foo', 'restart'], ['set-lifecycle-action', 'test', 'poweroff', 'foo'], ['inject-nmi', 'test'],
    ['send-key', 'test', 'KEY_A'], ['send-key', 'test', '30', '0x1e', '036'], ['send-key', 'test', 'KEY_NOPE'], ['send-key', '--codeset', 'bogus', 'test', '1'],
    ['send-key', '--codeset', 'rfb', 'test', '1'], ['send-key', 'test', ...Array.from({ length: 17 }, (_, i) => String(i + 1))], ['send-key', 'test', '70000'],
    ['send-key', '--holdtime', '100', 'test', 'KEY_LEFTCTRL', 'KEY_C'], ['send-key', '--codeset', 'xt', 'test', '08'],
    ['dompmsuspend', 'test', 'mem'], ['dompmsuspend', 'test', 'bogus'], ['dompmsuspend', 'test', 'mem', '--duration', '10'], ['dompmwakeup', 'test'],
    ['attach-disk', 'test', '/tmp/x.img', 'vdb', '--print-xml'], ['attach-disk test /tmp/x.img vdb; domblklist test'],
    ['attach-disk test /tmp/x.img vdb --config; dumpxml --inactive test'], ['attach-disk', 'test', 'x', 'sdb', '--address', 'pci:0.0.1.0'],
    ['attach-disk', 'test', 'x', 'vdb', '--address', 'foo'], ['attach-disk', 'test', 'x', 'vdb', '--mode', 'bogus'], ['attach-disk', 'test', 'x', 'vdb', '--sourcetype', 'bogus'],
    ['attach-disk', 'test', 'x', 'vdb', '--wwn', '12'], ['attach-disk', 'test', 'x', 'vdb', '--source-protocol', 'nbd'], ['attach-disk', 'test', 'x', 'vdb', '--source-host-name', 'h'],
    ['attach-disk', 'test', 'x', 'vdb', '--persistent', '--current'], ['attach-disk', 'test', '', 'hdc', '--type', 'cdrom', '--print-xml'],
    ['attach-disk', 'test', "/tmp/a'b&c", 'vdb', '--driver', 'q"x', '--print-xml', '--shareable'],
    ['attach-disk', 'test', 'vol', 'sdb', '--print-xml', '--sourcetype', 'network', '--source-protocol', 'nbd', '--source-host-name', 'h:10', '--driver', 'qemu',
      '--subdriver', 'raw', '--cache', 'none', '--io', 'native', '--iothread', '1', '--mode', 'readonly', '--serial', 'S1', '--alias', 'ua-x', '--wwn', '0x5000c50015ea71ac',
      '--address', 'scsi:0.0.3', '--rawio', '--type', 'cdrom', '--targetbus', 'scsi'],
    ['attach-disk', 'test', '/dev/null', 'vdb', '--print-xml', '--address', 'ccw:0xfe.0.0001'], ['attach-disk', 'test', '/dev/null', 'hdb', '--print-xml', '--address', 'ide:0.1.0'],
    ['attach-disk', 'test', '/dev/null', 'hdb', '--print-xml', '--address', 'usb:0.1'], ['attach-disk', 'test', '/dev/null', 'sdc', '--print-xml', '--address', 'usb:1.2'],
    ['attach-disk', 'test', '/dev/null', 'vdc', '--print-xml', '--address', 'pci:0000.00.0x0a.0', '--multifunction'],
    ['attach-disk', 'test', '/dev/null', 'vdc', '--print-xml', '--address', 'pci:0000.00.0a'], ['attach-disk', 'test', '/dev/null', 'sdc', '--print-xml', '--address', 'sata:1.0.-1'],
    ['attach-disk', 'test', 'v', 'vdb', '--source-protocol', 'nbd', '--sourcetype', 'network', '--source-host-socket', '/s', '--source-host-transport', 'unix', '--print-xml'],
    ['detach-disk', 'test', 'vda', '--print-xml'], ['detach-disk test vda; dumpxml test'], ['detach-disk', 'test', 'vdz'], ['detach-disk', 'test', '/guest/diskimage1', '--config', '--print-xml'],
    [`attach-device test ${disk}; domblklist test`], [`attach-device test ${disk} --config; domblklist --inactive test`], ['attach-device', 'test', join(dir, 'nonexist.xml')],
    ['detach-device', 'test', disk], ['update-device', 'test', disk], ['update-device', 'test', disk, '--force', '--config'], ['attach-device', 'test', disk, '--persistent'],
    ['detach-device-alias', 'test', 'ua-x'], ['detach-device-alias', 'test', 'ua-x', '--config'],
    ['attach-interface', 'test', 'network', 'default', '--print-xml'], ['attach-interface test network default; domiflist test'], ['attach-interface', 'test', 'bogus', 'x'],
    ['attach-interface', 'test', 'user', 'x'], ['attach-interface', 'test', 'network', 'default', '--inbound', '0'], ['attach-interface', 'test', 'network', 'd', '--inbound', '1,2,3,4,5'],
    ['attach-interface', 'test', 'network', 'd', '--inbound', 'x'], ['attach-interface', 'test', 'network', 'd', '--outbound', '1,2,3,4'], ['attach-interface', 'test', 'network', 'd', '--outbound', ',1'],
    ['attach-interface', 'test', 'hostdev', 'zz'], ['attach-interface', 'test', 'hostdev', '0000:00:19.0', '--print-xml'], ['attach-interface', 'test', 'vhostuser', '/s'],
    ['attach-interface', 'test', 'vhostuser', '/s', '--source-mode', 'x'], ['attach-interface', 'test', 'vhostuser', '/s', '--source-mode', 'client', '--print-xml'],
    ['attach-interface', 'test', 'bridge', 'br0', '--print-xml', '--managed', '--inbound', '100,200,300,400', '--outbound', '10,,30', '--alias', 'ua-n', '--target', 'tap0', '--script', '/x'],
    ['attach-interface', 'test', 'direct', 'eth0', '--print-xml', '--model', 'virtio', '--mac', '52:54:00:11:22:33'],
    ['detach-interface', 'test', 'network', '--print-xml'], ['detach-interface test network; domiflist test'], ['detach-interface', 'test', 'network', '--mac', 'aa:bb:cc:dd:ee:ff', '--config', '--print-xml'],
    ['detach-interface', 'test', 'network', '--mac', '11:22:33:44:55:66'], ['detach-interface', 'test', 'bridge'], ['detach-interface', 'test', 'network', '--mac', 'AA:BB:CC:DD:EE:FF', '--print-xml'],
    ['domif-setlink', 'test', 'testnet0', 'down', '--print-xml'], ['domif-setlink test aa:bb:cc:dd:ee:ff down; domif-getlink test testnet0'], ['domif-setlink', 'test', 'testnet0', 'sideways'],
    ['domif-setlink', 'test', 'nope', 'down'], ['domif-setlink', 'test', 'testnet0', 'up', '--config', '--print-xml'],
    ['change-media', 'test', 'vda', '--eject'], ['change-media', 'test', 'vda', '--insert', '--eject'], ['change-media', 'test', 'vda', '--source', 'x'], ['change-media', 'test', 'vda', '--update'],
    ['undefine', 'test'], ['undefine', 'test', '--nvram', '--keep-nvram'], ['undefine', 'test', '--wipe-storage'], ['undefine', 'test', '--delete-snapshots'],
    ['undefine', 'test', '--remove-all-storage'], ['undefine', 'test', '--storage', 'vda'], ['destroy test; undefine test --storage vda'], ['destroy test; undefine test --storage vda,nope,,x'],
    ['destroy test; undefine test --remove-all-storage --wipe-storage'], ['destroy test; undefine test --managed-save --snapshots-metadata --checkpoints-metadata --tpm'],
    ['destroy test; undefine 6695eb01-f6a4-8304-79aa-97f2502e193f; list --all'], ['destroy test; undefine test --nvram'], ["destroy test; undefine test --storage '' --wipe-storage"],
    ['domxml-from-native', 'qemu-argv', join(dir, 'nonexist')], ['domxml-from-native', 'qemu-argv', native], ['domxml-to-native', 'qemu-argv', '--domain', 'test'], ['domxml-to-native', 'qemu-argv'],
    ['domxml-to-native', 'qemu-argv', '--domain', 'test', '--xml', 'x'], ['domxml-to-native', 'qemu-argv', disk],
    [`save test ${join(dir, 's.img')}; list --all; restore ${join(dir, 's.img')}; list`], ['save', 'test', join(dir, 's2.img'), '--xml', join(dir, 'nonexist')],
    ['save', 'test', '/nonexist/x.img'], ['restore', '/nonexist/x.img'], ['restore', join(dir, 'x'), '--xml', join(dir, 'nonexist')], ['save', 'test', join(dir, 's3.img'), '--running', '--bypass-cache'],
    ['managedsave test; list --all --managed-save; managedsave-remove test; managedsave-remove test; start test'], ['managedsave', 'test', '--running', '--paused'], ['managedsave-remove', 'test'],
    ['dump', 'test', join(dir, 'core')], ['dump', 'test', join(dir, 'core'), '--format', 'elf'], ['dump', 'test', join(dir, 'core'), '--format', 'elf', '--memory-only'],
    ['dump', 'test', join(dir, 'core'), '--format', 'bogus', '--memory-only'], ['dump', 'test', join(dir, 'core'), '--memory-only', '--format', 'kdump-zlib', '--verbose'],
    ['screenshot', 'test', join(dir, 'shot.ppm')], ['screenshot', 'test'],
  ];
  for (const args of cases) it(args.join(' '), () => alike([...T, ...args]));

  const ours = ['undefine', 'edit', 'send-key', 'attach-disk', 'attach-interface', 'change-media', 'domif-setlink', 'setvcpus', 'setvcpu', 'dump', 'screenshot', 'metadata', 'desc',
    'domxml-to-native', 'domxml-from-native', 'set-lifecycle-action', 'dompmsuspend', 'dompmwakeup', 'managedsave', 'managedsave-remove', 'restore', 'save', 'setmem', 'setmaxmem',
    'detach-interface', 'detach-disk', 'detach-device', 'detach-device-alias', 'attach-device', 'update-device', 'domrename', 'inject-nmi'];
  it('help for every command is virsh\'s', async () => {
    for (const c of ours) await alike([...T, 'help', c]);
  });

  it('edit, desc --edit and metadata --edit run $EDITOR as virsh does, and say what virsh says', async () => {
    const same = editor('same', 'true');
    const title = editor('title', "sed -i 's|<name>test</name>|<name>test</name><title>edited</title>|' \"$1\"");
    const bad = editor('bad', 'echo "<domain type=\'test\'><name>test</name>" > "$1"');
    const fails = editor('fails', 'exit 3');
    const killed = editor('killed', 'kill -9 $$');
    const text = editor('text', 'printf "new words\\n" > "$1"');
    const meta = editor('meta', 'printf "<e k=\'1\'>x</e>\\n" > "$1"');
    for (const e of [same, title, bad, fails, killed, `${same}  --flag`, join(dir, 'nonexist'), 'no-such-editor-anywhere']) {
      await alike([...T, 'edit test; dumpxml --inactive test'], { EDITOR: e });
      await alike([...T, 'edit', 'test', '--skip-validate'], { EDITOR: e });
    }
    await alike([...T, 'edit', 'test'], { VISUAL: title, EDITOR: fails });
    await alike([...T, 'edit', 'test'], { EDITOR: same, TMPDIR: join(dir, 'nonexist') });
    for (const e of [same, text, fails]) {
      await alike([...T, 'desc test --edit; desc test'], { EDITOR: e });
      await alike([...T, 'desc test --title --edit; desc test --title'], { EDITOR: e });
      await alike([...T, 'desc test --edit words given; desc test'], { EDITOR: e });
    }
    for (const e of [same, meta, fails, bad]) {
      await alike([...T, 'metadata test http://m/ --key m --edit; metadata test http://m/'], { EDITOR: e });
      await alike([...T, 'metadata', 'test', 'http://m/', '--edit'], { EDITOR: e });
    }
  });
});

/** What mpvirsh's command loop would print around `fn` (the pin setters run inside another session's vcpupin/emulatorpin). */
function asACommand(fn: (ctl: Ctl) => boolean): Result {
  let stdout = '';
  let stderr = '';
  const ctl = new Ctl({ uri: 'test:///default', readonly: false, quiet: false, timing: false, keepaliveInterval: -1, keepaliveCount: -1, escape: '^]' },
    (fd, t) => { if (fd === 1) stdout += t; else stderr += t; });
  let ok = false;
  try {
    ctl.connection();
    ok = fn(ctl);
  } catch (e) {
    if (!(e instanceof VshError)) throw e;
    ctl.error(e.message);
  }
  if (!ok && ctl.lastError) ctl.error(ctl.lastError.message);
  ctl.printExtra('\n');
  ctl.close();
  return { code: ok ? 0 : 1, stdout, stderr };
}

describe('setVcpuPin and setEmulatorPin print what virsh vcpupin / emulatorpin print when pinning', () => {
  const impacts: Array<[string[], PinImpact]> = [[[], {}], [['--live'], { live: true }], [['--config'], { config: true }], [['--current'], { current: true }], [['--live', '--config'], { live: true, config: true }]];
  for (const list of ['0', '0-1', 'r', '^1', 'abc', '2000', '100', '', ' 1 , 0', '1-0', '0,^0', '0-3,^2']) {
    it(`cpulist '${list}'`, async () => {
      for (const [words, impact] of impacts) {
        const pin = asACommand((ctl) => setVcpuPin(ctl, lookupDomain(ctl, 'test'), 0, list, impact));
        expect(pin, `vcpupin test 0 '${list}' ${words.join(' ')}`).toEqual(await run(VIRSH, ['-c', 'test:///default', 'vcpupin', 'test', '0', list, ...words]).then(settled));
        const emu = asACommand((ctl) => setEmulatorPin(ctl, lookupDomain(ctl, 'test'), list, impact));
        expect(emu, `emulatorpin test '${list}' ${words.join(' ')}`).toEqual(await run(VIRSH, ['-c', 'test:///default', 'emulatorpin', 'test', list, ...words]).then(settled));
      }
    });
  }
});

describe('mpvirsh on mpvirtd with a running guest, compared with virsh', () => {
  const r = new RpcHarness();
  let M: string[] = [];
  const pool = join(dir, 'pool');
  let vol = '';
  let cg2File = '';
  let cg3File = '';
  beforeAll(async () => {
    await r.start();
    M = ['-c', r.uri()];
    const define = async (name: string, xml: string): Promise<string> => {
      const f = file(`${name}.xml`, xml);
      const d = await run(VIRSH, [...M, 'define', f]);
      expect(d.code, d.stderr).toBe(0);
      return f;
    };
    await define('cg1', r.h.xml('cg1').replace('<devices>', "<devices><graphics type='vnc' port='-1'/><video><model type='vga'/></video>"));
    const s = await run(VIRSH, [...M, 'start', 'cg1']);
    expect(s.code, s.stderr).toBe(0);
    r.h.track(r.driver.lookupByName('cg1'));
    // undoing an undefine or an edit defines the guest again with its own UUID: the XML then compares
    const withUuid = async (name: string): Promise<string> => file(`${name}-inactive.xml`, (await run(VIRSH, [...M, 'dumpxml', '--inactive', name])).stdout);
    await define('cg2', r.h.xml('cg2'));
    cg2File = await withUuid('cg2');
    for (const a of [['pool-define-as', 'p', 'dir', '--target', pool], ['pool-build', 'p'], ['pool-start', 'p'], ['vol-create-as', 'p', 'v.img', '1M']]) {
      const x = await run(VIRSH, [...M, ...a]);
      expect(x.code, `${a.join(' ')}: ${x.stderr}`).toBe(0);
    }
    vol = join(pool, 'v.img');
    await define('cg3', r.h.xml('cg3', { disk: vol }));
    cg3File = await withUuid('cg3');
  }, 120_000);
  afterAll(() => r.cleanup());

  const xmlOf = async (dom: string): Promise<string> => (await run(VIRSH, [...M, 'dumpxml', dom])).stdout + (await run(VIRSH, [...M, 'dumpxml', '--inactive', dom])).stdout;

  /** virsh runs `args`, `undo` puts things back, mpvirsh runs `args`: same output, same resulting XML; then `undo` again. */
  async function alikeStep(dom: string, args: string[], undo: string[][], env: Record<string, string> = {}): Promise<void> {
    const undoAll = async (): Promise<void> => {
      for (const u of undo) {
        const x = await run(VIRSH, [...M, ...u]);
        expect(x.code, `undo ${u.join(' ')}: ${x.stderr}`).toBe(0);
      }
    };
    const theirs = await run(VIRSH, [...M, ...args], env);
    const theirXml = await xmlOf(dom);
    await undoAll();
    const ours = await run(MPVIRSH, [...M, ...args], env);
    expect(settled(ours), `mpvirsh ${args.join(' ')}`).toEqual(settled(theirs));
    expect(await xmlOf(dom), `the XML after mpvirsh ${args.join(' ')}`).toBe(theirXml);
    await undoAll();
  }

  it('desc and metadata: set, query and remove, live and persistent', async () => {
    await alikeStep('cg1', ['desc', 'cg1', 'a', 'guest'], [['desc', 'cg1', '']]);
    await alikeStep('cg1', ['desc', 'cg1', '--title', '--config', 'T'], [['desc', 'cg1', '--title', '--config', '']]);
    await alikeStep('cg1', ['desc', 'cg1', '--live', 'L'], [['desc', 'cg1', '--live', '']]);
    await alike([...M, 'desc', 'cg1']);
    await alike([...M, 'desc', 'cg1', '--title', '--config']);
    await alikeStep('cg1', ['metadata', 'cg1', 'http://m/', '--key', 'm', '--set', '<e a="1">x</e>'], [['metadata', 'cg1', 'http://m/', '--remove']]);
    await alikeStep('cg1', ['metadata', 'cg1', 'http://m/', '--key', 'm', '--edit'], [['metadata', 'cg1', 'http://m/', '--remove']], { EDITOR: editor('m', 'printf "<e/>" > "$1"') });
    await alike([...M, 'metadata', 'cg1', 'http://m/']);
    await alike([...M, 'metadata', 'cg1', 'http://m/', '--remove']);
  }, 60_000);

  it('memory, vcpus and lifecycle actions change as virsh changes them, or are refused with its words', async () => {
    await alikeStep('cg1', ['setmem', 'cg1', '100M', '--config'], [['setmem', 'cg1', '128M', '--config']]);
    await alikeStep('cg1', ['setmaxmem', 'cg1', '256M', '--config'], [['setmaxmem', 'cg1', '128M', '--config']]);
    await alikeStep('cg1', ['setvcpus', 'cg1', '2', '--config', '--maximum'], [['setvcpus', 'cg1', '1', '--config', '--maximum']]);
    for (const a of [['setmem', 'cg1', '100M'], ['setmaxmem', 'cg1', '1G'], ['setvcpus', 'cg1', '2'], ['setvcpu', 'cg1', '1', '--enable'], ['set-lifecycle-action', 'cg1', 'reboot', 'destroy'], ['set-lifecycle-action', 'cg1', 'crash', 'preserve', '--config'],
      ['send-key', 'cg1', 'KEY_A'], ['inject-nmi', 'cg1'], ['dompmsuspend', 'cg1', 'mem'], ['dompmwakeup', 'cg1'], ['domrename', 'cg1', 'x']]) await alike([...M, ...a]);
  }, 60_000);

  it('disks and devices: attach and detach, live and persistent, and every refusal', async () => {
    const img = r.h.disk('cg1-b.img', 8);
    await alikeStep('cg1', ['attach-disk', 'cg1', img, 'sdb', '--targetbus', 'scsi', '--live'], [['detach-disk', 'cg1', 'sdb', '--live']]);
    await alikeStep('cg1', ['attach-disk', 'cg1', img, 'sdc', '--targetbus', 'scsi', '--config'], [['detach-disk', 'cg1', 'sdc', '--config']]);
    const dev = file('cg1-sdd.xml', `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img}'/><target dev='sdd' bus='scsi'/></disk>\n`);
    await alikeStep('cg1', ['attach-device', 'cg1', dev, '--persistent'], [['detach-device', 'cg1', dev, '--persistent']]);
    await alikeStep('cg1', ['attach-device', 'cg1', dev, '--config'], [['detach-device', 'cg1', dev, '--config']]);
    for (const a of [['attach-disk', 'cg1', img, 'sda', '--targetbus', 'scsi', '--live'], ['attach-disk', 'cg1', join(dir, 'nope.img'), 'sdf', '--targetbus', 'scsi', '--live'],
      ['detach-disk', 'cg1', 'sda', '--print-xml'], ['detach-disk', 'cg1', 'sdz'], ['detach-device', 'cg1', dev, '--live'], ['detach-device-alias', 'cg1', 'nope', '--live'],
      ['update-device', 'cg1', dev], ['change-media', 'cg1', 'sda', '--eject'], ['detach-interface', 'cg1', 'network'], ['domif-setlink', 'cg1', 'x', 'down'],
      ['attach-interface', 'cg1', 'network', 'default', '--print-xml']]) await alike([...M, ...a]);
  }, 120_000);

  it('edit, domrename and undefine of an inactive guest, its storage removed through the pool', async () => {
    await alikeStep('cg2', ['edit', 'cg2'], [['define', cg2File]], { EDITOR: editor('t', "sed -i 's|<name>cg2</name>|<name>cg2</name><title>t</title>|' \"$1\"") });
    await alike([...M, 'edit', 'cg2'], { EDITOR: editor('same2', 'true') });
    await alike([...M, 'edit', 'cg2'], { EDITOR: editor('bad2', 'echo "<domain>" > "$1"') });
    await alikeStep('cg2', ['domrename', 'cg2', 'cg2b'], [['domrename', 'cg2b', 'cg2']]);
    await alikeStep('cg2', ['undefine', 'cg2'], [['define', cg2File]]);
    await alikeStep('cg2', ['undefine', 'cg2', '--remove-all-storage'], [['define', cg2File]]);
    await alike([...M, 'undefine', 'cg1', '--storage', 'sda']);
    const remake = [['vol-create-as', 'p', 'v.img', '1M'], ['define', cg3File]];
    await alikeStep('cg3', ['undefine', 'cg3', '--storage', 'sda'], remake);
    expect(existsSync(vol)).toBe(true);
    await alikeStep('cg3', ['undefine', 'cg3', '--remove-all-storage', '--wipe-storage'], remake);
    await alike([...M, 'undefine', 'cg3', '--storage', `${vol},nope`]); // refused before anything is removed
    expect(existsSync(vol)).toBe(true);
  }, 120_000);

  it('saves, dumps and screenshots: what the daemon does and refuses, printed as virsh prints it', async () => {
    const shot = join(dir, 'cg1.ppm');
    const ours = await alike([...M, 'screenshot', 'cg1', shot]);
    expect(ours.code, ours.stderr).toBe(0);
    const magic = ours.stdout.includes('image/png') ? '\x89PNG' : 'P6';
    expect(readFileSync(shot).subarray(0, magic.length).toString('latin1')).toBe(magic);
    for (const a of [['save', 'cg1', join(dir, 'cg1.save')], ['save', 'cg1', join(dir, 'cg1.save'), '--paused'], ['restore', join(dir, 'cg1.save')],
      ['managedsave', 'cg1'], ['managedsave-remove', 'cg1'], ['dump', 'cg1', join(dir, 'cg1.core'), '--memory-only'], ['domxml-to-native', 'qemu-argv', '--domain', 'cg1'],
      ['domxml-from-native', 'qemu-argv', join(dir, 'nonexist')]]) await alike([...M, ...a]);
    // the daemon gives each imported definition a fresh UUID: the rest compares
    const args = [...M, 'domxml-from-native', 'qemu-argv', file('n.args', '/usr/bin/qemu-system-x86_64 -name n -m 64\n')];
    const noUuid = (x: Result): Result => ({ ...settled(x), stdout: x.stdout.replace(/<uuid>[0-9a-f-]{36}<\/uuid>/, '<uuid/>') });
    const [theirs, mine] = await Promise.all([run(VIRSH, args), run(MPVIRSH, args)]);
    expect(theirs.stdout).toContain('<name>n</name>');
    expect(noUuid(mine)).toEqual(noUuid(theirs));
  }, 60_000);
});
