// An unprivileged daemon gets a bridge interface's tap from qemu-bridge-helper, as libvirt's
// session mode does (qemuCreateInBridgePortWithHelper): `--use-vnet --br=BR --fd=3`, the tap's fd
// back over the socketpair, its name from TUNGETIFF. The real helper needs setuid and an
// /etc/qemu/bridge.conf that allows the bridge, which a test must not write: a stand-in speaks
// its protocol (Python's socket.send_fds), making a tap as root. The tap goes with the fd.
import { closeSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { helperBridgeTap } from '../../src/remote/tap.js';

const dir = mkdtempSync(join(tmpdir(), 'mpvirt-helper-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const helper = join(dir, 'qemu-bridge-helper');
writeFileSync(helper, `#!/usr/bin/python3
import fcntl, os, socket, struct, sys
args = sys.argv[1:]
open(${JSON.stringify(join(dir, 'args'))}, 'w').write(' '.join(args))
br = next(a[5:] for a in args if a.startswith('--br='))
if br == 'denied':
    print('access denied by acl file', file=sys.stderr)
    sys.exit(1)
tun = os.open('/dev/net/tun', os.O_RDWR)
flags = 0x0002 | 0x1000 | (0x4000 if '--use-vnet' in args else 0)
fcntl.ioctl(tun, 0x400454ca, struct.pack('16sH22x', b'mpvhtap%d', flags))
socket.send_fds(socket.socket(fileno=int(next(a[5:] for a in args if a.startswith('--fd=')))), [b'\\0'], [tun])
`, { mode: 0o755 });

describe('qemu-bridge-helper', () => {
  it("hands over the tap's fd; the daemon names it and the tap lives as long as the fd", async () => {
    const tap = await helperBridgeTap('br0', true, helper);
    expect(readFileSync(join(dir, 'args'), 'utf8')).toBe('--use-vnet --br=br0 --fd=3');
    expect(tap.ifname).toMatch(/^mpvhtap\d+$/);
    expect(Number(readFileSync(`/sys/class/net/${tap.ifname}/tun_flags`, 'utf8')) & 0x4000).toBe(0x4000);
    closeSync(tap.fd);
    expect(existsSync(`/sys/class/net/${tap.ifname}`)).toBe(false);
    const plain = await helperBridgeTap('br0', false, helper);
    expect(readFileSync(join(dir, 'args'), 'utf8')).toBe('--br=br0 --fd=3');
    expect(Number(readFileSync(`/sys/class/net/${plain.ifname}/tun_flags`, 'utf8')) & 0x4000).toBe(0);
    closeSync(plain.fd);
  });

  it("reports the helper's refusal with its stderr, and a missing helper, as libvirt does", async () => {
    await expect(helperBridgeTap('denied', false, helper)).rejects.toThrow(
      `${helper} --br=denied --fd=3: failed to communicate with bridge helper: stderr=access denied by acl file`);
    await expect(helperBridgeTap('br0', false, join(dir, 'none'))).rejects.toThrow(new RegExp(`^'${join(dir, 'none')}' is not a suitable bridge helper: `));
  });
});
