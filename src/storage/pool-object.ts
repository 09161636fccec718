/**
 * One storage pool: its definitions (the running one and, while it runs, a newer persistent one),
 * its state, its volumes as the last refresh found them, and a queue that serializes everything
 * that changes it (libvirt holds the pool object's lock across a call; a slow volume build here
 * does not block other pools). States: inactive → active (start/create) → inactive (destroy);
 * a transient pool exists only while active.
 */
import type { PoolSizes, StoragePoolDef } from './pool-xml.js';
import type { StorageVolDef } from './vol-xml.js';

/** virStoragePoolState */
export const POOL_STATE = { INACTIVE: 0, BUILDING: 1, RUNNING: 2, DEGRADED: 3, INACCESSIBLE: 4 } as const;

const ZERO: PoolSizes = { capacity: 0n, allocation: 0n, available: 0n };

export class PoolObject {
  /** the definition in effect (the running one while active) */
  def: StoragePoolDef;
  /** define while active: the persistent definition that takes effect at the next destroy */
  newDef: StoragePoolDef | undefined;
  persistent: boolean;
  active = false;
  /** between a start's beginning and its first refresh */
  starting = false;
  autostart = false;
  sizes: PoolSizes = ZERO;
  readonly volumes = new Map<string, StorageVolDef>();
  /** volumes being created */
  readonly building = new Set<string>();
  /** volumes being copied from (create-from): they cannot be deleted meanwhile */
  readonly copying = new Set<string>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(def: StoragePoolDef, persistent: boolean) {
    this.def = def;
    this.persistent = persistent;
  }

  /** a volume is being built or copied: the pool cannot be stopped, refreshed or undefined (libvirt's asyncjobs) */
  get busy(): boolean {
    return this.building.size > 0 || this.copying.size > 0;
  }

  get name(): string {
    return this.def.name;
  }

  get uuid(): string {
    return this.def.uuid;
  }

  /** The persistent definition (`pool-dumpxml --inactive`). */
  get inactiveDef(): StoragePoolDef {
    return this.newDef ?? this.def;
  }

  /** Runs `fn` after every earlier job of this pool; a failed job does not stop the queue. */
  job<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** What was found at the last refresh is gone once the pool stops. */
  clear(): void {
    this.volumes.clear();
    this.sizes = ZERO;
  }
}
