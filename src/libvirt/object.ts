/**
 * Ownership of libvirt object references. Each wrapper owns exactly one reference (from a lookup,
 * a define, a list, or virXxxRef) and gives it back exactly once: on free() / [Symbol.dispose](),
 * or, if the caller forgot, when the wrapper is garbage collected (FinalizationRegistry). The
 * deterministic path is the contract; the registry only keeps a forgotten object from leaking.
 */
import { BindingError } from './errors.js';
import type { Ptr } from './ffi.js';

interface Held {
  ptr: Ptr;
  release: (p: Ptr) => unknown;
}

/** Counts of references released, by path: a leak test compares them with what it created. */
export const releaseCounts = { explicit: 0, finalizer: 0 };

const registry = new FinalizationRegistry<Held>((h) => {
  releaseCounts.finalizer++;
  h.release(h.ptr);
});

export abstract class LibvirtObject implements Disposable {
  #ptr: Ptr | null;
  readonly #release: (p: Ptr) => unknown;
  readonly #kind: string;

  protected constructor(ptr: Ptr, release: (p: Ptr) => unknown, kind: string) {
    this.#ptr = ptr;
    this.#release = release;
    this.#kind = kind;
    registry.register(this, { ptr, release }, this);
  }

  /** The live pointer; throws ERR_LIBVIRT_FREED after free(). */
  protected get ptr(): Ptr {
    if (this.#ptr === null) throw new BindingError('ERR_LIBVIRT_FREED', `${this.#kind} used after free()`);
    return this.#ptr;
  }

  /**
   * The raw pointer, for the binding's own modules (a domain's connection, a stream's domain).
   * @internal
   */
  static pointerOf(o: LibvirtObject): Ptr {
    return o.ptr;
  }

  /** True once free() has released the reference. */
  get freed(): boolean {
    return this.#ptr === null;
  }

  /** Release this reference now (idempotent). Other wrappers of the same libvirt object stay valid. */
  free(): void {
    const p = this.#ptr;
    if (p === null) return;
    this.#ptr = null;
    registry.unregister(this);
    releaseCounts.explicit++;
    this.#release(p);
  }

  [Symbol.dispose](): void {
    this.free();
  }
}
