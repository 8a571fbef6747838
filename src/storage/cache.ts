/**
 * LRU block cache with a byte budget. Keys are numbers file * 2^20 + block; Map order is recency.
 * The budget also covers what open segments pin in memory (bloom filters and sparse indexes,
 * `pin`/`unpin`): blocks get what is left, so the cache and the segments' in-memory parts
 * together stay within the configured budget.
 */

export interface Sized {
  readonly bytes: number;
}

/** Cache keys are file * blocksPerFileMax + block index. */
export const blocksPerFileMax = 1 << 20;

export class BlockCache<V extends Sized> {
  private readonly map = new Map<number, V>();
  /** Bytes of cached blocks. */
  bytes = 0;
  /** Bytes pinned by open segments (filters and indexes), charged to the same budget. */
  pinned = 0;
  hits = 0;
  misses = 0;
  readonly budgetBytes: number;
  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes;
  }

  get(key: number): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: number, v: V): void {
    if (v.bytes + this.pinned > this.budgetBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, v);
    this.bytes += v.bytes;
    this.evict();
  }

  private evict(): void {
    while (this.bytes > 0 && this.bytes + this.pinned > this.budgetBytes) {
      const first = this.map.keys().next();
      if (first.done) break;
      const ev = this.map.get(first.value)!;
      this.map.delete(first.value);
      this.bytes -= ev.bytes;
    }
  }

  /** Charges `n` bytes held outside the cache (an opened segment's filter and index). */
  pin(n: number): void {
    this.pinned += n;
    this.evict();
  }

  unpin(n: number): void {
    this.pinned = Math.max(0, this.pinned - n);
  }

  /** Drops every block of one file (after the file is deleted). */
  dropFile(file: number): void {
    for (const [k, v] of this.map) {
      if (Math.floor(k / blocksPerFileMax) === file) {
        this.map.delete(k);
        this.bytes -= v.bytes;
      }
    }
  }
}
