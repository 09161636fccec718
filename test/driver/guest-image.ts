/**
 * The test guest (Debian kernel + busybox initramfs, test/fixtures/guest), built once and cached
 * in .cache/guest: what the driver tests that boot a real Linux guest share.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../domainxml/helpers.js';

export interface GuestImage { kernel: string; initrd: string; cmdlineBase: string }
type BuildGuest = (opts: { cacheDir?: string }) => Promise<GuestImage>;

const builder = pathToFileURL(join(projectRoot, 'test', 'fixtures', 'guest', 'build-guest.mjs')).href;

export async function guestImage(): Promise<GuestImage> {
  const { buildGuest } = (await import(builder)) as { buildGuest: BuildGuest };
  return buildGuest({ cacheDir: join(projectRoot, '.cache', 'guest') });
}
