/**
 * The contract of the storage engine as the layers above see it (documents, indexes, vectors).
 * Keys and values are bytes; keys sort by unsigned lexicographic byte order.
 * Implemented by `openStore` in src/storage/index.ts on any StorageAdapter.
 */
import type { Durability, StorageAdapter } from './adapter.ts';

export type WriteOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array };

export interface RangeOptions {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
  limit?: number;
  /** Read as of this snapshot; default: the latest committed state at iterator creation. */
  snapshot?: Snapshot;
  /**
   * The caller keeps nothing it was handed beyond the step: keys and values of a `nextEntries` /
   * `nextBatch` step stay valid only until the next step or `close()` (copy what you keep longer).
   * The iterator may then reuse the buffers behind them: a scan streamed from storage reads its
   * runs of blocks into a few buffers used in turn instead of a new buffer per block, so it
   * allocates in proportion to what the caller keeps, not to the bytes it streams. Without it
   * they stay valid as long as they are referenced.
   */
  transient?: boolean;
}

export interface Snapshot {
  /** Sequence number of the last write batch visible in this snapshot. */
  readonly seq: bigint;
  release(): void;
}

export interface WriteOptions {
  durability?: Durability;
  /**
   * The caller knows more commits are about to follow this one (writers waiting on its own lock):
   * the store then keeps the loop thread free for them (no synchronous WAL write) so that they
   * join the next group commit.
   */
  more?: boolean;
}

export interface StoreIterator extends AsyncIterableIterator<[Uint8Array, Uint8Array]> {
  /** Position at the first entry >= key (forward) or <= key (reverse) within the bounds. */
  seek(key: Uint8Array): void;
  /**
   * Up to `max` next entries in one async step (fewer only at the end, empty when exhausted);
   * synchronous inside while the blocks it needs are cached. Keys and values are read-only views
   * into immutable buffers: copy what you keep.
   */
  nextBatch(max: number): Promise<[Uint8Array, Uint8Array][]>;
  /**
   * `nextBatch` without a key view, value view or pair per entry: the iterator's own EntryBatch,
   * refilled by each call (its arrays are reused: read it before the next call). Entry i's key is
   * keyBuf[i][keyOff[i], keyOff[i] + keyLen[i]) and its value valBuf[i][valOff[i], valOff[i] +
   * valLen[i]) (immutable store memory, read-only: copy what you keep, as with nextBatch).
   * n = 0 when exhausted.
   */
  nextEntries(max: number): Promise<EntryBatch>;
  close(): Promise<void>;
}

/** Entries of one `nextEntries` step (see there); n entries, the arrays possibly longer. */
export interface EntryBatch {
  n: number;
  keyBuf: Uint8Array[];
  keyOff: Int32Array;
  keyLen: Int32Array;
  valBuf: Uint8Array[];
  valOff: Int32Array;
  valLen: Int32Array;
}

/** An empty EntryBatch with room for `cap` entries (grown by `entryBatchPush`). */
export function newEntryBatch(cap = 16): EntryBatch {
  return { n: 0, keyBuf: [], keyOff: new Int32Array(cap), keyLen: new Int32Array(cap), valBuf: [], valOff: new Int32Array(cap), valLen: new Int32Array(cap) };
}

function grown(a: Int32Array, n: number): Int32Array {
  const g = new Int32Array(n);
  g.set(a);
  return g;
}

/** Appends an entry to `b` (its key a range of `kb`, its value a range of `vb`). */
export function entryBatchPush(b: EntryBatch, kb: Uint8Array, ko: number, kl: number, vb: Uint8Array, vo: number, vl: number): void {
  const i = b.n;
  if (i === b.keyOff.length) {
    b.keyOff = grown(b.keyOff, i * 2);
    b.keyLen = grown(b.keyLen, i * 2);
    b.valOff = grown(b.valOff, i * 2);
    b.valLen = grown(b.valLen, i * 2);
  }
  b.keyBuf[i] = kb;
  b.keyOff[i] = ko;
  b.keyLen[i] = kl;
  b.valBuf[i] = vb;
  b.valOff[i] = vo;
  b.valLen[i] = vl;
  b.n = i + 1;
}

/** Entry i's key of `b` as a view (allocates). */
export function entryKey(b: EntryBatch, i: number): Uint8Array {
  const o = b.keyOff[i]!;
  return b.keyBuf[i]!.subarray(o, o + b.keyLen[i]!);
}

/** Entry i's value of `b` as a view (allocates). */
export function entryValue(b: EntryBatch, i: number): Uint8Array {
  const o = b.valOff[i]!;
  return b.valBuf[i]!.subarray(o, o + b.valLen[i]!);
}

export interface StoreOptions {
  durability?: Durability;
  memtableSizeBytes?: number;
  blockCacheSizeBytes?: number;
  /** Run compaction in the background (default true). */
  autoCompact?: boolean;
}

export interface CommitInfo {
  /** Sequence number assigned to the batch (stable, monotonically increasing). */
  seq: bigint;
}

/**
 * Told once how a `Store.writeTo` batch ended, instead of a promise per write: `written` once it is
 * durable as its durability asks and visible (with its sequence number), or `failed` (nothing of
 * it visible). Called from a microtask, as a promise's reaction would run: never inside `writeTo`
 * nor inside the store's commit loop. Neither may throw.
 */
export interface WriteSink {
  written(seq: number): void;
  failed(err: unknown): void;
}

export interface RecoveryReport {
  walRecordsReplayed: number;
  tornTailBytesTruncated: number;
  tornTailFile?: string;
}

export interface VerifyReport {
  ok: boolean;
  filesChecked: number;
  blocksChecked: number;
  errors: { file: string; offset: number; message: string }[];
}

export interface Store {
  readonly adapter: StorageAdapter;
  readonly recovery: RecoveryReport;
  /** Target size of a segment block. */
  readonly blockSizeBytes: number;
  /** Budget of the block cache (segment filters and indexes included). */
  readonly blockCacheBytes: number;
  get(key: Uint8Array, snapshot?: Snapshot): Promise<Uint8Array | undefined>;
  /**
   * `get` over memtables and cached blocks only, synchronous: the value (a copy), null when the
   * key has no visible value, undefined when a block it needs is not cached (then call `get`).
   */
  getCached(key: Uint8Array, snapshot?: Snapshot): Uint8Array | null | undefined;
  /**
   * `getCached` on the latest state, the value possibly a read-only view into store memory that
   * stays valid (immutable) but keeps its whole buffer alive: decode or test it, copy what you keep.
   */
  getCachedView(key: Uint8Array): Uint8Array | null | undefined;
  /**
   * `getCachedView` without allocating: 1 when the key has a visible value, its bytes then at
   * `hit.buf[hit.off, hit.off + hit.len)` (store memory, read-only, valid only until the next call
   * into the store: decode or copy them at once), 0 when it has none, -1 when a block it needs is
   * not cached (then call `get`).
   */
  locateCached(key: Uint8Array): number;
  /**
   * `locateCached` that reads a block it needs synchronously when the storage adapter can
   * (`readIntoSync`); -1 only when the read must be asynchronous (then call `get`); 2 instead of
   * 1 when the value was found in a block read from storage. The bytes at `hit` are valid only
   * until the next call into the store, as `locateCached`'s. `hash`: the key's hash as `prefetch`
   * wrote it (spares hashing the key again), else computed.
   */
  locateRead(key: Uint8Array, hash?: number): number;
  /**
   * Reads ahead into the CPU's caches what `locateRead` of each of the `n` keys
   * `keys[starts[i], ends[i])` will read, for the keys whose blocks are cached (a batched reader's
   * next lookups: their cache misses overlap instead of coming one after another). No answer
   * depends on it. Returns how many of the keys it found hints for (their blocks cached). With
   * `hashes`, each key's hash is written to `hashes[i]` (always, also when nothing is read ahead),
   * for `locateRead` of that key.
   */
  prefetch(keys: Uint8Array, starts: Int32Array, ends: Int32Array, n: number, hashes?: Int32Array): number;
  /** Where the last `locateCached` or `locateRead` that answered 1 found its value. */
  readonly hit: { readonly buf: Uint8Array; readonly off: number; readonly len: number };
  put(key: Uint8Array, value: Uint8Array): Promise<CommitInfo>;
  del(key: Uint8Array): Promise<CommitInfo>;
  /** Atomic: all ops become visible and durable together, or none does. */
  write(ops: WriteOp[], options?: WriteOptions): Promise<CommitInfo>;
  /** `write` that tells `sink` how it ended: no promise, closures and result object per batch. */
  writeTo(ops: WriteOp[], options: WriteOptions | undefined, sink: WriteSink): void;
  iterate(options?: RangeOptions): StoreIterator;
  /** Approximate entries with gte <= key < lt (no I/O; for query planning): see LsmStore. */
  approximateCount(gte: Uint8Array, lt: Uint8Array | undefined): number;
  snapshot(): Snapshot;
  /** Flush the memtable to a segment. */
  flush(): Promise<void>;
  /** Compact all segments into one level; never blocks readers. */
  compact(): Promise<void>;
  verify(): Promise<VerifyReport>;
  stats(): StoreStats;
  close(): Promise<void>;
}

export interface StoreStats {
  seq: bigint;
  /** The active memtable and the immutable ones waiting for (or in) a flush, as allocated. */
  memtableBytes: number;
  /** Immutable memtables waiting for flush (at most `immutableMemtablesMax`). */
  immutableMemtables: number;
  /** Block cache: cached blocks plus the filters and indexes open segments pin (one budget). */
  blockCacheBytes: number;
  segments: number;
  diskBytes: number;
  walSyncs: number;
  compactions: number;
  blockCacheHits: number;
  blockCacheMisses: number;
}
