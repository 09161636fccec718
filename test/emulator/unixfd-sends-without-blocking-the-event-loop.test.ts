import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { isMpvirtError } from '../../src/errors.js';
import { closeFd, errnoCode, sendWithFds, socketFd, socketpair, watchFd } from '../../src/emulator/unixfd.js';

function collect(sock: net.Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= bytes) resolve(Buffer.concat(chunks));
    });
  });
}

describe('unixfd (no QEMU)', () => {
  it('sendWithFds finishes a message larger than the socket buffer: EAGAIN waits, partial writes resume', async () => {
    const [a, b] = socketpair(); // `a` stays a raw blocking fd: MSG_DONTWAIT keeps sendmsg from blocking
    const reader = new net.Socket({ fd: b, readable: true, writable: false });
    reader.pause();
    const data = Buffer.alloc(2 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const fd = openSync('/dev/null', 'r');
    try {
      let done = false;
      const sending = sendWithFds(a, data, [fd]).then(() => (done = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(done).toBe(false); // the peer reads nothing yet: waiting, and the event loop runs
      const received = collect(reader, data.length);
      reader.resume();
      await sending;
      expect((await received).equals(data)).toBe(true);
    } finally {
      closeSync(fd);
      reader.destroy();
      closeFd(a);
    }
  });

  it('sendWithFds on a peer-closed socket throws a coded EPIPE error instead of raising SIGPIPE', async () => {
    const [a, b] = socketpair();
    closeFd(b);
    const err = await sendWithFds(a, Buffer.from('x\n'), []).catch((e: unknown) => e);
    expect(isMpvirtError(err, 'VIR_ERR_INTERNAL_ERROR')).toBe(true);
    expect(errnoCode(err)).toBe('EPIPE');
    closeFd(a);
  });

  it('watchFd works on an fd a net.Socket already owns (it polls a dup) and stop() is idempotent', async () => {
    const [a, b] = socketpair();
    const sock = new net.Socket({ fd: a, readable: true, writable: true });
    expect(socketFd(sock)).toBe(a);
    const viaSocket = collect(sock, 5);
    let stop: () => void = () => undefined;
    const viaWatch = new Promise((r) => {
      stop = watchFd(a, (ev) => {
        stop();
        r(ev);
      });
    });
    const peer = new net.Socket({ fd: b, readable: true, writable: true });
    peer.write('hello');
    await expect(viaWatch).resolves.toMatchObject({ readable: true, status: 0 });
    expect((await viaSocket).toString()).toBe('hello');
    stop();
    sock.destroy();
    peer.destroy();
  });

  it('closeFd of an invalid fd reports EBADF', () => {
    // never re-close a real fd number here: another thread may have reused it meanwhile
    let err: unknown;
    try {
      closeFd(-1);
    } catch (e) {
      err = e;
    }
    expect(errnoCode(err)).toBe('EBADF');
    expect((err as Error).message).toBe('internal error: close(-1): Bad file descriptor');
  });
});
