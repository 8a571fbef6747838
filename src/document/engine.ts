/**
 * The document engine: owns the Store, the catalog (databases, collections, indexes), per-collection
 * counters, the change log, index plugins and the commit pipeline.
 *
 * Concurrency: every non-transactional write runs its read-check-stage phase under one mutex (so
 * unique checks see every earlier write, including batches handed to the store but not yet
 * committed: `inflight` layers), then releases the mutex and awaits the store's group commit. So
 * concurrent callers are serialized for checks but share fsyncs. Transactions stage against a
 * snapshot and, at commit, take the mutex, detect write-write conflicts (including unique-key
 * conflicts) against commits made since their snapshot, and write one batch.
 */
import { BSON, Binary, UUID, type Document } from 'bson';
import { LargetableError } from '../errors.ts';
import { changeLogEntriesMax, documentCacheBytesDefault, nameSizeBytesMax } from '../limits.ts';
import { compileFilter, type Matcher } from '../query/filter.ts';
import type { Durability } from '../storage/adapter.ts';
import type { Snapshot, Store, WriteOp, WriteOptions, WriteSink } from '../storage/store.ts';
import { extractKeys, parseIndexFields, type IndexField } from './indexkeys.ts';
import { encodeFast, encodeFastShared, type Reserved } from './bsonencode.ts';
import { ByteSlab } from './slab.ts';
import { SortMemos } from './sortmemo.ts';
import { decodeFast, decodeFastAt, hasBinary } from './bsonraw.ts';
import { ByteWriter, bytesKey, concatBytes, writeScalarInto, writeValue } from './keycodec.ts';
import { getOwn, isPlainObject } from '../query/values.ts';
import {
  catalogKey,
  changeLogSlotKey,
  changeLogSlotKeyBytes,
  changeSeqKey,
  collectionPrefix,
  countersKey,
  documentFormatVersion,
  documentKey,
  documentKeyOf,
  encodeId,
  setDocumentKeyCollection,
  indexPrefix,
  pluginPrefix,
  rangeOfPrefix,
  versionKey,
  writeChangeLogSlotKey,
} from './keyspace.ts';
import { Overlay, StoreReader, type KVReader, type Staged } from './kv.ts';
import { indexKindFactory, type IndexPlugin } from './plugins.ts';

export interface IndexMeta {
  id: number;
  name: string;
  key: Document;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Document;
  expireAfterSeconds?: number;
  /** Plugin kind ('vector', ...) for plugin indexes. */
  kind?: string;
  /** Extra options given at creation (plugin options). */
  options?: Document;
  multikey?: boolean;
}

export interface CollMeta {
  id: number;
  db: string;
  name: string;
  options: Document;
  indexes: IndexMeta[];
}

interface CatalogDoc {
  nextId: number;
  collections: CollMeta[];
}

/** Compiled, in-memory view of an index. */
export interface RuntimeIndex {
  meta: IndexMeta;
  fields: IndexField[];
  prefix: Uint8Array;
  partial?: Matcher;
  plugin?: IndexPlugin;
}

export interface ChangeEvent {
  seq: bigint;
  op: 'insert' | 'update' | 'replace' | 'delete' | 'drop' | 'rename' | 'dropDatabase';
  db: string;
  coll: string;
  id?: unknown;
  fullDocument?: Document;
  /** The stored BSON of fullDocument, when available (spliced into the change log record). */
  fullDocumentBytes?: Uint8Array;
  /**
   * Bytes reserved right before fullDocumentBytes in its buffer (`encodeDocumentShared`'s room):
   * when they fit the change-log record's header, the record is written there, around the
   * document's own bytes (the store then writes those bytes once: see `storeOrder`).
   */
  fullDocumentRoom?: number;
  /** Post-image kept in memory only (for live 'updateLookup'). */
  postImage?: Document;
  updateDescription?: Document;
  to?: { db: string; coll: string };
  wallTime: Date;
}

export type PendingEvent = Omit<ChangeEvent, 'seq' | 'wallTime'>;

/**
 * FIFO lock of the write path. A free lock is taken with one resolved promise (a single insert
 * takes it once per commit: the previous chain of promises cost ~6 objects and 3 microtasks per
 * lock); a caller that finds it held waits in a queue and is handed it by the release before.
 */
export class Mutex {
  private held = false;
  private readonly waiters: ((release: () => void) => void)[] = [];
  /** callers waiting for the lock (not counting its holder; a caller handed the lock counts until its grant's microtask) */
  waiting = 0;
  /** lock() and lockThen() calls so far: a caller that saw this count knows whether anyone queued after it */
  queued = 0;
  private readonly granted = (): void => {
    this.waiting--;
  };
  lock(): Promise<() => void> {
    this.queued++;
    if (!this.held) {
      this.held = true;
      return Promise.resolve(this.releaser());
    }
    this.waiting++;
    return new Promise<() => void>((resolve) => this.waiters.push(resolve));
  }
  /**
   * `lock().then(run)` for a caller that releases exactly once (no guard against a second call):
   * a free lock is taken with no promise of its own and no release closure, `run` called in a
   * microtask as `then` would (an insertOne group's every turn).
   */
  lockThen(run: (release: () => void) => void): void {
    this.queued++;
    if (!this.held) {
      this.held = true;
      this.grantRun(run);
      return;
    }
    this.waiting++;
    // handed the lock, it runs a microtask later too (never inside the release that handed it over)
    this.waiters.push(() => this.grantRun(run));
  }
  /** lockThen's caller that was granted the lock, until its microtask (one at a time: the lock is its). */
  private runNext: ((release: () => void) => void) | undefined;
  private grantRun(run: (release: () => void) => void): void {
    this.runNext = run;
    void resolvedVoid.then(this.startRun);
  }
  private readonly startRun = (): void => {
    const run = this.runNext!;
    this.runNext = undefined;
    run(this.handOver);
  };
  /** The holder's release: hands the lock to the next waiter, else frees it (a second call does nothing). */
  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.handOver();
    };
  }
  /** Hands the lock to the next waiter, else frees it. */
  private readonly handOver = (): void => {
    const next = this.waiters.shift();
    if (next === undefined) {
      this.held = false;
      return;
    }
    // the waiter stops counting as waiting in a microtask before it resumes, as a waiter on a
    // promise chain did: a commit issued by the releasing holder right now sees it waiting
    void resolvedVoid.then(this.granted);
    next(this.releaser());
  };
}

/** Resolved once: microtasks are scheduled on it (no new resolved promise each time). */
const resolvedVoid: Promise<void> = Promise.resolve();

/** The events of a scope that has none (never written to: `addEvent` replaces it). */
const noEvents: PendingEvent[] = [];

export class WriteScope {
  readonly overlay: Overlay;
  /** The scope's change events, in order (`addEvent`). */
  events: PendingEvent[] = noEvents;
  /**
   * The collection of the scope's first counter change (-1: none yet) and its deltas: most scopes
   * write one collection, so no Map and no delta object per scope; further collections' deltas
   * go to `moreDeltas` (made on first use).
   */
  deltaColl = -1;
  deltaCount = 0;
  deltaBytes = 0;
  moreDeltas: Map<number, { count: number; bytes: number }> | undefined;
  /** Unique-index keys written (a transaction's conflict check); made on first use, as `plugins`: most scopes have none. */
  conflictKeys: Set<string> | undefined;
  /** Index plugins that staged writes in this scope. */
  plugins: Set<IndexPlugin> | undefined;
  catalogDirty = false;
  constructor(overlay: Overlay) {
    this.overlay = overlay;
  }
  count(collId: number, count: number, bytes: number): void {
    if (this.deltaColl === collId || this.deltaColl < 0) {
      this.deltaColl = collId;
      this.deltaCount += count;
      this.deltaBytes += bytes;
      return;
    }
    const more = (this.moreDeltas ??= new Map());
    const d = more.get(collId);
    if (d) {
      d.count += count;
      d.bytes += bytes;
    } else more.set(collId, { count, bytes });
  }
  /** Appends a change event (a scope's first takes a new array of one: a push into an empty array allocates 17 slots). */
  addEvent(ev: PendingEvent): void {
    if (this.events.length === 0) this.events = [ev];
    else this.events.push(ev);
  }
  /** Aborts the writes the scope's index plugins staged. */
  abortPlugins(): void {
    if (this.plugins !== undefined) for (const p of this.plugins) p.abort();
  }
}

export interface TxnState {
  scope: WriteScope;
  snapshot: Snapshot;
  startCounter: number;
}

const NAME_BAD = /[/\\\0$"*<>:|?. ]/;

export function validateName(kind: 'database' | 'collection', name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new LargetableError('INVALID_ARGUMENT', `${kind} name must be a non-empty string`);
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > nameSizeBytesMax) throw new LargetableError('INVALID_ARGUMENT', `${kind} name longer than ${nameSizeBytesMax} bytes`, { details: { name } });
  if (kind === 'database' ? NAME_BAD.test(name) : /[\0$]/.test(name) || name.includes('..') || name.startsWith('.') || name.endsWith('.') || /[/\\]/.test(name)) {
    throw new LargetableError('INVALID_ARGUMENT', `invalid ${kind} name: ${JSON.stringify(name)}`, { details: { name } });
  }
  if (name.includes('..')) throw new LargetableError('INVALID_ARGUMENT', `invalid ${kind} name: ${JSON.stringify(name)}`, { details: { name } });
  return name;
}

const bsonOptions = { promoteLongs: false } as const;

/**
 * A fresh document from BSON. bson's Binary values are views of the input buffer, and the input may
 * be shared (a cached raw entry, a store block): a document holding one is decoded from a private
 * copy, so a caller mutating a Binary never writes into engine memory.
 */
export function decodeDocument(bytes: Uint8Array): Document {
  const fast = decodeFast(bytes);
  if (fast !== undefined) return fast;
  // new Uint8Array(view) copies (a pooled Node buffer's slice() would not); needed with a Binary,
  // and for a view into a larger buffer (a store block), which nothing decoded may keep alive
  const own = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length;
  return BSON.deserialize(!own || hasBinary(bytes) ? new Uint8Array(bytes) : bytes, bsonOptions);
}

/**
 * `decodeDocument` of the BSON at b[off, off + len) (e.g. in store memory), keeping no view of it;
 * `id`: a string its _id may be, taken instead of a new string when it is (see `decodeFastAt`).
 */
export function decodeDocumentAt(b: Uint8Array, off: number, len: number, id?: string): Document {
  return decodeFastAt(b, off, len, id) ?? decodeDocument(b.subarray(off, off + len));
}

/** BSON bytes of `doc`, in a Uint8Array of their own (exact size: the document cache keeps it as is). */
export function encodeDocument(doc: Document): Uint8Array {
  return encodeFast(doc) ?? BSON.serialize(doc);
}

/**
 * BSON bytes of `doc`, possibly a read-only view into a shared buffer (`encodeFastShared`): for
 * a write's staged value, which the store copies into its record and the document cache copies
 * if it keeps it (`setRaw`); change events handed to watchers drop it.
 */
export function encodeDocumentShared(doc: Document, room = 0, reserved?: Reserved): Uint8Array {
  return encodeFastShared(doc, room, reserved) ?? BSON.serialize(doc);
}

/** Bytes of a change-log record before its BSON part (seq, op, wall time, names) for a change in db.coll. */
export function changeHeaderBytes(db: string, coll: string): number {
  return 17 + changeNames(db, coll).length;
}

/** Deep copy of a decoded document (Dates copied; bson values are immutable and shared). */
export function cloneDoc<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      out[i] = x === null || typeof x !== 'object' ? x : cloneDoc(x);
    }
    return out as T;
  }
  if (Object.getPrototypeOf(v) === Object.prototype) {
    // a plain object: a spread copies its own properties in order with its shape (no per-key
    // transitions); then the object values among them are replaced by copies
    const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    for (const k in out) {
      const x = out[k];
      if (x === null || typeof x !== 'object' || !hasOwn.call(out, k)) continue;
      if (k === '__proto__') Object.defineProperty(out, k, { value: cloneDoc(x), enumerable: true, writable: true, configurable: true });
      else out[k] = cloneDoc(x);
    }
    return out as T;
  }
  if (v instanceof Date) return new Date(v.getTime()) as T;
  const bt = (v as { _bsontype?: unknown })._bsontype;
  if (bt === 'Binary') {
    // Binary is mutable (buffer, put, write): the copy gets its own bytes
    const b = v as unknown as Binary;
    const bytes = new Uint8Array(b.buffer.subarray(0, b.position));
    return (b instanceof UUID ? new UUID(bytes) : new Binary(bytes, b.sub_type)) as T;
  }
  if (bt !== undefined || ArrayBuffer.isView(v) || v instanceof RegExp) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (k === '__proto__') Object.defineProperty(out, k, { value: cloneDoc(x), enumerable: true, writable: true, configurable: true });
    else out[k] = cloneDoc(x);
  }
  return out as T;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * FIFO-evicted cache of the documents of the latest committed state, keyed by document key. Commits
 * write through to the documents it holds (the committed BSON, decoded on first read; a second read
 * keeps the decoded form) and add none; a commit that finished after a later one only invalidates. A read fill is dropped if any commit
 * finished while the read was in flight (generation check), so the cache never serves a stale document.
 */
interface CacheEntry {
  doc: Document | undefined;
  raw: Uint8Array | undefined;
  size: number;
  /** Length of the document's BSON. */
  len: number;
  /** A raw entry was decoded once already. */
  read?: boolean;
  /** The document key (`bytesKey` string) and its `docKeyHash`. */
  key: string;
  h: number;
  /** The next entry of the same hash (a collision chain), if any. */
  next: CacheEntry | undefined;
  /** Still the cache's entry for its key (false once replaced, deleted or evicted). */
  live: boolean;
  /** The slab chunk `raw` is a view of (its bytes are counted with the chunk), if any. */
  chunk: RawChunk | undefined;
}

/**
 * A slab of raw entries' bytes: copies of BSON the cache keeps go into the current chunk as views
 * instead of arrays of their own (a fresh ArrayBuffer per document, its zeroed backing store and
 * its release after GC cost ~10% of a range+sort+limit that admits the documents it reads). A
 * chunk is counted in the cache's bytes whole, from its creation until no live entry views it, so
 * the budget also covers the bytes of dead entries a live neighbour keeps allocated.
 */
interface RawChunk {
  readonly buf: Uint8Array;
  used: number;
  /** Live entries whose raw bytes are in this chunk. */
  live: number;
}
const rawChunkBytes = 32 * 1024;
/** A copy larger than this gets an array of its own. */
const rawChunkCopyMax = rawChunkBytes / 8;

/**
 * What a cache entry costs, approximately: measured on Node 20 with 100,000 cached 67-byte
 * documents, a raw entry costs ~300 bytes in all (Map entry, key string, entry object, Uint8Array
 * and its bytes), a decoded one ~430 bytes of heap for 70 bytes of BSON. The budget counts these,
 * so a 32 MB budget holds about 32 MB.
 */
function rawEntryBytes(bsonBytes: number): number {
  return bsonBytes + 256;
}
function decodedEntryBytes(bsonBytes: number): number {
  return bsonBytes * 2 + 320;
}
function copyBytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/**
 * 32-bit hash of a document key (FNV-1a, then mixed), for the document cache's bit arrays and
 * map; equal to `docKeyStringHash(bytesKey(key))`.
 */
export function docKeyHash(key: Uint8Array): number {
  return docKeyHashAt(key, 0, key.length);
}

/** `docKeyHash` of the key b[start, end). */
export function docKeyHashAt(b: Uint8Array, start: number, end: number): number {
  return docKeyHashEnd(docKeyHashRun(docKeyHashSeed, b, start, end));
}

/** `docKeyHash`'s state before any byte. */
export const docKeyHashSeed = 0x811c9dc5 | 0;

/**
 * `docKeyHash`'s state h after the bytes b[start, end) more: the hash of a key in pieces is
 * `docKeyHashEnd` of the runs over them in turn (a state kept for a shared prefix spares hashing it again).
 */
export function docKeyHashRun(h: number, b: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h;
}

/** The hash of `docKeyHash`'s state h after the last byte. */
export function docKeyHashEnd(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return h ^ (h >>> 16);
}

/** `docKeyHash` of the bytes a `bytesKey` string holds. */
function docKeyStringHash(k: string): number {
  let h = docKeyHashSeed;
  for (let i = 0; i < k.length; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
  return docKeyHashEnd(h);
}

/** True when `bytesKey(key) === k` (without building the string). */
function keyIs(k: string, key: Uint8Array): boolean {
  const n = key.length;
  if (k.length !== n) return false;
  for (let i = 0; i < n; i++) if (k.charCodeAt(i) !== key[i]) return false;
  return true;
}

export class DocumentCache {
  /**
   * Entries by the 32-bit hash of their key (`docKeyHash`), colliding keys chained through `next`.
   * A number key spares a lookup by document key bytes (an index scan's fetches) building the key
   * string and hashing it again: measured ~0.2 -> ~0.08 µs per hit at 82,000 entries.
   */
  private readonly map = new Map<number, CacheEntry>();
  private count = 0;
  /** Entries holding a decoded document. */
  private decoded = 0;
  private bytes = 0;
  readonly maxBytes: number;
  hits = 0;
  misses = 0;
  /**
   * Sort values of documents that bounded top-k reads read (exec.ts `topKGate`): up to a quarter of
   * the budget, counted in it (entries are evicted to make room for it). Every committed write to a
   * document drops its value (`written`).
   */
  readonly memos: SortMemos;
  /**
   * The committed BSON of document key `key` in store memory (a cached block or a memtable), read
   * synchronously: a view to copy at once, null when there is none, undefined when reading it
   * needs I/O (`admitPending`'s source).
   */
  private readonly readCached: (key: Uint8Array) => Uint8Array | null | undefined;
  constructor(maxBytes: number, readCached: (key: Uint8Array) => Uint8Array | null | undefined = () => undefined) {
    this.maxBytes = maxBytes;
    this.memos = new SortMemos(maxBytes / 4);
    this.readCached = readCached;
  }
  /** A commit wrote document key `key`: a sort value kept for it goes. */
  written(key: Uint8Array): void {
    if (this.memos.count > 0) this.memos.drop(key, docKeyHash(key));
  }
  /**
   * Two bit arrays over hashed document keys (`docKeyHash`), each key's bits in one word:
   * - seen (2^21 bits, 256 KiB): the doorkeeper of first misses, set on a key's first miss, cleared when it admits the key; all cleared after 2^18 marks,
   *   so at most 1 in 8 bits is set (1 in 4 when index fetches, which mark two, made them) and a false
   *   positive (a key admitted on its first miss) is rare and harmless. Point reads and index fetches
   *   mark different bits of the key's word (bit h & 31, and two of the 16 above it chosen by bits
   *   21-24 and 25-28), so each kind of read admits on its own second miss: a query
   *   fetching documents that point reads touched once copies none of them (the documents bench's
   *   equality queries after its gets: ~400 admissions per query, 0.3-1.6 ms of ~10).
   * - held: two bits of the key's word (`heldMask`) set for every key put, so a clear one proves the
   *   key is not cached and a read skips building its key string and probing the map. Bits of
   *   removed keys stay set (a harmless false positive) until `heldStale` removals outnumber the
   *   entries: then it is rebuilt from the keys. With one bit per key ~1% of absent keys passed at
   *   20,000 held; and the documents bench's gets, whose doorkeeper admits ~135 of its 20,000 first
   *   reads by collisions, met a false positive at get ~4,400 in every run (its order is fixed): the
   *   map probe, a branch no get had taken, deoptimized findOne for ~3,000 gets (`--trace-deopt`).
   *   Sized to the entries (`heldWordsFor`: at least 4 words, 128 bits, per entry, from 4 KiB up
   *   to 2^21 bits), since every point read reads it before anything else: a small filter stays in
   *   the CPU's caches, where one word of a 512 KiB array (the two interleaved) was a cache miss of
   *   each random get (with the doorkeeper's batches, `pendH`: p50 ~-0.08 us with it small).
   */
  private readonly seen = new Int32Array(1 << 16);
  private held = new Int32Array(heldWordsMin);
  private heldWords = heldWordsMin - 1;
  private seenMarks = 0;
  private heldStale = 0;
  /**
   * Point reads' first misses answered from store memory whose doorkeeper verdict waits for a
   * batch (`notePointMiss`): their hashes, and their keys: a string _id by reference with its
   * collection (the key is made again for the few admitted), else its bytes one after the other
   * (key i ends at pendEnd[i]). The doorkeeper's words are random words of 256 KiB, a cache miss each, which a
   * point read paid at its end (its caller's next step waited for it); `admitPending` reads a
   * batch's words in one loop of their own, their misses in flight together (the documents bench's
   * 100k first-read gets, p50 ~-0.09 us). A document read twice is then cached at most
   * `pendingMax` - 1 point reads after its second miss (its BSON read again from store memory,
   * not cached when that needs I/O), instead of at it.
   */
  private readonly pendH = new Int32Array(pendingMax);
  private readonly pendEnd = new Int32Array(pendingMax);
  private pendKeys = new Uint8Array(pendingMax * 32);
  private readonly pendIds: (string | undefined)[] = new Array<string | undefined>(pendingMax).fill(undefined);
  private readonly pendColl = new Int32Array(pendingMax);
  private pendN = 0;
  /**
   * A point read's first miss of document key `key` (hash h), answered from store memory without
   * I/O: the doorkeeper will admit it, in a batch, if it missed before (see `pendH`). `id`: the
   * string _id `key` was made of (`documentKeyOf` of its collection and `id`), if it was.
   */
  notePointMiss(key: Uint8Array, h: number, id?: string): void {
    if (this.maxBytes <= 0) return;
    const n = this.pendN;
    const start = n === 0 ? 0 : this.pendEnd[n - 1]!;
    this.pendIds[n] = id;
    if (id !== undefined) {
      this.pendColl[n] = (key[1]! << 24) | (key[2]! << 16) | (key[3]! << 8) | key[4]!;
      this.pendEnd[n] = start;
    } else {
      const end = start + key.length;
      if (end > this.pendKeys.length) {
        const more = new Uint8Array(Math.max(end, this.pendKeys.length * 2));
        more.set(this.pendKeys.subarray(0, start));
        this.pendKeys = more;
      }
      const pk = this.pendKeys;
      for (let i = 0; i < key.length; i++) pk[start + i] = key[i]!;
      this.pendEnd[n] = end;
    }
    this.pendH[n] = h;
    this.pendN = n + 1;
    if (n + 1 === pendingMax) this.admitPending();
  }
  /** The doorkeeper's verdicts on the waiting point-read misses (`notePointMiss`): those that missed before are cached. */
  admitPending(): void {
    const n = this.pendN;
    if (n === 0) return;
    this.pendN = 0;
    const hs = this.pendH;
    const ok = pendingAdmitted;
    let k = 0;
    for (let i = 0; i < n; i++) if (this.admitHash(hs[i]!)) ok[k++] = i;
    for (let j = 0; j < k; j++) {
      const i = ok[j]!;
      const h = hs[i]!;
      const id = this.pendIds[i];
      const key = id !== undefined ? documentKeyOf(this.pendColl[i]!, id) : this.pendKeys.subarray(i === 0 ? 0 : this.pendEnd[i - 1]!, this.pendEnd[i]!);
      // cached since (a read that needed I/O, an index fetch, or the same key twice in the batch)
      if (this.holds(key, h)) continue;
      const v = this.readCached(key);
      if (v) this.setRaw(bytesKey(key), v, h);
    }
    this.pendIds.fill(undefined, 0, n);
  }
  /** True when the cache holds document key `key` (hash h); no hit or miss counted. */
  private holds(key: Uint8Array, h: number): boolean {
    const m = heldMask(h);
    if ((this.held[(h >>> 5) & this.heldWords]! & m) !== m) return false;
    return this.chainEntry(key, h) !== undefined;
  }
  /** True if the document key `key` missed before (recently): then it is worth caching. */
  admit(key: Uint8Array): boolean {
    return this.admitHash(docKeyHash(key));
  }
  /** `admit` for the key whose `docKeyHash` is h (a point read's miss). */
  admitHash(h: number): boolean {
    return this.admitBit((h >>> 5) & 0xffff, 1 << (h & 31));
  }
  /**
   * `admitHash` for an index fetch's miss: its own two doorkeeper bits (of the key's word, never
   * its point-read bit: 1 to 16 bits above it), both set by a first miss. An index fetch reads
   * thousands of documents once (an equality at 1,000,000 documents: 20,000), so a false positive
   * costs a copy that is seldom read again: with one bit ~6% of them were admitted (the filter
   * fills to 1 in 8 bits between resets; at 1M ~900 copies, ~5 ms, per equality), with two ~1-2%.
   */
  admitFetchHash(h: number): boolean {
    return this.admitBit((h >>> 5) & 0xffff, (1 << ((h + 1 + ((h >>> 21) & 15)) & 31)) | (1 << ((h + 1 + ((h >>> 25) & 15)) & 31)));
  }
  /** True if the bits m of doorkeeper word w were all set (then cleared), else sets them. */
  private admitBit(w: number, m: number): boolean {
    if (this.maxBytes <= 0) return false;
    const bits = this.seen;
    if ((bits[w]! & m) === m) {
      bits[w] = bits[w]! & ~m;
      return true;
    }
    if (++this.seenMarks > 1 << 18) {
      bits.fill(0);
      this.seenMarks = 1;
    }
    bits[w] = bits[w]! | m;
    return false;
  }
  /**
   * False when the key whose `docKeyHash` is h is certainly not cached (counted as a miss), true
   * when it may be (then probe with `entry` or `entryOf`).
   */
  mayHold(h: number): boolean {
    const m = heldMask(h);
    if ((this.held[(h >>> 5) & this.heldWords]! & m) === m) return true;
    this.misses++;
    return false;
  }
  private hold(h: number): void {
    const w = (h >>> 5) & this.heldWords;
    this.held[w] = this.held[w]! | heldMask(h);
  }
  /** A key was added (`count` is one more): the held filter grows (rebuilt) when the entries outgrow it. */
  private added(h: number): void {
    if (heldWordsFor(this.count) > this.held.length) this.rebuildHeld();
    else this.hold(h);
  }
  /** One more key removed: rebuild the held filter from the live keys once stale bits may dominate. */
  private dropped(): void {
    if (++this.heldStale <= this.count + 65536) return;
    this.rebuildHeld();
  }
  /** The held filter made again from the live keys, sized to their number. */
  private rebuildHeld(): void {
    const n = heldWordsFor(this.count);
    if (n === this.held.length) this.held.fill(0);
    else this.held = new Int32Array(n);
    this.heldWords = n - 1;
    for (const h of this.map.keys()) this.hold(h);
    this.heldStale = 0;
  }
  /** The entry of key string k (no hit or miss counted). */
  private find(k: string): CacheEntry | undefined {
    let e = this.map.get(docKeyStringHash(k));
    while (e !== undefined && e.key !== k) e = e.next;
    return e;
  }
  /** The decoded document (shared: copy before handing out) or undefined. */
  get(k: string): Document | undefined {
    const e = this.find(k);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (e.doc === undefined) {
      const doc = decodeDocument(e.raw!);
      this.upgrade(k, e, doc);
      return doc;
    }
    return e.doc;
  }
  /** True when the cache holds key k (no hit or miss counted). */
  has(k: string): boolean {
    return this.find(k) !== undefined;
  }
  /** True when the cache holds no document and no sort value. */
  get empty(): boolean {
    return this.count === 0 && this.memos.count === 0;
  }
  /** The raw entry: decoded document and/or BSON bytes (both shared, read-only). */
  entry(k: string): CacheEntry | undefined {
    const e = this.find(k);
    if (e) this.hits++;
    else this.misses++;
    return e;
  }
  /** The chains of hashes hs[0, n) into out (but for those `skip` marks 1), in one loop of their own: their cache misses overlap. */
  heads(hs: Int32Array, n: number, out: (CacheEntry | undefined)[], skip?: Uint8Array): void {
    const m = this.map;
    if (skip === undefined) for (let i = 0; i < n; i++) out[i] = m.get(hs[i]!);
    else for (let i = 0; i < n; i++) out[i] = skip[i] === 1 ? undefined : m.get(hs[i]!);
  }
  /** `entryOf` on the chain of its hash (`heads`). */
  entryFrom(e: CacheEntry | undefined, key: Uint8Array, h: number): CacheEntry | undefined {
    while (e !== undefined && !keyIs(e.key, key)) e = e.next;
    // evicted or replaced since `heads` (a fill of the same window): the chain may be stale
    if (e !== undefined && !e.live) return this.entryOf(key, h);
    if (e) this.hits++;
    else this.misses++;
    return e;
  }
  /** The entry of document key `key` (its `docKeyHash` h) on its hash's chain, if held; no hit or miss counted. */
  private chainEntry(key: Uint8Array, h: number): CacheEntry | undefined {
    let e = this.map.get(h);
    while (e !== undefined && !keyIs(e.key, key)) e = e.next;
    return e;
  }
  /** `entry` by the document key's bytes and their `docKeyHash` h (no key string built). */
  entryOf(key: Uint8Array, h: number): CacheEntry | undefined {
    const e = this.chainEntry(key, h);
    if (e) this.hits++;
    else this.misses++;
    return e;
  }
  /**
   * A hit on entry e as the caller's document: a copy of the decoded form, or a fresh decode of the
   * raw BSON; the second read of a raw entry keeps a decoded copy (a document read again and again
   * then costs a copy, ~0.3 µs for a 400-byte document, instead of a decode, ~1.5 µs).
   */
  own(e: CacheEntry): Document {
    if (e.doc !== undefined) return cloneDoc(e.doc);
    const doc = decodeDocument(e.raw!);
    if (e.read) this.upgrade(e.key, e, cloneDoc(doc));
    else e.read = true;
    return doc;
  }
  /** Keeps a decoded form of a raw entry (second read of a written-through document). */
  upgrade(k: string, e: CacheEntry, doc: Document): void {
    if (e.doc !== undefined || !e.live || e.key !== k) return;
    const size = decodedEntryBytes(e.len);
    this.bytes += size - e.size;
    e.size = size;
    e.doc = doc;
    this.decoded++;
    this.releaseRaw(e);
    this.evict();
  }
  set(k: string, doc: Document, size: number): void {
    this.put(newEntry(k, doc, undefined, decodedEntryBytes(size), size));
  }
  /** Keeps `raw` (or an exact-size copy of it) as a raw entry; returns the bytes kept, if kept. */
  setRaw(k: string, raw: Uint8Array, h = docKeyStringHash(k)): Uint8Array | undefined {
    // Small documents are copied into the current slab chunk (when the budget holds many chunks),
    // also those in an array of their own: an array per entry is one more ArrayBuffer object on
    // the JS heap (~90 B, of ~340 B per entry), which the garbage collector's headroom multiplies.
    // A larger one is kept as it is when it owns its buffer, else copied to an exact size: a view
    // into a larger buffer (Node's pooled allocUnsafe slabs, which BSON.serialize uses, a batch
    // encoding, a store block) would keep all of it alive.
    const n = raw.length;
    if (n > rawChunkCopyMax || this.maxBytes < rawChunkBytes * 32) {
      if (raw.byteOffset === 0 && raw.buffer.byteLength === n) {
        const e = newEntry(k, undefined, raw, rawEntryBytes(n), n, h);
        this.put(e);
        return e.live ? raw : undefined;
      }
      const own = copyBytes(raw);
      const e = newEntry(k, undefined, own, rawEntryBytes(n), n, h);
      this.put(e);
      return e.live ? own : undefined;
    }
    let c = this.chunk;
    if (c === undefined || c.used + n > rawChunkBytes) {
      // the full chunk stops being current: its bytes go when its last live entry does
      if (c !== undefined && c.live === 0) this.bytes -= rawChunkBytes;
      this.chunk = c = { buf: new Uint8Array(rawChunkBytes), used: 0, live: 0 };
      this.bytes += rawChunkBytes;
    }
    const at = c.used;
    const buf = c.buf;
    if (n <= 64) for (let i = 0; i < n; i++) buf[at + i] = raw[i]!;
    else buf.set(raw, at);
    c.used = at + n;
    const own = buf.subarray(at, at + n);
    const e = newEntry(k, undefined, own, rawEntryBytes(0), n, h);
    e.chunk = c;
    c.live++;
    this.put(e);
    return e.live ? own : undefined;
  }
  /** The slab chunk raw copies go into now. */
  private chunk: RawChunk | undefined;
  /** Entry e no longer holds its raw bytes: its chunk's bytes go with the chunk's last live entry. */
  private releaseRaw(e: CacheEntry): void {
    e.raw = undefined;
    const c = e.chunk;
    if (c === undefined) return;
    e.chunk = undefined;
    if (--c.live === 0 && c !== this.chunk) this.bytes -= rawChunkBytes;
  }
  private put(e: CacheEntry): void {
    if (this.maxBytes <= 0 || e.size > this.maxBytes) {
      e.live = false;
      this.releaseRaw(e);
      this.delete(e.key);
      return;
    }
    const old = this.unlink(e.key, e.h);
    if (old) {
      old.live = false;
      this.releaseRaw(old);
      this.bytes -= old.size;
      if (old.doc !== undefined) this.decoded--;
    } else {
      this.count++;
      this.added(e.h);
    }
    if (e.doc !== undefined) this.decoded++;
    e.next = this.map.get(e.h);
    this.map.set(e.h, e);
    this.queue.push(e);
    this.bytes += e.size;
    this.evict();
  }
  /** Removes key k's entry (of hash h) from its chain, without accounting: the entry, if there was one. */
  private unlink(k: string, h: number): CacheEntry | undefined {
    let e = this.map.get(h);
    let prev: CacheEntry | undefined;
    while (e !== undefined && e.key !== k) {
      prev = e;
      e = e.next;
    }
    if (e === undefined) return undefined;
    if (prev !== undefined) prev.next = e.next;
    else if (e.next !== undefined) this.map.set(h, e.next);
    else this.map.delete(h);
    e.next = undefined;
    return e;
  }
  /**
   * Insertion order for FIFO eviction, from `qHead` on; an entry no longer live (replaced, deleted)
   * is stale and skipped. (Taking the Map's first key instead costs O(deleted slots) per eviction:
   * ~100 µs at 100,000 entries.)
   */
  private queue: (CacheEntry | undefined)[] = [];
  private qHead = 0;
  private evict(): void {
    const q = this.queue;
    const max = this.maxBytes - this.memos.bytes;
    while (this.bytes > max && this.qHead < q.length) {
      const e = q[this.qHead]!;
      q[this.qHead++] = undefined;
      if (!e.live) continue;
      this.remove(e);
    }
    // drop the consumed head and stale entries once they outnumber the live entries
    if (this.qHead >= 1024 && this.qHead * 2 >= q.length) {
      this.queue = q.slice(this.qHead);
      this.qHead = 0;
    } else if (q.length - this.qHead > 4 * this.count + 2048) {
      const live: CacheEntry[] = [];
      for (let i = this.qHead; i < q.length; i++) if (q[i]!.live) live.push(q[i]!);
      this.queue = live;
      this.qHead = 0;
    }
  }
  private remove(e: CacheEntry): void {
    this.unlink(e.key, e.h);
    e.live = false;
    this.releaseRaw(e);
    this.bytes -= e.size;
    this.count--;
    if (e.doc !== undefined) this.decoded--;
    this.dropped();
  }
  delete(k: string): void {
    const e = this.find(k);
    if (e) this.remove(e);
  }
  clear(): void {
    for (const head of this.map.values()) {
      for (let e: CacheEntry | undefined = head; e !== undefined; e = e.next) {
        e.live = false;
        e.raw = undefined;
        e.chunk = undefined;
      }
    }
    this.map.clear();
    this.memos.clear();
    this.chunk = undefined;
    this.count = 0;
    this.decoded = 0;
    this.seen.fill(0);
    this.pendN = 0;
    this.pendIds.fill(undefined);
    this.held = new Int32Array(heldWordsMin);
    this.heldWords = heldWordsMin - 1;
    this.seenMarks = 0;
    this.heldStale = 0;
    this.queue = [];
    this.qHead = 0;
    this.bytes = 0;
  }
  /** Entries (`decoded` of them holding a decoded document), approximate bytes, hits and misses. */
  stats(): { entries: number; decoded: number; bytes: number; hits: number; misses: number } {
    this.admitPending();
    return { entries: this.count, decoded: this.decoded, bytes: this.bytes, hits: this.hits, misses: this.misses };
  }
}

/** Point-read misses the document cache's doorkeeper takes in one batch (`DocumentCache.notePointMiss`). */
const pendingMax = 64;
/** `admitPending`'s scratch: the batch's misses the doorkeeper admitted. */
const pendingAdmitted = new Int32Array(pendingMax);

/** Words of the document cache's held filter at least (4 KiB) and at most (2^21 bits: key hash bits 5-20 pick the word). */
const heldWordsMin = 1 << 10;
const heldWordsMax = 1 << 16;

/** Words of the held filter for `count` entries: a power of two, at least 4 words (128 bits, two set) per entry. */
function heldWordsFor(count: number): number {
  let n = heldWordsMin;
  while (n < heldWordsMax && n < count * 4) n *= 2;
  return n;
}

/**
 * The two bits of key hash h in its word of the document cache's held filter: bit h & 31 and one
 * of the 16 above it (wrapping), chosen by hash bits 21-24, which neither the word nor the first bit use.
 */
function heldMask(h: number): number {
  return (1 << (h & 31)) | (1 << ((h + 1 + ((h >>> 21) & 15)) & 31));
}

/** A cache entry for document key string `key`, whose `docKeyHash` is h. */
function newEntry(key: string, doc: Document | undefined, raw: Uint8Array | undefined, size: number, len: number, h = docKeyStringHash(key)): CacheEntry {
  return { doc, raw, size, len, read: false, key, h, next: undefined, live: true, chunk: undefined };
}

export class Engine {
  readonly store: Store;
  readonly docCache: DocumentCache;
  /** Bumped after every commit became visible (document cache fill check). */
  private commitGen = 0;
  readonly mutex = new Mutex();
  private catalog: CatalogDoc = { nextId: 1, collections: [] };
  private byName = new Map<string, CollMeta>();
  private runtime = new Map<number, RuntimeIndex[]>();
  readonly counters = new Map<number, { count: number; bytes: number }>();
  /** Batches handed to the store, not yet committed (newest first). */
  readonly inflight: Map<string, Staged>[] = [];
  /**
   * The commit counters of the `inflight` layers (same index), then one slot more: the array never
   * empties (one that does drops its backing store, and a sequential writer's next commit, whose
   * layer goes 0 -> 1 -> 0, would allocate a new one of 17 slots).
   */
  private inflightCounters: number[] = [0];
  /** Last change-log sequence number assigned. */
  changeSeq = 0;
  private commitCounter = 0;
  /** Highest commit counter whose write finished (document cache write-through ordering). */
  private finishedCounter = 0;
  private readonly lastWrite = new Map<string, number>();
  readonly activeTxns = new Set<TxnState>();
  readonly plugins = new Map<number, IndexPlugin>();
  readonly watchers = new Set<(events: ChangeEvent[]) => void>();
  /** Bumped on every catalog change (plan cache invalidation). */
  catalogVersion = 0;
  closed = false;
  readonly live: StoreReader;

  private constructor(store: Store, cacheBytes: number) {
    this.store = store;
    this.live = new StoreReader(store);
    this.docCache = new DocumentCache(cacheBytes, (key) => {
      if (this.closed) return undefined;
      const r = store.locateCached(key);
      if (r < 0) return undefined;
      if (r === 0) return null;
      const { buf, off, len } = store.hit;
      return buf.subarray(off, off + len);
    });
  }

  /**
   * A document by its encoded _id, decoded; from the cache when `reader` is the live view.
   * The caller owns the returned object.
   */
  async readDocument(reader: KVReader, collId: number, encId: Uint8Array, missed = false): Promise<{ doc: Document; bytes: number } | undefined> {
    const dk = documentKey(collId, encId);
    const k = bytesKey(dk);
    if (reader !== this.live && !this.readsLive(reader, k)) {
      const v = await reader.get(dk);
      return v ? { doc: decodeDocument(v), bytes: v.length } : undefined;
    }
    // `missed`: the caller probed the cache for this key just now (synchronously) and missed
    const e = missed ? undefined : this.docCache.entry(k);
    if (e) return { doc: this.docCache.own(e), bytes: e.len };
    const v = await this.readLiveMiss(dk, k);
    return v ? { doc: decodeDocument(v), bytes: v.length } : undefined;
  }

  /**
   * The committed BSON of a document the cache does not hold, read from the store; kept as a raw
   * entry (copied into the cache's slab chunk when small; a second read keeps the decoded form),
   * unless a commit finished while we read.
   */
  private async readLiveMiss(dk: Uint8Array, k: string): Promise<Uint8Array | undefined> {
    const gen = this.commitGen;
    const v = await this.live.get(dk);
    if (v && gen === this.commitGen) this.docCache.setRaw(k, v);
    return v;
  }

  /**
   * Point read by document key `dk` (findOne by _id), synchronous: the document (the caller's), null
   * when there is none, or undefined when the read needs storage I/O (then call `pointReadAsync` at
   * once, in the same synchronous turn). Answers when the document cache, a memtable or a cached
   * block has the document: one probe, no wrapper objects, no view of the BSON. `id`: the _id
   * `dk` was made of when it is a string (the decoded document's _id is then that string).
   */
  pointRead(reader: KVReader, dk: Uint8Array, id?: string): Document | null | undefined {
    let k: string | undefined;
    if (reader !== this.live) {
      k = bytesKey(dk);
      if (!this.readsLive(reader, k)) {
        const v = reader.getCached(dk);
        if (v === undefined) return undefined;
        return v ? decodeDocument(v) : null;
      }
    }
    // the key string is built only when the cache may hold the document or is to keep it
    const cache = this.docCache;
    const h = docKeyHash(dk);
    if (cache.mayHold(h)) {
      const e = cache.entryOf(dk, h);
      if (e) return cache.own(e);
    }
    // the committed BSON, located in store memory (a cached block or a memtable): decoded from
    // there at once (no view or copy), never kept as is
    const st = this.store;
    const r = st.locateCached(dk);
    if (r < 0) return undefined;
    if (r === 0) return null;
    const { buf, off, len } = st.hit;
    const doc = decodeDocumentAt(buf, off, len, id);
    // a document read once costs no copy: its BSON is cached (copied) after its second miss, by
    // the doorkeeper's next batch (which reads it again from store memory, synchronously: no
    // commit can finish during it, as during this read)
    cache.notePointMiss(dk, h, id);
    return doc;
  }

  /**
   * The read `pointRead` could not finish synchronously (it returned undefined just before, so
   * the document cache does not hold `dk`): reads the store, caching the BSON on the live view.
   */
  async pointReadAsync(reader: KVReader, dk: Uint8Array): Promise<Document | null> {
    if (reader !== this.live && !this.readsLive(reader, bytesKey(dk))) {
      const v = await reader.get(dk);
      return v ? decodeDocument(v) : null;
    }
    // as `pointRead`: a document read once is not cached (no key string, no copy, no entry); its
    // second miss keeps its BSON, unless a commit finished while we read. At 1,000,000 documents
    // nearly every random get is a first read, and caching each cost ~4 µs of a ~25 µs get
    const gen = this.commitGen;
    const v = await this.store.get(dk);
    if (!v) return null;
    const cache = this.docCache;
    const h = docKeyHash(dk);
    if (gen === this.commitGen && cache.admitHash(h)) cache.setRaw(bytesKey(dk), v, h);
    return decodeDocument(v);
  }

  /** A write scope over the live view with nothing staged for key `k` reads what the live view (and the cache) has. */
  private readsLive(reader: KVReader, k: string): boolean {
    return reader instanceof Overlay && reader.base === this.live && !reader.holds(k);
  }

  /** Raw read for lazy scans: the cached decoded document (shared, do not mutate) or the BSON bytes. */
  async readRaw(reader: KVReader, collId: number, encId: Uint8Array, missed = false): Promise<{ cached?: Document; raw?: Uint8Array } | undefined> {
    if (reader !== this.live) {
      const v = await reader.get(documentKey(collId, encId));
      return v ? { raw: v } : undefined;
    }
    const dk = documentKey(collId, encId);
    const k = bytesKey(dk);
    const e = missed ? undefined : this.docCache.entry(k);
    if (e) return e.doc !== undefined ? { cached: e.doc } : { raw: e.raw! };
    const v = await this.readLiveMiss(dk, k);
    return v ? { raw: v } : undefined;
  }

  static async open(store: Store, options: { documentCacheBytes?: number } = {}): Promise<Engine> {
    const e = new Engine(store, options.documentCacheBytes ?? documentCacheBytesDefault);
    const v = await store.get(versionKey);
    if (!v) {
      await store.write([
        { type: 'put', key: versionKey, value: Uint8Array.of(documentFormatVersion) },
        { type: 'put', key: catalogKey, value: BSON.serialize(e.catalog) },
      ]);
    } else {
      if (v[0] !== documentFormatVersion) throw new LargetableError('UNSUPPORTED_FORMAT', `document format version ${v[0]} is not supported (expected ${documentFormatVersion})`);
      const c = await store.get(catalogKey);
      if (!c) throw new LargetableError('CORRUPTION', 'catalog missing');
      e.catalog = BSON.deserialize(c, bsonOptions) as CatalogDoc;
    }
    for (const m of e.catalog.collections) {
      const cb = await store.get(countersKey(m.id));
      const cd = cb ? BSON.deserialize(cb) : { count: 0, bytes: 0 };
      e.counters.set(m.id, { count: Number(cd.count), bytes: Number(cd.bytes) });
    }
    const cs = await store.get(changeSeqKey);
    if (cs && cs.length === 8) e.changeSeq = readU64(cs, 0);
    e.reindex();
    for (const m of e.catalog.collections) for (const ix of m.indexes) if (ix.kind) await e.startPlugin(m, ix, null);
    return e;
  }

  private reindex(): void {
    this.byName.clear();
    this.lastCollection = undefined;
    this.runtime.clear();
    for (const m of this.catalog.collections) {
      this.byName.set(`${m.db}.${m.name}`, m);
      this.runtime.set(
        m.id,
        m.indexes.map((ix) => ({
          meta: ix,
          fields: parseIndexFields(ix.key),
          prefix: indexPrefix(ix.id),
          ...(ix.partialFilterExpression ? { partial: compileFilter(ix.partialFilterExpression) } : {}),
          ...(this.plugins.get(ix.id) ? { plugin: this.plugins.get(ix.id)! } : {}),
        })),
      );
    }
    this.catalogVersion++;
  }

  private async startPlugin(m: CollMeta, ix: IndexMeta, existing: AsyncIterable<[unknown, Document]> | null): Promise<IndexPlugin> {
    const factory = indexKindFactory(ix.kind!);
    if (!factory) throw new LargetableError('NOT_SUPPORTED', `index kind '${ix.kind}' is not available (index ${ix.name})`);
    const p = await factory(
      { collectionId: m.id, indexId: ix.id, name: ix.name, key: ix.key, options: ix.options ?? {}, store: this.store, keyPrefix: pluginPrefix(ix.id) },
      existing,
    );
    this.plugins.set(ix.id, p);
    const rt = this.runtime.get(m.id)?.find((r) => r.meta.id === ix.id);
    if (rt) rt.plugin = p;
    return p;
  }

  checkOpen(): void {
    if (this.closed) throw new LargetableError('CLOSED', 'client is closed');
  }

  collection(db: string, name: string): CollMeta | undefined {
    // the last one found again (every insert asks for its collection): no key string built and hashed
    if (this.lastCollection !== undefined && this.lastCollectionDb === db && this.lastCollectionName === name) return this.lastCollection;
    const m = this.byName.get(`${db}.${name}`);
    if (m !== undefined) {
      this.lastCollection = m;
      this.lastCollectionDb = db;
      this.lastCollectionName = name;
    }
    return m;
  }

  /** `collection`'s last answer and the names it was found by (dropped by `reindex`). */
  private lastCollection: CollMeta | undefined;
  private lastCollectionDb = '';
  private lastCollectionName = '';

  collections(): readonly CollMeta[] {
    return this.catalog.collections;
  }

  indexes(collId: number): RuntimeIndex[] {
    return this.runtime.get(collId) ?? [];
  }

  /** Creates the collection in the catalog (staged in `scope`). Caller holds the mutex. */
  ensureCollection(scope: WriteScope, db: string, name: string, options: Document = {}): CollMeta {
    const existing = this.collection(db, name);
    if (existing) return existing;
    validateName('database', db);
    validateName('collection', name);
    const m: CollMeta = { id: this.catalog.nextId++, db, name, options, indexes: [] };
    this.catalog.collections.push(m);
    this.counters.set(m.id, { count: 0, bytes: 0 });
    scope.catalogDirty = true;
    this.reindex();
    return m;
  }

  // ---------------------------------------------------------------- writes

  newScope(): WriteScope {
    return new WriteScope(new Overlay(this.live, this.inflight));
  }

  /** Run `fn` as one atomic write (or inside the session's transaction). Returns after commit. */
  async write<R>(fn: (scope: WriteScope) => Promise<R>, txn?: TxnState, durability?: Durability): Promise<R> {
    this.checkOpen();
    if (txn) {
      const saved = new Map(txn.scope.overlay.staged);
      const savedEvents = txn.scope.events.length;
      try {
        return await fn(txn.scope);
      } catch (err) {
        txn.scope.overlay.staged.clear();
        for (const [k, v] of saved) txn.scope.overlay.staged.set(k, v);
        txn.scope.events.length = savedEvents;
        throw err;
      }
    }
    const release = await this.mutex.lock();
    let released = false;
    const scope = this.newScope();
    try {
      this.checkOpen();
      const result = await fn(scope);
      const commit = this.prepareCommit(scope, durability);
      released = true;
      release();
      if (commit) await this.submit(commit);
      return result;
    } catch (err) {
      if (!released) {
        release();
        scope.abortPlugins();
      }
      throw err;
    }
  }

  /** The insertOne group that later insertOne calls may still join (see `insertOne`). */
  private openInsertGroup: InsertGroup | undefined;

  /**
   * A non-transactional insertOne. Calls that arrive while the group queued before them has not
   * taken the mutex yet, with nothing else queued on the mutex after it (so the order of writes
   * stays the order of the calls), for the same collection and durability, join that group: it
   * stages them in call order with one scope and one `_id` read pass and commits them as ONE
   * batch, as insertMany does. Each insert stays atomic on its own: a refused document (duplicate
   * `_id`, bad index key) fails only its own call and stages nothing; the others succeed once
   * the batch is durable (a failed batch fails them all, as a failed group commit does).
   * Concurrent callers then share a mutex turn, a scope and a commit, not just the fsync, and one
   * promise: the returned one is the group's, resolved (never rejected) once the group settled,
   * when `p.error` holds this call's failure if it has one (the caller throws it).
   */
  insertOne(db: string, name: string, p: PreparedInsert, durability: Durability | undefined): Promise<void> {
    this.checkOpen();
    const g = this.openInsertGroup;
    if (g !== undefined && g.queued === this.mutex.queued && g.db === db && g.name === name && g.durability === durability && g.items.length < insertGroupMax) {
      g.items.push(p);
      return g.done;
    }
    // the group's one promise (it never rejects: failures go on the items), resolved by `groupDone`
    const done = new Promise<void>(takeResolve);
    const ng: InsertGroup = { db, name, durability, items: [p], queued: 0, done, resolve: takenResolve, next: undefined };
    takenResolve = noop;
    // groups wait for the mutex in line (runInsertGroup takes the oldest): no async frame per group
    if (this.groupsTail === undefined) this.groupsHead = ng;
    else this.groupsTail.next = ng;
    this.groupsTail = ng;
    this.mutex.lockThen(this.runInsertGroup);
    // queued on the mutex synchronously: later calls join while nothing queued after it
    ng.queued = this.mutex.queued;
    this.openInsertGroup = ng;
    return done;
  }

  /** insertOne groups waiting for the mutex, oldest first (linked by `next`). */
  private groupsHead: InsertGroup | undefined;
  private groupsTail: InsertGroup | undefined;

  /**
   * Stages and commits the oldest waiting insertOne group under one mutex turn, as one commit
   * (the mutex grants turns in the order they were asked for). (Splitting a large group into two
   * commits, the second staged while the first syncs, measured no faster with 64 callers and cost
   * ~10% more CPU per insert: a commit more per round, and half the inserts per sync.)
   */
  private readonly runInsertGroup = (release: () => void): void => {
    const g = this.groupsHead!;
    this.groupsHead = g.next;
    if (g.next === undefined) this.groupsTail = undefined;
    g.next = undefined;
    if (this.openInsertGroup === g) this.openInsertGroup = undefined;
    let scope: WriteScope | undefined;
    try {
      scope = this.newScope();
      this.checkOpen();
      const coll = this.ensureCollection(scope, g.db, g.name);
      if (!this.stageInsertsSync(scope, coll, g.items, keepRefusal)) {
        void this.runInsertGroupAsync(g, release, scope, coll);
        return;
      }
    } catch (err) {
      release();
      scope?.abortPlugins();
      groupDone(g, err);
      return;
    }
    this.commitInsertGroup(g, release, scope);
  };

  /** runInsertGroup's staging with reads (a unique secondary index): then its commit. */
  private async runInsertGroupAsync(g: InsertGroup, release: () => void, scope: WriteScope, coll: CollMeta): Promise<void> {
    try {
      await this.stageInserts(scope, coll, g.items, keepRefusal);
    } catch (err) {
      release();
      scope.abortPlugins();
      groupDone(g, err);
      return;
    }
    this.commitInsertGroup(g, release, scope);
  }

  /** Prepares a staged insertOne group's commit, releases the mutex and hands the commit over; the group settles with it. */
  private commitInsertGroup(g: InsertGroup, release: () => void, scope: WriteScope): void {
    let commit: CommitEntry | undefined;
    try {
      commit = this.prepareCommit(scope, g.durability);
    } catch (err) {
      release();
      scope.abortPlugins();
      groupDone(g, err);
      return;
    }
    release();
    if (commit === undefined) {
      groupDone(g, undefined);
      return;
    }
    commit.group = g;
    try {
      this.enqueueCommit(commit);
    } catch (err) {
      this.commitFailed(commit);
      groupDone(g, err);
    }
  }

  private readonly countersKeys = new Map<number, Uint8Array>();
  /** countersKey(collId), built once per collection (the store copies keys, so one array serves every commit). */
  private countersKeyOf(collId: number): Uint8Array {
    let k = this.countersKeys.get(collId);
    if (k === undefined) this.countersKeys.set(collId, (k = countersKey(collId)));
    return k;
  }

  /** Adds a commit's counter deltas of `collId` to its counters: their record, unless nothing changed or the collection is gone. */
  private countCommitted(collId: number, count: number, bytes: number): WriteOp | undefined {
    if (count === 0 && bytes === 0) return undefined; // e.g. an update that kept the size
    let c = this.counters.get(collId);
    if (c === undefined) this.counters.set(collId, (c = { count: 0, bytes: 0 }));
    c.count += count;
    c.bytes += bytes;
    return this.collectionById(collId) ? { type: 'put', key: this.countersKeyOf(collId), value: encodeCounters(c.count, c.bytes) } : undefined;
  }

  /**
   * Builds the batch and registers it in flight; caller holds the mutex. Returns the commit, which
   * the caller hands to `submit` right after releasing the mutex (store order = mutex order); no
   * closure per commit.
   */
  private prepareCommit(scope: WriteScope, durability?: Durability): CommitEntry | undefined {
    if (this.catalogChanged) {
      this.catalogChanged = false;
      scope.catalogDirty = true;
    }
    const staged = scope.overlay.staged;
    const pending = scope.events;
    if (staged.size === 0 && !scope.catalogDirty && pending.length === 0) return undefined;
    // the staged writes (the layer's entries themselves: not to be mutated), then the change-log
    // records; arrays made at their final size (a push past an array's capacity copies it)
    const ops = new Array<WriteOp>(staged.size + pending.length);
    // forEach with a shared callback (no closure per commit) filling `fillOps`
    fillOps = ops;
    fillN = 0;
    staged.forEach(fillOp);
    let nOps = fillN;
    fillOps = noOps;
    // meta records (counters, change sequence, catalog) hold totals: a later commit's supersede them
    const more = scope.moreDeltas;
    const meta = new Array<WriteOp>((scope.deltaColl < 0 ? 0 : 1) + (more === undefined ? 0 : more.size) + 2);
    let nMeta = 0;
    if (scope.deltaColl >= 0) {
      const op = this.countCommitted(scope.deltaColl, scope.deltaCount, scope.deltaBytes);
      if (op !== undefined) meta[nMeta++] = op;
    }
    // a for-of (its iterator and entries only for scopes of several collections): a closure here
    // would put meta and nMeta in a context object made on every call
    if (more !== undefined) {
      for (const [collId, d] of more) {
        const op = this.countCommitted(collId, d.count, d.bytes);
        if (op !== undefined) meta[nMeta++] = op;
      }
    }
    const firstSeq = this.changeSeq + 1;
    let wallMs = 0;
    let entryInPlace = 0;
    let logBuffer: ArrayBufferLike | undefined;
    if (pending.length > 0) {
      wallMs = Date.now();
      // an insert's record is written around its document, into the room reserved before its
      // bytes (the store then writes them once, the document's value a reference to the record's:
      // see storeOrder); all other records go into one buffer (the store copies them into its WAL record)
      // the other records' BSON parts (made on the first such record: none for inserts)
      let bodies: (Uint8Array | undefined)[] | undefined;
      let total = 0;
      for (let i = 0; i < pending.length; i++) {
        const pe = pending[i]!;
        const nm = changeNames(pe.db, pe.coll);
        if (inPlaceRecord(pe, nm)) {
          entryInPlace++;
          continue;
        }
        const body = changeBody(pe);
        (bodies ??= new Array<Uint8Array | undefined>(pending.length))[i] = body;
        total += 17 + nm.length + body.length;
      }
      const buf = total > 0 ? new Uint8Array(total) : undefined;
      logBuffer = buf?.buffer;
      // the records' keys: views of one buffer (not an array, buffer and backing store per record)
      const slotKeys = new Uint8Array(changeLogSlotKeyBytes * pending.length);
      let o = 0;
      for (let i = 0; i < pending.length; i++) {
        const n = ++this.changeSeq;
        const pe = pending[i]!;
        const body = bodies?.[i];
        const nm = changeNames(pe.db, pe.coll);
        let value: Uint8Array;
        if (body === undefined) {
          const fb = pe.fullDocumentBytes!;
          const h = pe.fullDocumentRoom!;
          value = new Uint8Array(fb.buffer, fb.byteOffset - h, h + fb.length);
          writeChangeHeader(value, 0, n, wallMs, pe.op, nm);
        } else {
          const end = writeChange(buf!, o, n, wallMs, pe.op, nm, body);
          value = buf!.subarray(o, end);
          o = end;
        }
        // a ring of changeLogEntriesMax slots: each event overwrites the oldest (no deletes needed)
        const ko = changeLogSlotKeyBytes * i;
        writeChangeLogSlotKey(slotKeys, ko, n % changeLogEntriesMax);
        // a lone record's key is the small array itself (a view of an on-heap array would move it off the heap)
        ops[nOps++] = { type: 'put', key: pending.length === 1 ? slotKeys : slotKeys.subarray(ko, ko + changeLogSlotKeyBytes), value };
      }
      const v = new Uint8Array(8);
      writeU64(v, 0, this.changeSeq);
      meta[nMeta++] = { type: 'put', key: changeSeqKey, value: v };
    }
    if (scope.catalogDirty) meta[nMeta++] = { type: 'put', key: catalogKey, value: BSON.serialize(this.catalog) };
    meta.length = nMeta;
    const counter = ++this.commitCounter;
    if (this.activeTxns.size > 0) {
      for (const k of scope.overlay.staged.keys()) this.lastWrite.set(k, counter);
      if (scope.conflictKeys !== undefined) for (const k of scope.conflictKeys) this.lastWrite.set(k, counter);
    }
    const layer = scope.overlay.staged;
    this.inflight.unshift(layer);
    this.inflightCounters.unshift(counter);
    const entry: CommitEntry = {
      ops,
      meta,
      layer,
      durability,
      coalesce: durability !== 'relaxed',
      scope,
      counter,
      firstSeq,
      wallMs,
      inPlace: entryInPlace,
      logBuffer,
      group: undefined,
      resolve: noop,
      reject: noop,
    };
    return entry;
  }

  // ---------------------------------------------------------------- commit coalescing

  /** Commits waiting for the store writes in flight (all of one durability class). */
  private commitQueue: CommitEntry[] = [];
  /** Store writes in flight whose commits may be joined by later ones (not 'relaxed'). */
  private coalescableInFlight = 0;
  private writesInFlight = 0;
  private idleWaiters: (() => void)[] = [];

  /**
   * Hands a commit to the store. While a durable write is in flight, later durable commits wait
   * and then go to the store as ONE batch (their staged writes in commit order, plus the newest
   * counters / change sequence / catalog records only): concurrent single writes share a WAL
   * record and a memtable pass, not just the fsync. This is the storage engine's group commit one
   * layer up: the store would not have started them before that write finished either. A relaxed
   * commit never waits: it first sends what is queued (store order stays commit order), then
   * itself. Each commit stays atomic (a merged batch is atomic as a whole); a failed batch fails
   * every commit in it, as a failed group commit does in the store.
   */
  private submit(entry: CommitEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
      this.enqueueCommit(entry);
    });
  }

  /** `submit` of a commit that settles through its `group` or its own resolve and reject (no promise made here). */
  private enqueueCommit(entry: CommitEntry): void {
    const q = this.commitQueue;
    if (entry.coalesce && this.coalescableInFlight > 0 && (q.length === 0 || q[0]!.durability === entry.durability)) {
      q.push(entry);
      return;
    }
    if (q.length > 0) this.issue(q.splice(0), true);
    this.issue([entry], false);
  }

  /** Writes a group of commits to the store; each settles (`commitSettled`) once the store told how the write ended. */
  private issue(group: CommitEntry[], waited: boolean): void {
    const first = group[0]!;
    let ops: WriteOp[];
    if (group.length === 1) {
      const meta = first.meta;
      if (first.inPlace > 0) ops = storeOrder(first);
      else {
        ops = first.ops;
        for (let i = 0; i < meta.length; i++) ops.push(meta[i]!);
      }
    } else {
      // later commits' writes of a key replace earlier ones (they read them through the in-flight
      // layers). A commit's ops are its staged layer's entries (keyed already), then its change-log
      // records: those keys (prefix 0x13) are written by nothing else, and distinct within the group
      // unless it holds more events than the ring has slots.
      const merged = new Map<string, WriteOp>();
      let events = 0;
      for (const e of group) events += e.ops.length - e.layer.size;
      const log: WriteOp[] | undefined = events <= changeLogEntriesMax ? [] : undefined;
      for (const e of group) {
        e.layer.forEach((st, k) => merged.set(k, st as WriteOp));
        const eops = e.ops;
        for (let i = e.layer.size; i < eops.length; i++) {
          const op = eops[i]!;
          if (log) log.push(op);
          else merged.set(bytesKey(op.key), op);
        }
        for (const m of e.meta) merged.set(bytesKey(m.key), m);
      }
      ops = Array.from(merged.values());
      if (log) for (const op of log) ops.push(op);
    }
    const coalesce = first.coalesce;
    if (coalesce) this.coalescableInFlight++;
    this.writesInFlight++;
    // more commits follow when writers wait for the mutex, or when this group waited for a write in
    // flight (concurrent writers, whose callers resume with their next commits): the store then
    // keeps the thread free for them instead of writing this one synchronously
    const more = waited || this.mutex.waiting > 0;
    this.store.writeTo(ops, writeOptionsOf(first.durability, more), new IssuedCommits(this, group, coalesce));
  }

  /** The store wrote a group of commits (`IssuedCommits`): each is done, then settles. Never throws. */
  groupWritten(group: CommitEntry[], coalesce: boolean, seq: number): void {
    this.written(coalesce);
    for (let i = 0; i < group.length; i++) {
      const e = group[i]!;
      let failure: unknown;
      let failed = false;
      try {
        this.commitDone(e, seq);
      } catch (err) {
        failed = true;
        failure = err;
      }
      commitSettled(e, failed, failure);
    }
  }

  /** The store failed a group of commits: each fails with `err`. Never throws. */
  groupFailed(group: CommitEntry[], coalesce: boolean, err: unknown): void {
    this.written(coalesce);
    for (let i = 0; i < group.length; i++) {
      const e = group[i]!;
      try {
        this.commitFailed(e);
      } catch {
        // the commit fails with the store's error regardless
      }
      commitSettled(e, true, err);
    }
  }

  private leaveInflight(layer: Map<string, Staged>): void {
    const i = this.inflight.indexOf(layer);
    if (i < 0) return;
    // the oldest layer (the last) or the only one leaves without splice's array of removed elements
    if (i === this.inflight.length - 1) {
      this.inflight.pop();
      // (the counters' extra last slot stays: see inflightCounters)
      this.inflightCounters.pop();
      this.inflightCounters[i] = 0;
    } else {
      this.inflight.splice(i, 1);
      this.inflightCounters.splice(i, 1);
    }
  }

  private commitFailed(e: CommitEntry): void {
    this.leaveInflight(e.layer);
    e.scope.abortPlugins();
  }

  private commitDone(e: CommitEntry, seq: number): void {
    this.leaveInflight(e.layer);
    this.commitGen++;
    // write through when no later commit finished first (else that one may have the newer value),
    // to documents the cache holds only: a write does not add one (reads admit documents; a bulk
    // load would otherwise fill the cache with documents nobody read: measured on a 100k-document
    // load, ~80 MB of fresh memory and ~6 us of CPU per document)
    const latest = e.counter > this.finishedCounter;
    if (latest) this.finishedCounter = e.counter;
    // forEach: no [key, value] entry array per staged write (a for-of over the map allocates one)
    // an empty cache holds nothing to refresh or drop (the common case while only writing): no
    // pass over the staged writes (measured ~3 us of CPU per insertOne from 64 callers)
    const cache = this.docCache;
    if (!cache.empty) {
      e.layer.forEach((st, k) => {
        if (st.key[0] !== 0x10) return;
        cache.written(st.key);
        if (latest && st.value) {
          if (cache.has(k)) cache.setRaw(k, st.value);
        } else cache.delete(k);
      });
    }
    if (e.scope.plugins !== undefined) for (const p of e.scope.plugins) p.afterCommit(BigInt(seq));
    const pending = e.scope.events;
    if (pending.length > 0 && this.watchers.size > 0) {
      // change events are built only when someone listens
      const events: ChangeEvent[] = new Array(pending.length);
      const wallTime = new Date(e.wallMs);
      for (let i = 0; i < pending.length; i++) events[i] = { ...pending[i]!, fullDocumentBytes: undefined, fullDocumentRoom: undefined, seq: BigInt(e.firstSeq + i), wallTime };
      for (const w of this.watchers) w(events);
    }
  }

  private written(coalesce: boolean): void {
    this.writesInFlight--;
    if (coalesce) this.coalescableInFlight--;
    if (this.coalescableInFlight === 0 && this.commitQueue.length > 0) this.issue(this.commitQueue.splice(0), true);
    if (this.writesInFlight === 0 && this.commitQueue.length === 0 && this.idleWaiters.length > 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of w) r();
    }
  }

  /** Resolves when every commit handed over so far has been written (or failed). */
  private commitsIdle(): Promise<void> {
    if (this.writesInFlight === 0 && this.commitQueue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  collectionById(id: number): CollMeta | undefined {
    // an indexed loop, not find() or for-of: no closure, iterator or result per call (every commit asks)
    const cs = this.catalog.collections;
    for (let i = 0; i < cs.length; i++) if (cs[i]!.id === id) return cs[i];
    return undefined;
  }

  beginTransaction(): TxnState {
    this.checkOpen();
    const snapshot = this.store.snapshot();
    let startCounter = this.commitCounter;
    for (let i = 0; i < this.inflight.length; i++) if (this.inflightCounters[i]! - 1 < startCounter) startCounter = this.inflightCounters[i]! - 1;
    const txn: TxnState = { scope: new WriteScope(new Overlay(new StoreReader(this.store, snapshot))), snapshot, startCounter };
    this.activeTxns.add(txn);
    return txn;
  }

  endTransaction(txn: TxnState): void {
    if (!this.activeTxns.delete(txn)) return;
    txn.snapshot.release();
    if (this.activeTxns.size === 0) this.lastWrite.clear();
  }

  async commitTransaction(txn: TxnState): Promise<void> {
    this.checkOpen();
    const release = await this.mutex.lock();
    let commit: CommitEntry | undefined;
    try {
      const keys = [...txn.scope.overlay.staged.keys(), ...(txn.scope.conflictKeys ?? [])];
      for (const k of keys) {
        if ((this.lastWrite.get(k) ?? 0) > txn.startCounter) {
          throw new LargetableError('WRITE_CONFLICT', 'WriteConflict: a concurrent operation wrote the same document or unique key; the transaction was aborted', {
            details: { errorLabels: ['TransientTransactionError'] },
          });
        }
      }
      commit = this.prepareCommit(txn.scope);
    } catch (err) {
      txn.scope.abortPlugins();
      this.endTransaction(txn);
      release();
      throw err;
    }
    this.endTransaction(txn);
    release();
    if (commit) await this.submit(commit);
  }

  abortTransaction(txn: TxnState): void {
    txn.scope.abortPlugins();
    this.endTransaction(txn);
  }

  // ---------------------------------------------------------------- document + index maintenance

  /**
   * Stage the change of one document (insert: before undefined; delete: after undefined) with all
   * its index entries. Checks unique indexes against `scope.overlay` (throws DUPLICATE_KEY).
   */
  async stageDocument(
    scope: WriteScope,
    coll: CollMeta,
    id: unknown,
    encId: Uint8Array,
    before: Document | undefined,
    beforeBytes: number,
    after: Document | undefined,
    afterBytes: Uint8Array | undefined,
  ): Promise<void> {
    const ch = this.indexChanges(coll, encId, before, after);
    if (ch.uniqueChecks > 0) {
      for (let i = 0; i < ch.nPuts; i++) {
        const ix = ch.putIx[i]!;
        if (ix.meta.unique) await this.checkUnique(scope, coll, ix, ch.putParts[i]!, encId, after!);
      }
    }
    this.applyStaged(scope, coll, id, encId, before, beforeBytes, after, afterBytes, ch, undefined, undefined);
  }

  /**
   * Stages inserts in order, each atomic on its own: a refused document (duplicate key, bad index
   * key) stages nothing. The `_id` checks of all documents are read up front, concurrently (a miss
   * is a memtable probe plus bloom filters); without unique secondary indexes the staging itself is
   * synchronous. `onError(i, err)` returns true to go on with the next document, false to stop (or
   * rethrows); `staged(i)` is called for each staged document.
   */
  async stageInserts(
    scope: WriteScope,
    coll: CollMeta,
    items: readonly (PreparedInsert | undefined)[],
    onError: (i: number, err: unknown, items: readonly (PreparedInsert | undefined)[]) => boolean,
    staged?: (i: number) => void,
  ): Promise<void> {
    const n = items.length;
    const dks = new Array<Uint8Array | undefined>(n);
    const kss = new Array<string | undefined>(n);
    insertKeys(coll, items, dks, kss);
    // answered from memory (a fresh _id: memtable and bloom filters) without an await, else read
    const present = scope.overlay.presentBelowSync(dks, kss) ?? (await scope.overlay.presentBelow(dks, kss));
    if (this.syncStaging(coll)) {
      this.stageInsertItems(scope, coll, items, dks, kss, present, onError, staged);
      return;
    }
    const ov = scope.overlay;
    for (let i = 0; i < n; i++) {
      const p = items[i];
      if (!p) continue;
      try {
        checkNewId(ov, coll, p, kss[i]!, present[i]!);
        await this.stageDocument(scope, coll, p.id, p.encId, undefined, 0, p.doc, p.bytes);
        insertStaged(scope, coll, p);
        staged?.(i);
      } catch (err) {
        if (!onError(i, err, items)) return;
      }
    }
  }

  /**
   * `stageInserts` without an await (no promise, async frame and microtask per call: a sequential
   * writer's every commit): when the collection has no unique secondary index and every `_id`
   * check is answered from memory. Returns false, having staged nothing, when it cannot (the
   * caller then awaits `stageInserts`).
   */
  stageInsertsSync(
    scope: WriteScope,
    coll: CollMeta,
    items: readonly (PreparedInsert | undefined)[],
    onError: (i: number, err: unknown, items: readonly (PreparedInsert | undefined)[]) => boolean,
  ): boolean {
    if (!this.syncStaging(coll)) return false;
    const n = items.length;
    const dks = new Array<Uint8Array | undefined>(n);
    const kss = new Array<string | undefined>(n);
    insertKeys(coll, items, dks, kss);
    const present = scope.overlay.presentBelowSync(dks, kss);
    if (present === undefined) return false;
    this.stageInsertItems(scope, coll, items, dks, kss, present, onError, undefined);
    return true;
  }

  /** Stages inserts in order, synchronously (`syncStaging(coll)`), each atomic on its own (see `stageInserts`). */
  private stageInsertItems(
    scope: WriteScope,
    coll: CollMeta,
    items: readonly (PreparedInsert | undefined)[],
    dks: readonly (Uint8Array | undefined)[],
    kss: readonly (string | undefined)[],
    present: readonly boolean[],
    onError: (i: number, err: unknown, items: readonly (PreparedInsert | undefined)[]) => boolean,
    staged: ((i: number) => void) | undefined,
  ): void {
    const ov = scope.overlay;
    for (let i = 0; i < items.length; i++) {
      const p = items[i];
      if (!p) continue;
      try {
        checkNewId(ov, coll, p, kss[i]!, present[i]!);
        this.stageDocumentSync(scope, coll, p.id, p.encId, undefined, 0, p.doc, p.bytes, dks[i], kss[i]);
        insertStaged(scope, coll, p);
        staged?.(i);
      } catch (err) {
        if (!onError(i, err, items)) return;
      }
    }
  }

  /** True when writes to the collection need no asynchronous unique-index check (only `_id` is unique). */
  syncStaging(coll: CollMeta): boolean {
    // an indexed loop: a for-of allocates an iterator and a result per index in unoptimized code (every commit asks)
    const indexes = this.indexes(coll.id);
    for (let i = 0; i < indexes.length; i++) if (indexes[i]!.meta.unique && !indexes[i]!.plugin) return false;
    return true;
  }

  /**
   * stageDocument() for a collection without unique secondary indexes (`syncStaging(coll)`): no
   * read, so no await. `dk`/`dks` are the document key and its bytesKey when the caller has them.
   */
  stageDocumentSync(
    scope: WriteScope,
    coll: CollMeta,
    id: unknown,
    encId: Uint8Array,
    before: Document | undefined,
    beforeBytes: number,
    after: Document | undefined,
    afterBytes: Uint8Array | undefined,
    dk?: Uint8Array,
    dks?: string,
  ): void {
    // nothing awaits between computing and applying the changes: one reused IndexChanges serves
    // every document (unless a plugin's onWrite stages another document meanwhile)
    const reuse = !this.syncChangesBusy;
    const ch = this.indexChanges(coll, encId, before, after, reuse ? resetIndexChanges(this.syncChanges) : newIndexChanges());
    if (ch.uniqueChecks > 0) throw new Error('internal: stageDocumentSync on a collection with a unique secondary index');
    if (reuse) this.syncChangesBusy = true;
    try {
      this.applyStaged(scope, coll, id, encId, before, beforeBytes, after, afterBytes, ch, dk, dks);
    } finally {
      if (reuse) this.syncChangesBusy = false;
    }
  }

  private readonly syncChanges: IndexChanges = newIndexChanges();
  private syncChangesBusy = false;

  /** Index entries to delete and to put for one document change (nothing is staged yet), into `ch` (empty). */
  private indexChanges(coll: CollMeta, encId: Uint8Array, before: Document | undefined, after: Document | undefined, ch: IndexChanges = newIndexChanges()): IndexChanges {
    const indexes = this.indexes(coll.id);
    // an indexed loop: a for-of allocates its iterator and a result per step in unoptimized code
    for (let j = 0; j < indexes.length; j++) {
      const ix = indexes[j]!;
      if (ix.plugin) {
        ch.plugins = true;
        continue;
      }
      if (before === undefined && after !== undefined && !ix.meta.unique) {
        // an insert into a non-unique single-field index: the entry key is built in one buffer
        const ek = scalarEntryKey(ix, after, encId);
        if (ek !== undefined) {
          addPut(ch, ek, ix, noKeyPart);
          continue;
        }
      }
      const oldKeys = before ? this.keysOf(ix, before) : noKeys;
      const newKeys = after ? this.keysOf(ix, after, coll) : noKeys;
      if (oldKeys.length === 0) {
        for (const k of newKeys) {
          addPut(ch, entryKey(ix.prefix, k, encId), ix, k);
          if (ix.meta.unique) ch.uniqueChecks++;
        }
        continue;
      }
      if (newKeys.length === 0) {
        for (const k of oldKeys) addDel(ch, entryKey(ix.prefix, k, encId));
        continue;
      }
      if (oldKeys.length === 1 && newKeys.length === 1) {
        // the common update: one key before and after; unchanged keys stage nothing
        if (equalBytes(oldKeys[0]!, newKeys[0]!)) continue;
        addDel(ch, entryKey(ix.prefix, oldKeys[0]!, encId));
        addPut(ch, entryKey(ix.prefix, newKeys[0]!, encId), ix, newKeys[0]!);
        if (ix.meta.unique) ch.uniqueChecks++;
        continue;
      }
      const oldSet = new Set(oldKeys.map(bytesKey));
      const newSet = new Set(newKeys.map(bytesKey));
      for (const k of oldKeys) if (!newSet.has(bytesKey(k))) addDel(ch, entryKey(ix.prefix, k, encId));
      for (const k of newKeys) {
        if (oldSet.has(bytesKey(k))) continue;
        addPut(ch, entryKey(ix.prefix, k, encId), ix, k);
        if (ix.meta.unique) ch.uniqueChecks++;
      }
    }
    return ch;
  }

  private applyStaged(
    scope: WriteScope,
    coll: CollMeta,
    id: unknown,
    encId: Uint8Array,
    before: Document | undefined,
    beforeBytes: number,
    after: Document | undefined,
    afterBytes: Uint8Array | undefined,
    ch: IndexChanges,
    dk: Uint8Array | undefined,
    dks: string | undefined,
  ): void {
    let pluginOps: WriteOp[] | undefined;
    if (ch.plugins) {
      pluginOps = [];
      for (const ix of this.indexes(coll.id)) {
        if (!ix.plugin) continue;
        (scope.plugins ??= new Set()).add(ix.plugin);
        const ops = ix.plugin.onWrite(id, before, after);
        for (const op of ops) pluginOps.push(op);
      }
    }
    const overlay = scope.overlay;
    for (let i = 0; i < ch.nDels; i++) overlay.del(ch.dels[i]!);
    for (let i = 0; i < ch.nPuts; i++) {
      const k = ch.putKeys[i]!;
      const ix = ch.putIx[i]!;
      const keyPart = ch.putParts[i]!;
      overlay.put(k, encId);
      if (ix.meta.unique) (scope.conflictKeys ??= new Set()).add(bytesKey(concatBytes(ix.prefix, keyPart)));
    }
    if (pluginOps) for (const op of pluginOps) if (op.type === 'put') overlay.put(op.key, op.value);
    else overlay.del(op.key);
    if (dk === undefined) {
      dk = documentKey(coll.id, encId);
      dks = bytesKey(dk);
    }
    if (after) overlay.putKeyed(dks!, dk, afterBytes!);
    else overlay.delKeyed(dks!, dk);
    scope.count(coll.id, (after ? 1 : 0) - (before ? 1 : 0), (afterBytes?.length ?? 0) - beforeBytes);
  }

  private keysOf(ix: RuntimeIndex, doc: Document, coll?: CollMeta): Uint8Array[] {
    if (ix.partial && !ix.partial.test(doc)) return noKeys;
    const ex = extractKeys(doc, ix.fields, ix.meta.name);
    if (ix.meta.sparse && !ex.anyPresent) return noKeys;
    if (ex.multikey && coll && !ix.meta.multikey) {
      ix.meta.multikey = true;
      this.catalogVersion++;
      this.catalogChanged = true;
    }
    if (ex.keys.length < 2) return ex.keys;
    const m = new Map<string, Uint8Array>();
    for (const k of ex.keys) m.set(bytesKey(k), k);
    return [...m.values()];
  }
  /** Set when a write flips an index to multikey: the next commit persists the catalog. */
  catalogChanged = false;

  private async checkUnique(scope: WriteScope, coll: CollMeta, ix: RuntimeIndex, key: Uint8Array, encId: Uint8Array, doc: Document): Promise<void> {
    const p = concatBytes(ix.prefix, key);
    for await (const [k, v] of scope.overlay.range(rangeOfPrefix(p))) {
      // entries under p whose key is exactly p + enc(otherId)
      if (k.length > p.length && bytesKey(v) !== bytesKey(encId)) {
        throw duplicateKeyError(coll, ix.meta, doc);
      }
    }
  }

  /** Persist a multikey flip, if any, in this scope. */
  flushCatalogFlags(scope: WriteScope): void {
    if (this.catalogChanged) {
      this.catalogChanged = false;
      scope.catalogDirty = true;
    }
  }

  // ---------------------------------------------------------------- DDL

  async createCollection(db: string, name: string, options: Document = {}): Promise<CollMeta> {
    return this.write(async (scope) => {
      if (this.collection(db, name)) throw new LargetableError('ALREADY_EXISTS', `Collection ${db}.${name} already exists.`, { details: { ns: `${db}.${name}` } });
      return this.ensureCollection(scope, db, name, options);
    });
  }

  async dropCollection(db: string, name: string): Promise<boolean> {
    const release = await this.mutex.lock();
    try {
      this.checkOpen();
      const m = this.collection(db, name);
      if (!m) {
        release();
        return false;
      }
      const ops: WriteOp[] = [];
      for await (const [k] of this.live.range(rangeOfPrefix(collectionPrefix(m.id)))) ops.push({ type: 'del', key: k.slice() });
      for (const ix of m.indexes) {
        if (ix.kind) {
          const p = this.plugins.get(ix.id);
          if (p) {
            ops.push(...(await p.drop()));
            await p.close();
            this.plugins.delete(ix.id);
          }
          continue;
        }
        for await (const [k] of this.live.range(rangeOfPrefix(indexPrefix(ix.id)))) ops.push({ type: 'del', key: k.slice() });
      }
      ops.push({ type: 'del', key: countersKey(m.id) });
      this.docCache.clear();
      this.catalog.collections = this.catalog.collections.filter((c) => c !== m);
      this.counters.delete(m.id);
      this.reindex();
      const scope = this.newScope();
      for (const op of ops) if (op.type === 'del') scope.overlay.del(op.key);
      else scope.overlay.put(op.key, op.value);
      scope.catalogDirty = true;
      scope.addEvent({ op: 'drop', db, coll: name });
      const commit = this.prepareCommit(scope);
      release();
      if (commit) await this.submit(commit);
      return true;
    } catch (err) {
      release();
      throw err;
    }
  }

  async renameCollection(db: string, from: string, toDb: string, to: string, dropTarget: boolean): Promise<void> {
    validateName('database', toDb);
    validateName('collection', to);
    if (this.collection(toDb, to)) {
      if (!dropTarget) throw new LargetableError('ALREADY_EXISTS', `target namespace ${toDb}.${to} exists`);
      await this.dropCollection(toDb, to);
    }
    await this.write(async (scope) => {
      const m = this.collection(db, from);
      if (!m) throw new LargetableError('NOT_FOUND', `source namespace ${db}.${from} does not exist`);
      m.db = toDb;
      m.name = to;
      this.reindex();
      scope.catalogDirty = true;
      scope.addEvent({ op: 'rename', db, coll: from, to: { db: toDb, coll: to } });
    });
  }

  /** Creates an index and builds it over existing documents. Returns the index name. */
  async createIndex(db: string, collName: string, spec: IndexMeta): Promise<string> {
    const release = await this.mutex.lock();
    try {
      this.checkOpen();
      const scope0 = this.newScope();
      const coll = this.ensureCollection(scope0, db, collName);
      const same = coll.indexes.find((i) => i.name === spec.name);
      if (same) {
        if (JSON.stringify(same.key) !== JSON.stringify(spec.key) || !!same.unique !== !!spec.unique || !!same.sparse !== !!spec.sparse) {
          throw new LargetableError('ALREADY_EXISTS', `An index with name '${spec.name}' already exists with different options`, { details: { codeName: 'IndexKeySpecsConflict' } });
        }
        if (scope0.catalogDirty) await this.commitLocked(scope0, release);
        else release();
        return same.name;
      }
      const sameKey = coll.indexes.find((i) => JSON.stringify(i.key) === JSON.stringify(spec.key) && !i.partialFilterExpression && !spec.partialFilterExpression);
      if (sameKey) throw new LargetableError('ALREADY_EXISTS', `Index with key ${JSON.stringify(spec.key)} already exists with a different name: ${sameKey.name}`, { details: { codeName: 'IndexOptionsConflict' } });
      const ix: IndexMeta = { ...spec, id: this.catalog.nextId++ };
      const rt: RuntimeIndex = {
        meta: ix,
        fields: parseIndexFields(ix.key),
        prefix: indexPrefix(ix.id),
        ...(ix.partialFilterExpression ? { partial: compileFilter(ix.partialFilterExpression) } : {}),
      };
      const scope = scope0;
      const docs = this.live.range(rangeOfPrefix(collectionPrefix(coll.id)));
      if (ix.kind) {
        const live = this.live;
        const existing = (async function* () {
          for await (const [, v] of live.range(rangeOfPrefix(collectionPrefix(coll.id)))) {
            const d = decodeDocument(v);
            yield [d._id, d] as [unknown, Document];
          }
        })();
        await docs.return?.(undefined);
        coll.indexes.push(ix);
        this.reindex();
        try {
          await this.startPlugin(coll, ix, existing);
        } catch (err) {
          coll.indexes.pop();
          this.reindex();
          throw err;
        }
      } else {
        const seen = ix.unique ? new Map<string, unknown>() : undefined;
        for await (const [, v] of docs) {
          const d = decodeDocument(v);
          if (rt.partial && !rt.partial.test(d)) continue;
          const ex = extractKeys(d, rt.fields, ix.name);
          if (ix.sparse && !ex.anyPresent) continue;
          if (ex.multikey) ix.multikey = true;
          const encId = encodeId(d._id);
          for (const k of ex.keys) {
            if (seen) {
              const sk = bytesKey(k);
              const other = seen.get(sk);
              if (other !== undefined && bytesKey(encodeId(other)) !== bytesKey(encId)) throw duplicateKeyError(coll, ix, d);
              seen.set(sk, d._id);
            }
            scope.overlay.put(concatBytes(rt.prefix, k, encId), encId);
          }
        }
        coll.indexes.push(ix);
        this.reindex();
      }
      scope.catalogDirty = true;
      await this.commitLocked(scope, release);
      return ix.name;
    } catch (err) {
      release();
      throw err;
    }
  }

  private async commitLocked(scope: WriteScope, release: () => void): Promise<void> {
    const commit = this.prepareCommit(scope);
    release();
    if (commit) await this.submit(commit);
  }

  async dropIndex(db: string, collName: string, name: string): Promise<void> {
    const release = await this.mutex.lock();
    try {
      this.checkOpen();
      const coll = this.collection(db, collName);
      if (!coll) throw new LargetableError('NOT_FOUND', `ns not found ${db}.${collName}`);
      if (name === '_id_') throw new LargetableError('INVALID_ARGUMENT', 'cannot drop _id index');
      const ix = coll.indexes.find((i) => i.name === name);
      if (!ix) throw new LargetableError('NOT_FOUND', `index not found with name [${name}]`, { details: { codeName: 'IndexNotFound' } });
      const scope = this.newScope();
      if (ix.kind) {
        const p = this.plugins.get(ix.id);
        if (p) {
          for (const op of await p.drop()) if (op.type === 'put') scope.overlay.put(op.key, op.value);
          else scope.overlay.del(op.key);
          await p.close();
          this.plugins.delete(ix.id);
        }
      } else {
        for await (const [k] of this.live.range(rangeOfPrefix(indexPrefix(ix.id)))) scope.overlay.del(k.slice());
      }
      coll.indexes = coll.indexes.filter((i) => i !== ix);
      this.reindex();
      scope.catalogDirty = true;
      await this.commitLocked(scope, release);
    } catch (err) {
      release();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const release = await this.mutex.lock();
    this.closed = true;
    release();
    await this.commitsIdle();
    for (const p of this.plugins.values()) await p.close();
    await this.store.close();
  }

  /** Read the persisted change log after `seq` (exclusive), oldest first. */
  async *changeLog(afterSeq: bigint): AsyncGenerator<ChangeEvent> {
    const last = this.changeSeq;
    let from = Number(afterSeq) + 1;
    const oldest = Math.max(1, last - changeLogEntriesMax + 1);
    if (from < oldest) from = oldest;
    if (from > last) return;
    const out: ChangeEvent[] = [];
    const startSlot = from % changeLogEntriesMax;
    const endSlot = last % changeLogEntriesMax;
    const ranges: [number, number][] = startSlot <= endSlot && last - from < changeLogEntriesMax ? [[startSlot, endSlot]] : [[startSlot, changeLogEntriesMax - 1], [0, endSlot]];
    for (const [a, b] of ranges) {
      for await (const [, v] of this.live.range({ gte: changeLogSlotKey(a), lt: changeLogSlotKey(b + 1) })) {
        const seq = readU64(v, 0);
        if (seq >= from && seq <= last) out.push(decodeChange(v));
      }
    }
    out.sort((x, y) => (x.seq < y.seq ? -1 : 1));
    yield* out;
  }

  async oldestChangeSeq(): Promise<bigint | undefined> {
    if (this.changeSeq === 0) return undefined;
    return BigInt(Math.max(1, this.changeSeq - changeLogEntriesMax + 1));
  }

  reader(txn?: TxnState): KVReader {
    return txn ? txn.scope.overlay : this.live;
  }
}

/** A document ready to insert: `_id` first, encoded, size-checked. */
export interface PreparedInsert {
  doc: Document;
  id: unknown;
  bytes: Uint8Array;
  encId: Uint8Array;
  /** Bytes reserved right before `bytes` for its change-log record's header (0: none; see ChangeEvent.fullDocumentRoom). */
  logRoom: number;
  /**
   * The document key (`documentKey`), `encId` a view of its end; its collection bytes are
   * written when it is staged (`setDocumentKeyCollection`: the collection may not exist before).
   */
  key: Uint8Array;
  /** Set when a settled insertOne group failed this insert (its refusal or the commit's failure; see Engine.insertOne). */
  error?: unknown;
}

const idIndex = { name: '_id_', key: { _id: 1 } };

/**
 * Fails an insertOne group: `err` (the commit's failure, or what stopped its staging) goes on each
 * prepared insert that holds no refusal of its own (see `keepRefusal`). The group's promise then
 * resolves as runInsertGroup returns.
 */
function settleGroup(g: InsertGroup, err: unknown): void {
  const items = g.items;
  for (let i = 0; i < items.length; i++) if (items[i]!.error === undefined) items[i]!.error = err;
}

/** Settles an insertOne group: failed with `err` unless it is undefined (see settleGroup), then its promise resolves. */
function groupDone(g: InsertGroup, err: unknown): void {
  if (err !== undefined) settleGroup(g, err);
  g.resolve();
}

/** The store's write options per commit durability, without and with `more` (constants: no object per commit). */
const writeOptionsTable: Record<Durability, readonly [WriteOptions, WriteOptions]> = {
  strict: [{ durability: 'strict', more: false }, { durability: 'strict', more: true }],
  relaxed: [{ durability: 'relaxed', more: false }, { durability: 'relaxed', more: true }],
};
const moreOnly: WriteOptions = { more: true };
function writeOptionsOf(durability: Durability | undefined, more: boolean): WriteOptions | undefined {
  if (durability === undefined) return more ? moreOnly : undefined;
  return writeOptionsTable[durability][more ? 1 : 0];
}

/** A commit's end: its group's (an insertOne group's promise resolves, failures on its items), else its own promise's. */
function commitSettled(e: CommitEntry, failed: boolean, err: unknown): void {
  const g = e.group;
  if (g !== undefined) {
    if (failed) settleGroup(g, err);
    g.resolve();
  } else if (failed) e.reject(err);
  else e.resolve();
}

/** `new Promise(takeResolve)` leaves the promise's resolve here, for its maker to take (no closure per promise). */
let takenResolve: () => void = noop;
function takeResolve(resolve: () => void): void {
  takenResolve = resolve;
}

/** The store write of a group of commits (`Engine.issue`): told how it ended, settles them. */
class IssuedCommits implements WriteSink {
  private readonly engine: Engine;
  private readonly group: CommitEntry[];
  private readonly coalesce: boolean;
  constructor(engine: Engine, group: CommitEntry[], coalesce: boolean) {
    this.engine = engine;
    this.group = group;
    this.coalesce = coalesce;
  }
  written(seq: number): void {
    this.engine.groupWritten(this.group, this.coalesce, seq);
  }
  failed(err: unknown): void {
    this.engine.groupFailed(this.group, this.coalesce, err);
  }
}

/** stageInserts' onError for an insertOne group: a refusal fails its own insert only (kept on it); anything else stops the group. */
function keepRefusal(i: number, err: unknown, items: readonly (PreparedInsert | undefined)[]): boolean {
  if (!(err instanceof LargetableError)) throw err;
  items[i]!.error = err;
  return true;
}


/** Inserts that one insertOne group takes at most (then the next call starts a new group). */
const insertGroupMax = 1000;

interface InsertGroup {
  db: string;
  name: string;
  durability: Durability | undefined;
  items: PreparedInsert[];
  /** runInsertGroup's promise: resolves (never rejects) once the group settled (failures are on the items, see `settleGroup`). */
  done: Promise<void>;
  /** `mutex.queued` right after the group queued: joinable while it is unchanged and the group is open. */
  queued: number;
  /** Resolves `done`. */
  resolve: () => void;
  /** The next group waiting for the mutex (Engine.groupsHead). */
  next: InsertGroup | undefined;
}

interface CommitEntry {
  /** The commit's staged writes (its layer's entries, in order), then its change-log records. */
  ops: WriteOp[];
  /** Counters, change sequence and catalog records (superseded by a later commit's). */
  meta: WriteOp[];
  layer: Map<string, Staged>;
  durability: Durability | undefined;
  coalesce: boolean;
  scope: WriteScope;
  /** Commit counter (document cache write-through order). */
  counter: number;
  /** Change sequence number of the first event of the scope. */
  firstSeq: number;
  /** Change-log records written around their documents' bytes (see storeOrder). */
  inPlace: number;
  /** The buffer of the other change-log records. */
  logBuffer: ArrayBufferLike | undefined;
  /** Wall time of the commit's change events (ms since the epoch; 0 without events). */
  wallMs: number;
  /** The insertOne group the commit is of: it settles the group (else `resolve` or `reject`). */
  group: InsertGroup | undefined;
  resolve(): void;
  reject(err: unknown): void;
}

function noop(): void {}

interface IndexChanges {
  /** The entries to put, the first nPuts of: entry key, index, key part (parallel arrays: no tuple per entry) */
  putKeys: Uint8Array[];
  putIx: RuntimeIndex[];
  putParts: Uint8Array[];
  nPuts: number;
  /** The entry keys to delete: the first nDels. */
  dels: Uint8Array[];
  nDels: number;
  /** Puts into unique indexes (each needs a read to check). */
  uniqueChecks: number;
  /** The collection has plugin indexes (their onWrite joins the batch). */
  plugins: boolean;
}

const noKeys: Uint8Array[] = [];

function newIndexChanges(): IndexChanges {
  return { putKeys: [], putIx: [], putParts: [], nPuts: 0, dels: [], nDels: 0, uniqueChecks: 0, plugins: false };
}

function addPut(ch: IndexChanges, key: Uint8Array, ix: RuntimeIndex, part: Uint8Array): void {
  const i = ch.nPuts++;
  ch.putKeys[i] = key;
  ch.putIx[i] = ix;
  ch.putParts[i] = part;
}

function addDel(ch: IndexChanges, key: Uint8Array): void {
  ch.dels[ch.nDels++] = key;
}


function resetIndexChanges(ch: IndexChanges): IndexChanges {
  // the arrays keep their capacity (setting length 0 would drop their backing stores); the
  // previous document's entries stay until overwritten (a few small keys)
  ch.nPuts = 0;
  ch.nDels = 0;
  ch.uniqueChecks = 0;
  ch.plugins = false;
  return ch;
}

/** The key part of a non-unique index entry built by scalarEntryKey (nothing reads it). */
const noKeyPart = new Uint8Array(0);
/** Reused by scalarEntryKey (the key is copied out of it); replaced when it grew large. */
let entryScratch = new ByteWriter(64);
/** scalarEntryKey's scratch for numbers and ASCII strings of up to entryValueFastMax characters (keys of at most entryKeySlabMax bytes). */
const entryFastScratch = new Uint8Array(128);
const entryValueFastMax = 48;

/**
 * The entry key (prefix, encoded value, encoded _id) of a single-field index on a top-level field
 * when the document holds a scalar there (or nothing: null): what keysOf + entryKey build, without
 * the intermediate arrays. Undefined when the shortcut does not apply (partial or plugin index,
 * dotted path, compound key, an array or embedded document, a sparse index without the field).
 * Exported for its test.
 */
export function scalarEntryKey(ix: RuntimeIndex, doc: Document, encId: Uint8Array): Uint8Array | undefined {
  const fields = ix.fields;
  if (fields.length !== 1 || ix.partial !== undefined || ix.plugin !== undefined) return undefined;
  const f = fields[0]!;
  if (f.parts.length !== 1) return undefined;
  const v = getOwn(doc, f.parts[0]!);
  if (v === undefined ? ix.meta.sparse : v !== null && typeof v === 'object' && (Array.isArray(v) || isPlainObject(v))) return undefined;
  const prefix = ix.prefix;
  if ((typeof v === 'number' || typeof v === 'string') && prefix.length + encId.length + entryValueFastMax + 2 <= entryKeySlabMax) {
    // a number or a short ASCII string: written byte by byte into one scratch, no call per byte
    const s = entryFastScratch;
    let o = 0;
    for (let i = 0; i < prefix.length; i++) s[o++] = prefix[i]!;
    const at = o;
    o = writeScalarInto(s, o, v, entryValueFastMax);
    if (o >= 0) {
      if (f.dir === -1) for (let i = at; i < o; i++) s[i] = ~s[i]! & 0xff;
      for (let i = 0; i < encId.length; i++) s[o++] = encId[i]!;
      return entrySlab.copy(s, o);
    }
  }
  const w = entryScratch;
  w.len = 0;
  w.bytes(ix.prefix);
  const at = w.len;
  writeValue(w, v === undefined ? null : v);
  if (f.dir === -1) for (let i = at; i < w.len; i++) w.buf[i] = ~w.buf[i]! & 0xff;
  w.bytes(encId);
  const out = w.len <= entryKeySlabMax ? entrySlab.copy(w.buf, w.len) : w.buf.slice(0, w.len);
  if (w.buf.length > 64 * 1024) entryScratch = new ByteWriter(64);
  return out;
}

/**
 * Short entry keys are views into a shared slab instead of arrays of their own (a view without
 * an ArrayBuffer object of its own: ~150 bytes less garbage per key); nothing writes into a key
 * once built, and the slab lives until the commits that wrote its keys are done.
 */
const entryKeySlabMax = 128;
const entrySlab = new ByteSlab(16 * 1024);

/** An index entry key: index prefix, key part, encoded _id. */
function entryKey(prefix: Uint8Array, part: Uint8Array, encId: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + part.length + encId.length);
  out.set(prefix, 0);
  out.set(part, prefix.length);
  out.set(encId, prefix.length + part.length);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function duplicateKeyError(coll: CollMeta, ix: { name: string; key: Document }, doc: Document): LargetableError {
  const keyValue: Document = {};
  for (const f of Object.keys(ix.key)) keyValue[f] = getDotted(doc, f);
  const shown = Object.entries(keyValue)
    .map(([k, v]) => `${k}: ${showValue(v)}`)
    .join(', ');
  return new LargetableError('DUPLICATE_KEY', `E11000 duplicate key error collection: ${coll.db}.${coll.name} index: ${ix.name} dup key: { ${shown} }`, {
    details: { keyPattern: { ...ix.key }, keyValue, index: ix.name },
  });
}

function getDotted(doc: Document, path: string): unknown {
  let cur: unknown = doc;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = Object.prototype.hasOwnProperty.call(cur, p) ? (cur as Document)[p] : undefined;
  }
  return cur === undefined ? null : cur;
}

function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (v !== null && typeof v === 'object' && (v as { _bsontype?: string })._bsontype === 'ObjectId') return `ObjectId('${String(v)}')`;
  try {
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  } catch {
    return String(v);
  }
}

// ---------------------------------------------------------------- change log encoding

const opCodes = { insert: 'i', update: 'u', replace: 'r', delete: 'd', drop: 'D', rename: 'R', dropDatabase: 'X' } as const;
const opNames: Record<string, ChangeEvent['op']> = { i: 'insert', u: 'update', r: 'replace', d: 'delete', D: 'drop', R: 'rename', X: 'dropDatabase' };

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

function writeU64(b: Uint8Array, o: number, n: number): void {
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  b[o] = hi >>> 24;
  b[o + 1] = (hi >>> 16) & 0xff;
  b[o + 2] = (hi >>> 8) & 0xff;
  b[o + 3] = hi & 0xff;
  b[o + 4] = lo >>> 24;
  b[o + 5] = (lo >>> 16) & 0xff;
  b[o + 6] = (lo >>> 8) & 0xff;
  b[o + 7] = lo & 0xff;
}

function readU64(b: Uint8Array, o: number): number {
  const hi = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  const lo = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  return hi * 0x100000000 + lo;
}

const opByte: Record<ChangeEvent['op'], number> = { insert: 1, update: 2, replace: 3, delete: 4, drop: 5, rename: 6, dropDatabase: 7 };
const opOfByte: ChangeEvent['op'][] = ['insert', 'insert', 'update', 'replace', 'delete', 'drop', 'rename', 'dropDatabase'];

/** An insert's change-log record goes around its document's bytes, in the room reserved before them (see storeOrder). */
function inPlaceRecord(pe: PendingEvent, names: Uint8Array): boolean {
  return pe.op === 'insert' && pe.fullDocumentBytes !== undefined && pe.fullDocumentRoom === 17 + names.length;
}

/** prepareCommit's target while its staged map's forEach fills it (`fillOp`: a shared callback, no closure per commit). */
const noOps: WriteOp[] = [];
let fillOps: WriteOp[] = noOps;
let fillN = 0;
function fillOp(st: Staged): void {
  fillOps[fillN++] = st as WriteOp;
}

/**
 * Change-log ring record: seq:u64, op:u8, wallTime:f64 (ms, big-endian), db (u8 length + UTF-8),
 * coll (u8 length + UTF-8), then BSON: the full document for insert/replace (its _id is the
 * document key), else `{ k?, u?, t? }` (document key, updateDescription, rename target).
 */
/** db and collection names as they appear in change-log records (u8 length + UTF-8 each). */
const nameBytesCache = new Map<string, Uint8Array>();

let lastNames: { db: string; coll: string; bytes: Uint8Array } | undefined;

function changeNames(db: string, coll: string): Uint8Array {
  // a commit's events are nearly always of one collection: no key string built per event
  const last = lastNames;
  if (last !== undefined && last.db === db && last.coll === coll) return last.bytes;
  const bytes = changeNamesSlow(db, coll);
  lastNames = { db, coll, bytes };
  return bytes;
}

function changeNamesSlow(db: string, coll: string): Uint8Array {
  const key = db + '\0' + coll;
  let b = nameBytesCache.get(key);
  if (b === undefined) {
    const d = utf8.encode(db);
    const c = utf8.encode(coll);
    b = new Uint8Array(2 + d.length + c.length);
    b[0] = d.length;
    b.set(d, 1);
    b[1 + d.length] = c.length;
    b.set(c, 2 + d.length);
    if (nameBytesCache.size >= 1024) nameBytesCache.clear();
    nameBytesCache.set(key, b);
  }
  return b;
}

const f64Scratch = new Float64Array(1);
const f64ScratchBytes = new Uint8Array(f64Scratch.buffer);
const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The BSON part of a change-log record. */
function changeBody(ev: PendingEvent): Uint8Array {
  if ((ev.op === 'insert' || ev.op === 'replace') && ev.fullDocumentBytes) return ev.fullDocumentBytes;
  if ((ev.op === 'insert' || ev.op === 'replace') && ev.fullDocument) return BSON.serialize(ev.fullDocument);
  const rec: Document = {};
  if (ev.id !== undefined) rec.k = ev.id;
  if (ev.updateDescription) rec.u = ev.updateDescription;
  if (ev.to) rec.t = ev.to;
  return BSON.serialize(rec);
}

/** Writes one change-log record at `o`; returns its end. */
function writeChange(out: Uint8Array, o: number, seq: number, wallMs: number, op: ChangeEvent['op'], names: Uint8Array, body: Uint8Array): number {
  writeChangeHeader(out, o, seq, wallMs, op, names);
  out.set(body, o + 17 + names.length);
  return o + 17 + names.length + body.length;
}

/** Writes a change-log record's header (all before its BSON part) at `o`. */
function writeChangeHeader(out: Uint8Array, o: number, seq: number, wallMs: number, op: ChangeEvent['op'], names: Uint8Array): void {
  writeU64(out, o, seq);
  out[o + 8] = opByte[op];
  // wall time: f64 big-endian
  f64Scratch[0] = wallMs;
  for (let i = 0; i < 8; i++) out[o + 9 + i] = f64ScratchBytes[hostLittleEndian ? 7 - i : i]!;
  for (let i = 0; i < names.length; i++) out[o + 17 + i] = names[i]!;
}

/** The document keys of inserts (their collection set: prepared before it was known) and their bytesKeys, into `dks` and `kss`. */
function insertKeys(coll: CollMeta, items: readonly (PreparedInsert | undefined)[], dks: (Uint8Array | undefined)[], kss: (string | undefined)[]): void {
  for (let i = 0; i < items.length; i++) {
    const p = items[i];
    if (!p) continue;
    const dk = p.key;
    setDocumentKeyCollection(dk, coll.id);
    dks[i] = dk;
    kss[i] = bytesKey(dk);
  }
}

/** DUPLICATE_KEY unless an insert's `_id` (document key `ks`) is new: not staged in the scope, nor `present` below it. */
function checkNewId(ov: Overlay, coll: CollMeta, p: PreparedInsert, ks: string, present: boolean): void {
  const st = ov.staged.get(ks);
  if (st ? st.value !== null : present) throw duplicateKeyError(coll, idIndex, p.doc);
}

/** After an insert was staged: its change event. */
function insertStaged(scope: WriteScope, coll: CollMeta, p: PreparedInsert): void {
  scope.addEvent({ op: 'insert', db: coll.db, coll: coll.name, id: p.id, fullDocument: p.doc, fullDocumentBytes: p.bytes, fullDocumentRoom: p.logRoom });
  // the room before the bytes takes one change-log record: were the same prepared insert
  // staged again, its record is a copy (never a rewrite of a record a commit may still hold)
  p.logRoom = 0;
}

/**
 * The ops of a lone commit in the order handed to the store: each change-log record written
 * around its document's bytes goes right before the document's put, so the WAL writes those bytes
 * once (a put whose value lies inside the previous long value is a reference: see encodeBatch in
 * storage/wal.ts); the memtable then holds them once too. The commit's staged writes keep their
 * order, and so do its change-log records (keys of their own, 0x13: nothing else writes them).
 * A record whose document is not among the staged writes any more (replaced in the same
 * transaction) and the records after it follow the staged writes.
 */
function storeOrder(e: CommitEntry): WriteOp[] {
  const ops = e.ops;
  const meta = e.meta;
  const nLayer = e.layer.size;
  // sized for the meta records too (a push past an array's length allocates a larger copy)
  const out = new Array<WriteOp>(ops.length + meta.length);
  let n = 0;
  let j = nLayer;
  const copied = e.logBuffer;
  for (let i = 0; i < nLayer; i++) {
    const op = ops[i]!;
    // records in the commit's own buffer (not around a document) go as they come
    if (copied !== undefined) while (j < ops.length && (ops[j] as { value: Uint8Array }).value.buffer === copied) out[n++] = ops[j++]!;
    if (j < ops.length && op.type === 'put') {
      const log = ops[j]!;
      const lv = (log as { value: Uint8Array }).value;
      const v = op.value;
      // the record's tail is the document: the same bytes, not a copy (offsets first: reading
      // .buffer of a small on-heap array, e.g. an index entry's value, would move it off the heap)
      if (v.byteOffset + v.length === lv.byteOffset + lv.length && v.length < lv.length && v.buffer === lv.buffer) {
        out[n++] = log;
        j++;
      }
    }
    out[n++] = op;
  }
  while (j < ops.length) out[n++] = ops[j++]!;
  for (let i = 0; i < meta.length; i++) out[n++] = meta[i]!;
  return out;
}

/**
 * Collection counters as BSON `{ count, bytes }`, written without the serializer (this runs on
 * every commit): int32 where the value fits, else double, as BSON.serialize writes numbers.
 */
export function encodeCounters(count: number, bytes: number): Uint8Array {
  // sized exactly (int32 or double per field): one array per commit, no copy of a larger one
  const out = new Uint8Array(4 + 1 + 6 + counterValueBytes(count) + 1 + 6 + counterValueBytes(bytes) + 1);
  let o = 4;
  o = counterField(out, o, 'count', count);
  o = counterField(out, o, 'bytes', bytes);
  out[o++] = 0;
  writeI32LE(out, 0, o);
  return out;
}

function counterIsInt32(v: number): boolean {
  return Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff && !Object.is(v, -0);
}

function counterValueBytes(v: number): number {
  return counterIsInt32(v) ? 4 : 8;
}

function writeI32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

function counterField(out: Uint8Array, o: number, name: string, v: number): number {
  const int = counterIsInt32(v);
  out[o++] = int ? 0x10 : 0x01;
  for (let i = 0; i < name.length; i++) out[o++] = name.charCodeAt(i);
  out[o++] = 0;
  if (int) {
    writeI32LE(out, o, v);
    return o + 4;
  }
  // f64 little-endian through the shared scratch (no DataView per call: this runs on every commit)
  f64Scratch[0] = v;
  for (let i = 0; i < 8; i++) out[o + i] = f64ScratchBytes[hostLittleEndian ? i : 7 - i]!;
  return o + 8;
}

function decodeChange(b: Uint8Array): ChangeEvent {
  const seq = readU64(b, 0);
  const op = opOfByte[b[8]!]!;
  const wall = new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(9);
  let o = 17;
  const dl = b[o++]!;
  const db = utf8d.decode(b.subarray(o, o + dl));
  o += dl;
  const cl = b[o++]!;
  const coll = utf8d.decode(b.subarray(o, o + cl));
  o += cl;
  const body = BSON.deserialize(b.subarray(o), bsonOptions);
  const ev: ChangeEvent = { seq: BigInt(seq), op, db, coll, wallTime: new Date(wall) };
  if (op === 'insert' || op === 'replace') {
    ev.fullDocument = body;
    ev.id = body._id;
  } else {
    if ('k' in body) ev.id = body.k;
    if (body.u) ev.updateDescription = body.u as Document;
    if (body.t) ev.to = body.t as { db: string; coll: string };
  }
  return ev;
}
