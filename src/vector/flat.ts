/**
 * Flat index: exact search. Vectors are one contiguous arena block scanned by the block-score
 * kernel in chunks; a bounded heap keeps the best k. Deletes move the last row into the hole, so
 * the block stays dense (no tombstones).
 */
import type { Kernels, Metric } from '../kernel/types.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import { MaxHeap } from './heap.ts';
import { LabelTable } from './labels.ts';
import { VectorSlab } from './slab.ts';
import type { SearchOptions, SearchResult, VectorIndex, VectorIndexStats } from './types.ts';

const chunkRows = 8192;

export class FlatIndex implements VectorIndex {
  readonly kind = 'flat' as const;
  readonly metric: Metric;
  readonly dimensions: number;
  readonly slab: VectorSlab;
  readonly table = new LabelTable();
  private heap = new MaxHeap(64);

  constructor(k: Kernels, dimensions: number, metric: Metric) {
    this.metric = metric;
    this.dimensions = dimensions;
    this.slab = new VectorSlab(k, dimensions, metric);
    this.slab.reserveScratch(chunkRows);
  }

  get size(): number {
    return this.table.live;
  }

  has(label: number): boolean {
    return this.table.slot(label) >= 0;
  }

  add(label: number, vector: Float32Array): void {
    let slot = this.table.slot(label);
    if (slot < 0) {
      slot = this.slab.count;
      this.slab.reserve(slot + 1);
    }
    this.slab.write(slot, vector);
    this.table.bind(label, slot);
  }

  addBatch(labels: Uint32Array, vectors: Float32Array): void {
    this.slab.reserve(this.slab.count + labels.length);
    const d = this.dimensions;
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      let slot = this.table.slot(label);
      if (slot < 0) slot = this.slab.count;
      this.slab.write(slot, vectors, i * d);
      this.table.bind(label, slot);
    }
  }

  remove(label: number): boolean {
    const slot = this.table.slot(label);
    if (slot < 0) return false;
    const last = this.slab.count - 1;
    if (slot !== last) {
      const v = this.slab.vectors();
      const d = this.dimensions;
      v.copyWithin(slot * d, last * d, last * d + d);
      this.table.bind(this.table.labelOf[last]!, slot);
    }
    this.table.unbind(label);
    this.slab.count = last;
    return true;
  }

  search(query: Float32Array, k: number, options: SearchOptions = {}): SearchResult {
    const slab = this.slab;
    const n = slab.count;
    const heap = this.heap;
    heap.clear();
    if (k <= 0 || n === 0) return { labels: new Uint32Array(0), scores: new Float32Array(0) };
    const q = slab.setQuery(query);
    const filter = options.filter;
    const labelOf = this.table.labelOf;
    const fn = typeof filter === 'function' ? filter : undefined;
    const set = filter !== undefined && typeof filter !== 'function' ? filter : undefined;
    for (let from = 0; from < n; from += chunkRows) {
      const m = Math.min(chunkRows, n - from);
      const out = slab.scan(q, from, m);
      for (let i = 0; i < m; i++) {
        const dist = out[i]!;
        if (heap.size >= k && !(dist < heap.topDist())) continue;
        if (filter !== undefined) {
          const label = labelOf[from + i]!;
          if (set ? !set.has(label) : !fn!(label)) continue;
        }
        heap.pushBounded(dist, from + i, k);
      }
    }
    const { ids, dist } = heap.drainSorted();
    const labels = new Uint32Array(ids.length), scores = new Float32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      labels[i] = labelOf[ids[i]!]!;
      scores[i] = slab.scoreOf(dist[i]!);
    }
    return { labels, scores };
  }

  scoreLabels(query: Float32Array, labels: Uint32Array): SearchResult {
    return scoreSlots(this.slab, this.table, query, labels);
  }

  serialize(): Uint8Array[] {
    const w = new ByteWriter();
    w.u32(this.slab.count);
    w.array(this.table.labelOf.subarray(0, this.slab.count));
    w.array(this.slab.vectors().subarray(0, this.slab.count * this.dimensions));
    return w.finish();
  }

  static deserialize(k: Kernels, dimensions: number, metric: Metric, r: ByteReader): FlatIndex {
    const ix = new FlatIndex(k, dimensions, metric);
    const n = r.u32();
    const labels = r.u32s();
    const vectors = r.f32s();
    ix.slab.reserve(n);
    ix.slab.vectors().set(vectors);
    ix.slab.count = n;
    for (let i = 0; i < n; i++) ix.table.bind(labels[i]!, i);
    return ix;
  }

  stats(): VectorIndexStats {
    return { kind: 'flat', metric: this.metric, dimensions: this.dimensions, count: this.size, deleted: 0, memoryBytes: this.slab.memoryBytes() + this.table.memoryBytes() };
  }

  dispose(): void {
    this.slab.dispose();
  }
}

/** Exact scores of labels through one gather call per scratch-full (shared by all kinds that keep a slab). */
export function scoreSlots(slab: VectorSlab, table: LabelTable, query: Float32Array, labels: Uint32Array): SearchResult {
  const present: number[] = [];
  for (const l of labels) if (table.slot(l) >= 0) present.push(l);
  const outLabels = new Uint32Array(present.length), scores = new Float32Array(present.length);
  if (present.length === 0) return { labels: outLabels, scores };
  const q = slab.setQuery(query);
  slab.reserveScratch(Math.min(present.length, 65536));
  for (let from = 0; from < present.length; from += slab.scratchCap) {
    const m = Math.min(slab.scratchCap, present.length - from);
    const ids = slab.idsView();
    for (let i = 0; i < m; i++) ids[i] = table.slot(present[from + i]!);
    const out = slab.gather(q, m);
    for (let i = 0; i < m; i++) {
      outLabels[from + i] = present[from + i]!;
      scores[from + i] = slab.scoreOf(out[i]!);
    }
  }
  return { labels: outLabels, scores };
}
