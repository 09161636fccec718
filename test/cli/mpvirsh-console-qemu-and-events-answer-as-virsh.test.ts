// mpvirsh's console, display, QEMU passthrough and event commands against the real virsh, on the
// same mpvirtd with a real running guest (a pty serial console and a VNC display) in the same run:
// stdout, stderr and exit status byte for byte. The console runs under script(1) (a terminal of
// its own, as virsh needs) for both: the same two lines, the same refusal of a second session,
// the same end when --force takes a session over, Ctrl-] detaching with status 0. Event clients of
// both run at the same time on the same daemon while the domain changes; their lines, timestamps
// masked, are identical.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredEventCallbacks } from '../../src/rpc/procedures/events.js';
import type { DomainObject } from '../../src/driver/domain-object.js';
import { projectRoot } from '../domainxml/helpers.js';
import { guestImage, type GuestImage } from '../driver/guest-image.js';
import { waitFor } from '../driver/harness.js';
import { RpcHarness } from '../rpc/harness.js';

interface Result { code: number; stdout: string; stderr: string }

const VIRSH = ['/usr/bin/virsh'];
const MPVIRSH = [process.execPath, join(projectRoot, 'dist/cli/mpvirsh.js')];
const ENV = { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };

function run(bin: string[], args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(bin[0]!, [...bin.slice(1), ...args], { timeout: 60_000, env: ENV }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    child.stdin?.end();
  });
}

/** A client that runs until `stop()` sends it SIGINT (Ctrl-C), as an event listener is ended. */
function background(bin: string[], args: string[]): { stop: () => Promise<Result>; done: Promise<Result> } {
  const child = spawn(bin[0]!, [...bin.slice(1), ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<Result>((res) => child.once('close', (code) => res({ code: code ?? -1, stdout, stderr })));
  return { done, stop: () => (child.exitCode === null && child.kill('SIGINT'), done) };
}

/** The client under script(1): a terminal of its own; everything it writes, as it comes. */
interface Tty { child: ChildProcess; out: () => string; exited: Promise<number> }
/**
 * virsh, given a terminal, starts polkit's pkttyagent before it connects (virshConnect); on a host
 * without polkit the agent prints this line on the terminal. mpvirsh starts no agent.
 */
const POLKIT = /Authorization not available\. Check if polkit service is running or see debug message for more information\.\r?\n/;

function underTty(bin: string[], args: string[]): Tty {
  const q = (w: string): string => `'${w.replaceAll("'", "'\\''")}'`;
  const child = spawn('/usr/bin/script', ['-qfec', [...bin, ...args].map(q).join(' '), '/dev/null'], { env: { ...ENV, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  return { child, out: () => out.replace(POLKIT, ''), exited: new Promise((res) => child.once('exit', (code) => res(code ?? -1))) };
}

const stamps = (s: string): string => s.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: /gm, 'TIMESTAMP: ');

const r = new RpcHarness();
let M: string[] = [];
let guest: GuestImage;
let cq1: DomainObject;

function domainXml(name: string): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd>
    <cmdline>${guest.cmdlineBase} e2e.mode=basic e2e.timeout=900</cmdline></os>
  <features><acpi/></features><on_reboot>destroy</on_reboot>
  <devices><console type='pty'/><graphics type='vnc' port='-1'/><video><model type='vga'/></video></devices></domain>`;
}

/** The one thing that differs between two runs of a QMP command: libvirt's id of the exchange. */
const qmpIds = (r: Result): Result => ({ ...r, stdout: r.stdout.replace(/("id": ?)"libvirt-\d+"/g, '$1"libvirt-N"') });

async function alike(args: string[]): Promise<void> {
  const [theirs, ours] = await Promise.all([run(VIRSH, [...M, ...args]), run(MPVIRSH, [...M, ...args])]);
  expect(qmpIds(ours), `mpvirsh ${args.join(' ')}`).toEqual(qmpIds(theirs));
}

/** A command that changes the domain: virsh, `undo` through virsh, then mpvirsh from the same state. */
async function alikeStep(args: string[], undo: string[]): Promise<void> {
  const theirs = await run(VIRSH, [...M, ...args]);
  expect((await run(VIRSH, [...M, ...undo])).code).toBe(0);
  const ours = await run(MPVIRSH, [...M, ...args]);
  expect((await run(VIRSH, [...M, ...undo])).code).toBe(0);
  expect(ours, `mpvirsh ${args.join(' ')}`).toEqual(theirs);
}

beforeAll(async () => {
  guest = await guestImage();
  await r.start();
  M = ['-c', r.uri()];
  cq1 = await r.driver.defineXML(domainXml('cq1'));
  await r.driver.start(cq1, { paused: true });
  r.h.track(cq1);
  await r.driver.defineXML(domainXml('cq2')); // never started
  writeFileSync(join(r.h.dir, 'cq3.xml'), domainXml('cq3'));
}, 300_000);
afterAll(() => r.cleanup(), 60_000);

describe('displays and consoles read from the live XML', () => {
  const cases: string[][] = [
    ['ttyconsole', 'cq1'], ['ttyconsole', 'cq2'], ['ttyconsole', 'nosuch'], ['vncdisplay', 'cq1'], ['vncdisplay', 'cq2'], ['-q', 'vncdisplay', 'cq1'],
    ['domdisplay', 'cq1'], ['-q', 'domdisplay', 'cq1'], ['domdisplay', '--all', 'cq1'], ['domdisplay', '--include-password', 'cq1'],
    ['domdisplay', '--type', 'spice', 'cq1'], ['domdisplay', '--type', 'vnc', 'cq1'], ['domdisplay', '--all', '--type', 'vnc', 'cq1'],
    ['domdisplay', 'cq2'], ['domdisplay', '--type', '', 'cq1'],
    ['console', 'cq1'], ['console', 'cq2'], ['console', 'nosuch'], ['console', '--devname', 'serial0', 'cq1'], ['-q', 'console', 'cq1'],
    ['help', 'console'], ['help', 'domdisplay'], ['help', 'vncdisplay'], ['help', 'ttyconsole'],
  ];
  for (const args of cases) it(args.join(' '), () => alike(args));

  it('start --console and create --console without a terminal: started, then the console refused', async () => {
    await alikeStep(['start', '--console', 'cq2'], ['destroy', 'cq2']);
    await alikeStep(['create', '--console', join(r.h.dir, 'cq3.xml')], ['destroy', 'cq3']);
  }, 120_000);
});

describe('QEMU passthrough', () => {
  const cases: string[][] = [
    ['qemu-monitor-command', 'cq1', '{"execute":"query-status"}'], ['qemu-monitor-command', 'cq1', 'query-status'],
    ['qemu-monitor-command', 'cq1', '--pretty', 'query-status'], ['qemu-monitor-command', 'cq1', '--return-value', 'query-status'],
    ['qemu-monitor-command', 'cq1', '--pretty', '--return-value', 'query-version'], ['qemu-monitor-command', '--pretty', 'cq1', 'query-commands'],
    ['-q', 'qemu-monitor-command', '--pretty', 'cq1', 'query-status'], ['qemu-monitor-command', 'cq1', 'qom-list', '"path":"/machine/peripheral"'],
    ['qemu-monitor-command', 'cq1', 'qom-list', '{"path":"/machine/peripheral"}'], ['qemu-monitor-command', 'cq1', 'qom-list', 'path'],
    ['qemu-monitor-command', 'cq1', 'qom-list', '"path":', '"/machine"'], ['qemu-monitor-command', 'cq1', '{"execute":"nosuch-command"}'],
    ['qemu-monitor-command', 'cq1', '--pretty', '{"execute":"query-kvm"}'], ['qemu-monitor-command', 'cq1', '--return-value', '{"execute":"nosuch"}'],
    ['qemu-monitor-command', 'cq1', '--hmp', 'info', 'status'], ['qemu-monitor-command', 'cq1', '--hmp', '--pretty', 'info', 'status'],
    ['qemu-monitor-command', 'cq1', '--hmp', '--return-value', 'info status'], ['qemu-monitor-command', 'cq1', '--pass-fds', '0', 'query-status'],
    ['qemu-monitor-command', 'cq1', '--pass-fds', 'x', 'query-status'], ['qemu-monitor-command', 'cq1', '--pass-fds', '0,,1', 'query-status'],
    ['qemu-monitor-command', 'cq1', '--pass-fds', '', 'query-status'], ['qemu-monitor-command', 'cq2', 'query-status'],
    ['qemu-monitor-command', 'nosuch', 'query-status'], ['qemu-monitor-command', 'cq1'],
    ['qemu-agent-command', 'cq1', '{"execute":"guest-ping"}'], ['qemu-agent-command', '--pretty', 'cq1', '{"execute":"guest-info"}'],
    ['qemu-agent-command', '--timeout', '0', 'cq1', 'x'], ['qemu-agent-command', '--timeout', '5', '--async', 'cq1', 'x'],
    ['qemu-agent-command', '--async', '--block', 'cq1', 'x'], ['qemu-agent-command', '--timeout', 'x', 'cq1', 'x'], ['qemu-agent-command', 'nosuch', 'x'],
    ['help', 'qemu-monitor-command'], ['help', 'qemu-monitor-event'], ['help', 'qemu-agent-command'],
  ];
  for (const args of cases) it(args.join(' '), () => alike(args));
});

describe('event waits that end by themselves', () => {
  const cases: string[][] = [
    ['event', '--list'], ['event'], ['event', '--all', '--event', 'lifecycle'], ['event', '--list', '--all'], ['event', '--event', 'bogus'],
    ['event', '--all', '--timeout', '0'], ['event', '--all', '--timeout', 'x'], ['event', '--all', '--timeout', '3000000'],
    ['event', '--event', 'lifecycle', '--timeout', '1'], ['event', '--all', '--loop', '--timeout', '1', 'cq1'], ['event', '--all', '--domain', 'nosuch'],
    ['-q', 'event', '--event', 'reboot', '--timeout', '1'], ['event', '--event', 'graphics', '--timeout', '1'], ['event', '--event', 'tunable', '--timeout', '1', 'cq1'], ['qemu-monitor-event', '--timeout', '1'], ['qemu-monitor-event', '--timeout', '0'],
    ['qemu-monitor-event', 'nosuch'], ['qemu-monitor-event', '--event', 'STOP', '--regex', '--no-case', '--timeout', '1', 'cq1'],
    ['help', 'event'], ['help', 'events'],
  ];
  for (const args of cases) it(args.join(' '), () => alike(args), 30_000);
});

describe('virsh and mpvirsh listening to the same daemon at the same time', () => {
  /** Both clients at once; `callbacks` domain event callbacks between them, or 0: QEMU monitor events. */
  async function both(args: string[], change: () => Promise<void>, callbacks: number): Promise<void> {
    const base = registeredEventCallbacks();
    const monitors = r.driver.events.listenerCount('monitor');
    const theirs = background(VIRSH, [...M, ...args]);
    const ours = background(MPVIRSH, [...M, ...args]);
    // both registered: the daemon counts their callbacks (a monitor listener per connection)
    const ready = (): boolean => (callbacks ? registeredEventCallbacks() >= base + callbacks : r.driver.events.listenerCount('monitor') >= monitors + 2);
    expect(await waitFor(ready, 20_000, 50)).toBe(true);
    await new Promise((res) => setTimeout(res, 300));
    await change();
    await new Promise((res) => setTimeout(res, 1500));
    const [a, b] = await Promise.all([theirs.stop(), ours.stop()]);
    expect(a.stdout).toMatch(/events received: [1-9]/);
    expect({ ...b, stdout: stamps(b.stdout) }, `mpvirsh ${args.join(' ')}`).toEqual({ ...a, stdout: stamps(a.stdout) });
  }
  const v = (...a: string[]) => async (): Promise<void> => void expect((await run(VIRSH, [...M, ...a])).code).toBe(0);
  const changes = async (): Promise<void> => {
    await v('resume', 'cq1')();
    await v('suspend', 'cq1')();
    await v('desc', 'cq1', '--live', 'a description')();
    await v('metadata', 'cq1', '--live', '--uri', 'http://example.org/x', '--key', 'x', '--set', '<x/>')();
    await v('start', 'cq2')();
    await v('destroy', 'cq2')();
    await v('define', join(r.h.dir, 'cq3.xml'))();
    await v('undefine', 'cq3')();
  };

  it('event --all --loop, with and without --timestamp, for every domain and for one', async () => {
    await both(['event', '--all', '--loop'], changes, 27 + 27);
    await both(['event', '--all', '--loop', '--timestamp', 'cq1'], changes, 27 + 27);
  }, 120_000);

  it('one-shot event: the first one only, then virsh\'s count', async () => {
    await both(['event', '--event', 'lifecycle'], changes, 2);
    await both(['event', '--event', 'metadata-change', '--timestamp', '--domain', 'cq1'], changes, 2);
  }, 120_000);

  it('qemu-monitor-event --loop, plain, --pretty, --timestamp, one-shot', async () => {
    const pause = async (): Promise<void> => {
      await v('resume', 'cq1')();
      await v('suspend', 'cq1')();
    };
    await both(['qemu-monitor-event', '--loop'], pause, 0);
    await both(['qemu-monitor-event', '--loop', '--pretty', 'cq1'], pause, 0);
    await both(['qemu-monitor-event', '--loop', '--timestamp', '--event', 'resume', '--no-case'], pause, 0);
    await both(['qemu-monitor-event', '--event', 'ST.*', '--regex'], pause, 0);
  }, 120_000);
});

describe('the console under a terminal', () => {
  it('the same lines, the same refusal, the same end when taken over, and Ctrl-] detaches', async () => {
    const first = underTty(VIRSH, [...M, 'console', 'cq1']);
    expect(await waitFor(() => first.out().includes('Escape character is ^]'), 10_000, 50), first.out()).toBe(true);
    // a second session is refused, by either
    const [refusedV, refusedM] = [underTty(VIRSH, [...M, 'console', 'cq1']), underTty(MPVIRSH, [...M, 'console', 'cq1'])];
    expect([await refusedM.exited, refusedM.out()]).toEqual([await refusedV.exited, refusedV.out()]);
    expect(refusedV.out()).toContain('Active console session exists');
    // mpvirsh takes the session over; the guest's output reaches it
    const ours = underTty(MPVIRSH, [...M, 'console', '--force', 'cq1']);
    const firstEnd = await first.exited;
    expect(await waitFor(() => ours.out().includes('Escape character is ^] (Ctrl + ])'), 10_000, 50), ours.out()).toBe(true);
    await r.driver.resume(cq1);
    expect(await waitFor(() => /E2E-INIT mode=basic kernel=/.test(ours.out()), 120_000, 100), ours.out().slice(-2000)).toBe(true);
    // virsh takes it back: mpvirsh's session ends as virsh's did
    const second = underTty(VIRSH, [...M, 'console', '--force', 'cq1']);
    expect(await waitFor(() => second.out().includes('Escape character is ^]'), 10_000, 50), second.out()).toBe(true);
    const oursEnd = await ours.exited;
    const tail = (s: string): string => s.slice(s.lastIndexOf('\n', s.length - 2) + 1);
    expect([oursEnd, tail(ours.out())]).toEqual([firstEnd, tail(first.out())]);
    expect(ours.out().startsWith("Connected to domain 'cq1'\r\nEscape character is ^] (Ctrl + ])\r\n")).toBe(true);
    // Ctrl-] detaches either with status 0 and the same last words
    second.child.stdin!.write('\x1d');
    const secondEnd = await second.exited;
    const third = underTty(MPVIRSH, [...M, 'console', 'cq1']);
    expect(await waitFor(() => third.out().includes('Escape character is ^]'), 10_000, 50), third.out()).toBe(true);
    third.child.stdin!.write('\x1d');
    expect([await third.exited, tail(third.out())]).toEqual([secondEnd, tail(second.out())]);
    expect(secondEnd).toBe(0);
    // -e: another escape character, printed and honoured alike
    const fourth = underTty(MPVIRSH, ['-e', '^a', ...M, 'console', 'cq1']);
    expect(await waitFor(() => fourth.out().includes('Escape character is ^a (Ctrl + a)'), 10_000, 50), fourth.out()).toBe(true);
    fourth.child.stdin!.write('\x1d'); // not the escape now: goes to the guest
    // the escape counts as the first byte of a read, as in virsh: let the first key be read alone
    await new Promise((res) => setTimeout(res, 500));
    fourth.child.stdin!.write('\x01');
    expect(await fourth.exited).toBe(0);
  }, 240_000);
});
