// Every QEMU of a system-mode domain runs unprivileged under its own id (jail-ids.ts) and in
// namespaces of its own (jail.ts): the probe reads each process's /proc/PID/status, ns and fds —
// uid ≠ 0 and distinct per process and per domain, no capabilities, NoNewPrivs, seccomp, own IPC
// and UTS, a remote's own empty network — and through the remote's monitor tries to open
// /etc/shadow, a file in /root and the other domain's image: all refused, while the remote
// still serves its own disk. From each jail's credentials, the other domain's processes cannot
// be signalled and its image cannot be read.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const h = new Harness();
afterAll(() => h.cleanup());

interface ProcStatus { uid: number[]; gid: number[]; groups: string; capEff: string; capPrm: string; noNewPrivs: string; seccomp: string }

function status(pid: number): ProcStatus {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(text)?.[1]?.trim() ?? '';
  return {
    uid: field('Uid').split(/\s+/).map(Number),
    gid: field('Gid').split(/\s+/).map(Number),
    groups: field('Groups'),
    capEff: field('CapEff'),
    capPrm: field('CapPrm'),
    noNewPrivs: field('NoNewPrivs'),
    seccomp: field('Seccomp'),
  };
}

/** What each fd of a process points at. */
function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
}

const remoteCmd = (rid: string, command: object): string => JSON.stringify({ execute: 'x-mpvirt-remote', arguments: { rid, command } });

describe('jailed QEMU processes', () => {
  it('run under their own ids with no privilege, and reach nothing but what the daemon handed them', async () => {
    const driver = await h.driver();
    // images as libvirt's storage pools create them: only root may open them (a world-readable
    // image stays readable by every jail until the processes get an empty root: docs/security.md)
    const disk1 = h.disk('jail1.img', 16);
    const disk2 = h.disk('jail2.img', 16);
    chmodSync(disk1, 0o600);
    chmodSync(disk2, 0o600);
    const secret = '/root/.mpvirt-jail-test-secret';
    writeFileSync(secret, 'not for guests\n', { mode: 0o600 });
    const obj1 = await driver.defineXML(h.xml('jail1', { disk: disk1 }));
    const obj2 = await driver.defineXML(h.xml('jail2', { disk: disk2, uuid: '55555555-0000-0000-0000-000000000002' }));
    await driver.start(obj1, { paused: true });
    const p1 = h.track(obj1);
    await driver.start(obj2, { paused: true });
    const p2 = h.track(obj2);

    const pids = [p1.main, p1.remotes[0]!, p2.main, p2.remotes[0]!];
    const st = pids.map(status);
    console.log(pids.map((p, i) => `pid ${p}: Uid ${st[i]!.uid.join(' ')} Gid ${st[i]!.gid.join(' ')} CapEff ${st[i]!.capEff} NoNewPrivs ${st[i]!.noNewPrivs} Seccomp ${st[i]!.seccomp}`).join('\n'));
    for (const s of st) {
      expect(s.uid[0]).not.toBe(0);
      expect(new Set(s.uid).size, 'real, effective, saved and fs uid are one id').toBe(1);
      expect(new Set(s.gid).size).toBe(1);
      expect(s.groups).toBe('');
      expect(s.capEff).toBe('0000000000000000');
      expect(s.capPrm).toBe('0000000000000000');
      expect(s.noNewPrivs).toBe('1');
      expect(s.seccomp).toBe('2');
    }
    expect(new Set(st.map((s) => s.uid[0])).size, 'one id per process, across domains').toBe(4);
    // the live XML names each remote's ids and jail
    expect(driver.getXMLDesc(obj1)).toContain(`uid="${st[1]!.uid[0]}" gid="${st[1]!.gid[0]}" jail="root,net,ipc,uts,pid"`);

    // an empty root: a tmpfs of its own with the read-only runtime QEMU needs, and nothing else
    for (const pid of pids) {
      const seen = readdirSync(`/proc/${pid}/root`).sort();
      expect(readdirSync(`/proc/${pid}/root/dev`).sort(), `devices of ${pid}`).toEqual(['full', 'null', 'ptmx', 'pts', 'random', 'urandom', 'zero'].concat(readdirSync('/dev').includes('kvm') ? ['kvm'] : []).sort());
      expect(seen.filter((e) => !['bin', 'lib', 'lib64', 'sbin'].includes(e)), `root of ${pid}`).toEqual(pid === p1.main || pid === p2.main ? ['dev', 'proc', 'tmp', 'usr'].concat(seen.includes('work') ? ['work'] : []).sort() : ['dev', 'proc', 'tmp', 'usr']);
      expect(readdirSync(`/proc/${pid}/root/tmp`)).toEqual([]);
    }

    // own namespaces: every process its own pid, IPC and UTS; a remote also an empty network of
    // its own (the main QEMU keeps the host's, for user networking and display ports)
    const ns = (pid: number | 'self', kind: string): string => readlinkSync(`/proc/${pid}/ns/${kind}`);
    for (const pid of pids) for (const kind of ['ipc', 'uts', 'pid', 'mnt']) expect(ns(pid, kind), `${pid} ${kind}`).not.toBe(ns('self', kind));
    for (const kind of ['ipc', 'pid', 'mnt']) expect(new Set(pids.map((p) => ns(p, kind))).size, kind).toBe(4);
    // QEMU is pid 1 of its pid namespace, and its /proc shows no other process
    for (const pid of pids) {
      expect(/^NSpid:\s+\d+\s+1$/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), `${pid} is 1 in its namespace`).toBe(true);
      expect(readdirSync(`/proc/${pid}/root/proc`).filter((e) => /^\d+$/.test(e)), `pids seen by ${pid}`).toEqual(['1']);
    }
    // a cgroup per domain, a leaf per process, in every hierarchy the host has (v1 or v2)
    const groups = (pid: number): string[] => readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').filter((l) => /^\d+:(cpu|memory|pids|blkio|io)?[,:]|^0::/.test(l) && !l.includes('name=')).map((l) => l.slice(l.lastIndexOf(':') + 1));
    const expectedLeaf = [['/machine/jail1.mpvirt-qemu/main', p1.main], ['/machine/jail1.mpvirt-qemu/remote-8', p1.remotes[0]!], ['/machine/jail2.mpvirt-qemu/main', p2.main], ['/machine/jail2.mpvirt-qemu/remote-8', p2.remotes[0]!]] as const;
    for (const [leaf, pid] of expectedLeaf) expect(groups(pid), `cgroups of ${pid}: ${readFileSync(`/proc/${pid}/cgroup`, 'utf8')}`).toContain(leaf);
    expect(driver.getXMLDesc(obj1)).toContain('<resource>\n    <partition>/machine</partition>\n  </resource>');
    const cgroupDirs = (): string[] => ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup'].map((r) => `${r}/machine/jail1.mpvirt-qemu`).filter((d) => existsSync(d));
    expect(cgroupDirs().length).toBeGreaterThan(0);

    // the jail roots were taken out of the daemon's mount table once the processes had their own
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('mpvirt-jail');
    expect(ns(p1.remotes[0]!, 'net')).not.toBe(ns('self', 'net'));
    expect(ns(p2.remotes[0]!, 'net')).not.toBe(ns(p1.remotes[0]!, 'net'));
    expect(ns(p1.main, 'net')).toBe(ns('self', 'net'));
    const links = (pid: number): string => readFileSync(`/proc/${pid}/net/dev`, 'utf8');
    expect(links(p1.remotes[0]!).split('\n').filter((l) => l.includes(':')).map((l) => l.trim().split(':')[0])).toEqual(['lo']);

    // the only files a remote holds open are its image, the write end of its output pipe to the
    // log keeper (never the log file itself: it cannot read or truncate the log) and the guest's
    // RAM (the memfd its main QEMU shared with it: the device does DMA)
    const files1 = fdTargets(p1.remotes[0]!).filter((t) => t.startsWith('/') && !t.startsWith('/dev/'));
    expect(new Set(files1)).toEqual(new Set([disk1, `${h.stateDir}/jail1/remote-8.log.fifo`, '/memfd:memory-backend-memfd (deleted)']));

    // through the monitor, a compromised remote cannot open what it was not given
    for (const path of ['/etc/shadow', secret, disk2]) {
      const reply = await driver.qemuMonitorCommand(obj1, remoteCmd('8', { execute: 'blockdev-add', arguments: { driver: 'file', filename: path, 'node-name': 'evil', 'read-only': true } }));
      // not there at all in its root (or, without one, not readable with its ids)
      expect(reply, path).toMatch(/"error".*(No such file or directory|Permission denied)/);
    }
    // and still serves its own disk
    const blocks = JSON.parse(await driver.qemuMonitorCommand(obj1, remoteCmd('8', { execute: 'query-block' }))) as { return: Array<{ inserted?: { file: string } }> };
    expect(blocks.return.some((b) => b.inserted?.file === '/dev/fdset/1')).toBe(true);

    // from each jail's credentials: the other domain's processes and image are out of reach
    for (const [mine, theirs, theirImage] of [[st[1]!, p2.remotes[0]!, disk2], [st[3]!, p1.main, disk1]] as const) {
      const as = { uid: mine.uid[0]!, gid: mine.gid[0]! };
      const kill = spawnSync('/bin/kill', ['-0', String(theirs)], { ...as, encoding: 'utf8' });
      expect(kill.status, kill.stderr).not.toBe(0);
      expect(kill.stderr).toMatch(/Operation not permitted/);
      const read = spawnSync('/bin/cat', [theirImage], { ...as, encoding: 'utf8' });
      expect(read.status).not.toBe(0);
      expect(read.stderr).toMatch(/Permission denied/);
    }
    await driver.destroy(obj1);
    await driver.destroy(obj2);
    expect(cgroupDirs(), 'the cgroups go with the domain').toEqual([]);
    spawnSync('rm', ['-f', secret]);
  }, 120_000);
});
