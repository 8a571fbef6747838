/**
 * The 'vector' index plugin: `createIndex({ field: 'vector' }, { dimensions, metric, kind, ... })`.
 * Maps document ids to dense labels, validates vectors on every write (INVALID_VECTOR refuses
 * the write), keeps the in-memory VectorIndex current, persists it, and answers searches with
 * filter planning.
 *
 * Persistence (keys under ctx.keyPrefix, layouts in docs/FORMAT.md "## Vectors"):
 * - every write of an indexed field adds a LOG entry (counter, upsert+vector | delete) to the
 *   SAME atomic batch as the document, so the log is exactly the committed writes;
 * - a CHECKPOINT serializes the whole index (labels -> ids + the index structure) into blocks of
 *   a new generation, then in one batch points the header at it, records the last log counter
 *   it covers, deletes the covered log entries and the previous generation's blocks;
 * - open = load the header's generation + replay the log entries after its counter. A crash at
 *   any point leaves header+blocks+log describing exactly the committed documents.
 *
 * Concurrency: onWrite stages entries; afterCommit applies everything staged; abort drops what
 * is staged and replays the committed log tail from the store to catch up (the engine serializes
 * write scopes, so staged entries belong to the scopes that are committing).
 */
import { LargetableError } from '../errors.ts';
import { kernels as activeKernels } from '../kernel/index.ts';
import type { Kernels } from '../kernel/types.ts';
import { encodeId } from '../document/keyspace.ts';
import { readValue } from '../document/keycodec.ts';
import { registerIndexKind, type IndexPlugin, type IndexPluginContext } from '../document/plugins.ts';
import type { Document } from '../query/values.ts';
import type { Store, WriteOp } from '../storage/store.ts';
import { topKMax } from '../limits.ts';
import { ByteReader, ByteWriter, concatBytes } from './bytes.ts';
import { checkOptions, createVectorIndex, readVectorIndex, serializeVectorIndex, type VectorIndexOptions } from './create.ts';
import { LabelSet, type SearchResult, type VectorIndex } from './types.ts';
import { toVector } from './vector.ts';
import { FlatIndex } from './flat.ts';

const HEADER = 1, BLOCK = 2, LOG = 3;
const OP_UPSERT = 1, OP_DELETE = 2;
const headerVersion = 1;
/** Snapshot block size, and the most bytes of blocks written per batch. */
export const vectorSnapshotBlockBytes = 1 << 20;
const blocksPerBatch = 32;
/** Log entries after which a checkpoint is written (also on close). */
export const vectorCheckpointLogEntries = 20_000;
/** Filters matching at most this fraction of the index run as exact search over the matches. */
export const vectorExactFilterFraction = 0.05;
/** ...or at most this many documents. */
export const vectorExactFilterDocuments = 2048;

export interface VectorSearchOptions {
  k?: number;
  /** ids of the documents that pass the query filter (the collection computes them). */
  candidates?: Iterable<unknown>;
  efSearch?: number;
  nprobe?: number;
  probes?: number;
  /** Atlas numCandidates: search this many then keep k (raises efSearch/nprobe accordingly). */
  numCandidates?: number;
  /** Force exact search (flat scan over all, or over the candidates). */
  exact?: boolean;
}

export interface VectorSearchPlan {
  index: string;
  kind: string;
  strategy: 'ann' | 'exact-scan' | 'exact-candidates' | 'filtered-ann' | 'filtered-ann+exact-fallback';
  candidates?: number;
  indexed: number;
  k: number;
  efSearch?: number;
  nprobe?: number;
  /** Candidates re-ranked exactly from the documents' vectors (approximate-score indexes). */
  exactRerank?: number;
}

/** Reads a document by _id (the collection passes it so approximate indexes can re-rank exactly). */
export type FetchDocument = (id: unknown) => Promise<Document | undefined>;

export interface VectorHit {
  id: unknown;
  score: number;
}

interface Staged {
  counter: bigint;
  op: number;
  key: string;
  id: unknown;
  vector?: Float32Array;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

function u32be(x: number): Uint8Array {
  return Uint8Array.of(x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255);
}

function u64be(x: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, x, false);
  return out;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  return s;
}

function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function vectorPathOf(key: Document): string {
  for (const [k, v] of Object.entries(key)) if (v === 'vector') return k;
  throw new LargetableError('INVALID_ARGUMENT', 'a vector index key must name one field with the value "vector"');
}

export class VectorIndexPlugin implements IndexPlugin {
  readonly name: string;
  readonly path: string;
  readonly options: VectorIndexOptions;
  index: VectorIndex;
  private readonly store: Store;
  private readonly prefix: Uint8Array;
  private readonly k: Kernels;
  // label <-> id
  private labelOfKey = new Map<string, number>();
  private keyOfLabel: (string | undefined)[] = [];
  private idOfLabel: unknown[] = [];
  private freeLabels: number[] = [];
  // log state
  private nextCounter = 1n;
  private applied = 0n;
  private loggedCounters: bigint[] = [];
  private staged: Staged[] = [];
  private stagedKeys = new Set<string>();
  private gen = 0;
  private genBlocks = 0;
  private covered = 0n;
  private checkpointing: Promise<void> = Promise.resolve();
  private checkpointPending = false;
  private closed = false;
  readonly checkpointEvery: number;
  lastPlan: VectorSearchPlan | undefined;
  checkpoints = 0;
  replayed = 0;

  constructor(ctx: IndexPluginContext, k: Kernels) {
    this.name = ctx.name;
    this.path = vectorPathOf(ctx.key);
    const { checkpointEvery, ...rest } = ctx.options as Document & { checkpointEvery?: unknown };
    if (checkpointEvery !== undefined && (typeof checkpointEvery !== 'number' || !Number.isInteger(checkpointEvery) || checkpointEvery < 1)) {
      throw new LargetableError('INVALID_ARGUMENT', 'checkpointEvery must be a positive integer', { details: { checkpointEvery } });
    }
    this.checkpointEvery = (checkpointEvery as number | undefined) ?? vectorCheckpointLogEntries;
    this.options = checkOptions(rest);
    this.store = ctx.store;
    this.prefix = ctx.keyPrefix;
    this.k = k;
    this.index = createVectorIndex(k, this.options);
  }

  // ---------------- keys ----------------
  private key(...parts: Uint8Array[]): Uint8Array {
    return concat(this.prefix, ...parts);
  }
  private headerKey(): Uint8Array { return this.key(Uint8Array.of(HEADER)); }
  private blockKey(gen: number, i: number): Uint8Array { return this.key(Uint8Array.of(BLOCK), u32be(gen), u32be(i)); }
  private logKey(counter: bigint): Uint8Array { return this.key(Uint8Array.of(LOG), u64be(counter)); }
  private range(kind: number): { gte: Uint8Array; lt: Uint8Array } {
    return { gte: this.key(Uint8Array.of(kind)), lt: this.key(Uint8Array.of(kind + 1)) };
  }

  // ---------------- labels ----------------
  private labelFor(key: string, id: unknown): number {
    let label = this.labelOfKey.get(key);
    if (label === undefined) {
      label = this.freeLabels.pop() ?? this.keyOfLabel.length;
      this.labelOfKey.set(key, label);
      this.keyOfLabel[label] = key;
    }
    this.idOfLabel[label] = id;
    return label;
  }

  private dropLabel(key: string): number | undefined {
    const label = this.labelOfKey.get(key);
    if (label === undefined) return undefined;
    this.labelOfKey.delete(key);
    this.keyOfLabel[label] = undefined;
    this.idOfLabel[label] = undefined;
    this.freeLabels.push(label);
    return label;
  }

  // ---------------- writes ----------------
  /** The validated vector of a document, or undefined when the field is absent/null. */
  vectorOf(doc: Document | undefined): Float32Array | undefined {
    if (doc === undefined) return undefined;
    let cur: unknown = doc;
    for (const part of this.path.split('.')) {
      if (typeof cur !== 'object' || cur === null) return undefined;
      cur = (cur as Record<string, unknown>)[part];
    }
    if (cur === undefined || cur === null) return undefined;
    return toVector(cur, this.options.dimensions, this.path);
  }

  onWrite(id: unknown, before: Document | undefined, after: Document | undefined): WriteOp[] {
    const va = this.vectorOf(after);
    const key = latin1(encodeId(id));
    if (va === undefined && !this.labelOfKey.has(key) && !this.stagedKeys.has(key)) return [];
    if (va !== undefined && before !== undefined && this.labelOfKey.has(key) && !this.stagedKeys.has(key) && sameVector(this.beforeVector(before), va)) return [];
    this.stagedKeys.add(key);
    const counter = this.nextCounter++;
    if (va === undefined) {
      this.staged.push({ counter, op: OP_DELETE, key, id });
      return [{ type: 'put', key: this.logKey(counter), value: this.encodeLog(OP_DELETE, key) }];
    }
    const copy = new Float32Array(va);
    this.staged.push({ counter, op: OP_UPSERT, key, id, vector: copy });
    return [{ type: 'put', key: this.logKey(counter), value: this.encodeLog(OP_UPSERT, key, copy) }];
  }

  private beforeVector(doc: Document): Float32Array | undefined {
    try {
      return this.vectorOf(doc);
    } catch {
      return undefined;
    }
  }

  private encodeLog(op: number, key: string, v?: Float32Array): Uint8Array {
    const kb = fromLatin1(key);
    const out = new Uint8Array(1 + 4 + kb.length + (v ? v.length * 4 : 0));
    const dv = new DataView(out.buffer);
    out[0] = op;
    dv.setUint32(1, kb.length, true);
    out.set(kb, 5);
    if (v) for (let i = 0; i < v.length; i++) dv.setFloat32(5 + kb.length + i * 4, v[i]!, true);
    return out;
  }

  private decodeLog(counter: bigint, b: Uint8Array): Staged {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const op = b[0]!;
    const kl = dv.getUint32(1, true);
    const kb = b.subarray(5, 5 + kl);
    const [id] = readValue(kb, 0);
    const key = latin1(kb);
    if (op === OP_DELETE) return { counter, op, key, id };
    const d = this.options.dimensions;
    if (b.length !== 5 + kl + d * 4) throw new LargetableError('CORRUPTION', `vector index ${this.name}: log entry ${counter} has a bad length`);
    const v = new Float32Array(d);
    for (let i = 0; i < d; i++) v[i] = dv.getFloat32(5 + kl + i * 4, true);
    return { counter, op, key, id, vector: v };
  }

  /** Applies entries in order; runs of upserts go through addBatch. */
  private apply(entries: Staged[]): void {
    const d = this.options.dimensions;
    let i = 0;
    while (i < entries.length) {
      const e = entries[i]!;
      if (e.op === OP_DELETE) {
        const label = this.dropLabel(e.key);
        if (label !== undefined) this.index.remove(label);
        i++;
      } else {
        let j = i;
        const seen = new Set<string>();
        while (j < entries.length && entries[j]!.op === OP_UPSERT && !seen.has(entries[j]!.key)) { seen.add(entries[j]!.key); j++; }
        const n = j - i;
        if (n === 1) this.index.add(this.labelFor(e.key, e.id), e.vector!);
        else {
          const labels = new Uint32Array(n), vectors = new Float32Array(n * d);
          for (let x = 0; x < n; x++) {
            const s = entries[i + x]!;
            labels[x] = this.labelFor(s.key, s.id);
            vectors.set(s.vector!, x * d);
          }
          this.index.addBatch(labels, vectors);
        }
        i = j;
      }
    }
    for (const e of entries) this.loggedCounters.push(e.counter);
    if (entries.length > 0) {
      const last = entries[entries.length - 1]!.counter;
      if (last > this.applied) this.applied = last;
    }
  }

  afterCommit(_seq: bigint): void {
    const staged = this.staged;
    this.staged = [];
    this.stagedKeys.clear();
    this.apply(staged);
    if (this.loggedCounters.length >= this.checkpointEvery && !this.checkpointPending && !this.closed) {
      this.checkpointPending = true;
      this.checkpointing = this.checkpointing.then(() => this.checkpoint()).catch(() => undefined).finally(() => { this.checkpointPending = false; });
    }
  }

  abort(): void {
    if (this.staged.length === 0) return;
    const from = this.staged[0]!.counter;
    this.staged = [];
    this.stagedKeys.clear();
    // Entries of scopes that did commit may have been staged with the aborted ones: catch up from the log.
    this.checkpointing = this.checkpointing.then(() => this.catchUp(from)).catch(() => undefined);
  }

  private async catchUp(from: bigint): Promise<void> {
    const entries: Staged[] = [];
    for await (const [k, v] of this.store.iterate({ gte: this.logKey(from), lt: this.range(LOG).lt })) {
      const c = new DataView(k.buffer, k.byteOffset + k.length - 8, 8).getBigUint64(0, false);
      if (c > this.applied || !this.loggedCounters.includes(c)) entries.push(this.decodeLog(c, v));
    }
    const pendingKeys = new Set(this.staged.map((s) => s.counter));
    this.apply(entries.filter((e) => !pendingKeys.has(e.counter)));
  }

  // ---------------- persistence ----------------
  private snapshotBytes(): Uint8Array {
    const w = new ByteWriter();
    w.u32(this.keyOfLabel.length);
    for (let l = 0; l < this.keyOfLabel.length; l++) {
      const key = this.keyOfLabel[l];
      w.bytes(key === undefined ? new Uint8Array(0) : fromLatin1(key));
    }
    return concatBytes([...w.finish(), ...serializeVectorIndex(this.index)]);
  }

  /** Writes a new snapshot generation covering everything applied so far. */
  async checkpoint(): Promise<void> {
    const covered = this.applied;
    const counters = this.loggedCounters;
    this.loggedCounters = [];
    const bytes = this.snapshotBytes();
    const gen = this.gen + 1;
    const nBlocks = Math.ceil(bytes.length / vectorSnapshotBlockBytes);
    try {
      for (let b = 0; b < nBlocks; b += blocksPerBatch) {
        const ops: WriteOp[] = [];
        for (let i = b; i < Math.min(nBlocks, b + blocksPerBatch); i++) {
          ops.push({ type: 'put', key: this.blockKey(gen, i), value: bytes.subarray(i * vectorSnapshotBlockBytes, (i + 1) * vectorSnapshotBlockBytes) });
        }
        await this.store.write(ops);
      }
      const hw = new ByteWriter();
      hw.u8(headerVersion);
      hw.u32(gen);
      hw.u32(nBlocks);
      hw.u64(covered);
      hw.f64(bytes.length);
      hw.u32(this.k.crc32c(bytes));
      const ops: WriteOp[] = [{ type: 'put', key: this.headerKey(), value: concatBytes(hw.finish()) }];
      for (const c of counters) if (c <= covered) ops.push({ type: 'del', key: this.logKey(c) });
      for (let i = 0; i < this.genBlocks; i++) ops.push({ type: 'del', key: this.blockKey(this.gen, i) });
      await this.store.write(ops);
      this.gen = gen;
      this.genBlocks = nBlocks;
      this.covered = covered;
      this.checkpoints++;
      for (const c of counters) if (c > covered) this.loggedCounters.push(c);
    } catch (err) {
      this.loggedCounters = counters.concat(this.loggedCounters);
      throw err;
    }
  }

  /** Loads the snapshot and replays the log (reopen). */
  async load(): Promise<void> {
    const hb = await this.store.get(this.headerKey());
    if (hb) {
      const r = new ByteReader(hb);
      const v = r.u8();
      if (v !== headerVersion) throw new LargetableError('UNSUPPORTED_FORMAT', `vector index ${this.name}: header version ${v}`);
      this.gen = r.u32();
      this.genBlocks = r.u32();
      this.covered = r.u64();
      const total = r.f64();
      const crc = r.u32();
      const parts: Uint8Array[] = [];
      for (let i = 0; i < this.genBlocks; i++) {
        const b = await this.store.get(this.blockKey(this.gen, i));
        if (!b) throw new LargetableError('CORRUPTION', `vector index ${this.name}: snapshot block ${i} of generation ${this.gen} is missing`);
        parts.push(b);
      }
      const bytes = concatBytes(parts);
      if (bytes.length !== total || this.k.crc32c(bytes) !== crc) throw new LargetableError('CORRUPTION', `vector index ${this.name}: snapshot checksum mismatch`);
      const rd = new ByteReader(bytes);
      const nLabels = rd.u32();
      for (let l = 0; l < nLabels; l++) {
        const kb = rd.bytes();
        if (kb.length === 0) { this.keyOfLabel[l] = undefined; this.freeLabels.push(l); continue; }
        const key = latin1(kb);
        this.keyOfLabel[l] = key;
        this.labelOfKey.set(key, l);
        this.idOfLabel[l] = readValue(kb, 0)[0];
      }
      this.freeLabels.reverse();
      this.index.dispose();
      this.index = readVectorIndex(this.k, rd);
      this.applied = this.covered;
      this.nextCounter = this.covered + 1n;
      // blocks of other generations (an interrupted checkpoint) are garbage
      const stale: WriteOp[] = [];
      for await (const [k] of this.store.iterate(this.range(BLOCK))) {
        const g = new DataView(k.buffer, k.byteOffset + this.prefix.length + 1, 4).getUint32(0, false);
        if (g !== this.gen) stale.push({ type: 'del', key: k });
      }
      if (stale.length) await this.store.write(stale);
    }
    const entries: Staged[] = [];
    for await (const [k, v] of this.store.iterate(this.range(LOG))) {
      const c = new DataView(k.buffer, k.byteOffset + k.length - 8, 8).getBigUint64(0, false);
      if (c <= this.covered) continue;
      entries.push(this.decodeLog(c, v));
      if (c >= this.nextCounter) this.nextCounter = c + 1n;
    }
    this.replayed = entries.length;
    this.apply(entries);
  }

  /** Builds from the documents of the collection (createIndex on a non-empty collection). */
  async build(existing: AsyncIterable<[unknown, Document]>): Promise<void> {
    // stale state of an index id that never committed
    const stale: WriteOp[] = [];
    for await (const [k] of this.store.iterate({ gte: this.prefix, lt: this.key(Uint8Array.of(255)) })) stale.push({ type: 'del', key: k });
    if (stale.length) await this.store.write(stale);
    const d = this.options.dimensions, chunk = 8192;
    let labels = new Uint32Array(chunk), vectors = new Float32Array(chunk * d), n = 0;
    const flush = () => {
      if (n > 0) this.index.addBatch(labels.subarray(0, n), vectors.subarray(0, n * d));
      labels = new Uint32Array(chunk); vectors = new Float32Array(chunk * d); n = 0;
    };
    for await (const [id, doc] of existing) {
      const v = this.vectorOf(doc);
      if (v === undefined) continue;
      const key = latin1(encodeId(id));
      if (this.labelOfKey.has(key)) continue;
      labels[n] = this.labelFor(key, id);
      vectors.set(v, n * d);
      if (++n === chunk) flush();
    }
    flush();
    await this.checkpoint();
  }

  // ---------------- search ----------------
  /**
   * The collection-facing search (collection.vectorSearch / $vectorSearch): options are a
   * document { k | limit, numCandidates, efSearch, nprobe, probes, exact, candidates } where
   * `candidates` are the ids matching the query filter. Returns [{ _id, score }] best first.
   */
  async search(vector: unknown, options: Document = {}): Promise<Document[]> {
    const o = documentOptions(options);
    const fetch = options.fetch as FetchDocument | undefined;
    if (typeof fetch === 'function' && this.approximateScores) return this.searchReranked(vector, o, fetch);
    return this.searchHits(vector, o).map((h) => ({ _id: h.id, score: h.score }));
  }

  /** search() for each vector, in order (one plan per vector; re-ranked searches read in turn). */
  async searchMany(vectors: unknown[], options: Document = {}): Promise<Document[][]> {
    const o = documentOptions(options);
    const fetch = options.fetch as FetchDocument | undefined;
    if (typeof fetch === 'function' && this.approximateScores) {
      const out: Document[][] = [];
      for (const v of vectors) out.push(await this.searchReranked(v, o, fetch));
      return out;
    }
    return vectors.map((v) => this.searchHits(v, o).map((h) => ({ _id: h.id, score: h.score })));
  }

  /**
   * True when the index scores candidates approximately (IVF with sq8/pq codes and no stored
   * vectors): collection searches then re-rank exactly from the documents' own vectors.
   */
  get approximateScores(): boolean {
    return this.index.kind === 'ivf' && !(this.index as unknown as { keepRaw: boolean }).keepRaw;
  }

  /**
   * Search k * rerank candidates with the index, read their documents through `fetch`, and
   * keep the exact top k scored on the documents' vectors (hits carry the document read).
   */
  private async searchReranked(query: unknown, o: VectorSearchOptions, fetch: FetchDocument): Promise<Document[]> {
    const q = toVector(query, this.options.dimensions, 'queryVector');
    const k = o.k ?? 10;
    const factor = (this.index as unknown as { rerank?: number }).rerank ?? 4;
    const wide = Math.min(topKMax, Math.max(k, k * factor, o.numCandidates ?? 0));
    const hits = this.searchHits(q, { ...o, k: wide });
    const plan = this.lastPlan!;
    plan.k = k;
    plan.exactRerank = hits.length;
    const flat = new FlatIndex(this.k, this.options.dimensions, this.index.metric);
    const docs: (Document | undefined)[] = [];
    try {
      for (let i = 0; i < hits.length; i++) {
        const doc = await fetch(hits[i]!.id);
        const v = doc === undefined ? undefined : this.vectorOf(doc);
        if (v === undefined) continue;
        flat.add(i, v);
        docs[i] = doc;
      }
      const r = flat.search(q, k);
      const out: Document[] = [];
      for (let j = 0; j < r.labels.length; j++) {
        const i = r.labels[j]!;
        out.push({ _id: hits[i]!.id, score: r.scores[j]!, document: docs[i] });
      }
      return out;
    } finally {
      flat.dispose();
    }
  }

  /** Nearest documents to `query`; see VectorSearchOptions. */
  searchHits(query: unknown, options: VectorSearchOptions = {}): VectorHit[] {
    const q = toVector(query, this.options.dimensions, 'queryVector');
    const k = options.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > topKMax) throw new LargetableError('INVALID_ARGUMENT', `k must be an integer in 1..${topKMax}`, { details: { k } });
    const ix = this.index;
    const n = ix.size;
    const wide = Math.max(k, options.numCandidates ?? 0);
    const efSearch = options.efSearch ?? (options.numCandidates !== undefined ? Math.max(wide, (this.options.efSearch ?? 64)) : undefined);
    const nprobe = options.nprobe;
    const plan: VectorSearchPlan = { index: this.name, kind: ix.kind, strategy: 'ann', indexed: n, k };
    if (efSearch !== undefined) plan.efSearch = efSearch;
    if (nprobe !== undefined) plan.nprobe = nprobe;
    let result: SearchResult;
    if (options.candidates !== undefined) {
      const set = new LabelSet(this.keyOfLabel.length + 1);
      for (const id of options.candidates) {
        const label = this.labelOfKey.get(latin1(encodeId(id)));
        if (label !== undefined) set.add(label);
      }
      plan.candidates = set.count;
      const exact = options.exact || ix.kind === 'flat' || set.count <= vectorExactFilterDocuments || set.count <= n * vectorExactFilterFraction;
      if (exact) {
        plan.strategy = 'exact-candidates';
        result = topOf(ix.scoreLabels(q, Uint32Array.from(set.labels())), k, ix.metric);
      } else {
        plan.strategy = 'filtered-ann';
        result = ix.search(q, wide, { filter: set, ...(efSearch !== undefined ? { efSearch } : {}), ...(nprobe !== undefined ? { nprobe } : {}), ...(options.probes !== undefined ? { probes: options.probes } : {}) });
        if (result.labels.length < Math.min(k, set.count)) {
          plan.strategy = 'filtered-ann+exact-fallback';
          result = topOf(ix.scoreLabels(q, Uint32Array.from(set.labels())), k, ix.metric);
        }
      }
    } else if (options.exact && ix.kind !== 'flat') {
      plan.strategy = 'exact-scan';
      result = topOf(ix.scoreLabels(q, Uint32Array.from(this.liveLabels())), k, ix.metric);
    } else {
      plan.strategy = ix.kind === 'flat' ? 'exact-scan' : 'ann';
      result = ix.search(q, wide, { ...(efSearch !== undefined ? { efSearch } : {}), ...(nprobe !== undefined ? { nprobe } : {}), ...(options.probes !== undefined ? { probes: options.probes } : {}) });
      if (result.labels.length < Math.min(k, n) && ix.kind !== 'flat') {
        plan.strategy = 'exact-scan';
        result = topOf(ix.scoreLabels(q, Uint32Array.from(this.liveLabels())), k, ix.metric);
      }
    }
    this.lastPlan = plan;
    const hits: VectorHit[] = [];
    const m = Math.min(k, result.labels.length);
    for (let i = 0; i < m; i++) hits.push({ id: this.idOfLabel[result.labels[i]!], score: result.scores[i]! });
    return hits;
  }

  /** The plan search() would choose (and the last one it ran). */
  explain(query: unknown, options: Document = {}): VectorSearchPlan {
    const o = documentOptions(options);
    const k = o.k ?? 10;
    const rerank = typeof options.fetch === 'function' && this.approximateScores;
    const factor = (this.index as unknown as { rerank?: number }).rerank ?? 4;
    this.searchHits(query, rerank ? { ...o, k: Math.min(topKMax, Math.max(k, k * factor, o.numCandidates ?? 0)) } : o);
    const plan = this.lastPlan!;
    if (rerank) {
      plan.k = k;
      plan.exactRerank = Math.min(topKMax, Math.max(k, k * factor, o.numCandidates ?? 0));
    }
    return plan;
  }

  /** Ids of the indexed documents (tests, diagnostics). */
  indexedIds(): unknown[] {
    return [...this.labelOfKey.values()].map((l) => this.idOfLabel[l]);
  }

  private *liveLabels(): IterableIterator<number> {
    for (const label of this.labelOfKey.values()) yield label;
  }

  stats(): Document {
    const s = this.index.stats();
    return { ...s, path: this.path, logEntries: this.loggedCounters.length, checkpoints: this.checkpoints, snapshotGeneration: this.gen, replayedOnOpen: this.replayed, kernels: this.k.build };
  }

  async drop(): Promise<WriteOp[]> {
    this.closed = true;
    await this.checkpointing;
    const ops: WriteOp[] = [];
    for await (const [k] of this.store.iterate({ gte: this.prefix, lt: this.key(Uint8Array.of(255)) })) ops.push({ type: 'del', key: k });
    return ops;
  }

  async close(): Promise<void> {
    if (this.closed) { await this.checkpointing; this.index.dispose(); return; }
    this.closed = true;
    await this.checkpointing;
    if (this.loggedCounters.length > 0) {
      try {
        await this.checkpoint();
      } catch {
        // the log still holds every entry: reopen replays it
      }
    }
    this.index.dispose();
  }
}

function sameVector(a: Float32Array | undefined, b: Float32Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function documentOptions(o: Document): VectorSearchOptions {
  const num = (name: string): number | undefined => {
    const v = o[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new LargetableError('INVALID_ARGUMENT', `${name} must be a positive integer`, { details: { [name]: v } });
    return v;
  };
  const out: VectorSearchOptions = {};
  const k = num('k') ?? num('limit');
  if (k !== undefined) out.k = k;
  for (const name of ['numCandidates', 'efSearch', 'nprobe', 'probes'] as const) {
    const v = num(name);
    if (v !== undefined) out[name] = v;
  }
  if (o.exact === true) out.exact = true;
  if (o.candidates !== undefined && o.candidates !== null) {
    if (typeof (o.candidates as Iterable<unknown>)[Symbol.iterator] !== 'function') throw new LargetableError('INVALID_ARGUMENT', 'candidates must be an array of ids');
    out.candidates = o.candidates as Iterable<unknown>;
  }
  return out;
}

function topOf(r: SearchResult, k: number, metric: string): SearchResult {
  const sign = metric === 'l2' || metric === 'l1' ? 1 : -1;
  const idx = Array.from(r.labels.keys()).sort((a, b) => sign * (r.scores[a]! - r.scores[b]!) || r.labels[a]! - r.labels[b]!).slice(0, k);
  return { labels: Uint32Array.from(idx, (i) => r.labels[i]!), scores: Float32Array.from(idx, (i) => r.scores[i]!) };
}

/** Factory registered for kind 'vector'. */
export async function createVectorPlugin(ctx: IndexPluginContext, existing: AsyncIterable<[unknown, Document]> | null, k: Kernels = activeKernels()): Promise<VectorIndexPlugin> {
  const p = new VectorIndexPlugin(ctx, k);
  if (existing) await p.build(existing);
  else await p.load();
  return p;
}

let registered = false;
/** Registers the 'vector' index kind with the document layer (idempotent). */
export function registerVectorIndexKind(): void {
  if (registered) return;
  registered = true;
  registerIndexKind('vector', (ctx, existing) => createVectorPlugin(ctx, existing));
}
