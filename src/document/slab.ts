/**
 * Short-lived byte strings as views into a shared slab instead of arrays of their own: a small
 * ArrayBuffer costs its object, its malloc'd and zeroed backing store and its release after GC.
 * Nothing writes into a slab's used part again, so a view stays valid; a slab lives while any view
 * of it does. For bytes held only briefly (a write's staged keys and values): whoever keeps them
 * longer copies them.
 */
export class ByteSlab {
  private readonly slabBytes: number;
  private slab: Uint8Array;
  private pos = 0;

  constructor(slabBytes: number) {
    this.slabBytes = slabBytes;
    this.slab = new Uint8Array(slabBytes);
  }

  /**
   * A view holding a copy of src[0, n); n + room is at most the slab size. With `room`, the
   * `room` bytes right before the view are reserved too: the caller's to fill later (the one
   * exception to "nothing writes into the used part": no view but the caller's covers them).
   */
  copy(src: Uint8Array, n: number, room = 0): Uint8Array {
    const s = this.reserve(room + n);
    const at = this.pos + room;
    // a short copy is cheaper as a loop than as a subarray + set
    if (n <= 64) for (let i = 0; i < n; i++) s[at + i] = src[i]!;
    else s.set(src.subarray(0, n), at);
    this.pos = at + n;
    return s.subarray(at, at + n);
  }

  /** The current slab, for a caller that writes its bytes in place from `freeAt()` on (then `claim`). */
  current(): Uint8Array {
    return this.slab;
  }

  /** The first free byte of `current()`. */
  freeAt(): number {
    return this.pos;
  }

  /**
   * Marks `current()` used up to `end` (the caller wrote its bytes in place, at `at` after the
   * room it reserved from `freeAt()`); returns the view of [at, end). Bytes past the used part
   * that a caller wrote and did not claim are overwritten by the next `copy` or in-place writer.
   */
  claim(at: number, end: number): Uint8Array {
    this.pos = end;
    return this.slab.subarray(at, end);
  }

  /** A view of `n` fresh bytes (zeros: never written before; not on a slab written in place) for the caller to fill; n is at most the slab size. */
  take(n: number): Uint8Array {
    const s = this.reserve(n);
    const at = this.pos;
    this.pos = at + n;
    return s.subarray(at, at + n);
  }

  /** The slab with `n` free bytes at `pos` (a new one when the current one has not). */
  private reserve(n: number): Uint8Array {
    if (this.pos + n > this.slab.length) {
      this.slab = new Uint8Array(this.slabBytes);
      this.pos = 0;
    }
    return this.slab;
  }
}
