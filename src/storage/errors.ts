/** libvirt's virReportSystemError for the storage layer: what failed, then the errno's text. */
import { MpvirtError } from '../errors.js';
import { strerror } from './libc.js';

export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.errno === 'number' && err.errno !== 0) return strerror(err.errno);
  return err instanceof Error ? err.message : String(e);
}

export function sysError(what: string, cause: unknown): MpvirtError {
  return new MpvirtError('VIR_ERR_SYSTEM_ERROR', `${what}: ${errnoText(cause)}`, { cause });
}
