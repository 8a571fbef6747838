/**
 * Block cache with a byte budget, replacement by second chance (CLOCK): a hit only marks the
 * entry used (one Map lookup, no reordering); eviction takes entries in insertion order and
 * gives a used one another round at the back instead of evicting it. Keys are numbers
 * file * 2^20 + block.
 * The budget also covers what open segments pin in memory (bloom filters and sparse indexes,
 * `pin`/`unpin`): blocks get what is left, so the cache and the segments' in-memory parts
 * together stay within the configured budget.
 */

export interface Sized {
  readonly bytes: number;
  /**
   * The cache's second-chance mark, kept on the value itself: the map holds the values directly,
   * so a hit reads no entry object between the map and the block (one dependent memory access
   * fewer on a random point read). A value is cached under one key at a time.
   */
  cacheUsed?: boolean;
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
  /**
   * Keys of blocks a point read missed once and read without caching (`admit`), oldest first, at
   * most `ghostsMax`: a second miss within that window caches the block.
   */
  private readonly ghosts = new Set<number>();
  private readonly ghostsMax: number;
  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes;
    // about twice the 8 KiB blocks (limits.blockSizeBytesTarget) the budget holds
    this.ghostsMax = Math.max(1024, Math.floor(budgetBytes / 4096));
  }

  /**
   * Admission of a block a point read misses: true when the cache has room for its ~`bytes` (caching
   * it evicts nothing) or it was missed recently (cache it), else false, remembering the key (read
   * it without caching). Random point reads over data much larger than the cache then do not evict
   * blocks that are read again for a block read once.
   */
  admit(key: number, bytes = 0): boolean {
    if (this.bytes + this.pinned + bytes <= this.budgetBytes) return true;
    const g = this.ghosts;
    if (g.delete(key)) return true;
    g.add(key);
    if (g.size > this.ghostsMax) g.delete(g.values().next().value as number);
    return false;
  }

  /** Bytes the budget has left (blocks cached within it evict nothing). */
  room(): number {
    return this.budgetBytes - this.bytes - this.pinned;
  }

  get(key: number): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    v.cacheUsed = true;
    return v;
  }

  /** `get` for a probe that falls back to `get` on a miss: a miss is not counted here. */
  peek(key: number): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.hits++;
    v.cacheUsed = true;
    return v;
  }

  /** Whether `key` is cached (no hit counted, no mark). */
  has(key: number): boolean {
    return this.map.has(key);
  }

  set(key: number, v: V): void {
    if (v.bytes + this.pinned > this.budgetBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.map.delete(key);
    }
    v.cacheUsed = false;
    this.map.set(key, v);
    this.bytes += v.bytes;
    this.evict();
  }

  private evict(): void {
    const map = this.map;
    while (this.bytes > 0 && this.bytes + this.pinned > this.budgetBytes) {
      const first = map.entries().next();
      if (first.done) break;
      const [k, v] = first.value;
      map.delete(k);
      if (v.cacheUsed === true) {
        // second chance: back of the queue, unmarked
        v.cacheUsed = false;
        map.set(k, v);
        continue;
      }
      this.bytes -= v.bytes;
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
