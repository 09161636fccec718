// Unit test of the remote supervisor's state table (no QEMU). The table is explicit and exported;
// every pair of states not in it is refused. The only supervisor built here watches this very
// test process (always alive) with a stub monitor, to drive begin()/expectExit()/EOF by hand.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { isMpvirtError, MpvirtError } from '../../src/errors.js';
import type { QmpClient, QmpClose } from '../../src/emulator/qmp.js';
import {
  canTransition, REMOTE_TRANSITIONS, remoteEventData, RemoteSupervisor, type RemoteState, type RemoteTransition,
} from '../../src/remote/supervisor.js';

const STATES: RemoteState[] = ['starting', 'running', 'stopping', 'exited', 'crashed', 'hung', 'restarting'];
const LEGAL = new Set([
  'starting→running', 'starting→crashed', 'starting→stopping',
  'running→stopping', 'running→crashed', 'running→hung',
  'hung→running', 'hung→crashed', 'hung→stopping',
  'stopping→exited',
  'exited→restarting', 'crashed→restarting',
  'restarting→running', 'restarting→crashed', 'restarting→stopping',
]);

class StubQmp extends EventEmitter {
  closed = false;
  commands: string[] = [];
  reply: 'ok' | 'error' | 'timeout' = 'ok';
  execute(command: string): Promise<unknown> {
    this.commands.push(command);
    if (this.reply === 'timeout') return Promise.reject(new MpvirtError('VIR_ERR_OPERATION_TIMEOUT', `QEMU did not answer '${command}'`, { domain: 'QEMU' }));
    if (this.reply === 'error') {
      const qmp = { class: 'GenericError', desc: 'nope' };
      return Promise.reject(new MpvirtError('VIR_ERR_INTERNAL_ERROR', `unable to execute QEMU command '${command}': nope`, { domain: 'QEMU', qmp }));
    }
    return Promise.resolve({ status: 'running', running: true });
  }
  eof(): void {
    this.closed = true;
    const info: QmpClose = { reason: 'eof', error: new MpvirtError('VIR_ERR_OPERATION_FAILED', 'End of file from qemu monitor') };
    this.emit('close', info);
  }
}

const made: RemoteSupervisor[] = [];
afterEach(() => {
  for (const s of made.splice(0)) s.dispose();
});

function supervise(): { sv: RemoteSupervisor; qmp: StubQmp; seen: RemoteTransition[] } {
  const qmp = new StubQmp();
  // pid: this test process; never kill() it here
  const sv = new RemoteSupervisor({ rid: 'r1', alias: 'ua-lsi0', pid: process.pid, qmp: qmp as unknown as QmpClient, heartbeatIntervalMs: 10 });
  made.push(sv);
  const seen: RemoteTransition[] = [];
  sv.on('transition', (t) => seen.push(t));
  return { sv, qmp, seen };
}

describe('the remote state table', () => {
  it('allows exactly the documented transitions', () => {
    for (const from of STATES) {
      for (const to of STATES) expect(canTransition(from, to), `${from}→${to}`).toBe(LEGAL.has(`${from}→${to}`));
    }
    expect(Object.keys(REMOTE_TRANSITIONS).sort()).toEqual([...STATES].sort());
  });

  it('refuses the ones that would hide what happened', () => {
    expect(canTransition('exited', 'running')).toBe(false); // only through restarting
    expect(canTransition('crashed', 'running')).toBe(false);
    expect(canTransition('running', 'exited')).toBe(false); // an unexpected exit is a crash
    expect(canTransition('hung', 'exited')).toBe(false); // expectExit() goes through stopping
    expect(canTransition('stopping', 'crashed')).toBe(false); // after expectExit() every exit is expected
    expect(canTransition('stopping', 'hung')).toBe(false); // no heartbeat while stopping
    expect(canTransition('crashed', 'exited')).toBe(false);
    expect(canTransition('running', 'running')).toBe(false);
  });

  it('walks starting → running → crashed on a monitor EOF, once, then refuses to begin again', async () => {
    const { sv, qmp, seen } = supervise();
    expect(sv.state).toBe('starting');
    sv.begin();
    await new Promise((r) => setTimeout(r, 40));
    expect(qmp.commands.length).toBeGreaterThan(0); // heartbeat runs
    expect(qmp.commands.every((c) => c === 'query-status')).toBe(true);
    qmp.eof();
    qmp.eof(); // a second close is ignored
    expect(seen.map((t) => `${t.from}→${t.to}`)).toEqual(['starting→running', 'running→crashed']);
    expect(seen[1]).toMatchObject({ rid: 'r1', alias: 'ua-lsi0', pid: process.pid, reason: 'monitor EOF', status: { code: null, signal: null } });
    expect(typeof seen[1]!.at).toBe('number');
    const err = (() => { try { sv.begin(); } catch (e) { return e; } })();
    expect(isMpvirtError(err, 'VIR_ERR_INTERNAL_ERROR')).toBe(true);
    expect((err as MpvirtError).message).toMatch(/^internal error: remote process 'r1': begin\(\) in state 'crashed'/);
    sv.expectExit(); // too late: nothing to stop, no transition
    expect(sv.state).toBe('crashed');
    const n = qmp.commands.length;
    await new Promise((r) => setTimeout(r, 40));
    expect(qmp.commands.length).toBe(n); // heartbeat stopped
  });

  it('after expectExit() a death is exited; dispose() ends all reporting', () => {
    const a = supervise();
    a.sv.begin();
    a.sv.expectExit();
    a.qmp.eof();
    expect(a.seen.map((t) => t.to)).toEqual(['running', 'stopping', 'exited']);

    const b = supervise();
    b.sv.begin();
    b.sv.dispose();
    b.qmp.eof();
    expect(b.seen.map((t) => t.to)).toEqual(['running']);
    expect(b.qmp.listenerCount('close')).toBe(0);
  });

  it('a heartbeat timeout is hung, an error reply is an answer (not a hang)', async () => {
    const { sv, qmp, seen } = supervise();
    qmp.reply = 'error';
    sv.begin();
    await new Promise((r) => setTimeout(r, 40));
    expect(sv.state).toBe('running');
    qmp.reply = 'timeout';
    await new Promise((r) => setTimeout(r, 40));
    expect(sv.state).toBe('hung');
    qmp.reply = 'error';
    await new Promise((r) => setTimeout(r, 40));
    expect(seen.map((t) => `${t.from}→${t.to}`)).toEqual(['starting→running', 'running→hung', 'hung→running']);
  });

  it('names transitions for the MPVIRT_REMOTE event, and only those with a public name', () => {
    const t = (from: RemoteState, to: RemoteState, status?: RemoteTransition['status']): RemoteTransition =>
      ({ rid: '8', alias: 'ua-lsi0', from, to, pid: 42, reason: 'test', at: 0, ...(status ? { status } : {}) });
    const name = (x: RemoteTransition) => remoteEventData(x)?.state;
    expect(name(t('starting', 'running'))).toBe('started');
    expect(name(t('restarting', 'running'))).toBe('restarted');
    expect(name(t('crashed', 'restarting'))).toBe('restarting');
    expect(name(t('running', 'hung'))).toBe('hung');
    expect(name(t('hung', 'running'))).toBeUndefined();
    expect(name(t('running', 'stopping'))).toBeUndefined();
    expect(remoteEventData(t('stopping', 'exited', { code: 0, signal: null }))).toEqual({ rid: '8', alias: 'ua-lsi0', state: 'exited', pid: 42, status: 0 });
    expect(remoteEventData(t('running', 'crashed', { code: null, signal: 'SIGSEGV' }))?.status).toBe(139);
    expect(remoteEventData(t('running', 'crashed', { code: null, signal: null }))?.status).toBeNull();
  });
});
