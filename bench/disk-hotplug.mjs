#!/usr/bin/env node
/**
 * Disk hot-plug into a running remote process: `attach-device --live` until the `device-added`
 * event, and `detach-device --live` until `device-removed`, through the driver (job, checks,
 * define-time defaults of the disk, add-fd, nodes, device, live XML, status file, event), against
 * the floor measured in the same run on the same remote: the bare QMP commands on its monitor
 * (add-fd + blockdev-add × 2 + device_add; device_del + DEVICE_DELETED + blockdev-del × 2 +
 * remove-fd), same client library, no driver.
 *
 *   npm run build && node bench/disk-hotplug.mjs [--runs N] [--json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { benchXml, importDist, machine, makeWork, now, runsArg, stats } from './lib.mjs';

const { QemuDriver } = await importDist('driver/driver.js');
const args = process.argv.slice(2);
const runs = runsArg(args, 30);
const asJson = args.includes('--json');
const { work, disk } = makeWork('mpvirt-bench-hp-');
const disk2 = path.join(work, 'disk2.img');
fs.writeFileSync(disk2, '');
fs.truncateSync(disk2, 16 << 20);

const driver = new QemuDriver({ configDir: path.join(work, 'etc'), stateDir: path.join(work, 'run'), logDir: path.join(work, 'log'), capsCacheDir: path.join(work, 'caps') });
await driver.init();
const dom = await driver.defineXML(benchXml(disk));
await driver.start(dom, { paused: true });
const qmp = dom.runtime.remotes[0].qmp;
const diskXml = `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk2}'/><target dev='sdb' bus='scsi'/></disk>`;
const once = (name) => new Promise((r) => driver.events.once(name, r));
const deleted = (id) => new Promise((r) => {
  const on = (ev) => { if (ev.event === 'DEVICE_DELETED' && ev.data?.device === id) { qmp.off('event', on); r(); } };
  qmp.on('event', on);
});

const attachMs = [], detachMs = [], floorAttachMs = [], floorDetachMs = [];
for (let i = 0; i < runs; i++) {
  let t = now();
  const added = once('device-added');
  await driver.attachDeviceFlags(dom, diskXml, 1);
  await added;
  attachMs.push(now() - t);
  t = now();
  const removed = once('device-removed');
  await driver.detachDeviceFlags(dom, diskXml, 1);
  await removed;
  detachMs.push(now() - t);

  t = now();
  const fd = fs.openSync(disk2, 'r+');
  const set = await qmp.execute('add-fd', { opaque: 'floor-storage' }, { fds: [fd] });
  fs.closeSync(fd);
  await qmp.execute('blockdev-add', { driver: 'file', filename: `/dev/fdset/${set['fdset-id']}`, 'node-name': 'floor-storage', 'read-only': false, discard: 'unmap' });
  await qmp.execute('blockdev-add', { 'node-name': 'floor-format', 'read-only': false, driver: 'raw', file: 'floor-storage' });
  await qmp.execute('device_add', { driver: 'scsi-hd', bus: 'ua-lsi0.0', 'scsi-id': 2, drive: 'floor-format', id: 'floor' });
  floorAttachMs.push(now() - t);
  t = now();
  const gone = deleted('floor');
  await qmp.execute('device_del', { id: 'floor' });
  await gone;
  await qmp.execute('blockdev-del', { 'node-name': 'floor-format' });
  await qmp.execute('blockdev-del', { 'node-name': 'floor-storage' });
  await qmp.execute('remove-fd', { 'fdset-id': set['fdset-id'] });
  floorDetachMs.push(now() - t);
}
await driver.destroy(dom);
await driver.detach();
fs.rmSync(work, { recursive: true, force: true });

const result = { runs, attachMs: stats(attachMs), floorAttachMs: stats(floorAttachMs), detachMs: stats(detachMs), floorDetachMs: stats(floorDetachMs) };
if (asJson) console.log(JSON.stringify(result));
else {
  const f = (s) => `${s.median.toFixed(2)} | ${s.min.toFixed(2)} | ${s.max.toFixed(2)}`;
  console.log(`# Disk hot-plug into a running remote (TCG, paused guest), ${runs} runs\n\nmachine: ${machine()}; node ${process.version}\n`);
  console.log('| measurement | median ms | min | max |\n|---|---:|---:|---:|');
  console.log(`| attach-device --live → device-added (driver) | ${f(result.attachMs)} |`);
  console.log(`| floor: add-fd + blockdev-add ×2 + device_add on the remote's monitor | ${f(result.floorAttachMs)} |`);
  console.log(`| detach-device --live → device-removed (driver) | ${f(result.detachMs)} |`);
  console.log(`| floor: device_del + DEVICE_DELETED + blockdev-del ×2 + remove-fd | ${f(result.floorDetachMs)} |`);
  console.log(`\nattach / floor: ${(result.attachMs.median / result.floorAttachMs.median).toFixed(2)}×, detach / floor: ${(result.detachMs.median / result.floorDetachMs.median).toFixed(2)}×`);
}
