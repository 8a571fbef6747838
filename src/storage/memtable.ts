/**
 * The memtable: a skiplist (p = 1/4, 12 levels) kept entirely in typed-array columns, so an
 * insert allocates no JS objects. Nodes and versions are integer indices; keys and values are
 * byte ranges of the record buffers they arrived in (registered once per batch with
 * `addBuffer`). Record buffers up to a quarter of the full chunk size are copied into chunks
 * that start small (a small memtable stays small) and double up to the full size (1 MiB, or
 * 1/16 of a pool's memtable budget); larger ones are kept as they are. So a memtable of small writes does not hold one ArrayBuffer (and its few hundred bytes of
 * engine bookkeeping) per write, and the caller's buffer is never retained. Each node holds its
 * key's versions, newest first. `bytes` is the real cost: chunks and kept buffers as allocated
 * plus the columns' capacity (beyond the ~230 KB of columns every empty memtable starts with, see freshColumns).
 *
 * Ordering is lazy: `put` of a new key appends its node (found at once through the hash index)
 * without linking it into the skiplist; the first ordered access after puts (`first`, `last`,
 * `next`, `prevOf`, the seeks) links the pending nodes (`settle`): they are sorted together (a
 * radix quicksort on 4-byte windows of the keys, in dense scratch arrays) and then either linked
 * one by one (few pending nodes: a descent each, as an eager insert would cost) or merged with
 * the linked list in one pass that relinks every level (many: O(linked + pending)). A write load
 * with no ordered reads in between (a bulk load) thus sorts each memtable about once, at flush,
 * instead of paying a skiplist descent per key with a cache miss per node visited.
 *
 * With a `MemtablePool`, a memtable that nobody reads any more (`recycle`, called by the engine
 * once it is flushed and no version holds it) hands its full-size chunks and its columns on to
 * later memtables: a store under a steady write load then reuses the same few tens of MB instead
 * of leaving every flushed memtable's buffers to the garbage collector, which frees them late
 * (and whose allocator keeps freed memory resident).
 * Single-threaded JS: iteration is safe during inserts (the next step links them first); nodes
 * are never removed.
 */
import { hashKey32 } from './bloom.ts';
import { compareAt } from './codec.ts';

const levelMax = 12;
/** Size of the largest chunks (the ones a pool hands on) at most; a pool's are 1/16 of its memtable budget or less. */
export const memtableChunkBytes = 1 << 20;
/** Approximate engine bookkeeping per retained ArrayBuffer (JS object, backing store, malloc header). */
const bufferOverheadBytes = 256;
/** Node / version index meaning "none". */
export const NIL = -1;
/** Fields of a node record in `nr` (at the node's id): key buffer, key offset, key length, newest version, level, then its links. */
const NB = 0;
const NO = 1;
const NL = 2;
const NN = 3;
const NV = 4;
const NK = 5;

/**
 * Capacities of a fresh memtable's columns (one that finds neither recycled columns nor remembered
 * sizes in its pool: a fresh store's first, or one without a pool): node records (int32s), versions,
 * registered buffers, hash slots (a power of two; the index doubles to stay at most half full).
 * Room for ~2,500 keys: a fresh store's first thousand or so small writes (the documents bench's
 * 300 sequential and 300 concurrent inserts, 4 keys each) grow no column. They started at 256 /
 * 16 / 16 / 64, and growing them by doubling (a copy and a rehash each time, in code that still
 * runs unoptimized in a fresh process) was ~6% of the main thread's samples in those inserts. The
 * ~230 KB are allocated zeroed and untouched: the OS maps their pages when first written.
 */
const freshNodeInts = 16384;
const freshVersions = 4096;
const freshBuffers = 1024;
const freshHashSlots = 8192;

/**
 * The fresh capacities for a memtable of `pool` (null: none), halved while their bytes pass an
 * eighth of the pool's memtable budget (a store with a small budget: its memtables stay small, and
 * recycled columns fit its pool); `bytes`, their size, is not counted in a memtable's `bytes`.
 */
function freshColumns(pool: MemtablePool | null): { nodes: number; versions: number; buffers: number; slots: number; bytes: number } {
  let shift = 0;
  const size = (sh: number): number => (freshNodeInts >> sh) * 4 + (freshVersions >> sh) * (8 + 4 * 4) + (freshBuffers >> sh) * 2 * 4 + (freshHashSlots >> sh) * 8;
  if (pool !== null) while (shift < 6 && size(shift) * 8 > pool.capBytes) shift++;
  return { nodes: freshNodeInts >> shift, versions: freshVersions >> shift, buffers: freshBuffers >> shift, slots: freshHashSlots >> shift, bytes: size(shift) };
}

interface Columns {
  nr: Int32Array<ArrayBuffer>;
  vSeq: Float64Array<ArrayBuffer>;
  vBuf: Int32Array<ArrayBuffer>;
  vOff: Int32Array<ArrayBuffer>;
  vLen: Int32Array<ArrayBuffer>;
  vOlder: Int32Array<ArrayBuffer>;
  bufChunk: Int32Array<ArrayBuffer>;
  bufBase: Int32Array<ArrayBuffer>;
  ht: Int32Array<ArrayBuffer>;
}

function columnBytes(c: Columns): number {
  return c.nr.byteLength + c.vSeq.byteLength + c.vBuf.byteLength + c.vOff.byteLength + c.vLen.byteLength + c.vOlder.byteLength + c.bufChunk.byteLength + c.bufBase.byteLength + c.ht.byteLength;
}

/**
 * Storage that recycled memtables leave for later ones of the same store: full-size chunks and
 * their column sets, together no more than the room `recycle` is given. It never allocates: what
 * it holds was in use by memtables before.
 */
export class MemtablePool {
  /** One memtable budget (sizes the chunks). */
  readonly capBytes: number;
  /** Full chunk size of this pool's memtables: a power of two, 256 B to 1 MiB, at most capBytes / 16. */
  readonly chunkBytes: number;
  readonly chunks: Uint8Array[] = [];
  /** Column sets of recycled memtables (each memtable of a store under load has one). */
  readonly cols: Columns[] = [];
  /**
   * Column lengths of the last memtable that was full (`rememberSizes`): a memtable that finds no
   * recycled columns starts with node, version and buffer columns of these lengths instead of
   * growing them by doubling from the small default (each doubling a copy into fresh memory). The
   * hash index still grows with the count (a full-size one from the start measured slower: its
   * probes miss the cache). Holds no memory itself.
   */
  sizes: { nr: number; v: number; b: number } | undefined;
  constructor(capBytes: number) {
    this.capBytes = capBytes;
    let c = memtableChunkBytes;
    while (c > 256 && c * 16 > capBytes) c /= 2;
    this.chunkBytes = c;
  }
  /** Bytes held for later memtables. */
  get bytes(): number {
    let b = this.chunks.length * this.chunkBytes;
    for (const c of this.cols) b += columnBytes(c);
    return b;
  }
  /** Lets go of chunks (then the columns) until the pool holds at most `maxBytes`. */
  trim(maxBytes: number): void {
    while (this.chunks.length > 0 && this.bytes > maxBytes) this.chunks.pop();
    while (this.cols.length > 0 && this.bytes > maxBytes) this.cols.pop();
  }
}

/**
 * Sort scratch of `settle` (shared: settles never overlap), grown to the largest settle so far:
 * node ids, each key's 4-byte window (sign bit flipped: signed order = byte order, small integers
 * in every tier of the JIT, which a sort run a few times per memtable mostly runs in) and how many
 * of the window's bytes the key has; and as much again for `radixWindows` to scatter into.
 */
let sortIds = new Int32Array(256);
let sortWin = new Int32Array(256);
let sortRem = new Uint8Array(256);
const signBit = -0x80000000;
/** Where `radixWindows` scatters (the same length as the arrays above), and its digit counts. */
let radixIds = new Int32Array(256);
let radixWin = new Int32Array(256);
let radixRem = new Uint8Array(256);
const radixCount = new Int32Array(257);
/** Ranges `sortRange` has still to sort: (lo, hi, depth) triples. */
const sortStack: number[] = [];
/** Ranges at least this long are ordered by their windows with counting passes (`radixWindows`), shorter ones by `quick`. */
const radixMin = 64;

function swap(ids: Int32Array, i: number, j: number): void {
  const t = ids[i]!;
  ids[i] = ids[j]!;
  ids[j] = t;
  const w = sortWin[i]!;
  sortWin[i] = sortWin[j]!;
  sortWin[j] = w;
  const r = sortRem[i]!;
  sortRem[i] = sortRem[j]!;
  sortRem[j] = r;
}

/**
 * Orders sortIds/sortWin/sortRem[lo, hi) by (window, byte count): a stable counting sort per digit,
 * least significant first (the byte count, then the window's bytes from its last), each a count pass
 * and a scatter pass without compares or branches on the data; a digit all entries share costs its
 * count pass only (e.g. the bytes of a keyspace prefix). A 3-way quicksort over the same range takes
 * about log2(distinct windows) partition passes of compares and swaps.
 */
function radixWindows(lo: number, hi: number): void {
  const count = radixCount;
  for (let digit = 0; digit < 5; digit++) {
    const win = sortWin;
    const rem = sortRem;
    const shift = (digit - 1) * 8;
    count.fill(0);
    if (digit === 0) for (let i = lo; i < hi; i++) count[rem[i]!]!++;
    else for (let i = lo; i < hi; i++) count[((win[i]! ^ signBit) >>> shift) & 0xff]!++;
    let at = lo;
    let distinct = 0;
    for (let v = 0; v < 256; v++) {
      const c = count[v]!;
      if (c > 0) distinct++;
      count[v] = at;
      at += c;
    }
    if (distinct <= 1) continue;
    const ids = sortIds;
    const tIds = radixIds;
    const tWin = radixWin;
    const tRem = radixRem;
    for (let i = lo; i < hi; i++) {
      const w = win[i]!;
      const r = rem[i]!;
      const j = digit === 0 ? count[r]!++ : count[((w ^ signBit) >>> shift) & 0xff]!++;
      tIds[j] = ids[i]!;
      tWin[j] = w;
      tRem[j] = r;
    }
    ids.set(tIds.subarray(lo, hi), lo);
    win.set(tWin.subarray(lo, hi), lo);
    rem.set(tRem.subarray(lo, hi), lo);
  }
}

function grow<T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  let n = a.length * 2;
  while (n < need) n *= 2;
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

/** Unsigned compare of two byte ranges. */
export function compareRanges(a: Uint8Array, ao: number, al: number, b: Uint8Array, bo: number, bl: number): number {
  const n = al < bl ? al : bl;
  for (let i = 0; i < n; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

/** The first 4 bytes of b[o, o+n) as a big-endian u32, zero-padded: orders like the bytes (ties need a full compare). */
export function prefixAt(b: Uint8Array, o: number, n: number): number {
  return ((n > 0 ? b[o]! << 24 : 0) | (n > 1 ? b[o + 1]! << 16 : 0) | (n > 2 ? b[o + 2]! << 8 : 0) | (n > 3 ? b[o + 3]! : 0)) >>> 0;
}

export class Memtable {
  /** Bytes held: record buffers and chunks as allocated, plus the columns' capacity. */
  get bytes(): number {
    return this.bufBytes + this.colBytes;
  }
  private bufBytes = 0;
  private colBytes = 0;
  /** What a fresh memtable's columns take here (see freshColumns): not counted in `bytes`. */
  private readonly freshBytes: number;
  count = 0;
  minSeq = Infinity;
  maxSeq = 0;
  level = 1;
  /** WAL files whose records this memtable holds; removable once it is flushed. */
  walFiles: number[] = [];
  // kept by the engine: versions holding this memtable, whether it was flushed out of the current
  // version, and whether views of its bytes were handed out (iterator batches): then it is never
  // recycled, its buffers are left to the garbage collector
  refs = 0;
  retired = false;
  viewsOut = false;
  private recycled = false;

  private readonly pool: MemtablePool | null;
  /** Full chunk size; record buffers up to a quarter of it are copied. */
  private readonly chunkBytes: number;
  /** Chunks and large record buffers; node/version columns index into this. */
  private readonly bufs: Uint8Array[] = [];
  /** The full-size chunks among `bufs` (what `recycle` hands to the pool). */
  private readonly fullChunks: Uint8Array[] = [];
  /** Registered buffer i lives in bufs[bufChunk[i]] from offset bufBase[i]. */
  private bufChunk: Int32Array<ArrayBuffer>;
  private bufBase: Int32Array<ArrayBuffer>;
  private nRegistered = 0;
  /** Free space of the current chunk (bufs[chunk]) starts at chunkPos; chunk < 0: none. */
  private chunk = -1;
  private chunkPos = 0;
  // node columns (node 0 is the head), interleaved so one node's fields share a cache line:
  // node records, variable size: a node's id is its offset; its links follow its fields, so the
  // next pointer at a level shares a cache line with the key fields just compared
  private nr: Int32Array<ArrayBuffer>;
  private nrTop = NK + levelMax;
  // version columns
  private vSeq: Float64Array<ArrayBuffer>;
  private vBuf: Int32Array<ArrayBuffer>;
  private vOff: Int32Array<ArrayBuffer>;
  private vLen: Int32Array<ArrayBuffer>; // -1 = tombstone
  private vOlder: Int32Array<ArrayBuffer>;
  private versions = 0;
  /**
   * Hash index of the nodes by key, for point lookups (`find`, and `put` of a key already present)
   * without a skiplist descent: open addressing, linear probing, at most half full; slot s is
   * ht[2s] = node (0 = empty: node 0 is the head, never indexed) and ht[2s + 1] = the key's hashKey.
   */
  private ht: Int32Array<ArrayBuffer>;
  private htMask: number;
  private readonly prev = new Int32Array(levelMax);
  /**
   * The node `link` linked last (0: none, or the links were rebuilt since) and, per level, its
   * predecessor at that level (itself below its height): linking the next key in order (a run of
   * ascending keys, e.g. a change log's) starts there instead of searching from the head (see
   * `fingerSearch`).
   */
  private lastNode = 0;
  private readonly finger = new Int32Array(levelMax);
  private rnd = 0x2545f491;
  /** Nodes linked into the skiplist; the others (`count - linked`) lie from nr[linkedTop] to nrTop, in put order. */
  private linked = 0;
  private linkedTop = NK + levelMax;
  /** The empty hash slot the last missed `lookup` ended at. */
  private emptySlot = 0;

  constructor(pool: MemtablePool | null = null) {
    this.pool = pool;
    this.chunkBytes = pool?.chunkBytes ?? memtableChunkBytes;
    const fresh = freshColumns(pool);
    this.freshBytes = fresh.bytes;
    const c = pool?.cols.pop();
    if (c !== undefined) {
      // the columns of a recycled memtable: only the head's fields are read before being written
      this.nr = c.nr;
      this.vSeq = c.vSeq;
      this.vBuf = c.vBuf;
      this.vOff = c.vOff;
      this.vLen = c.vLen;
      this.vOlder = c.vOlder;
      this.bufChunk = c.bufChunk;
      this.bufBase = c.bufBase;
      this.ht = c.ht;
      this.ht.fill(0);
      this.htMask = (c.ht.length >>> 1) - 1;
    } else {
      // the lengths of the last full memtable (see MemtablePool.sizes), else the fresh ones; the
      // columns are assigned here only (field initializers would allocate fresh ones that recycled
      // columns then replace)
      const z = pool?.sizes;
      const nNodes = Math.max(z?.nr ?? 0, fresh.nodes);
      const nV = Math.max(z?.v ?? 0, fresh.versions);
      const nB = Math.max(z?.b ?? 0, fresh.buffers);
      this.nr = new Int32Array(nNodes);
      this.vSeq = new Float64Array(nV);
      this.vBuf = new Int32Array(nV);
      this.vOff = new Int32Array(nV);
      this.vLen = new Int32Array(nV);
      this.vOlder = new Int32Array(nV);
      this.bufChunk = new Int32Array(nB);
      this.bufBase = new Int32Array(nB);
      this.ht = new Int32Array(fresh.slots * 2);
      this.htMask = fresh.slots - 1;
    }
    this.nr.fill(NIL, NK, NK + levelMax);
    this.nr[NN] = NIL;
    this.countColumns();
  }

  /** Notes this memtable's column lengths in its pool, for memtables that find no recycled columns (see MemtablePool.sizes). */
  rememberSizes(): void {
    if (this.pool === null) return;
    this.pool.sizes = { nr: this.nr.length, v: this.vSeq.length, b: this.bufChunk.length };
  }

  private columns(): Columns {
    return { nr: this.nr, vSeq: this.vSeq, vBuf: this.vBuf, vOff: this.vOff, vLen: this.vLen, vOlder: this.vOlder, bufChunk: this.bufChunk, bufBase: this.bufBase, ht: this.ht };
  }

  private countColumns(): void {
    this.colBytes = Math.max(0, columnBytes(this.columns()) - this.freshBytes);
  }

  /**
   * Hands the columns and full-size chunks to the pool, as long as the pool then holds at most
   * `roomBytes` (the rest is left to the garbage collector). Only when nothing can read this
   * memtable any more: the engine calls it once the memtable is flushed, no version holds it and
   * no view of its bytes was handed out. Using it afterwards is a bug: its buffers are gone.
   */
  recycle(roomBytes: number): void {
    const pool = this.pool;
    if (pool === null || this.recycled) return;
    this.recycled = true;
    const cols = this.columns();
    // a store under load keeps a few memtables: each takes a set of columns (grown to the size
    // its load needs, so the next memtable's columns do not grow again by doubling)
    if (pool.bytes + columnBytes(cols) <= roomBytes) pool.cols.push(cols);
    for (const c of this.fullChunks) if (pool.bytes + pool.chunkBytes <= roomBytes) pool.chunks.push(c);
    this.fullChunks.length = 0;
    this.bufs.length = 0;
    this.count = 0;
    this.bufBytes = 0;
    this.colBytes = 0;
  }

  /**
   * Registers a record buffer; returns its index for `put` (offsets passed to `put` are relative
   * to this buffer). A buffer up to a quarter of the full chunk size is copied; a larger one is kept, and the caller
   * must not modify it afterwards.
   */
  /** Largest record buffer `addBuffer` copies (larger ones it keeps). */
  get copyBytesMax(): number {
    return this.chunkBytes / 4;
  }

  /** Free bytes left in the current chunk (what `addBuffer` copies there without starting a new chunk). */
  get chunkRoom(): number {
    return this.chunk < 0 ? 0 : this.bufs[this.chunk]!.length - this.chunkPos;
  }

  addBuffer(buf: Uint8Array): number {
    const i = this.nRegistered++;
    if (i >= this.bufChunk.length) {
      this.bufChunk = grow(this.bufChunk, i + 1);
      this.bufBase = grow(this.bufBase, i + 1);
      this.countColumns();
    }
    const n = buf.length;
    const full = this.chunkBytes;
    if (n <= full / 4) {
      if (this.chunk < 0 || this.chunkPos + n > this.bufs[this.chunk]!.length) {
        // chunks start small (a small memtable stays small) and double up to the full size
        const size = Math.min(full, Math.max(n, this.chunk < 0 ? 256 : this.bufs[this.chunk]!.length * 2));
        let c: Uint8Array;
        if (size === full) {
          c = this.pool?.chunks.pop() ?? new Uint8Array(size);
          this.fullChunks.push(c);
        } else c = new Uint8Array(size);
        this.bufs.push(c);
        this.chunk = this.bufs.length - 1;
        this.chunkPos = 0;
        this.bufBytes += size + bufferOverheadBytes;
      }
      this.bufs[this.chunk]!.set(buf, this.chunkPos);
      this.bufChunk[i] = this.chunk;
      this.bufBase[i] = this.chunkPos;
      this.chunkPos += n;
    } else {
      this.bufs.push(buf);
      this.bufChunk[i] = this.bufs.length - 1;
      this.bufBase[i] = 0;
      // a view keeps its whole ArrayBuffer alive
      this.bufBytes += buf.buffer.byteLength + bufferOverheadBytes;
    }
    return i;
  }

  /** The bytes of registered buffer i, `length` long (its copy, or the kept buffer). */
  registered(i: number, length: number): Uint8Array {
    const b = this.bufBase[i]!;
    return this.bufs[this.bufChunk[i]!]!.subarray(b, b + length);
  }

  private randomLevel(): number {
    let x = this.rnd;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rnd = x;
    let l = 1;
    while (l < levelMax && (x & 3) === 0) {
      l++;
      x >>>= 2;
    }
    return l;
  }

  private newVersion(seq: number, bi: number, off: number, len: number, older: number): number {
    const v = this.versions++;
    if (v >= this.vSeq.length) {
      this.vSeq = grow(this.vSeq, v + 1);
      this.vBuf = grow(this.vBuf, v + 1);
      this.vOff = grow(this.vOff, v + 1);
      this.vLen = grow(this.vLen, v + 1);
      this.vOlder = grow(this.vOlder, v + 1);
      this.countColumns();
    }
    this.vSeq[v] = seq;
    this.vBuf[v] = bi;
    this.vOff[v] = off;
    this.vLen[v] = len;
    this.vOlder[v] = older;
    if (seq < this.minSeq) this.minSeq = seq;
    if (seq > this.maxSeq) this.maxSeq = seq;
    return v;
  }

  /**
   * Inserts a version: key = bufs[bi][ko, ko+kl), value = bufs[bi][vo, vo+vl) or a tombstone
   * when vl < 0. A later put of the same key and seq shadows the earlier one. A new key's node is
   * appended unlinked (see `settle`). With `vbi`, the value lies in registered buffer `vbi`
   * instead (bytes another version's value shares).
   */
  put(bi: number, ko: number, kl: number, seq: number, vo: number, vl: number, vbi: number = bi): void {
    if (vl >= 0) vo += this.bufBase[vbi]!;
    const vb = this.bufChunk[vbi]!;
    ko += this.bufBase[bi]!;
    bi = this.bufChunk[bi]!;
    const buf = this.bufs[bi]!;
    const h = hashKey32(buf, ko, ko + kl);
    // grow first, so the empty slot `lookup` ends at is where a new node goes
    if ((this.count + 1) * 2 > this.htMask + 1) this.growHash();
    const found = this.lookup(buf, ko, kl, h);
    if (found !== NIL) {
      this.nr[found + NN] = this.newVersion(seq, vb, vo, vl, this.nr[found + NN]!);
      return;
    }
    const lvl = this.randomLevel();
    const node = this.nrTop;
    if (node + NK + lvl > this.nr.length) {
      this.nr = grow(this.nr, node + NK + lvl);
      this.countColumns();
    }
    this.nrTop = node + NK + lvl;
    const nr = this.nr;
    nr[node + NB] = bi;
    nr[node + NO] = ko;
    nr[node + NL] = kl;
    nr[node + NN] = this.newVersion(seq, vb, vo, vl, NIL);
    nr[node + NV] = lvl;
    this.count++;
    const s = this.emptySlot;
    this.ht[2 * s] = node;
    this.ht[2 * s + 1] = h;
  }

  /**
   * Links the nodes `put` appended since the last settle (those from `linkedTop` to `nrTop`) into
   * the skiplist: sorted together first, then linked one by one when they are few next to the
   * linked ones (a descent each, or two compares at the finger for the key after the last linked
   * one), else merged with the linked list in one pass that rebuilds every level.
   */
  private settle(): void {
    const k = this.count - this.linked;
    if (k === 0) return;
    if (sortIds.length < k) {
      let n = sortIds.length * 2;
      while (n < k) n *= 2;
      sortIds = new Int32Array(n);
      sortWin = new Int32Array(n);
      sortRem = new Uint8Array(n);
      radixIds = new Int32Array(n);
      radixWin = new Int32Array(n);
      radixRem = new Uint8Array(n);
    }
    const ids = sortIds;
    const nr = this.nr;
    for (let x = this.linkedTop, i = 0; i < k; i++) {
      ids[i] = x;
      x += NK + nr[x + NV]!;
    }
    this.sortRange(ids, 0, k, 0);
    if (k * 8 >= this.linked) this.mergeLinks(ids, k);
    else for (let i = 0; i < k; i++) this.link(ids[i]!);
    this.linked = this.count;
    this.linkedTop = this.nrTop;
  }

  /** Links one node (not linked yet) into the skiplist at its place. */
  private link(node: number): void {
    const nr = this.nr;
    const prev = this.prev;
    const lvl = nr[node + NV]!;
    const buf = this.bufs[nr[node + NB]!]!;
    const ko = nr[node + NO]!;
    const kl = nr[node + NL]!;
    // prev[i] is set for the levels below `filled`
    let filled = lvl < this.level ? lvl : this.level;
    if (!this.fingerSearch(buf, ko, kl, filled)) {
      this.search(buf, ko, kl, 2);
      filled = this.level;
    }
    if (lvl > this.level) {
      for (let i = this.level; i < lvl; i++) prev[i] = 0;
      this.level = lvl;
    }
    for (let i = 0; i < lvl; i++) {
      const pl = prev[i]! + NK + i;
      nr[node + NK + i] = nr[pl]!;
      nr[pl] = node;
    }
    const finger = this.finger;
    for (let i = 0; i < lvl; i++) finger[i] = node;
    for (let i = lvl; i < filled; i++) finger[i] = prev[i]!;
    this.lastNode = node;
  }

  /**
   * Merges the sorted unlinked nodes ids[0, k) with the linked list and relinks every level in
   * key order (each node keeps its level).
   */
  private mergeLinks(ids: Int32Array, k: number): void {
    const nr = this.nr;
    const bufs = this.bufs;
    const tail = this.prev; // per level, the last node linked at that level so far
    tail.fill(0);
    let top = 1;
    let x = nr[NK]!; // the next linked node (in order)
    let j = 0;
    while (x !== NIL || j < k) {
      let n: number;
      if (j >= k) n = x;
      else if (x === NIL) n = ids[j]!;
      else {
        const y = ids[j]!;
        n = compareRanges(bufs[nr[x + NB]!]!, nr[x + NO]!, nr[x + NL]!, bufs[nr[y + NB]!]!, nr[y + NO]!, nr[y + NL]!) < 0 ? x : y;
      }
      // advance before relinking: x's level-0 link changes once its successor is linked
      if (n === x) x = nr[x + NK]!;
      else j++;
      const lvl = nr[n + NV]!;
      if (lvl > top) top = lvl;
      for (let i = 0; i < lvl; i++) {
        nr[tail[i]! + NK + i] = n;
        tail[i] = n;
      }
    }
    for (let i = 0; i < levelMax; i++) nr[tail[i]! + NK + i] = NIL;
    this.level = top;
    // the finger's predecessors changed: the next link descends from the head
    this.lastNode = 0;
  }

  /**
   * Sorts node ids[lo, hi), whose keys agree on their first `d` bytes, by key, on 4-byte windows
   * (the key's bytes d..d+3, zero padded, then how many of them the key has), so most work is on
   * integers in dense arrays instead of bytes behind two indirections: counting passes for ranges
   * of `radixMin` keys or more, a three-way quicksort for shorter ones. The ranges whose keys tie on
   * a whole window go on a stack of ranges still to sort (their own 4 bytes deeper), worked through
   * in this loop: no recursion per 4 bytes of a shared prefix (many index entries of one long string
   * value share it: recursion overflowed the call stack at ~20 KB).
   */
  private sortRange(ids: Int32Array, lo: number, hi: number, d: number): void {
    const stack = sortStack;
    stack.length = 0;
    stack.push(lo, hi, d);
    while (stack.length > 0) {
      const dd = stack.pop()!;
      const h = stack.pop()!;
      const l = stack.pop()!;
      this.sortWindowsAt(ids, l, h, dd);
    }
  }

  /** One range of `sortRange`: ordered by its windows at depth d (the next ones while all its keys share them); tied ranges pushed. */
  private sortWindowsAt(ids: Int32Array, lo: number, hi: number, d: number): void {
    if (hi - lo < 2) return;
    const nr = this.nr;
    const bufs = this.bufs;
    const win = sortWin;
    const rem = sortRem;
    for (;;) {
      for (let i = lo; i < hi; i++) {
        const n = ids[i]!;
        const b = bufs[nr[n + NB]!]!;
        const o = nr[n + NO]! + d;
        const r = nr[n + NL]! - d;
        let w: number;
        if (r >= 4) w = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
        else {
          w = 0;
          for (let j = 0; j < 4; j++) w = (w << 8) | (j < r ? b[o + j]! : 0);
        }
        // flipping the sign bit makes the signed order the bytes' order (and keeps every value a small integer)
        win[i] = w ^ signBit;
        rem[i] = r >= 4 ? 4 : r <= 0 ? 0 : r;
      }
      // every key has this same whole window: on with the next 4 bytes
      const w0 = win[lo]!;
      let i = lo;
      while (i < hi && win[i] === w0 && rem[i] === 4) i++;
      if (i < hi) break;
      d += 4;
    }
    if (hi - lo < radixMin) {
      this.quick(ids, lo, hi, d);
      return;
    }
    radixWindows(lo, hi);
    // runs of keys with the same full window: sorted on their next 4 bytes
    for (let i = lo; i < hi; ) {
      const w = win[i]!;
      let e = i + 1;
      if (rem[i] === 4) while (e < hi && win[e] === w && rem[e] === 4) e++;
      if (e - i > 1) sortStack.push(i, e, d + 4);
      i = e;
    }
  }

  private quick(ids: Int32Array, lo: number, hi: number, d: number): void {
    const win = sortWin;
    const rem = sortRem;
    while (hi - lo > 12) {
      // median of three (by window, then count) as the pivot
      let a = lo;
      let b = (lo + hi) >>> 1;
      let c = hi - 1;
      let t: number;
      if (win[b]! < win[a]! || (win[b] === win[a] && rem[b]! < rem[a]!)) (t = a), (a = b), (b = t);
      if (win[c]! < win[b]! || (win[c] === win[b] && rem[c]! < rem[b]!)) {
        b = c;
        if (win[b]! < win[a]! || (win[b] === win[a] && rem[b]! < rem[a]!)) b = a;
      }
      const pw = win[b]!;
      const pr = rem[b]!;
      // three-way partition: [lo, lt) < pivot, [lt, gt] = pivot, (gt, hi) > pivot
      let lt = lo;
      let gt = hi - 1;
      let i = lo;
      while (i <= gt) {
        const w = win[i]!;
        if (w < pw || (w === pw && rem[i]! < pr)) swap(ids, lt++, i++);
        else if (w > pw || rem[i]! > pr) swap(ids, i, gt--);
        else i++;
      }
      // equal windows: done when the keys end within them (distinct keys), else sorted (later) on the next 4 bytes
      if (gt + 1 - lt > 1 && pr === 4) sortStack.push(lt, gt + 1, d + 4);
      // recurse into the smaller side, loop on the larger
      if (lt - lo < hi - (gt + 1)) {
        this.quick(ids, lo, lt, d);
        lo = gt + 1;
      } else {
        this.quick(ids, gt + 1, hi, d);
        hi = lt;
      }
    }
    // insertion sort; equal full windows compare the rest of the keys
    const nr = this.nr;
    const bufs = this.bufs;
    const e = d + 4;
    for (let i = lo + 1; i < hi; i++) {
      const n = ids[i]!;
      const w = win[i]!;
      const r = rem[i]!;
      let j = i - 1;
      for (; j >= lo; j--) {
        const wj = win[j]!;
        const rj = rem[j]!;
        if (wj < w || (wj === w && rj < r)) break;
        if (wj === w && rj === r) {
          if (r !== 4) break;
          const y = ids[j]!;
          if (compareRanges(bufs[nr[y + NB]!]!, nr[y + NO]! + e, nr[y + NL]! - e, bufs[nr[n + NB]!]!, nr[n + NO]! + e, nr[n + NL]! - e) < 0) break;
        }
        ids[j + 1] = ids[j]!;
        win[j + 1] = wj;
        rem[j + 1] = rj;
      }
      ids[j + 1] = n;
      win[j + 1] = w;
      rem[j + 1] = r;
    }
  }

  /**
   * When key b[o, o+l) (not in the memtable) comes right after the last linked node at level 0,
   * fills prev[0, levels) from the finger and returns true; else false (then a full `search`). A
   * run of ascending keys costs two compares per link. The finger stays exact: nodes are only linked
   * by `link`, which updates it for every level a new node changes (`mergeLinks` resets it).
   */
  private fingerSearch(b: Uint8Array, o: number, l: number, levels: number): boolean {
    const last = this.lastNode;
    if (last === 0) return false;
    const nr = this.nr;
    const bufs = this.bufs;
    if (compareRanges(bufs[nr[last + NB]!]!, nr[last + NO]!, nr[last + NL]!, b, o, l) >= 0) return false;
    const nx = nr[last + NK]!;
    if (nx !== NIL && compareRanges(bufs[nr[nx + NB]!]!, nr[nx + NO]!, nr[nx + NL]!, b, o, l) < 0) return false;
    // no node lies between the last node and this key, so at every level this key's predecessor is
    // the last node's (or the last node itself, below its height): the finger
    const prev = this.prev;
    const finger = this.finger;
    for (let i = 0; i < levels; i++) prev[i] = finger[i]!;
    return true;
  }

  /** The node holding key b[o, o+l) (whose hashKey is h), or NIL: a probe of the hash index. */
  private lookup(b: Uint8Array, o: number, l: number, h: number): number {
    const ht = this.ht;
    const mask = this.htMask;
    const nr = this.nr;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const n = ht[2 * s]!;
      if (n === 0) {
        this.emptySlot = s;
        return NIL;
      }
      if (ht[2 * s + 1] === h && nr[n + NL] === l) {
        const nb = this.bufs[nr[n + NB]!]!;
        const no = nr[n + NO]!;
        let j = 0;
        while (j < l && nb[no + j] === b[o + j]) j++;
        if (j === l) return n;
      }
    }
  }

  private growHash(): void {
    const old = this.ht;
    const slots = old.length; // twice the old slot count
    const ht = new Int32Array(slots * 2);
    const mask = slots - 1;
    // the probe inline: a fresh store's memtable grows its index while this still runs as
    // unoptimized code, where a call per entry costs more than the probe
    for (let i = 0; i < old.length; i += 2) {
      const node = old[i]!;
      if (node === 0) continue;
      const h = old[i + 1]!;
      let s = h & mask;
      while (ht[2 * s] !== 0) s = (s + 1) & mask;
      ht[2 * s] = node;
      ht[2 * s + 1] = h;
    }
    this.ht = ht;
    this.htMask = mask;
    this.countColumns();
  }

  /**
   * Skiplist descent for key b[o, o+l). Fills `prev` (per level, the last node before the stop
   * point) and returns the last node visited at level 0 (0 = head). mode 0: stops at an
   * equal key and returns -(node + 2); mode 1: moves past equal keys; mode 2: stops before them.
   * Each compare starts at the common prefix the key shares with both current bounds (every key
   * between two bounds shares it), so keys with long shared prefixes (a keyspace, an index, one
   * index value) are not compared from their first byte at every node.
   */
  private search(b: Uint8Array, o: number, l: number, mode: number): number {
    const nr = this.nr;
    const bufs = this.bufs;
    const prev = this.prev;
    let x = 0;
    let lcpL = 0;
    let lcpR = 0; // no right bound yet (+infinity shares nothing)
    let stop = NIL;
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = nr[x + NK + i]!;
        if (n === NIL || n === stop) break;
        const nb = bufs[nr[n + NB]!]!;
        const no = nr[n + NO]!;
        const nl = nr[n + NL]!;
        const m = nl < l ? nl : l;
        let j = lcpL < lcpR ? lcpL : lcpR;
        while (j < m && nb[no + j] === b[o + j]) j++;
        const c = j < m ? nb[no + j]! - b[o + j]! : nl - l;
        if (c < 0 || (c === 0 && mode === 1)) {
          x = n;
          lcpL = j;
        } else {
          if (c === 0 && mode === 0) return -n - 2;
          stop = n;
          lcpR = j;
          break;
        }
      }
      prev[i] = x;
    }
    return x;
  }

  /** Convenience for tests: copies key and value into one buffer and inserts them. */
  putBytes(key: Uint8Array, seq: number, value: Uint8Array | null): void {
    const b = new Uint8Array(key.length + (value?.length ?? 0));
    b.set(key);
    if (value !== null) b.set(value, key.length);
    this.put(this.addBuffer(b), 0, key.length, seq, key.length, value === null ? -1 : value.length);
  }

  private seekRaw(key: Uint8Array, strictlyAfter: boolean, lessThan: boolean, inclusive: boolean): number {
    if (this.linked !== this.count) this.settle();
    const x = this.search(key, 0, key.length, (lessThan ? inclusive : strictlyAfter) ? 1 : 2);
    if (lessThan) return x === 0 ? NIL : x;
    return this.nr[x + NK]!;
  }

  /** First node with key >= `key` (or > when `exclusive`). */
  seekGE(key: Uint8Array, exclusive = false): number {
    return this.seekRaw(key, exclusive, false, false);
  }

  /** Last node with key < `key` (or <= when `inclusive`); NIL if none. */
  seekLT(key: Uint8Array, inclusive = false): number {
    return this.seekRaw(key, false, true, inclusive);
  }

  first(): number {
    if (this.linked !== this.count) this.settle();
    return this.nr[NK]!;
  }

  last(): number {
    if (this.linked !== this.count) this.settle();
    const nr = this.nr;
    let x = 0;
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = nr[x + NK + i]!;
        if (n === NIL) break;
        x = n;
      }
    }
    return x === 0 ? NIL : x;
  }

  /** Next node in key order (NIL at the end). */
  next(n: number): number {
    if (this.linked !== this.count) this.settle();
    return this.nr[n + NK]!;
  }

  /** Previous node in key order (NIL at the start): a search, O(log n). */
  prevOf(n: number): number {
    return this.seekLT(this.key(n));
  }

  /** Exact node for `key`, or NIL (`hash`: the key's hashKey, when the caller has it). */
  find(key: Uint8Array, hash: number = hashKey32(key)): number {
    return this.lookup(key, 0, key.length, hash | 0);
  }

  /** The node's key (a view into its record buffer). */
  key(n: number): Uint8Array {
    const o = this.nr[n + NO]!;
    return this.bufs[this.nr[n + NB]!]!.subarray(o, o + this.nr[n + NL]!);
  }

  /** Raw key range of node n: buffer, offset, length (no allocation). */
  keyBuf(n: number): Uint8Array {
    return this.bufs[this.nr[n + NB]!]!;
  }
  keyOff(n: number): number {
    return this.nr[n + NO]!;
  }
  keyLen(n: number): number {
    return this.nr[n + NL]!;
  }
  /** Raw value range of version v (length -1 = tombstone). */
  valBuf(v: number): Uint8Array {
    return this.bufs[this.vBuf[v]!]!;
  }
  valOff(v: number): number {
    return this.vOff[v]!;
  }
  valLen(v: number): number {
    return this.vLen[v]!;
  }

  /** Newest version of node n. */
  newest(n: number): number {
    return this.nr[n + NN]!;
  }

  /** Next older version (NIL at the end). */
  older(v: number): number {
    return this.vOlder[v]!;
  }

  /** Newest version of node n with seq <= snap, or NIL. */
  visible(n: number, snap: number): number {
    let v = this.nr[n + NN]!;
    while (v !== NIL && this.vSeq[v]! > snap) v = this.vOlder[v]!;
    return v;
  }

  seq(v: number): number {
    return this.vSeq[v]!;
  }

  isDel(v: number): boolean {
    return this.vLen[v]! < 0;
  }

  /** The version's value (a view into its record buffer), or null for a tombstone. */
  value(v: number): Uint8Array | null {
    const l = this.vLen[v]!;
    if (l < 0) return null;
    const o = this.vOff[v]!;
    return this.bufs[this.vBuf[v]!]!.subarray(o, o + l);
  }

  /** Compares node n's key with `key` without allocating. */
  compareKey(n: number, key: Uint8Array): number {
    return compareAt(key, this.bufs[this.nr[n + NB]!]!, this.nr[n + NO]!, this.nr[n + NL]!) * -1;
  }
}
