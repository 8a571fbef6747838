/**
 * The one contract every vector index kind implements (flat, hnsw, ivf, lsh), checked by
 * test/vector/conformance.case.ts. Indexes speak in `labels`: dense u32 numbers assigned by the
 * owner (the collection plugin maps labels to document ids). Vectors are copied into the kernel
 * arena on `add`; searches never copy stored vectors.
 *
 * Scores follow src/kernel/types.ts: cosine similarity, dot product (higher is closer), squared
 * L2 and L1 distance (lower is closer). Results are always best first.
 */
import type { Metric } from '../kernel/types.ts';

export type VectorIndexKind = 'flat' | 'hnsw' | 'ivf' | 'lsh';

/** A candidate restriction: a label passes when the predicate (or bitmap bit) says so. */
export type LabelFilter = ((label: number) => boolean) | LabelSet;

/** Dense bitmap over labels (the candidate set a document filter becomes). */
export class LabelSet {
  bits: Uint32Array;
  count = 0;

  constructor(capacity = 1024) {
    this.bits = new Uint32Array((capacity + 31) >>> 5);
  }

  add(label: number): void {
    const w = label >>> 5;
    if (w >= this.bits.length) {
      const b = new Uint32Array(Math.max(w + 1, this.bits.length * 2));
      b.set(this.bits);
      this.bits = b;
    }
    const m = 1 << (label & 31);
    if ((this.bits[w]! & m) === 0) {
      this.bits[w]! |= m;
      this.count++;
    }
  }

  has(label: number): boolean {
    const w = label >>> 5;
    return w < this.bits.length && (this.bits[w]! & (1 << (label & 31))) !== 0;
  }

  *labels(): IterableIterator<number> {
    const b = this.bits;
    for (let w = 0; w < b.length; w++) {
      let x = b[w]!;
      while (x !== 0) {
        const t = x & -x;
        yield (w << 5) + (31 - Math.clz32(t));
        x ^= t;
      }
    }
  }
}

export interface SearchOptions {
  /** HNSW: size of the dynamic candidate list (>= k). */
  efSearch?: number;
  /** IVF: lists probed. */
  nprobe?: number;
  /** LSH: extra buckets probed per table. */
  probes?: number;
  /** Only labels passing this are returned. */
  filter?: LabelFilter;
}

export interface SearchResult {
  labels: Uint32Array;
  /** Metric score per label (see file header). */
  scores: Float32Array;
}

export interface VectorIndexStats {
  kind: VectorIndexKind;
  metric: Metric;
  dimensions: number;
  count: number;
  deleted: number;
  /** Bytes held by the index (vectors, codes, links), excluding JS object overhead. */
  memoryBytes: number;
  [key: string]: unknown;
}

export interface VectorIndex {
  readonly kind: VectorIndexKind;
  readonly metric: Metric;
  readonly dimensions: number;
  /** Number of live labels. */
  readonly size: number;
  /** Insert or replace the vector of `label`. The vector must already be validated. */
  add(label: number, vector: Float32Array): void;
  /** Bulk insert (n = labels.length vectors, row-major). Equivalent to repeated add, faster. */
  addBatch(labels: Uint32Array, vectors: Float32Array): void;
  /** Remove `label`; false when absent. */
  remove(label: number): boolean;
  has(label: number): boolean;
  /** Best `k` labels, best first; fewer only when fewer (matching) labels exist or the index is approximate. */
  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult;
  /** Exact scores of the given labels (absent labels are skipped). */
  scoreLabels(query: Float32Array, labels: Uint32Array): SearchResult;
  /** Serialized state (see docs/FORMAT.md "## Vectors"). */
  serialize(): Uint8Array[];
  stats(): VectorIndexStats;
  /** Release arena memory. The index is unusable afterwards. */
  dispose(): void;
}

export function labelPasses(filter: LabelFilter, label: number): boolean {
  return typeof filter === 'function' ? filter(label) : filter.has(label);
}
