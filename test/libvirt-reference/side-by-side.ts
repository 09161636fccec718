/**
 * The setup every same-run comparison with libvirt's own daemon shares: an in-process mpvirtd
 * (RpcHarness), a private libvirtd, a work directory, and the real virsh against each. Call it at
 * a test file's top level: it registers the beforeAll/afterAll hooks and fills the object in.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { RpcHarness, VIRSH } from '../rpc/harness.js';
import { startPrivateLibvirtd, type PrivateLibvirtd, type PrivateLibvirtdOptions } from './private-libvirtd.js';

export interface VirshOut { code: number; stdout: string; stderr: string }

export interface SideBySide {
  readonly r: RpcHarness;
  lv: PrivateLibvirtd;
  work: string;
  /** virsh against libvirt's daemon */
  theirs(...args: string[]): VirshOut;
  /** virsh against mpvirtd */
  ours(...args: string[]): Promise<VirshOut>;
}

export function sideBySide(prefix: string, opts: PrivateLibvirtdOptions = {}): SideBySide {
  const ctx: SideBySide = {
    r: new RpcHarness(),
    lv: undefined as unknown as PrivateLibvirtd,
    work: '',
    theirs: (...args) => {
      const p = spawnSync(VIRSH, ['-c', ctx.lv.uri, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: ctx.work } });
      return { code: p.status ?? -1, stdout: p.stdout, stderr: p.stderr };
    },
    ours: async (...args) => {
      const { code, stdout, stderr } = await ctx.r.virsh(args);
      return { code, stdout, stderr };
    },
  };
  beforeAll(async () => {
    await ctx.r.start();
    ctx.work = mkdtempSync(join(tmpdir(), `mpvirt-${prefix}-`));
    ctx.lv = await startPrivateLibvirtd(join(ctx.work, 'lv'), opts);
  }, 300_000);
  afterAll(async () => {
    await ctx.lv?.stop();
    await ctx.r.cleanup();
    if (ctx.work) rmSync(ctx.work, { recursive: true, force: true });
  }, 60_000);
  return ctx;
}
