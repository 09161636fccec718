/**
 * The log keeper's program: `node main.js --socket PATH`. Started by the daemon (client.ts) in a
 * session of its own, so it outlives the daemon; says `ready` on stdout once it listens (or once
 * it found another keeper answering there, which then serves instead) and never writes again.
 */
import * as fs from 'node:fs';
import net from 'node:net';
import { LogKeeper } from './keeper.js';

const args = process.argv.slice(2);
const socketPath = args[args.indexOf('--socket') + 1];
if (args.indexOf('--socket') < 0 || !socketPath) {
  process.stderr.write('usage: mpvirt-logd --socket PATH\n');
  process.exit(2);
}
process.title = `mpvirt-logd ${socketPath}`; // in ps: which state directory it serves
process.chdir('/'); // never keeps a test's or a removed directory busy

const ready = (): void => {
  try {
    fs.writeSync(1, 'ready\n');
    fs.closeSync(1); // the daemon's end goes away with it; nothing is written here again
  } catch {
    // the daemon that started us is gone: we serve whoever comes next
  }
};

/** true when another keeper answers at the path (then it serves, and this one is not needed) */
function answered(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

if (await answered(socketPath)) {
  ready();
  process.exit(0);
}
try {
  fs.unlinkSync(socketPath); // a dead keeper's socket
} catch {
  /* none */
}
const keeper = new LogKeeper(socketPath, () => process.exit(0));
try {
  await keeper.listen();
} catch (e) {
  process.stderr.write(`mpvirt-logd: cannot listen on ${socketPath}: ${(e as Error).message}\n`);
  process.exit(1);
}
ready();
