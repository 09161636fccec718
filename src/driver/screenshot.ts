/**
 * `virsh screenshot`: the guest's display as PNG (qemuDomainScreenshot with QEMU's screendump
 * format=png). The main QEMU runs jailed and cannot open a path of the daemon's, so the daemon
 * creates the file and lends QEMU a write-only descriptor through an fd set; QEMU's qemu_open()
 * of `/dev/fdset/N` then dups it. The daemon reads the picture back and removes the file.
 */
import { closeSync, openSync, constants as fsc } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MpvirtError } from '../errors.js';
import type { DomainObject } from './domain-object.js';
import type { DriverCore } from './core.js';
import { runJob } from './domain-job.js';

export interface Screenshot { mime: string; data: Buffer }

let seq = 0;

export function screenshot(core: DriverCore, obj: DomainObject, screen: number, flags: number): Promise<Screenshot> {
  if (flags !== 0) throw new MpvirtError('VIR_ERR_INVALID_ARG', `unsupported flags (0x${(flags >>> 0).toString(16)}) in function qemuDomainScreenshot`);
  return runJob(core, obj, 'remoteDispatchDomainScreenshot', async () => {
    const rt = obj.runtime;
    if (!obj.active || !rt) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'domain is not running');
    const def = obj.liveDef ?? obj.def;
    const heads = def.devices.filter((d) => d.kind === 'video').length;
    if (heads === 0) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'no screens to take screenshot from');
    if (screen >= heads) throw new MpvirtError('VIR_ERR_OPERATION_INVALID', 'no such screen ID');
    const file = join(rt.runDir, `screenshot-${process.pid}-${seq++}.png`);
    const fd = openSync(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    let fdset: number | undefined;
    try {
      try {
        fdset = (await rt.main.qmp.execute<{ 'fdset-id': number }>('add-fd', {}, { fds: [fd] }))['fdset-id'];
      } finally {
        closeSync(fd);
      }
      await rt.main.qmp.execute('screendump', { filename: `/dev/fdset/${fdset}`, format: 'png', ...(screen > 0 ? { head: screen } : {}) });
      return { mime: 'image/png', data: await readFile(file) };
    } finally {
      if (fdset !== undefined) await rt.main.qmp.execute('remove-fd', { 'fdset-id': fdset }).catch(() => {});
      await rm(file, { force: true });
    }
  });
}
