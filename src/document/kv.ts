/**
 * Read views over the byte store used by the document layer:
 * - StoreReader: the latest committed state, or a snapshot (transactions).
 * - Overlay: a base view plus staged, uncommitted writes (a write in preparation, a transaction,
 *   or batches handed to the store but not yet committed). Reads see staged writes first.
 * Range reads are async generators; closing (return) the generator closes the store iterator.
 */
import { entryBatchPush, newEntryBatch, type EntryBatch, type Snapshot, type Store, type StoreIterator, type WriteOp } from '../storage/store.ts';
import { bytesKey, compareBytes } from './keycodec.ts';

export interface Range {
  gte?: Uint8Array;
  gt?: Uint8Array;
  lt?: Uint8Array;
  reverse?: boolean;
  /**
   * `rangeBatches` only: the caller keeps no key or value view beyond its batch, so the store may
   * reuse the buffers behind them for the next batch (`RangeOptions.transient`).
   */
  transient?: boolean;
}

/** Entries of a range read; leaving a `for await` early (or `return()`) closes the store iterator. */
export type KVIterator = AsyncIterableIterator<[Uint8Array, Uint8Array]>;

/**
 * Batches of entries of a range read (keys as ranges of store memory, values as read-only views:
 * copy what you keep); a batch object may be reused for the next one, so read it before asking
 * for the next. See `rangeBatches`.
 */
export type KVBatches = AsyncGenerator<EntryBatch, void, undefined>;

export interface KVReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /**
   * `get` without I/O, synchronous: the value (read-only), null when there is none, undefined when
   * the answer needs a read from storage (then `get`).
   */
  getCached(key: Uint8Array): Uint8Array | null | undefined;
  /** Whether `key` holds a value, without I/O and without reading the value: undefined when the answer needs a read (then `get`). */
  presentCached(key: Uint8Array): boolean | undefined;
  range(r: Range): KVIterator;
  /**
   * The entries of a range in batches (the first of `first` entries, doubling up to `max`): one
   * async step per batch, synchronous inside over cached data. Keys and values are read-only
   * views that may share a larger buffer: copy what you keep beyond the batch.
   */
  rangeBatches(r: Range, first: number, max: number): KVBatches;
  /** Approximate number of entries with gte <= key < lt, without I/O (query planning). */
  approximateCount(gte: Uint8Array, lt: Uint8Array | undefined): number;
}

export class StoreReader implements KVReader {
  readonly store: Store;
  readonly snapshot: Snapshot | undefined;
  constructor(store: Store, snapshot?: Snapshot) {
    this.store = store;
    this.snapshot = snapshot;
  }
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.store.get(key, this.snapshot);
  }
  getCached(key: Uint8Array): Uint8Array | null | undefined {
    return this.store.getCached(key, this.snapshot);
  }
  presentCached(key: Uint8Array): boolean | undefined {
    if (this.snapshot !== undefined) {
      const c = this.store.getCached(key, this.snapshot);
      return c === undefined ? undefined : c !== null;
    }
    // the latest state: no copy of a value found, nothing allocated
    const r = this.store.locateCached(key);
    return r < 0 ? undefined : r === 1;
  }
  approximateCount(gte: Uint8Array, lt: Uint8Array | undefined): number {
    return this.store.approximateCount(gte, lt);
  }
  /** The store iterator itself (no wrapper step per entry); its return() closes it. */
  range(r: Range): KVIterator {
    return this.iterator(r);
  }
  private iterator(r: Range, transient = false): StoreIterator {
    return this.store.iterate({
      ...(r.gte ? { gte: r.gte } : {}),
      ...(r.gt ? { gt: r.gt } : {}),
      ...(r.lt ? { lt: r.lt } : {}),
      ...(r.reverse ? { reverse: true } : {}),
      ...(this.snapshot ? { snapshot: this.snapshot } : {}),
      ...(transient ? { transient: true } : {}),
    });
  }
  async *rangeBatches(r: Range, first: number, max: number): KVBatches {
    const it = this.iterator(r, r.transient === true);
    try {
      let n = Math.max(1, first);
      for (;;) {
        const b = await it.nextEntries(n);
        if (b.n === 0) return;
        yield b;
        n = Math.min(max, n * 2);
      }
    } finally {
      await it.close();
    }
  }
}

/**
 * A staged write. Shaped like a store WriteOp (`type`, `key`, `value`), so a scope's staged map is
 * handed to the store as it is, without building one more object per key.
 */
export interface Staged {
  type: 'put' | 'del';
  key: Uint8Array;
  value: Uint8Array | null;
}

function inRange(k: Uint8Array, r: Range): boolean {
  if (r.gte && compareBytes(k, r.gte) < 0) return false;
  if (r.gt && compareBytes(k, r.gt) <= 0) return false;
  if (r.lt && compareBytes(k, r.lt) >= 0) return false;
  return true;
}

/** Staged writes over a base view. Later `stage` calls on the same key win. */
export class Overlay implements KVReader {
  readonly base: KVReader;
  readonly staged = new Map<string, Staged>();
  /** Extra views layered under this one but above base (in-flight batches), newest first. */
  readonly layers: Map<string, Staged>[];
  constructor(base: KVReader, layers: Map<string, Staged>[] = []) {
    this.base = base;
    this.layers = layers;
  }
  put(key: Uint8Array, value: Uint8Array): void {
    this.staged.set(bytesKey(key), { type: 'put', key, value });
  }
  /** put() with the key's bytesKey already computed. */
  putKeyed(k: string, key: Uint8Array, value: Uint8Array): void {
    this.staged.set(k, { type: 'put', key, value });
  }
  del(key: Uint8Array): void {
    this.staged.set(bytesKey(key), { type: 'del', key, value: null });
  }
  /** del() with the key's bytesKey already computed. */
  delKeyed(k: string, key: Uint8Array): void {
    this.staged.set(k, { type: 'del', key, value: null });
  }
  /** True when a staged or in-flight write covers key `k` (a bytesKey). */
  holds(k: string): boolean {
    return this.lookup(k) !== undefined;
  }
  private lookup(k: string): Staged | undefined {
    const s = this.staged.get(k);
    if (s) return s;
    return this.lookupLayers(k);
  }
  /** The newest in-flight write of key `k` (a bytesKey), ignoring this overlay's own staged writes. */
  lookupLayers(k: string): Staged | undefined {
    for (const l of this.layers) {
      const e = l.get(k);
      if (e) return e;
    }
    return undefined;
  }
  /**
   * `presentBelow` of one key (`k`: its bytesKey) when memory answers it (in-flight layers,
   * memtables, bloom filters, cached blocks); undefined when it needs a read.
   */
  private presentBelowCached(key: Uint8Array, k: string): boolean | undefined {
    const l = this.layers.length > 0 ? this.lookupLayers(k) : undefined;
    if (l) return l.value !== null;
    return this.base.presentCached(key);
  }
  /**
   * `presentBelow` when every probe is answered from memory (in-flight layers, memtables, bloom
   * filters, cached blocks): no promise; undefined when one would need a read.
   */
  presentBelowSync(keys: readonly (Uint8Array | undefined)[], ks: readonly (string | undefined)[]): boolean[] | undefined {
    const out = new Array<boolean>(keys.length).fill(false);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key === undefined) continue;
      const c = this.presentBelowCached(key, ks[i]!);
      if (c === undefined) return undefined;
      out[i] = c;
    }
    return out;
  }
  /**
   * For each key (with its bytesKey): does it hold a value below this overlay's own staged writes
   * (in-flight layers, then the base)? Base probes are synchronous where the store can answer from
   * memory; the reads that need I/O run concurrently. `undefined` entries are skipped.
   */
  async presentBelow(keys: readonly (Uint8Array | undefined)[], ks: readonly (string | undefined)[]): Promise<boolean[]> {
    const out = new Array<boolean>(keys.length).fill(false);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key === undefined) continue;
      // memtables, bloom filters and cached blocks answer most probes synchronously (an insert's
      // fresh _id: no promise per document); only a block that is not cached is read
      const c = this.presentBelowCached(key, ks[i]!);
      if (c !== undefined) out[i] = c;
      else pending.push(this.base.get(key).then((v) => void (out[i] = v !== undefined)));
    }
    if (pending.length === 1) await pending[0];
    else if (pending.length > 0) await Promise.all(pending);
    return out;
  }
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.staged.size > 0 || this.layers.length > 0) {
      const s = this.lookup(bytesKey(key));
      if (s) return Promise.resolve(s.value ?? undefined);
    }
    return this.base.get(key);
  }
  getCached(key: Uint8Array): Uint8Array | null | undefined {
    if (this.staged.size > 0 || this.layers.length > 0) {
      const s = this.lookup(bytesKey(key));
      if (s) return s.value;
    }
    return this.base.getCached(key);
  }
  presentCached(key: Uint8Array): boolean | undefined {
    if (this.staged.size > 0 || this.layers.length > 0) {
      const s = this.lookup(bytesKey(key));
      if (s) return s.value !== null;
    }
    return this.base.presentCached(key);
  }
  /** The base's count (staged writes of one transaction are few next to a range worth estimating). */
  approximateCount(gte: Uint8Array, lt: Uint8Array | undefined): number {
    return this.base.approximateCount(gte, lt);
  }
  range(r: Range): KVIterator {
    if (this.staged.size === 0 && this.layers.length === 0) return this.base.range(r);
    return this.mergedRange(r);
  }
  rangeBatches(r: Range, first: number, max: number): KVBatches {
    if (this.staged.size === 0 && this.layers.length === 0) return this.base.rangeBatches(r, first, max);
    return this.mergedBatches(r, first, max);
  }
  /** Staged writes merged over the base, one entry at a time, handed out in batches. */
  private async *mergedBatches(r: Range, first: number, max: number): KVBatches {
    let n = Math.max(1, first);
    const b = newEntryBatch();
    for await (const [k, v] of this.mergedRange(r)) {
      entryBatchPush(b, k, 0, k.length, v, 0, v.length);
      if (b.n >= n) {
        yield b;
        b.n = 0;
        n = Math.min(max, n * 2);
      }
    }
    if (b.n > 0) yield b;
  }
  private async *mergedRange(r: Range): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const merged = new Map<string, Staged>();
    for (let i = this.layers.length - 1; i >= 0; i--) for (const [k, e] of this.layers[i]!) if (inRange(e.key, r)) merged.set(k, e);
    for (const [k, e] of this.staged) if (inRange(e.key, r)) merged.set(k, e);
    if (merged.size === 0) {
      yield* this.base.range(r);
      return;
    }
    const over = [...merged.values()].sort((a, b) => compareBytes(a.key, b.key) * (r.reverse ? -1 : 1));
    let i = 0;
    const dir = r.reverse ? -1 : 1;
    for await (const [k, v] of this.base.range(r)) {
      while (i < over.length && compareBytes(over[i]!.key, k) * dir < 0) {
        const o = over[i++]!;
        if (o.value) yield [o.key, o.value];
      }
      if (i < over.length && compareBytes(over[i]!.key, k) === 0) {
        const o = over[i++]!;
        if (o.value) yield [o.key, o.value];
        continue;
      }
      yield [k, v];
    }
    while (i < over.length) {
      const o = over[i++]!;
      if (o.value) yield [o.key, o.value];
    }
  }
  /** The staged writes as store ops (the staged entries themselves: do not mutate them). */
  ops(): WriteOp[] {
    return Array.from(this.staged.values()) as WriteOp[];
  }
}
