// Found by CI: a monitor client connecting in the very instant a QEMU starts
// its VM (a remote has no -S) received the RESUME event before the greeting
// and failed the start with "unexpected QEMU monitor greeting". Events before
// the greeting are skipped; anything else there is still an error.
// The peer is a scripted socket: a unit test of the client alone.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { QmpClient } from '../../src/emulator/qmp.js';
import { socketpair } from '../../src/emulator/unixfd.js';

function scriptedPeer(lines: string[]): { clientFd: number; peer: net.Socket } {
  const [a, b] = socketpair();
  const peer = new net.Socket({ fd: b, readable: true, writable: true });
  for (const l of lines) peer.write(`${l}\n`);
  // answer qmp_capabilities
  peer.on('data', (d) => {
    const m = /"id":\s*"([^"]+)"/.exec(d.toString());
    if (m) peer.write(`{"return": {}, "id": "${m[1]}"}\n`);
  });
  return { clientFd: a, peer };
}

const greeting = '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}';

describe('QMP greeting', () => {
  it('an event before the greeting is skipped', async () => {
    const { clientFd, peer } = scriptedPeer(['{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}', greeting]);
    const c = await QmpClient.fromSocket(clientFd, { timeoutMs: 2000 });
    expect(c.greeting.version.qemu.major).toBe(7);
    c.close();
    peer.destroy();
  });

  it('a reply before the greeting is still refused', async () => {
    const { clientFd, peer } = scriptedPeer(['{"return": {}}', greeting]);
    await expect(QmpClient.fromSocket(clientFd, { timeoutMs: 2000 })).rejects.toThrow(/unexpected QEMU monitor greeting/);
    peer.destroy();
  });
});
