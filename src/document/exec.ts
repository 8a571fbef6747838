/**
 * Query execution: plan choice (with a plan cache), index/collection scans, filter re-check,
 * in-memory sort (bounded top-k when a limit is given), skip/limit and projection, and explain
 * output in MongoDB's shape.
 */
import { compileFilter } from '../query/filter.ts';
import { compileProjection } from '../query/projection.ts';
import { compileSort, parseSort, sortKey } from '../query/sort.ts';
import type { Document } from '../query/values.ts';
import { planCacheEntriesMax, sortMemoryBytesMax } from '../limits.ts';
import { LargetableError } from '../errors.ts';
import { cloneDoc, decodeDocument, decodeDocumentAt, docKeyHashAt, docKeyHashEnd, docKeyHashRun, docKeyHashSeed, type CollMeta, type Engine } from './engine.ts';
import { compareNumberField, compileRawFilter, numberAt, numberFieldAt } from './bsonraw.ts';
import { decodeFields, partialFields, type FieldSet } from './partial.ts';
import { TopK } from './cursor.ts';
import { bytesKey, readValue } from './keycodec.ts';
import { collectionPrefix, documentKey, documentKeyPrefixBytes, encodeId, rangeOfPrefix } from './keyspace.ts';
import type { KVReader } from './kv.ts';
import { entryKey, entryValue } from '../storage/store.ts';
import { candidatePlans, estimate, planCost, queryShape, type Plan, type PlanRequest } from './planner.ts';

export interface ExecStats {
  keysExamined: number;
  docsExamined: number;
  nReturned: number;
}

export interface FoundDoc {
  /** The document; only the requested fields when `raw` is set; shared with the cache when `borrowed`. */
  doc: Document;
  encId: Uint8Array;
  bytes: number;
  /** Full BSON when `doc` is a partial decode (lazy scans). */
  raw?: Uint8Array;
  /** `doc` belongs to the document cache: copy before handing it out. */
  borrowed?: boolean;
}

/** The full, caller-owned document of a FoundDoc. */
export function materialize(f: FoundDoc): Document {
  if (f.raw) return decodeDocument(f.raw);
  if (f.borrowed) return cloneDoc(f.doc);
  return f.doc;
}

interface CacheEntry {
  version: number;
  count: number;
  plans: Map<string, string>;
}

const planCaches = new WeakMap<Engine, Map<number, CacheEntry>>();

function planId(p: Plan): string {
  if (p.stage === 'IXSCAN') return `IX:${p.index.meta.name}`;
  if (p.stage === 'COLLSCAN') return p.range ? 'IDRANGE' : 'COLLSCAN';
  return 'IDHACK';
}

/**
 * False when a raw document cannot be among the results whether or not it matches. A bounded top-k
 * on one top-level field also answers by a document's sort value alone (`valueOf`, `drops`), which
 * the document cache's `SortMemos` keep, so later queries drop the document without reading it.
 */
export interface RawGate {
  (b: Uint8Array, off: number, len: number): boolean;
  /** The field whose value `valueOf` reads. */
  field?: string;
  /** The document b[off, off + len)'s value of `field` when it is a plain number (a double or an int32), else undefined. */
  valueOf?: (b: Uint8Array, off: number, len: number) => number | undefined;
  /** Whether the gate can drop documents now (the top-k is full). */
  armed?: () => boolean;
  /** Whether a document whose `field` holds the plain number x cannot be among the results (false while not armed). */
  drops?: (x: number) => boolean;
}

export interface ChosenPlan {
  plan: Plan;
  rejected: Plan[];
  fromCache: boolean;
}

export async function choosePlan(engine: Engine, coll: CollMeta, reader: KVReader, req: PlanRequest): Promise<ChosenPlan> {
  const plans = candidatePlans(coll, engine.indexes(coll.id), req);
  if (plans.length === 1) return { plan: plans[0]!, rejected: [], fromCache: false };
  const idhack = plans.find((p) => p.stage === 'IDHACK');
  if (idhack) return { plan: idhack, rejected: plans.filter((p) => p !== idhack), fromCache: false };
  let caches = planCaches.get(engine);
  if (!caches) planCaches.set(engine, (caches = new Map()));
  const count = engine.counters.get(coll.id)?.count ?? 0;
  let cache = caches.get(coll.id);
  if (!cache || cache.version !== engine.catalogVersion || count > cache.count * 2 + 16 || count * 2 + 16 < cache.count) {
    cache = { version: engine.catalogVersion, count, plans: new Map() };
    caches.set(coll.id, cache);
  }
  const shape = queryShape(req);
  const cached = cache.plans.get(shape);
  if (cached) {
    const p = plans.find((x) => planId(x) === cached);
    if (p) return { plan: p, rejected: plans.filter((x) => x !== p), fromCache: true };
  }
  let best: Plan = plans[plans.length - 1]!;
  let bestCost = Infinity;
  const fetch = fetchCost(engine, coll);
  for (const p of plans) {
    const est = await estimate(reader, p, count);
    if (p.stage === 'IXSCAN') p.estimate = est;
    const c = planCost(p, est, req, fetch);
    if (c < bestCost) {
      bestCost = c;
      best = p;
    }
  }
  if (cache.plans.size >= planCacheEntriesMax) cache.plans.clear();
  cache.plans.set(shape, planId(best));
  return { plan: best, rejected: plans.filter((x) => x !== best), fromCache: false };
}

/**
 * What a document fetched by key costs next to one read by a collection scan (planCost). When
 * the collection's documents (their BSON, plus ~25% for keys and block framing) fit the block
 * cache and document cache together, fetches hit memory: 1. Otherwise the share that misses reads
 * and inflates a block for one document, a block's worth of a scan's per-document work.
 */
export function fetchCost(engine: Engine, coll: CollMeta): number {
  const c = engine.counters.get(coll.id);
  if (!c || c.count === 0 || c.bytes === 0) return 1;
  const data = c.bytes * 1.25;
  const avg = c.bytes / c.count;
  // the document cache keeps raw BSON at ~avg + 256 bytes per document
  const cached = engine.store.blockCacheBytes + engine.docCache.maxBytes * (avg / (avg + 256));
  if (data <= cached) return 1;
  const missed = 1 - cached / data;
  const docsPerBlock = Math.max(1, engine.store.blockSizeBytes / avg);
  return 1 + missed * docsPerBlock * 1.5;
}

/** Clears the plan cache of a collection (listed by `planCacheClear`). */
export function clearPlanCache(engine: Engine, collId: number): void {
  planCaches.get(engine)?.delete(collId);
}

/** Stream documents matching `filter` in plan order (no sort/skip/limit/projection applied). */
export async function* scan(engine: Engine, coll: CollMeta, reader: KVReader, plan: Plan, filter: Document, stats: ExecStats, projection?: Document, lazy?: FieldSet, firstWindow = 8, keep?: FieldSet | null, gate?: RawGate): AsyncGenerator<FoundDoc> {
  for await (const batch of scanBatches(engine, coll, reader, plan, filter, stats, projection, lazy, firstWindow, keep, gate)) yield* batch;
}

/** Documents per batch of a collection scan or a covered index scan. */
const scanBatchMax = 128;
/** Most store entries read in one step of a collection or index scan. */
const scanReadMax = 256;

/**
 * `scan` in batches (one async step per batch, not per document).
 * Lazy mode (`lazy`: the top-level fields the filter and sort read): documents are tested on the
 * raw BSON when the filter is simple enough (bsonraw.ts), else on a partial decode, and decoded
 * whole only when emitted. `keep` names the fields a raw-tested match must carry in `doc` (the
 * sort fields; null: none, the caller only materializes; undefined: all of `lazy`). `gate` (lazy
 * mode) drops a raw document before it is tested when it cannot be among the results (a bounded
 * top-k that already holds better documents). `retain`: the consumer keeps documents beyond the
 * batch (a sort), so a lazily tested match keeps a copy of its BSON, not a view into store memory.
 * `keepIds` false: the consumer never reads a FoundDoc's `encId` after the batch (a find's
 * results, streamed), so an index fetch leaves it a view of the index entry instead of copying it.
 * `bare` (an index scan decoding whole documents: not lazy, `keepIds` false): each batch holds the
 * documents themselves (`materialize` of each FoundDoc, caller-owned), not FoundDocs (see runFindBatches).
 */
export async function* scanBatches(engine: Engine, coll: CollMeta, reader: KVReader, plan: Plan, filter: Document, stats: ExecStats, projection?: Document, lazy?: FieldSet, firstWindow = 8, keep?: FieldSet | null, gate?: RawGate, retain = false, keepIds = true, bare = false): AsyncGenerator<FoundDoc[]> {
  if (bare && (lazy !== undefined || keepIds || plan.stage !== 'IXSCAN')) throw new Error('bare batches are for whole-document index scans whose _ids are not kept');
  const matcher = compileFilter(filter);
  const all = Object.keys(filter).length === 0;
  const live = reader === engine.live;
  const rawTest = lazy && !all ? compileRawFilter(filter) : undefined;
  const keepFields = keep === undefined ? lazy : keep;
  /**
   * The raw document b[off, off + len) tested (lazily): the FoundDoc when it matches (its encId
   * `encId`: the caller sets it when given noId; its raw BSON `view` when given, else a new view),
   * null when it does not. A document the gate or the raw test drops costs no view.
   */
  const fromRange = (b: Uint8Array, off: number, len: number, encId: Uint8Array, view?: Uint8Array): FoundDoc | null => {
    if (gate && !gate(b, off, len)) return null;
    let r: boolean | undefined;
    if (rawTest) {
      r = rawTest(b, off, len);
      if (r === false) return null;
    }
    const raw = view ?? b.subarray(off, off + len);
    if (r === true) return { doc: keepFields ? decodeFields(raw, keepFields) : {}, encId, bytes: len, raw };
    const part = decodeFields(raw, lazy!);
    return all || matcher.test(part) ? { doc: part, encId, bytes: len, raw } : null;
  };
  /** `fromRange` of the whole of `raw`. */
  const fromRaw = (raw: Uint8Array, encId: Uint8Array): FoundDoc | null => fromRange(raw, 0, raw.length, encId, raw);
  /** A whole document's result: its FoundDoc, or in `bare` batches the document itself. */
  const found = (doc: Document, encId: Uint8Array, bytes: number): FoundDoc => (bare ? (doc as unknown as FoundDoc) : { doc, encId, bytes });
  /** A cached decoded document (shared: tested in place, copied only when it matches and is not lazy). */
  const fromShared = (doc: Document, encId: Uint8Array): FoundDoc | null => {
    if (!all && !matcher.test(doc)) return null;
    return lazy ? { doc, encId, bytes: 0, borrowed: true } : found(cloneDoc(doc), encId, 0);
  };
  /** A document's BSON read without I/O (`view`: into store memory): the FoundDoc, or null when it does not match. */
  const fromBytes = (raw: Uint8Array, view: boolean, encId: Uint8Array): FoundDoc | null => {
    if (lazy) {
      const f = fromRaw(raw, encId);
      // a view into a store block: a match held beyond the batch keeps a copy, not the block
      if (f !== null && retain && view && f.raw === raw) f.raw = raw.slice();
      return f;
    }
    const doc = decodeDocument(raw);
    return all || matcher.test(doc) ? found(doc, encId, raw.length) : null;
  };
  /** A document read: undefined when it does not exist, null when it does not match. */
  const fetch = async (encId: Uint8Array, missed = false): Promise<FoundDoc | null | undefined> => {
    if (!lazy) {
      const r = await engine.readDocument(reader, coll.id, encId, missed);
      if (!r) return undefined;
      return all || matcher.test(r.doc) ? found(r.doc, encId, r.bytes) : null;
    }
    const r = await engine.readRaw(reader, coll.id, encId, missed);
    if (!r) return undefined;
    if (r.cached) return fromShared(r.cached, encId);
    return fromRaw(r.raw!, encId);
  };
  if (plan.stage === 'IDHACK') {
    const seen = new Set<string>();
    const ids = plan.ids.map((id) => encodeId(id)).sort((a, b) => (bytesKey(a) < bytesKey(b) ? -1 : 1));
    for (const encId of ids) {
      const k = bytesKey(encId);
      if (seen.has(k)) continue;
      seen.add(k);
      stats.keysExamined++;
      const f = await fetch(encId);
      if (f === undefined) continue;
      stats.docsExamined++;
      if (f) yield [f];
    }
    return;
  }
  if (plan.stage === 'COLLSCAN') {
    const p = collectionPrefix(coll.id);
    const range = plan.range ?? rangeOfPrefix(p);
    let batch: FoundDoc[] = [];
    let max = Math.max(1, Math.min(scanBatchMax, firstWindow));
    // entries come in batches of ranges of store buffers (no view per entry): a match keeps a
    // view of its raw BSON (a copy only when the consumer holds it beyond the batch) and of its
    // _id (a copy when the consumer reads it later). The read is transient (the store reuses the
    // buffers of a streamed scan once the next batch is read), so the matches of a store batch
    // are handed on before the next one is read: no view outlives its store batch
    for await (const entries of reader.rangeBatches({ gte: range.gte, ...(range.lt ? { lt: range.lt } : {}), reverse: plan.reverse, transient: true }, max, scanReadMax)) {
      const kbs = entries.keyBuf;
      const kos = entries.keyOff;
      const kls = entries.keyLen;
      const vbs = entries.valBuf;
      const vos = entries.valOff;
      const vls = entries.valLen;
      for (let j = 0; j < entries.n; j++) {
        stats.docsExamined++;
        // the _id's bytes follow the collection prefix in the key (a range of store memory)
        const ko = kos[j]! + p.length;
        const ke = kos[j]! + kls[j]!;
        if (lazy) {
          const f = fromRange(vbs[j]!, vos[j]!, vls[j]!, noId);
          if (f) {
            f.encId = keepIds ? kbs[j]!.slice(ko, ke) : kbs[j]!.subarray(ko, ke);
            if (retain && f.raw) f.raw = f.raw.slice();
            batch.push(f);
          }
        } else {
          const doc = decodeDocumentAt(vbs[j]!, vos[j]!, vls[j]!);
          if (all || matcher.test(doc)) batch.push({ doc, encId: keepIds ? kbs[j]!.slice(ko, ke) : kbs[j]!.subarray(ko, ke), bytes: vls[j]! });
        }
        if (batch.length >= max) {
          yield batch;
          batch = [];
          max = scanBatchMax;
        }
      }
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
    }
    return;
  }
  const ix = plan.index;
  const seen = ix.meta.multikey ? new Set<string>() : undefined;
  // identical ranges (a repeated $in value) would yield their entries twice: keep the first
  const rangeKeys = new Set<string>();
  const ranges = (plan.reverse ? [...plan.ranges].reverse() : plan.ranges).filter((r) => {
    const rk = bytesKey(r.gte) + '|' + (r.lt ? bytesKey(r.lt) : '');
    if (rangeKeys.has(rk)) return false;
    rangeKeys.add(rk);
    return true;
  });
  // Fetches are issued in windows (8, growing to prefetchWindowMax) so storage reads overlap;
  // results keep index order. A small limit wastes at most one window of reads.
  // The window's entries: entry i's _id is wBuf[i][wOff[i], wOff[i] + wLen[i]) (store buffers are
  // immutable), kept without a view per entry: a fetch whose results' _ids are never read
  // (keepIds false: a find's streamed results, a count) makes none (~20,000 per equality at 1M documents)
  const wBuf: Uint8Array[] = [];
  const wOff: number[] = [];
  const wLen: number[] = [];
  let wN = 0;
  /** A view of window entry i's _id. */
  const idAt = (i: number): Uint8Array => wBuf[i]!.subarray(wOff[i]!, wOff[i]! + wLen[i]!);
  let size = Math.max(1, Math.min(8, firstWindow));
  // Each document is read synchronously when it is cached (document cache, then memtables and
  // cached blocks) or its block can be read synchronously (LsmStore.locateRead: adapters with
  // readIntoSync); only the rest is fetched, in parallel, with one await for the window.
  // Documents decoded whole (not lazy), on the live view, are decoded in place from store memory and
  // enter the document cache on their second fetch, as point reads do on their second miss (a
  // one-off large result copies and keeps nothing); a raw entry read again keeps its decoded form, so a repeated query over the
  // same documents pays a copy per document instead of a store lookup and a decode. Raw-tested
  // documents (lazy) are cached on their first miss: a hit spares the store lookup and the test
  // reads the cached bytes.
  // On the live view the probes build each document key in one scratch buffer (the document cache
  // keys by its string; the store keeps no key it is asked for), not in a new array per document.
  const docCache = engine.docCache;
  const store = engine.store;
  // a bounded top-k's sort values, kept by document key (live view only: they are the latest
  // committed documents'): a candidate whose kept value the gate drops is dropped without a probe
  // of the document cache or the store, and a candidate read is remembered by its value, not by a
  // copy of its bytes (`SortMemos`)
  const memos = live && lazy !== undefined && gate?.drops !== undefined && docCache.maxBytes > 0 ? docCache.memos : undefined;
  const memoField = memos !== undefined ? memos.fieldId(gate!.field!) : -1;
  const valueOf = gate?.valueOf;
  const drops = gate?.drops;
  /**
   * The raw document b[off, off + len) of document key dk (hash dh) read for a bounded top-k: its
   * sort value kept; true when the gate drops it by that value.
   */
  const memoDrops = (dk: Uint8Array, dh: number, b: Uint8Array, off: number, len: number): boolean => {
    const x = valueOf!(b, off, len);
    if (x === undefined) return false;
    memos!.set(dh, dk, dk.length, dk, 0, 0, memoField, x);
    return drops!(x);
  };
  let dkBuf = documentKey(coll.id, new Uint8Array(59));
  /** `docKeyHash`'s state after the document keys' prefix (the collection's). */
  const prefixHash = docKeyHashRun(docKeyHashSeed, dkBuf, 0, documentKeyPrefixBytes);
  // the last view handed out, reused for a key of the same length (_ids of one type usually are)
  let dkView = dkBuf.subarray(0, 0);
  /** The document key of the encoded _id at b[o, o + len), as a view of the scratch buffer (valid until the next call). */
  const scratchKey = (b: Uint8Array, o: number, len: number): Uint8Array => {
    const n = 5 + len;
    if (n > dkBuf.length) dkBuf = documentKey(coll.id, new Uint8Array(n * 2));
    for (let k = 0; k < len; k++) dkBuf[5 + k] = b[o + k]!;
    if (dkView.length !== n || dkView.buffer !== dkBuf.buffer) dkView = dkBuf.subarray(0, n);
    return dkView;
  };
  /**
   * Window entry i read without I/O: got[i] set (undefined: no such document), or false when it
   * needs a fetch. `e` is the encId its FoundDoc carries (noId when the caller never reads it).
   */
  const readLive = (i: number, e: Uint8Array, got: (FoundDoc | null | undefined)[]): boolean => {
    const dk = scratchKey(wBuf[i]!, wOff[i]!, wLen[i]!);
    // probed by the key's hash (no key string). A whole-document fetch asks the held-keys filter
    // first (for the whole window at once, `prepareWindow`): such fetches admit only documents
    // read from storage twice (second touch), so they mostly miss, and the filter's bit answers a
    // miss without a map probe. A raw-tested fetch (lazy) admits what it reads and mostly hits on
    // a repeated scan, where the filter would only add a memory access: its probe walks the chain
    // `heads` found for the whole window. (The hash also spares the cache's fill below hashing the
    // key string again.)
    const dh = wHash[i]!;
    const c = lazy !== undefined ? docCache.entryFrom(wHeads[i], dk, dh) : wMayHold[i] === 0 ? undefined : docCache.entryOf(dk, dh);
    if (c !== undefined) {
      if (c.doc !== undefined) got[i] = fromShared(c.doc, e);
      // a bounded top-k drops most of its candidates by their sort value: a raw entry keeps it
      // (its first test reads it), so later queries' tests read neither its bytes nor its fields
      else if (lazy !== undefined) {
        const raw = c.raw!;
        got[i] = memos !== undefined && memoDrops(dk, dh, raw, 0, raw.length) ? null : fromBytes(raw, false, e);
      }
      else {
        // decoded whole: a raw entry read again keeps its decoded form (then a hit is a copy)
        const doc = docCache.own(c);
        got[i] = all || matcher.test(doc) ? found(doc, e, c.len) : null;
      }
      return true;
    }
    if (lazy === undefined) {
      // decoded whole at once: straight from store memory, no view or copy of the value (a block
      // that is not cached is read synchronously when the adapter can: see LsmStore.locateRead)
      // the store's hash of the key, when the window's read-ahead computed it
      const j = wPf[i]!;
      const r = j >= 0 ? store.locateRead(dk, pfHashes[j]) : store.locateRead(dk);
      if (r < 0) return false;
      if (r === 0) got[i] = undefined;
      else {
        const h = store.hit;
        // cached (copied) on its second fetch, as point reads cache on their second miss: a
        // document fetched once (a one-off large result) allocates and keeps nothing (the
        // doorkeeper asked for the window at once, `prepareWindow`, for the keys the cache does not hold)
        const a = wAdmit[i]!;
        if (a === 1 || (a === 2 && docCache.admitFetchHash(wHash[i]!))) docCache.setRaw(bytesKey(dk), h.buf.subarray(h.off, h.off + h.len), wHash[i]!);
        const doc = decodeDocumentAt(h.buf, h.off, h.len);
        got[i] = all || matcher.test(doc) ? found(doc, e, h.len) : null;
      }
      return true;
    }
    // located without a view (`hit`: store memory, valid until the next store call), a block that
    // is not cached read synchronously when the adapter can; the last segment that can hold the key
    // is searched without its bloom filter (a batched reader's keys nearly always exist)
    const r = store.locateRead(dk);
    if (r < 0) return false;
    if (r === 0) got[i] = undefined;
    else {
      const h = store.hit;
      // dropped by its sort value: the value is kept, not the document
      if (memos !== undefined && memoDrops(dk, dh, h.buf, h.off, h.len)) got[i] = null;
      else {
        // kept (copied) before it is tested: the bytes may be a reused buffer's
        const t = h.buf.subarray(h.off, h.off + h.len);
        got[i] = fromBytes(docCache.setRaw(bytesKey(dk), t, dh) ?? t.slice(), false, e);
      }
    }
    return true;
  };
  // the window's document keys one after another (key i at wKeys[wStarts[i], wEnds[i])), their
  // docKeyHash and whether the document cache may hold them (1) or not (0); the keys it does
  // not hold, for store.prefetch (key j at wKeys[pfStarts[j], pfEnds[j]))
  let wKeys = new Uint8Array(0);
  const wStarts = new Int32Array(prefetchWindowMax);
  const wEnds = new Int32Array(prefetchWindowMax);
  const wHash = new Int32Array(prefetchWindowMax);
  const wMayHold = new Uint8Array(prefetchWindowMax);
  /** A lazy window's candidates dropped by their kept sort value (1). */
  const wDropped = new Uint8Array(prefetchWindowMax);
  /** A lazy window's document-cache chains (`DocumentCache.heads`), by `wHash`. */
  const wHeads: ReturnType<typeof docCache.entryOf>[] = new Array(prefetchWindowMax).fill(undefined);
  const pfStarts = new Int32Array(prefetchWindowMax);
  const pfEnds = new Int32Array(prefetchWindowMax);
  /** The store's hashes of the read-ahead's keys (key j's at pfHashes[j]), for their lookups. */
  const pfHashes = new Int32Array(prefetchWindowMax);
  /** Window entry i's key's index j in the read-ahead (its store hash at pfHashes[j]), or -1. */
  const wPf = new Int32Array(prefetchWindowMax).fill(-1);
  /** The doorkeeper's answer for window entry i (1 admit, 0 not), asked in `prepareWindow`; 2: ask when found. */
  const wAdmit = new Uint8Array(prefetchWindowMax);
  /**
   * The window's keys and hashes, the held-keys filter asked for all of them in a loop of its own,
   * then what the store lookups of those it does not hold will read read ahead (LsmStore.prefetch):
   * their cache misses overlap, where the documents of a window read one after another waited for
   * each in turn (~1.3 µs per document in the lookup and ~0.6 µs more in the decode of a document
   * from a random block). For whole-document fetches only: raw-tested ones (lazy: a sort's or a
   * filter's candidates) mostly hit the document cache on a repeated scan, and the range + sort +
   * limit queries of the documents bench measured ~5-10% slower with it.
   */
  const prepareWindow = (n: number): void => {
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += documentKeyPrefixBytes + wLen[i]!;
    if (wKeys.length < bytes) wKeys = new Uint8Array(bytes * 2);
    let p = 0;
    for (let i = 0; i < n; i++) {
      const s = p;
      for (let k = 0; k < documentKeyPrefixBytes; k++) wKeys[p++] = dkBuf[k]!;
      const b = wBuf[i]!;
      for (let k = wOff[i]!, e = k + wLen[i]!; k < e; k++) wKeys[p++] = b[k]!;
      wStarts[i] = s;
      wEnds[i] = p;
      wHash[i] = docKeyHashAt(wKeys, s, p);
    }
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (docCache.mayHold(wHash[i]!)) {
        wMayHold[i] = 1;
        wAdmit[i] = 2;
        wPf[i] = -1;
      } else {
        wMayHold[i] = 0;
        wPf[i] = m;
        pfStarts[m] = wStarts[i]!;
        pfEnds[m++] = wEnds[i]!;
      }
    }
    // the doorkeeper's words of the keys the cache does not hold (random words of its bitmap) in
    // a loop of their own, their cache misses in flight together: each such key is admitted (or
    // marked) here as `readLive` would when it finds the document, which nearly all of them are
    // (a key marked that finds none only makes a later admission early, as a false positive does)
    for (let i = 0; i < n; i++) if (wMayHold[i] === 0) wAdmit[i] = docCache.admitFetchHash(wHash[i]!) ? 1 : 0;
    if (pfSkip > 0) {
      pfSkip--;
      for (let i = 0; i < n; i++) wPf[i] = -1;
    }
    // a window whose blocks are mostly not cached (a store larger than the block cache) has
    // little to read ahead: the next windows skip the hashing and hint lookups for nothing
    else if (store.prefetch(wKeys, pfStarts, pfEnds, m, pfHashes) * 8 < m && m >= 16) pfSkip = 3;
  };
  let pfSkip = 0;
  const drain = async (): Promise<FoundDoc[]> => {
    const n = wN;
    const got: (FoundDoc | null | undefined)[] = new Array(n);
    // a snapshot's fetches: the _id views they were asked by (copied below for results that keep
    // them); on the live view a result's _id is made below, only for the results that keep it
    const ids: Uint8Array[] | undefined = live ? undefined : new Array(n);
    let pending: number[] | undefined;
    if (live && lazy === undefined) prepareWindow(n);
    else if (live) {
      // raw-tested fetches mostly hit the document cache on a repeated scan: the window's probes
      // of its map in one loop, whose cache misses overlap (range + sort + limit at 100,000
      // documents, every candidate cached: ~10-15% less CPU than a probe per document in turn).
      // Their hashes continue the key prefix's from each _id's bytes in the window (no key built)
      for (let i = 0; i < n; i++) wHash[i] = docKeyHashEnd(docKeyHashRun(prefixHash, wBuf[i]!, wOff[i]!, wOff[i]! + wLen[i]!));
      // a bounded top-k (armed: its threshold is fixed until the window's results reach it) drops
      // the candidates whose kept sort value cannot enter it, in one loop of table probes
      wDropped.fill(0, 0, n);
      if (memos !== undefined && memos.count > 0 && gate!.armed!()) {
        for (let i = 0; i < n; i++) {
          const at = memos.find(wHash[i]!, dkBuf, documentKeyPrefixBytes, wBuf[i]!, wOff[i]!, wLen[i]!);
          if (at >= 0 && memos.fieldAt(at) === memoField && drops!(memos.valueAt(at))) wDropped[i] = 1;
        }
      }
      docCache.heads(wHash, n, wHeads, wDropped);
    }
    for (let i = 0; i < n; i++) {
      const e = ids !== undefined ? (ids[i] = idAt(i)) : noId;
      if (live) {
        if (wDropped[i] === 1) got[i] = null;
        else if (!readLive(i, e, got)) (pending ??= []).push(i);
        continue;
      }
      // a transaction's or snapshot's view (no document cache): its cached-only read
      const v = reader.getCached(documentKey(coll.id, e));
      if (v === undefined) (pending ??= []).push(i);
      else got[i] = v === null ? undefined : fromBytes(v, false, e);
    }
    // (no entry held past its window)
    if (live && lazy !== undefined) wHeads.fill(undefined, 0, n);
    if (pending !== undefined) {
      const fetched = await Promise.all(pending.map((i) => fetch(ids?.[i] ?? (keepIds ? idAt(i).slice() : idAt(i)), live)));
      for (let j = 0; j < pending.length; j++) got[pending[j]!] = fetched[j];
    }
    wN = 0;
    size = Math.min(prefetchWindowMax, size * 2);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const f = got[i];
      if (f === undefined) continue;
      stats.docsExamined++;
      if (f) {
        // the window holds views of index entries: a result kept beyond the batch keeps a copy of its _id
        if (keepIds) {
          if (f.encId === noId) f.encId = idAt(i).slice();
          else if (ids !== undefined && f.encId === ids[i]) f.encId = f.encId.slice();
        }
        got[m++] = f;
      }
    }
    // the window's array is the batch (its results moved to its front), not a second array grown by pushes
    got.length = m;
    return got as FoundDoc[];
  };
  let covered: FoundDoc[] = [];
  // a covered projection naming fewer fields than the index (e.g. only _id) is cut down after the filter test
  const trim = plan.covered && projection && !ix.fields.every((f) => projection[f.path] === 1 || projection[f.path] === true) ? compileProjection(projection) : undefined;
  for (const r of ranges) {
    for await (const entries of reader.rangeBatches({ gte: r.gte, ...(r.lt ? { lt: r.lt } : {}), reverse: plan.reverse }, size, scanReadMax)) {
      for (let j = 0; j < entries.n; j++) {
        stats.keysExamined++;
        if (plan.covered) {
          const doc = docFromKey(entryKey(entries, j), ix.prefix.length, ix.fields, projection);
          if (all || matcher.test(doc)) {
            const d = trim ? trim(doc) : doc;
            covered.push(bare ? (d as unknown as FoundDoc) : { doc: d, encId: entryValue(entries, j).slice(), bytes: 0 });
          }
          if (covered.length >= size) {
            yield covered;
            covered = [];
            size = Math.min(scanBatchMax, size * 2);
          }
          continue;
        }
        if (seen) {
          const sk = bytesKey(entryValue(entries, j));
          if (seen.has(sk)) continue;
          seen.add(sk);
        }
        wBuf[wN] = entries.valBuf[j]!;
        wOff[wN] = entries.valOff[j]!;
        wLen[wN] = entries.valLen[j]!;
        if (++wN >= size) {
          const b = await drain();
          if (b.length > 0) yield b;
        }
      }
    }
  }
  if (covered.length > 0) yield covered;
  if (wN > 0) {
    const b = await drain();
    if (b.length > 0) yield b;
  }
}

/**
 * Number of documents matching `filter` under `plan`, stopping at `max`. A plan whose index bounds
 * answer the filter exactly (non-multikey, so one entry per document) counts index entries without
 * reading a document; otherwise matches are tested lazily (raw BSON or a partial decode).
 */
export async function countMatches(engine: Engine, coll: CollMeta, reader: KVReader, plan: Plan, filter: Document, stats: ExecStats, max = Infinity): Promise<number> {
  let n = 0;
  if (plan.stage === 'IXSCAN' && plan.exact && !plan.index.meta.multikey) {
    const seen = new Set<string>();
    for (const r of plan.ranges) {
      const rk = bytesKey(r.gte) + '|' + (r.lt ? bytesKey(r.lt) : '');
      if (seen.has(rk)) continue;
      seen.add(rk);
      for await (const entries of reader.rangeBatches({ gte: r.gte, ...(r.lt ? { lt: r.lt } : {}) }, Math.min(scanReadMax, max - n), scanReadMax)) {
        for (let i = 0; i < entries.n; i++) {
          stats.keysExamined++;
          if (++n >= max) return n;
        }
      }
    }
    return n;
  }
  // no match is kept beyond its batch, nor its _id read
  for await (const batch of scanBatches(engine, coll, reader, plan, filter, stats, undefined, partialFields(filter), 8, null, undefined, false, false)) {
    n += batch.length;
    if (n >= max) return n;
  }
  return n;
}

/** Placeholder encId of a FoundDoc whose caller sets the real one. */
const noId = new Uint8Array(0);

/** Most document fetches an index scan keeps in flight. */
const prefetchWindowMax = 256;

function docFromKey(key: Uint8Array, offset: number, fields: { path: string; parts: string[]; dir: 1 | -1 }[], projection?: Document): Document {
  const doc: Document = {};
  let o = offset;
  for (const f of fields) {
    const [v, n] = readValue(key, o, f.dir === -1);
    o = n;
    let cur = doc;
    for (let i = 0; i < f.parts.length - 1; i++) {
      const p = f.parts[i]!;
      if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
      cur = cur[p] as Document;
    }
    cur[f.parts[f.parts.length - 1]!] = v;
  }
  if (projection && !('_id' in doc) && !(projection._id === 0 || projection._id === false)) {
    const [id] = readValue(key, o);
    doc._id = id;
  }
  return doc;
}

export interface FindRequest extends PlanRequest {
  batchSize?: number;
}

/** Full find pipeline: plan, scan, sort, skip, limit, project. */
export async function* runFind(engine: Engine, coll: CollMeta | undefined, reader: KVReader, req: FindRequest, stats: ExecStats, chosenOut?: { chosen?: ChosenPlan }): AsyncGenerator<Document> {
  for await (const batch of runFindBatches(engine, coll, reader, req, stats, chosenOut)) yield* batch;
}

/** Documents per batch handed out of an in-memory sort. */
const sortedBatchMax = 256;

/** `runFind` in batches of result documents. */
export async function* runFindBatches(engine: Engine, coll: CollMeta | undefined, reader: KVReader, req: FindRequest, stats: ExecStats, chosenOut?: { chosen?: ChosenPlan }): AsyncGenerator<Document[]> {
  if (!coll) return;
  const chosen = await choosePlan(engine, coll, reader, req);
  if (chosenOut) chosenOut.chosen = chosen;
  const plan = chosen.plan;
  const sort = req.sort && Object.keys(req.sort).length > 0 ? req.sort : undefined;
  const providesSort = plan.stage === 'IDHACK' ? false : plan.providesSort;
  const project = req.projection && Object.keys(req.projection).length > 0 && !(plan.stage === 'IXSCAN' && plan.covered) ? compileProjection(req.projection) : undefined;
  const skip = req.skip ?? 0;
  const limit = req.limit && req.limit > 0 ? req.limit : Infinity;
  const out = (d: Document): Document => {
    stats.nReturned++;
    return project ? project(d) : d;
  };
  void out;
  const exact = plan.stage === 'IXSCAN' && plan.exact && !plan.covered;
  const lazy = plan.stage === 'IXSCAN' && plan.covered ? undefined : exact ? (sort && !providesSort ? partialFields({}, sort) : undefined) : partialFields(req.filter, sort);
  const streaming = !(sort && !(providesSort || (plan.stage === 'IDHACK' && plan.ids.length <= 1)));
  const firstWindow = streaming && limit !== Infinity ? skip + limit : 8;
  // a match tested on its raw bytes carries only the fields the in-memory sort reads
  const keep = streaming ? null : partialFields({}, sort);
  const top = !streaming && limit !== Infinity ? new TopK<FoundDoc>(skip + limit, (a, b) => cmpSorted!(a.doc, b.doc)) : undefined;
  const cmpSorted = streaming ? undefined : compileSort(sort!);
  const gate = top && lazy ? topKGate(top, sort!) : undefined;
  // a find handing out every document of an index scan as it is (no sort, skip, limit or
  // projection of its own: a covered one's is the scan's) passes the scan's batches on: they hold
  // the documents themselves (no FoundDoc per document, no second array per batch)
  if (streaming && !project && skip === 0 && limit === Infinity && plan.stage === 'IXSCAN' && lazy === undefined) {
    for await (const batch of scanBatches(engine, coll, reader, plan, exact ? {} : req.filter, stats, req.projection, undefined, firstWindow, keep, undefined, false, false, true)) {
      stats.nReturned += batch.length;
      yield batch as unknown as Document[];
    }
    return;
  }
  const source = scanBatches(engine, coll, reader, plan, exact ? {} : req.filter, stats, req.projection, lazy, firstWindow, keep, gate, !streaming, !streaming);
  const emitAll = function* (list: FoundDoc[], from: number): Generator<Document[]> {
    for (let i = from; i < list.length; i += sortedBatchMax) {
      const out: Document[] = [];
      for (let j = i; j < Math.min(list.length, i + sortedBatchMax); j++) out.push(emit(list[j]!));
      yield out;
    }
  };
  const emit = (f: FoundDoc): Document => out(plan.stage === 'IXSCAN' && plan.covered ? f.doc : materialize(f));
  if (!streaming) {
    const cmpDoc = cmpSorted!;
    const cmp = (a: FoundDoc, b: FoundDoc) => cmpDoc(a.doc, b.doc);
    if (top) {
      for await (const batch of source) for (const f of batch) top.push(f);
      yield* emitAll(top.items, skip);
      return;
    }
    const all: FoundDoc[] = [];
    let held = 0;
    for await (const batch of source) {
      for (const f of batch) {
        held += f.bytes || 256;
        if (held > sortMemoryBytesMax) {
          throw new LargetableError('LIMIT_EXCEEDED', `Sort exceeded memory limit of ${sortMemoryBytesMax} bytes: add an index on the sort fields or a limit`, { details: { codeName: 'QueryExceededMemoryLimitNoDiskUseAllowed' } });
        }
        all.push(f);
      }
    }
    all.sort(cmp);
    yield* emitAll(all, skip);
    return;
  }
  let skipped = 0;
  let n = 0;
  for await (const batch of source) {
    let i = 0;
    if (skipped < skip) {
      i = Math.min(batch.length, skip - skipped);
      skipped += i;
    }
    const end = Math.min(batch.length, i + (limit - n));
    if (end <= i) continue;
    // sized at once (a batch of up to 256 grown by pushes left ~2x its size of garbage behind)
    const out: Document[] = new Array(end - i);
    for (let k = 0; i < end; i++, k++) out[k] = emit(batch[i]!);
    n += out.length;
    yield out;
    if (n >= limit) return;
  }
}

/**
 * For a bounded top-k on one top-level field: drops raw documents whose sort value (a double or an
 * int32) does not sort strictly before the k-th held document's plain-number key. Anything else
 * (arrays, other types, missing) passes to the full path. compileSort compares two plain numbers
 * with compareValues, as compareNumberField does; the top-k keeps an item only if it sorts strictly before the last.
 */
function topKGate(top: TopK<FoundDoc>, sort: Document): RawGate | undefined {
  const keys = parseSort(sort);
  if (keys.length !== 1 || keys[0]!.parts.length !== 1) return undefined;
  const { parts, dir } = keys[0]!;
  const field = parts[0]!;
  const name = new TextEncoder().encode(field);
  let held: FoundDoc | undefined;
  let w: unknown;
  /** The threshold is set (the top-k is full and its last key is a plain number). */
  const armed = (): boolean => {
    if (!top.full || top.k <= 0) return false;
    const last = top.worst()!;
    if (last !== held) {
      held = last;
      w = sortKey(last.doc, parts, dir);
    }
    return typeof w === 'number';
  };
  const gate: RawGate = (b, off, len) => {
    if (!armed()) return true;
    // read and compared in place (no heap number per document)
    const c = compareNumberField(b, name, off, len, w as number);
    if (c === 2) return true;
    return (dir > 0 ? c : -c) < 0;
  };
  /** Whether a plain-number sort value x sorts strictly before the armed threshold (the top-k may take it). */
  const before = (x: number): boolean => {
    const t = w as number;
    // compareValues' order of two numbers (NaN first), as compareNumberField
    const c = x < t ? -1 : x > t ? 1 : x === t ? 0 : Number.isNaN(x) ? (Number.isNaN(t) ? 0 : -1) : 1;
    return (dir > 0 ? c : -c) < 0;
  };
  gate.field = field;
  gate.valueOf = (b, off, len) => {
    const p = numberFieldAt(b, name, off, len);
    return p >= 0 ? numberAt(b, p) : undefined;
  };
  gate.armed = armed;
  gate.drops = (x) => armed() && !before(x);
  return gate;
}

function planStage(p: Plan, req: FindRequest, ns: string): Document {
  void ns;
  if (p.stage === 'IDHACK') return { stage: 'IDHACK' };
  if (p.stage === 'COLLSCAN') {
    const s: Document = { stage: 'COLLSCAN', filter: req.filter, direction: p.reverse ? 'backward' : 'forward' };
    if (p.idBounds) s.idBounds = p.idBounds;
    return s;
  }
  const ix: Document = {
    stage: 'IXSCAN',
    keyPattern: p.index.meta.key,
    indexName: p.index.meta.name,
    isMultiKey: !!p.index.meta.multikey,
    isUnique: !!p.index.meta.unique,
    isSparse: !!p.index.meta.sparse,
    isPartial: !!p.index.meta.partialFilterExpression,
    direction: p.reverse ? 'backward' : 'forward',
    indexBounds: p.bounds,
  };
  if (p.covered) return { stage: 'PROJECTION_COVERED', transformBy: req.projection, inputStage: ix };
  return { stage: 'FETCH', filter: req.filter, inputStage: ix };
}

function wrapStages(inner: Document, p: Plan, req: FindRequest): Document {
  let s = inner;
  const sort = req.sort && Object.keys(req.sort).length > 0;
  const provides = p.stage !== 'IDHACK' && p.providesSort;
  if (sort && !provides) s = { stage: 'SORT', sortPattern: req.sort, memLimit: 104857600, ...(req.limit ? { limitAmount: (req.limit ?? 0) + (req.skip ?? 0) } : {}), type: 'simple', inputStage: s };
  if (req.projection && Object.keys(req.projection).length > 0 && !(p.stage === 'IXSCAN' && p.covered)) s = { stage: 'PROJECTION_DEFAULT', transformBy: req.projection, inputStage: s };
  if (req.skip) s = { stage: 'SKIP', skipAmount: req.skip, inputStage: s };
  if (req.limit) s = { stage: 'LIMIT', limitAmount: req.limit, inputStage: s };
  return s;
}

/** MongoDB-shaped explain output. Runs the query unless verbosity is 'queryPlanner'. */
export async function explainFind(engine: Engine, coll: CollMeta | undefined, reader: KVReader, req: FindRequest, ns: string, verbosity: string): Promise<Document> {
  const [dbName, collName] = [ns.slice(0, ns.indexOf('.')), ns.slice(ns.indexOf('.') + 1)];
  const stats: ExecStats = { keysExamined: 0, docsExamined: 0, nReturned: 0 };
  const started = Date.now();
  const holder: { chosen?: ChosenPlan } = {};
  if (coll) {
    if (verbosity === 'queryPlanner') holder.chosen = await choosePlan(engine, coll, reader, req);
    else for await (const _ of runFind(engine, coll, reader, req, stats, holder)) void _;
  }
  const elapsed = Date.now() - started;
  const chosen = holder.chosen;
  const winningPlan = chosen ? wrapStages(planStage(chosen.plan, req, ns), chosen.plan, req) : { stage: 'EOF' };
  const out: Document = {
    explainVersion: '1',
    queryPlanner: {
      namespace: ns,
      parsedQuery: req.filter,
      indexFilterSet: false,
      planCacheUsed: chosen?.fromCache ?? false,
      winningPlan,
      rejectedPlans: chosen ? chosen.rejected.map((p) => wrapStages(planStage(p, req, ns), p, req)) : [],
    },
    command: { find: collName, filter: req.filter, ...(req.sort ? { sort: req.sort } : {}), ...(req.projection ? { projection: req.projection } : {}), ...(req.skip ? { skip: req.skip } : {}), ...(req.limit ? { limit: req.limit } : {}), $db: dbName },
    serverInfo: { host: 'largetable', version: '7.0.0-largetable' },
    ok: 1,
  };
  if (verbosity !== 'queryPlanner') {
    out.executionStats = {
      executionSuccess: true,
      nReturned: stats.nReturned,
      executionTimeMillis: elapsed,
      totalKeysExamined: stats.keysExamined,
      totalDocsExamined: stats.docsExamined,
      executionStages: { ...winningPlan, nReturned: stats.nReturned, keysExamined: stats.keysExamined, docsExamined: stats.docsExamined },
    };
  }
  return out;
}
