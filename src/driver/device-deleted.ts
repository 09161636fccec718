/**
 * The end of an unplug: QEMU's DEVICE_DELETED for a device id, awaited with a deadline (a guest
 * that never acknowledges an unplug never sends it).
 */
import type { QmpClient, QmpEvent } from '../emulator/qmp.js';

/** Resolves true when QEMU reports the device deleted, false after `timeoutMs`, an abort or cancel(). */
export function deviceDeleted(qmp: QmpClient, id: string, timeoutMs: number, signal?: AbortSignal): { done: Promise<boolean>; cancel: () => void } {
  let cancel = (): void => {};
  const done = new Promise<boolean>((resolve) => {
    const onEvent = (ev: QmpEvent): void => {
      if (ev.event === 'DEVICE_DELETED' && (ev.data as { device?: string }).device === id) finish(true);
    };
    const onAbort = (): void => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (v: boolean): void => {
      clearTimeout(timer);
      qmp.off('event', onEvent);
      qmp.off('close', onAbort);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    cancel = () => finish(false);
    qmp.on('event', onEvent);
    qmp.on('close', onAbort);
    signal?.addEventListener('abort', onAbort);
    if (signal?.aborted) finish(false);
  });
  return { done, cancel };
}
