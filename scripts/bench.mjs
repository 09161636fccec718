// `npm run bench`: builds, then runs every benchmark in bench/ and prints
// their markdown reports (copy them into docs/benchmarks.md).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAll, root } from './ensure-deps.mjs';

ensureAll();
let failed = 0;
for (const f of readdirSync(join(root, 'bench')).filter((x) => x.endsWith('.mjs') && x !== 'lib.mjs').sort()) {
  process.stdout.write(`\n<!-- bench/${f} -->\n`);
  const r = spawnSync(process.execPath, [join(root, 'bench', f), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
