// The main job (`npm run demo`): boots the demo guest with its disk in a
// remote QEMU process. Installs what it needs first.
import { ensureAll } from './ensure-deps.mjs';

ensureAll();
process.stderr.write(
  'mpvirt demo: not available yet — booting the demo guest needs the launch plan and the\n' +
    'managed start path (issues 3 and 4). The domain XML layer is in place: npm test shows it.\n',
);
process.exit(2);
