/**
 * Block cache with a byte budget, replacement by second chance (CLOCK): a hit only marks the
 * entry used (one Map lookup, no reordering); eviction takes entries in insertion order and
 * gives a used one another round at the back instead of evicting it. Keys are numbers
 * file * 2^20 + block.
 * The budget also covers what open segments pin in memory (bloom filters and sparse indexes,
 * `pin`/`unpin`): blocks get what is left, so the cache and the segments' in-memory parts
 * together stay within the configured budget.
 */
import { PointIndex } from './pointindex.ts';

export interface Sized {
  readonly bytes: number;
  /**
   * The cache's second-chance mark, kept on the value itself: the map holds the values directly,
   * so a hit reads no entry object between the map and the block (one dependent memory access
   * fewer on a random point read). A value is cached under one key at a time.
   */
  cacheUsed?: boolean;
  /** The value's bytes (a block's), kept in the cache's data tables (`tablesOf(...).data`) beside the value. */
  readonly data?: Uint8Array;
}

/** Cache keys are file * blocksPerFileMax + block index. */
export const blocksPerFileMax = 1 << 20;

/**
 * One file's tables (`BlockCache.tablesOf`): by block index, the cached
 * block, its bytes and its second-chance mark from `touchSlot` (1: used since its turn, besides
 * the value's own `cacheUsed`: such a hit writes a byte of a small array instead of the block
 * object, a cache miss of its own on a random get; cleared with its slot).
 */
export interface FileTables<V> {
  readonly values: (V | undefined)[];
  readonly data: (Uint8Array | undefined)[];
  readonly used: Uint8Array;
}

export class BlockCache<V extends Sized> {
  /** Where the cached blocks of its segments hold their keys (`PointIndex`), charged to the budget once made. */
  readonly points: PointIndex;
  private readonly map = new Map<number, V>();
  /**
   * Per file (by its first key, file * blocksPerFileMax), the cached blocks by block index, kept
   * equal to the map's entries of that file (`table`): a point probe of an open segment reads one
   * array slot instead of a Map lookup (hashing the key, a bucket, the entry: the documents bench's
   * 100k first-read gets, p50 ~0.2 us less, profile-gets-ab at load 8); with each block's bytes and
   * second-chance marks beside it (`FileTables`).
   */
  private readonly tables = new Map<number, FileTables<V>>();
  /** Bytes of cached blocks. */
  bytes = 0;
  /** Bytes pinned by open segments (filters and indexes), charged to the same budget. */
  pinned = 0;
  hits = 0;
  misses = 0;
  readonly budgetBytes: number;
  /**
   * Keys of blocks a point read missed once and read without caching (`admit`), oldest first, at
   * most `ghostRing.length`: a second miss within that window caches the block.
   */
  private readonly ghosts = new Map<number, number>();
  /**
   * The ghost keys in the order they came (a ring; `ghosts` maps a key to its slot):
   * the oldest is dropped by its slot. Taking the first key of the Set itself cost ~6 µs per
   * admission once it was full: a Map or Set keeps deleted entries in place until it rehashes,
   * and its iterator walks over them, so a queue kept in insertion order walks more of them with
   * every deletion at its front.
   */
  private readonly ghostRing: Float64Array;
  private ghostNext = 0;
  /**
   * The cached keys in queue order (CLOCK), as a ring of keys and their values, for the same
   * reason (`map.entries().next()` cost ~6 µs per eviction at 8,000 blocks): an entry whose value
   * is no longer cached under its key (dropped, or replaced by a later `set`) is skipped.
   */
  private qKeys = new Float64Array(1024);
  private qVals: (V | undefined)[] = new Array<V | undefined>(1024);
  private qHead = 0;
  private qLen = 0;
  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes;
    this.points = new PointIndex(budgetBytes);
    // about as many keys as the budget holds 8 KiB blocks (limits.blockSizeBytesTarget): a block
    // read again within that many misses is cached; one read twice by chance among random reads
    // over data many times the cache less often. Twice as many admitted ~1 in 4 of the random
    // misses at 1,000,000 documents (66,000 blocks, 64 MiB cache), each a fresh 8 KiB buffer
    // (zeroed memory, page faults) evicting a block just as likely to be read
    this.ghostRing = new Float64Array(Math.max(1024, Math.floor(budgetBytes / 8192))).fill(-1);
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
    const ring = this.ghostRing;
    const at = this.ghostNext;
    const old = ring[at]!;
    if (old >= 0 && g.get(old) === at) g.delete(old);
    ring[at] = key;
    g.set(key, at);
    this.ghostNext = at + 1 === ring.length ? 0 : at + 1;
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

  /**
   * The tables of the blocks of the file whose keys start at `base` (file * blocksPerFileMax) and
   * that has `blocks` blocks (made at the first ask, from the map), until `dropFile`:
   * - `values`: slot i holds the block cached under base + i, else undefined. A hit read from it
   *   is counted and marked with `touch` or `touchSlot`.
   * - `data`: slot i holds the `data` of the block in `values`' slot i: a point probe that knows
   *   where its entry is (the point index) reads the block's bytes through one array slot and the
   *   typed array, not through the block object first (one dependent memory access fewer on a
   *   random read).
   * - `used`: the marks `touchSlot` sets.
   */
  tablesOf(base: number, blocks: number): FileTables<V> {
    let f = this.tables.get(base);
    if (f === undefined) {
      f = { values: new Array<V | undefined>(blocks).fill(undefined), data: new Array<Uint8Array | undefined>(blocks).fill(undefined), used: new Uint8Array(blocks) };
      for (const [k, v] of this.map) {
        if (k >= base && k < base + blocks) {
          f.values[k - base] = v;
          f.data[k - base] = v.data;
        }
      }
      this.tables.set(base, f);
    }
    return f;
  }

  /** A hit on `v`, read from a `tablesOf(...).values`: counted and marked used, as `peek` does. */
  touch(v: V): void {
    this.hits++;
    v.cacheUsed = true;
  }

  /**
   * A hit on the block in slot i of the tables whose `used` is `used` (the caller read it, or its
   * `data` slot, there): counted and marked used, as `touch`, without the block.
   */
  touchSlot(used: Uint8Array, i: number): void {
    this.hits++;
    used[i] = 1;
  }

  /** Whether the value cached under `key` was marked used through `touchSlot`; clears the mark. */
  private takeSlotMark(key: number): boolean {
    const i = key % blocksPerFileMax;
    const u = this.tables.get(key - i)?.used;
    if (u === undefined || i >= u.length || u[i] === 0) return false;
    u[i] = 0;
    return true;
  }

  /** Keeps the table of key's file (if any) equal to the map at key: v, or undefined when dropped. */
  private tableSet(key: number, v: V | undefined): void {
    const i = key % blocksPerFileMax;
    const f = this.tables.get(key - i);
    if (f !== undefined && i < f.values.length) {
      f.values[i] = v;
      f.data[i] = v?.data;
      f.used[i] = 0;
    }
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
    this.tableSet(key, v);
    this.push(key, v);
    this.bytes += v.bytes;
    this.evict();
  }

  /** Appends (key, v) to the queue, growing it (or compacting away skipped entries) when full. */
  private push(key: number, v: V): void {
    let cap = this.qKeys.length;
    if (this.qLen === cap) {
      const live = this.map.size;
      const keys = new Float64Array(live * 2 > cap ? cap * 2 : cap);
      const vals = new Array<V | undefined>(keys.length);
      let n = 0;
      for (let i = 0; i < this.qLen; i++) {
        const j = (this.qHead + i) % cap;
        const qv = this.qVals[j];
        if (qv === undefined || this.map.get(this.qKeys[j]!) !== qv) continue;
        keys[n] = this.qKeys[j]!;
        vals[n++] = qv;
      }
      this.qKeys = keys;
      this.qVals = vals;
      this.qHead = 0;
      this.qLen = n;
      cap = keys.length;
    }
    const at = (this.qHead + this.qLen) % cap;
    this.qKeys[at] = key;
    this.qVals[at] = v;
    this.qLen++;
  }

  private evict(): void {
    const map = this.map;
    while (this.bytes > 0 && this.bytes + this.pinned > this.budgetBytes && this.qLen > 0) {
      const h = this.qHead;
      const k = this.qKeys[h]!;
      const v = this.qVals[h];
      this.qVals[h] = undefined;
      this.qHead = h + 1 === this.qKeys.length ? 0 : h + 1;
      this.qLen--;
      if (v === undefined || map.get(k) !== v) continue;
      // (both marks taken: a slot mark is cleared even when the value's own decides)
      const slotUsed = this.takeSlotMark(k);
      if (v.cacheUsed === true || slotUsed) {
        // second chance: back of the queue, unmarked
        v.cacheUsed = false;
        this.push(k, v);
        continue;
      }
      map.delete(k);
      this.tableSet(k, undefined);
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
    // a segment of the file still open keeps its table: emptied, not only forgotten
    const f = this.tables.get(file * blocksPerFileMax);
    if (f !== undefined) {
      f.values.fill(undefined);
      f.data.fill(undefined);
      this.tables.delete(file * blocksPerFileMax);
    }
    for (const [k, v] of this.map) {
      if (Math.floor(k / blocksPerFileMax) === file) {
        this.map.delete(k);
        this.bytes -= v.bytes;
      }
    }
    // the queue lets go of them too (they would stay reachable until their turn came)
    const cap = this.qKeys.length;
    for (let i = 0; i < this.qLen; i++) {
      const j = (this.qHead + i) % cap;
      if (Math.floor(this.qKeys[j]! / blocksPerFileMax) === file) this.qVals[j] = undefined;
    }
  }
}
