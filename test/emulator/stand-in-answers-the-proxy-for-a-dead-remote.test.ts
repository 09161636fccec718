// The dead remote's stand-in (src/remote/stand-in.ts) on a real socketpair: nothing is read while
// the remote would live; once activated, every config/BAR access and a reset get `RET 0`, memory
// sync and irqfd messages none, messages split across reads are reassembled, and EOF ends it.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { dupFd, socketpair, closeFd } from '../../src/emulator/unixfd.js';
import { MpqemuCmd, RemoteStandIn, retMessage } from '../../src/remote/stand-in.js';

const msg = (cmd: number, payload = Buffer.alloc(24)): Buffer => {
  const h = Buffer.alloc(16);
  h.writeInt32LE(cmd, 0);
  h.writeBigUInt64LE(BigInt(payload.length), 8);
  return Buffer.concat([h, payload]);
};

describe('the stand-in of a dead remote', () => {
  it('reads nothing until activated, then answers accesses with RET 0 and ends at EOF', async () => {
    const [remoteEnd, proxyEnd] = socketpair();
    const standIn = new RemoteStandIn(dupFd(remoteEnd));
    closeFd(remoteEnd); // the "remote" died; only the daemon's copy holds its end
    const proxy = new net.Socket({ fd: proxyEnd, readable: true, writable: true });
    const replies: Buffer[] = [];
    proxy.on('data', (b: Buffer) => replies.push(b));
    proxy.write(msg(MpqemuCmd.PCI_CFGREAD));
    await new Promise((r) => setTimeout(r, 100));
    expect(replies).toEqual([]); // not activated: the message waits in the socket
    standIn.activate();
    const all = Buffer.concat([msg(MpqemuCmd.SYNC_SYSMEM, Buffer.alloc(200)), msg(MpqemuCmd.BAR_READ), msg(MpqemuCmd.SET_IRQFD), msg(MpqemuCmd.BAR_WRITE), msg(MpqemuCmd.DEVICE_RESET, Buffer.alloc(0))]);
    proxy.write(all.subarray(0, 50)); // split mid-message
    await new Promise((r) => setTimeout(r, 20));
    proxy.write(all.subarray(50));
    await new Promise((r) => setTimeout(r, 100));
    const got = Buffer.concat(replies);
    // the unsolicited one, then CFGREAD (queued before), BAR_READ, BAR_WRITE, DEVICE_RESET
    expect(got.length).toBe(5 * 24);
    expect(got.subarray(0, 24)).toEqual(retMessage());
    expect(Object.fromEntries(standIn.stats.seen)).toEqual({ 0: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1 });
    proxy.end();
    await standIn.ended;
    expect(standIn.active).toBe(false);
    proxy.destroy();
  });

  it('activation answers a request the remote took but never answered, so the waiting proxy goes on', async () => {
    const [remoteEnd, proxyEnd] = socketpair();
    const standIn = new RemoteStandIn(dupFd(remoteEnd));
    const proxy = new net.Socket({ fd: proxyEnd, readable: true, writable: true });
    const replies: Buffer[] = [];
    proxy.on('data', (b: Buffer) => replies.push(b));
    // the "remote" reads the proxy's BAR read, then dies before it replies
    const remote = new net.Socket({ fd: remoteEnd, readable: true, writable: true });
    const taken = new Promise<Buffer>((r) => remote.once('data', r));
    proxy.write(msg(MpqemuCmd.BAR_READ));
    expect((await taken).readInt32LE(0)).toBe(MpqemuCmd.BAR_READ);
    remote.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(replies).toEqual([]);
    standIn.activate();
    await new Promise((r) => setTimeout(r, 50));
    expect(Buffer.concat(replies)).toEqual(retMessage());
    expect(standIn.stats.seen.size).toBe(0);
    standIn.close();
    proxy.destroy();
  });

  it('closed before activation lets go of its copy (the peer then sees EOF)', async () => {
    const [remoteEnd, proxyEnd] = socketpair();
    const standIn = new RemoteStandIn(dupFd(remoteEnd));
    closeFd(remoteEnd);
    const proxy = new net.Socket({ fd: proxyEnd, readable: true, writable: true });
    const eof = new Promise((r) => proxy.once('end', r));
    proxy.resume();
    standIn.close();
    await eof;
    await standIn.ended;
    proxy.destroy();
  });
});
