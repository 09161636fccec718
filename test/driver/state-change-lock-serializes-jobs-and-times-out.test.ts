import { afterEach, describe, expect, it, vi } from 'vitest';
import { MpvirtError } from '../../src/errors.js';
import { DomainJobLock, type Job } from '../../src/driver/jobs.js';

const CREATE = 'remoteDispatchDomainCreate';
const LIBVIRT_TIMEOUT_TEXT =
  'Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainCreate)';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

afterEach(() => {
  vi.useRealTimers();
});

describe('DomainJobLock', () => {
  it('grants a free lock at once and reports holder and waiting', async () => {
    const lock = new DomainJobLock();
    expect(lock.holder).toBeUndefined();
    expect(lock.waiting).toBe(0);
    const job = await lock.acquire({ owner: CREATE });
    expect(job.owner).toBe(CREATE);
    expect(job.signal.aborted).toBe(false);
    expect(lock.holder).toBe(CREATE);
    job.release();
    expect(lock.holder).toBeUndefined();
  });

  it('serves waiters in FIFO order, one at a time', async () => {
    const lock = new DomainJobLock();
    const first = await lock.acquire({ owner: 'first' });
    const order: string[] = [];
    let active = 0;
    let maxActive = 0;
    const runs = ['B', 'C', 'D', 'E'].map((owner) =>
      lock.run({ owner }, async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        order.push(owner);
        await settle();
        active--;
        return owner.toLowerCase();
      }),
    );
    await settle();
    expect(lock.waiting).toBe(4);
    expect(order).toEqual([]);
    first.release();
    expect(await Promise.all(runs)).toEqual(['b', 'c', 'd', 'e']);
    expect(order).toEqual(['B', 'C', 'D', 'E']);
    expect(maxActive).toBe(1);
    expect(lock.holder).toBeUndefined();
    expect(lock.waiting).toBe(0);
  });

  it("times out with libvirt's exact text and code, naming the holder", async () => {
    const lock = new DomainJobLock();
    const holder = await lock.acquire({ owner: CREATE });
    const t0 = performance.now();
    const err = await lock.acquire({ owner: 'remoteDispatchDomainDestroy', timeoutMs: 50 }).catch((e: unknown) => e);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    expect(err).toBeInstanceOf(MpvirtError);
    const e = err as MpvirtError;
    expect(e.message).toBe(LIBVIRT_TIMEOUT_TEXT);
    expect(e.code).toBe('VIR_ERR_OPERATION_TIMEOUT');
    expect(e.number).toBe(68);
    expect(e.detail).toBe('cannot acquire state change lock (held by monitor=remoteDispatchDomainCreate)');
    expect(lock.holder).toBe(CREATE);
    holder.release();
  });

  it('a waiter whose timeout fired leaves the queue and never gets the lock', async () => {
    const lock = new DomainJobLock();
    const holder = await lock.acquire({ owner: CREATE });
    let lateGrant: Job | undefined;
    const timedOut = lock.acquire({ owner: 'impatient', timeoutMs: 20 }).then((j) => (lateGrant = j));
    const patient = lock.acquire({ owner: 'patient', timeoutMs: 60_000 });
    expect(lock.waiting).toBe(2);
    await expect(timedOut).rejects.toMatchObject({ code: 'VIR_ERR_OPERATION_TIMEOUT' });
    expect(lock.waiting).toBe(1);
    holder.release();
    const next = await patient;
    expect(next.owner).toBe('patient');
    next.release();
    await settle();
    expect(lateGrant).toBeUndefined();
    expect(lock.holder).toBeUndefined();
    expect(lock.waiting).toBe(0);
    // the lock is free for the next caller at once
    const again = await lock.acquire({ owner: 'again', timeoutMs: 0 });
    expect(lock.holder).toBe('again');
    again.release();
  });

  it('timeoutMs 0 fails at once when busy; Infinity waits without a timer', async () => {
    vi.useFakeTimers();
    const lock = new DomainJobLock();
    const holder = await lock.acquire({ owner: CREATE });
    const zero = lock.acquire({ owner: 'now', timeoutMs: 0 });
    const zeroSeen = expect(zero).rejects.toThrow(LIBVIRT_TIMEOUT_TEXT);
    await vi.advanceTimersByTimeAsync(0);
    await zeroSeen;
    const forever = lock.acquire({ owner: 'forever', timeoutMs: Infinity });
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    holder.release();
    const j = await forever;
    expect(j.owner).toBe('forever');
    j.release();
  });

  it('the default wait is 30 seconds', async () => {
    vi.useFakeTimers();
    const lock = new DomainJobLock();
    await lock.acquire({ owner: CREATE });
    let settled = false;
    const p = lock.acquire({ owner: 'w' }).finally(() => (settled = true));
    const seen = expect(p).rejects.toThrow(LIBVIRT_TIMEOUT_TEXT);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await seen;
    expect(lock.waiting).toBe(0);
  });

  it('an interrupting job aborts the holder and goes ahead of earlier waiters', async () => {
    const lock = new DomainJobLock();
    const order: string[] = [];
    let startSignal: AbortSignal | undefined;
    const start = lock.run({ owner: CREATE }, async (job) => {
      order.push(job.owner);
      startSignal = job.signal;
      // a start that gives up when asked to
      await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve(), { once: true }));
      throw job.signal.reason;
    });
    await settle();
    const plain = lock.run({ owner: 'remoteDispatchDomainSuspend' }, async (job) => void order.push(job.owner));
    await settle();
    expect(startSignal?.aborted).toBe(false);
    const destroy = lock.run({ owner: 'remoteDispatchDomainDestroy', interrupting: true }, async (job) => {
      order.push(job.owner);
      expect(job.signal.aborted).toBe(false);
    });
    expect(startSignal?.aborted).toBe(true);
    expect(startSignal?.reason).toBeInstanceOf(MpvirtError);
    expect((startSignal?.reason as MpvirtError).message).toContain(CREATE);
    expect((startSignal?.reason as MpvirtError).message).toContain('remoteDispatchDomainDestroy');
    await expect(start).rejects.toBe(startSignal?.reason);
    await Promise.all([plain, destroy]);
    expect(order).toEqual([CREATE, 'remoteDispatchDomainDestroy', 'remoteDispatchDomainSuspend']);
  });

  it('several interrupting jobs keep their own order, all ahead of plain waiters', async () => {
    const lock = new DomainJobLock();
    const holder = await lock.acquire({ owner: CREATE });
    const order: string[] = [];
    const runs = [
      lock.run({ owner: 'p1' }, async () => void order.push('p1')),
      lock.run({ owner: 'i1', interrupting: true }, async () => void order.push('i1')),
      lock.run({ owner: 'p2' }, async () => void order.push('p2')),
      lock.run({ owner: 'i2', interrupting: true }, async () => void order.push('i2')),
    ];
    await settle();
    expect(holder.signal.aborted).toBe(true);
    holder.release();
    await Promise.all(runs);
    expect(order).toEqual(['i1', 'i2', 'p1', 'p2']);
  });

  it('an interrupting job takes a free lock at once', async () => {
    const lock = new DomainJobLock();
    const j = await lock.acquire({ owner: 'd', interrupting: true, timeoutMs: 0 });
    expect(j.signal.aborted).toBe(false);
    j.release();
  });

  it('releasing twice is harmless: it does not release the next holder', async () => {
    const lock = new DomainJobLock();
    const a = await lock.acquire({ owner: 'a' });
    const bp = lock.acquire({ owner: 'b' });
    const cp = lock.acquire({ owner: 'c' });
    a.release();
    a.release();
    const b = await bp;
    expect(lock.holder).toBe('b');
    expect(lock.waiting).toBe(1);
    a.release();
    expect(lock.holder).toBe('b');
    b.release();
    const c = await cp;
    expect(lock.holder).toBe('c');
    c.release();
    c.release();
    expect(lock.holder).toBeUndefined();
  });

  it('run() releases when the job throws, and passes the error on', async () => {
    const lock = new DomainJobLock();
    const boom = new Error('boom');
    await expect(lock.run({ owner: 'x' }, async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(lock.holder).toBeUndefined();
    await expect(lock.run({ owner: 'y' }, async () => 42)).resolves.toBe(42);
  });

  it('refuses a job without an owner', async () => {
    const lock = new DomainJobLock();
    await expect(lock.acquire({ owner: '' })).rejects.toMatchObject({ code: 'VIR_ERR_INTERNAL_ERROR' });
    expect(lock.holder).toBeUndefined();
  });

  it('1000 concurrent run() calls complete in order, one at a time, leaving no waiter or timer behind', async () => {
    vi.useFakeTimers();
    const lock = new DomainJobLock();
    const N = 1000;
    const order: number[] = [];
    let active = 0;
    let maxActive = 0;
    const runs = Array.from({ length: N }, (_, i) =>
      lock.run({ owner: `job${i}` }, async (job) => {
        expect(lock.holder).toBe(job.owner);
        active++;
        maxActive = Math.max(maxActive, active);
        order.push(i);
        await Promise.resolve();
        await Promise.resolve();
        active--;
        return i;
      }),
    );
    // one bounded wait per queued call, the first got the lock at once
    expect(lock.waiting).toBe(N - 1);
    expect(vi.getTimerCount()).toBe(N - 1);
    const results = await Promise.all(runs);
    expect(results).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(order).toEqual(results);
    expect(maxActive).toBe(1);
    expect(lock.holder).toBeUndefined();
    expect(lock.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
