#!/usr/bin/env node
/**
 * Hot-plug of a whole isolated HBA into a running guest: `attach-device --live` of an lsilogic
 * controller until `device-added`, through the driver (job, checks, slot choice, placement, the
 * new remote's plan, spawn, its monitor, getfd + device_add x-pci-proxy-dev, supervision, live XML,
 * status file, event), against the floor measured in the same run on the same main QEMU: a remote
 * QEMU spawned by hand with the same kind of argv (`-machine x-remote`, lsi53c895a,
 * x-remote-object), its monitor answering, then the bare getfd + device_add — no driver.
 *
 *   npm run build && node bench/hba-hotplug.mjs [--runs N] [--json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { benchXml, importDist, machine, makeWork, now, runsArg, stats } from './lib.mjs';

const { QemuDriver } = await importDist('driver/driver.js');
const { launchRemote } = await importDist('remote/launch.js');
const { closeFd } = await importDist('emulator/unixfd.js');
const args = process.argv.slice(2);
// each run takes two slots of the 30 of the guest's pcie-to-pci-bridge
const runs = Math.min(runsArg(args, 12), 14);
const asJson = args.includes('--json');
const { work, disk } = makeWork('mpvirt-bench-hba-');

const driver = new QemuDriver({ configDir: path.join(work, 'etc'), stateDir: path.join(work, 'run'), logDir: path.join(work, 'log'), capsCacheDir: path.join(work, 'caps') });
await driver.init();
const dom = await driver.defineXML(benchXml(disk));
await driver.start(dom, { paused: true });
const main = dom.runtime.main.qmp;
const bridge = /<controller type='pci' index='(\d+)' model='pcie-to-pci-bridge'/.exec(driver.getXMLDesc(dom))[1];
const once = (name) => new Promise((r) => driver.events.once(name, r));
const binary = dom.def.emulator ?? '/usr/bin/qemu-system-x86_64';

const attachMs = [], floorMs = [];
const floors = [];
for (let i = 1; i <= runs; i++) {
  let t = now();
  const added = once('device-added');
  await driver.attachDeviceFlags(dom, `<controller type='scsi' index='${i}' model='lsilogic'/>`, 1);
  await added;
  attachMs.push(now() - t);

  t = now();
  const id = `floor${i}`;
  const qmpPath = path.join(work, `${id}.qmp`);
  const l = await launchRemote({
    rid: id, alias: id, binary, qmpPath, linkFd: 3, mainLinkFd: 3, disks: [], onCrash: 'destroy', files: [], listeners: [],
    argv: ['-machine', 'x-remote', '-nodefaults', '-no-user-config', '-display', 'none', '-chardev', `socket,id=mon,path=${qmpPath},server=on,wait=off`, '-mon', 'chardev=mon,mode=control',
      '-device', `lsi53c895a,id=${id}`, '-object', `x-remote-object,id=robj-${id},devid=${id},fd=3`],
  }, { logFile: path.join(work, 'floor.log') });
  await main.execute('getfd', { fdname: id }, { fds: [l.mainEnd] });
  closeFd(l.mainEnd);
  await main.execute('device_add', { driver: 'x-pci-proxy-dev', id, fd: id, bus: `pci.${bridge}`, addr: `0x${(32 - i).toString(16)}` });
  floorMs.push(now() - t);
  floors.push(l);
}
await driver.destroy(dom);
for (const l of floors) {
  closeFd(l.linkCopy);
  l.qmp.close();
  await l.proc.terminate({ graceMs: 1000 }).catch(() => {});
}
await driver.detach();
fs.rmSync(work, { recursive: true, force: true });

const result = { runs, attachMs: stats(attachMs), floorMs: stats(floorMs) };
if (asJson) console.log(JSON.stringify(result));
else {
  const f = (s) => `${s.median.toFixed(1)} | ${s.min.toFixed(1)} | ${s.max.toFixed(1)}`;
  console.log(`# Hot-plug of a whole isolated HBA (TCG, paused q35 guest), ${runs} runs\n\nmachine: ${machine()}; node ${process.version}\n`);
  console.log('| measurement | median ms | min | max |\n|---|---:|---:|---:|');
  console.log(`| attach-device --live of an lsilogic HBA → device-added (driver: new remote process) | ${f(result.attachMs)} |`);
  console.log(`| floor: spawn a remote by hand, its monitor, getfd + device_add x-pci-proxy-dev | ${f(result.floorMs)} |`);
  console.log(`\nattach / floor: ${(result.attachMs.median / result.floorMs.median).toFixed(2)}×`);
}
