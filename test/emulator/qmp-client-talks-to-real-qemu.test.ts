import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { isMpvirtError } from '../../src/errors.js';
import { QmpClient, type QmpEvent } from '../../src/emulator/qmp.js';
import { killAllQemu, QEMU, startQemu } from './qemu-process.js';

afterEach(async () => {
  expect(await killAllQemu()).toEqual([]);
});

describe.sequential('QmpClient against a real QEMU (-machine none -S)', () => {
  it('connects while QEMU is still creating the socket, reads the greeting and negotiates', async () => {
    const q = startQemu();
    const qmp = await QmpClient.connect(q.qmpPath, { timeoutMs: 10_000 }); // spawned a moment ago: retries ENOENT
    const readyMs = performance.now() - q.spawnedAt;
    console.log(`spawn → QMP ready (greeting + qmp_capabilities): ${readyMs.toFixed(1)} ms`);

    const [, major, minor, micro] = /version (\d+)\.(\d+)\.(\d+)/.exec(execFileSync(QEMU, ['--version'], { encoding: 'utf8' }))!;
    expect(qmp.greeting.version.qemu).toEqual({ major: Number(major), minor: Number(minor), micro: Number(micro) });
    expect(typeof qmp.greeting.version.package).toBe('string');
    expect(qmp.greeting.capabilities).toContain('oob');
    qmp.close();
  });

  it('answers query-status with the prelaunch state of -S', async () => {
    const q = startQemu();
    const qmp = await QmpClient.connect(q.qmpPath);
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch', running: false });
    qmp.close();
  });

  it('correlates concurrent replies by id and reassembles a large reply', async () => {
    const q = startQemu();
    const qmp = await QmpClient.connect(q.qmpPath);
    const [schema, status, version, name, kvm] = await Promise.all([
      qmp.execute<unknown[]>('query-qmp-schema'), // hundreds of KiB on one line: many socket reads
      qmp.execute<{ status: string }>('query-status'),
      qmp.execute<{ qemu: { major: number } }>('query-version'),
      qmp.execute<object>('query-name'),
      qmp.execute<{ present: boolean }>('query-kvm'),
    ]);
    expect(Array.isArray(schema) && schema.length).toBeGreaterThan(500);
    expect(JSON.stringify(schema).length).toBeGreaterThan(64 * 1024);
    expect(status.status).toBe('prelaunch');
    expect(version.qemu.major).toBe(qmp.greeting.version.qemu.major);
    expect(name).toEqual({});
    expect(typeof kvm.present).toBe('boolean');
    qmp.close();
  });

  it('reports a QMP error as a coded MpvirtError carrying class and desc', async () => {
    const q = startQemu();
    const qmp = await QmpClient.connect(q.qmpPath);
    const err = await qmp.execute('no-such-command').catch((e: unknown) => e);
    expect(isMpvirtError(err, 'VIR_ERR_INTERNAL_ERROR')).toBe(true);
    expect(err).toMatchObject({
      domain: 10, // VIR_FROM_QEMU
      number: 1,
      qmp: { class: 'CommandNotFound', desc: 'The command no-such-command has not been found' },
      message: "internal error: unable to execute QEMU command 'no-such-command': The command no-such-command has not been found",
    });
    // bad arguments are a GenericError; the monitor keeps working afterwards
    await expect(qmp.execute('query-status', { bogus: 1 })).rejects.toMatchObject({ qmp: { class: 'GenericError' } });
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });
    qmp.close();
  });

  it('emits RESUME on cont and STOP on stop, with QEMU timestamps', async () => {
    const q = startQemu();
    const qmp = await QmpClient.connect(q.qmpPath);
    const events: QmpEvent[] = [];
    qmp.on('event', (e) => events.push(e));
    const resumed = new Promise<QmpEvent>((r) => qmp.on('event', (e) => e.event === 'RESUME' && r(e)));
    await qmp.execute('cont');
    const resume = await resumed;
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'running', running: true });
    const stopped = new Promise<QmpEvent>((r) => qmp.on('event', (e) => e.event === 'STOP' && r(e)));
    await qmp.execute('stop');
    await stopped;
    expect(events.map((e) => e.event)).toEqual(['RESUME', 'STOP']);
    expect(resume.data).toEqual({});
    expect(Math.abs(resume.timestamp.seconds - Date.now() / 1000)).toBeLessThan(60);
    expect(resume.timestamp.microseconds).toBeGreaterThanOrEqual(0);
    qmp.close();
  });

  it('gives up connecting with a timeout code when no QEMU ever creates the socket', async () => {
    const t0 = performance.now();
    const err = await QmpClient.connect('/nonexistent/mpvirt-qmp.sock', { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(isMpvirtError(err, 'VIR_ERR_OPERATION_TIMEOUT')).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
