/**
 * Where cached blocks hold their keys: a lossy hash table from (segment file, key hash) to the
 * block index and the entry offset of the key's newest version in that segment, shared by the
 * segments of one block cache. A point probe of a cached block otherwise walks a chain of
 * dependent memory reads (the sparse index search, the block object, its search column, the
 * entry): on a random read each is a cache miss. The table answers with one read of a 32-byte
 * bucket; the probe then reads the block from the cache's table and the entry, and checks the
 * key there, so a wrong or stale hint (the block was evicted, another key took the slot, a hash
 * collision) costs a miss of the table and the usual search, never a wrong answer.
 *
 * Nothing is removed: an entry outlives its block's eviction (it is right again when the block
 * comes back: a block's bytes, so its entry offsets, never change) and its segment (file numbers
 * are not reused). Buckets hold four slots (64 bytes), the newest first; a put into a full bucket
 * drops the oldest. (With two slots per 32-byte bucket, the same table lost the hints of ~7% of a
 * 100k store's keys to full buckets, each such point read then searching its segments; with four, ~2%.)
 */

/**
 * Ints per slot (tag, ~file, block, entry offset) and per bucket (four slots). The file is stored
 * complemented so that the all-zero table is empty (file -1): it is made with `new Int32Array`,
 * whose zeroed pages the system maps at their first touch, instead of filled (a 32 MiB fill(-1)
 * touched every page up front: ~15 ms of the documents bench's first get after a cold open).
 */
const slotInts = 4;
const bucketSlots = 4;
const bucketInts = slotInts * bucketSlots;

/**
 * Budget bytes per slot: the table takes at most 1/16 of the block cache budget, up to `slotsMax`
 * slots (32 MiB); a budget too small for `slotsMin` slots gets no table.
 */
const budgetBytesPerSlot = 256;
const slotsMin = 32;
const slotsMax = 1 << 21;

export class PointIndex {
  private slots: Int32Array | undefined;
  private mask = 0;
  /** Where the last successful `find` points: block index and entry offset in the block's data. */
  block = 0;
  off = 0;
  /** Slots of the table once made (it is made at the first `put`). */
  readonly capacity: number;

  constructor(budgetBytes: number) {
    let n = 0;
    if (budgetBytes >= slotsMin * budgetBytesPerSlot) {
      n = slotsMin;
      while (n < slotsMax && n * 2 * budgetBytesPerSlot <= budgetBytes) n *= 2;
    }
    this.capacity = n;
  }

  /** Bytes the table takes once made. */
  get tableBytes(): number {
    return this.capacity * slotInts * 4;
  }

  /** Whether the table exists (`put` made it). */
  get made(): boolean {
    return this.slots !== undefined;
  }

  /** The slot tag of a key hash in a file (never -1: an empty slot's file is -1, a real one's never is). */
  private static tag(hash: number, file: number): number {
    let t = hash ^ Math.imul(file, 0x9e3779b1);
    t = Math.imul(t ^ (t >>> 15), 0x85ebca6b);
    return t ^ (t >>> 13);
  }

  /**
   * Where a key's bucket starts: by its hash alone, so that a lookup that asks several segments
   * for one key reads one bucket (the first ask brings it into the CPU cache for the others).
   */
  private static bucket(hash: number, mask: number): number {
    return (Math.imul(hash ^ (hash >>> 16), 0x7feb352d) >>> 15 & mask) * bucketInts;
  }

  /**
   * True when the table has a hint for key hash `hash` in file `file`: then `block` and `off` say
   * where (a hint: the caller checks the key there).
   */
  find(hash: number, file: number): boolean {
    const s = this.slots;
    if (s === undefined) return false;
    const t = PointIndex.tag(hash, file);
    const at = PointIndex.bucket(hash, this.mask);
    const f = ~file;
    for (let i = at; i < at + bucketInts; i += slotInts) {
      if (s[i] === t && s[i + 1] === f) {
        this.block = s[i + 2]!;
        this.off = s[i + 3]!;
        return true;
      }
    }
    return false;
  }

  /**
   * Words of key hash `hash`'s bucket (0 without a table): reads that bring the bucket's lines
   * into the CPU cache (its 64 bytes may span two: the table's alignment is the allocator's).
   */
  touch(hash: number): number {
    const s = this.slots;
    if (s === undefined) return 0;
    const at = PointIndex.bucket(hash, this.mask);
    return s[at]! ^ s[at + bucketInts - 1]!;
  }

  /**
   * Records that block `block` of file `file` holds the newest version of the key whose hash is
   * `hash`, at entry offset `off`. Returns the bytes the table took when this put made it, else 0.
   */
  put(hash: number, file: number, block: number, off: number): number {
    if (this.capacity === 0) return 0;
    const made = this.make();
    this.putAt(this.slots!, PointIndex.bucket(hash, this.mask), PointIndex.tag(hash, file), file, block, off);
    return made;
  }

  /**
   * `put` of the first `n` keys whose hashes are `hashes[0, n)` and entry offsets `offs[0, n)`, all
   * in block `block` of file `file` (a block's keys). Their buckets are read first, in a loop of
   * their own: random lines of a table of megabytes, each a cache miss, and a loop that does little
   * else per key has many of them in flight at once, where one put after another waited for each.
   */
  putMany(hashes: Int32Array, offs: Int32Array, n: number, file: number, block: number): number {
    if (this.capacity === 0) return 0;
    const made = this.make();
    const s = this.slots!;
    const mask = this.mask;
    let x = 0;
    for (let j = 0; j < n; j++) {
      const at = PointIndex.bucket(hashes[j]!, mask);
      x ^= s[at]! ^ s[at + bucketInts - 1]!;
    }
    this.touched ^= x;
    for (let j = 0; j < n; j++) {
      const h = hashes[j]!;
      this.putAt(s, PointIndex.bucket(h, mask), PointIndex.tag(h, file), file, block, offs[j]!);
    }
    return made;
  }

  /** What the bucket reads of `putMany` read (a use, so that the loads stay). */
  private touched = 0;

  /** Makes the table unless made; the bytes it took, or 0. */
  private make(): number {
    if (this.slots !== undefined) return 0;
    this.slots = new Int32Array(this.capacity * slotInts);
    this.mask = this.capacity / bucketSlots - 1;
    return this.tableBytes;
  }

  /** Puts the slot (tag t, file, block, off) first in the bucket at `at`. */
  private putAt(s: Int32Array, at: number, t: number, file: number, block: number, off: number): void {
    const f = ~file;
    if (!(s[at] === t && s[at + 1] === f)) {
      // the newest first: the slots before this key's own (or all but the last, dropped) move down one
      let end = at + bucketInts - slotInts;
      for (let i = at + slotInts; i < end; i += slotInts) {
        if (s[i] === t && s[i + 1] === f) {
          end = i;
          break;
        }
      }
      for (let i = end - 1; i >= at; i--) s[i + slotInts] = s[i]!;
      s[at] = t;
      s[at + 1] = f;
    }
    s[at + 2] = block;
    s[at + 3] = off;
  }
}
