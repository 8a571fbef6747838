/**
 * LSH: random-hyperplane signatures (SimHash) in `tables` hash tables of `bits` bits each; a
 * vector's projections on all tables*bits hyperplanes come from ONE block-score call (a batch
 * build uses one `scoreBatch` call per chunk of vectors). Multi-probe: besides its own bucket,
 * a query probes, per table, the buckets reached by flipping each of its `probes` least certain
 * bits (smallest |projection|). Candidates are re-ranked exactly against the raw vectors.
 * Hyperplanes through the origin approximate the angle, so LSH suits cosine (and unit-length
 * data under any metric).
 */
import { LargetableError } from '../errors.ts';
import type { Kernels, Metric } from '../kernel/types.ts';
import { kernelBatchQueriesMax } from '../limits.ts';
import { ByteReader, ByteWriter, concatBytes } from './bytes.ts';
import { FlatIndex } from './flat.ts';
import { mulberry32 } from './kmeans.ts';
import { VectorSlab } from './slab.ts';
import { LabelSet, labelPasses, type SearchOptions, type SearchResult, type VectorIndex, type VectorIndexStats } from './types.ts';

export interface LshParams {
  tables?: number;
  bits?: number;
  probes?: number;
  seed?: number;
}

function intParam(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new LargetableError('INVALID_ARGUMENT', `${name} must be an integer in ${lo}..${hi}`, { details: { [name]: v } });
  }
  return v;
}

export class LshIndex implements VectorIndex {
  readonly kind = 'lsh' as const;
  readonly metric: Metric;
  readonly dimensions: number;
  readonly tables: number;
  readonly bits: number;
  probes: number;
  readonly seed: number;
  private k: Kernels;
  raw: FlatIndex;
  private planes: Float32Array;
  private planeSlab: VectorSlab;
  private buckets: Map<number, number[]>[];
  /** signature of each label per table (labels * tables). */
  private sigs = new Uint32Array(0);

  constructor(k: Kernels, dimensions: number, metric: Metric, params: LshParams = {}) {
    this.k = k;
    this.metric = metric;
    this.dimensions = dimensions;
    this.tables = intParam('tables', params.tables ?? 16, 1, 64);
    this.bits = intParam('bits', params.bits ?? 10, 1, 30);
    this.probes = intParam('probes', params.probes ?? 10, 0, 30);
    this.seed = params.seed ?? 11;
    const rng = mulberry32(this.seed);
    const rows = this.tables * this.bits;
    this.planes = new Float32Array(rows * dimensions);
    for (let i = 0; i < this.planes.length; i += 2) {
      // Box-Muller
      const u = Math.max(rng(), 1e-12), v = rng();
      const r = Math.sqrt(-2 * Math.log(u));
      this.planes[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < this.planes.length) this.planes[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    this.planeSlab = new VectorSlab(k, dimensions, 'dot', rows);
    this.planeSlab.reserveScratch(rows);
    for (let j = 0; j < rows; j++) this.planeSlab.write(j, this.planes, j * dimensions);
    this.raw = new FlatIndex(k, dimensions, metric);
    this.buckets = Array.from({ length: this.tables }, () => new Map<number, number[]>());
  }

  get size(): number {
    return this.raw.size;
  }

  has(label: number): boolean {
    return this.raw.has(label);
  }

  /** Projections of one vector on all hyperplanes (one kernel call); returned as a copy. */
  private project(v: Float32Array, offset = 0): Float32Array {
    const q = this.planeSlab.setQuery(v.subarray(offset, offset + this.dimensions));
    const rows = this.tables * this.bits;
    const out = this.planeSlab.scan(q, 0, rows).slice(0, rows);
    for (let i = 0; i < rows; i++) out[i] = -out[i]!; // slab distances of 'dot' are negated scores
    return out;
  }

  private signature(proj: Float32Array, o: number, t: number): number {
    let s = 0;
    const b = this.bits;
    for (let i = 0; i < b; i++) if (proj[o + t * b + i]! > 0) s |= 1 << i;
    return s >>> 0;
  }

  private ensureSigs(label: number): void {
    if ((label + 1) * this.tables > this.sigs.length) {
      const s = new Uint32Array(Math.max((label + 1) * this.tables, this.sigs.length * 2));
      s.set(this.sigs);
      this.sigs = s;
    }
  }

  private insertHashed(label: number, proj: Float32Array, o: number): void {
    this.ensureSigs(label);
    for (let t = 0; t < this.tables; t++) {
      const sig = this.signature(proj, o, t);
      this.sigs[label * this.tables + t] = sig;
      const m = this.buckets[t]!;
      const b = m.get(sig);
      if (b) b.push(label);
      else m.set(sig, [label]);
    }
  }

  private unhash(label: number): void {
    for (let t = 0; t < this.tables; t++) {
      const m = this.buckets[t]!;
      const sig = this.sigs[label * this.tables + t]!;
      const b = m.get(sig);
      if (!b) continue;
      const i = b.indexOf(label);
      if (i >= 0) { b[i] = b[b.length - 1]!; b.pop(); }
      if (b.length === 0) m.delete(sig);
    }
  }

  add(label: number, vector: Float32Array): void {
    if (this.raw.has(label)) this.unhash(label);
    this.raw.add(label, vector);
    this.insertHashed(label, this.project(vector), 0);
  }

  addBatch(labels: Uint32Array, vectors: Float32Array): void {
    const d = this.dimensions, rows = this.tables * this.bits;
    for (const l of labels) if (this.raw.has(l)) this.unhash(l);
    this.raw.addBatch(labels, vectors);
    const chunk = Math.min(kernelBatchQueriesMax, 1024);
    const out = new Float32Array(chunk * rows);
    for (let from = 0; from < labels.length; from += chunk) {
      const q = Math.min(chunk, labels.length - from);
      this.k.scoreBatch('dot', vectors.subarray(from * d, (from + q) * d), q, this.planes, rows, d, out);
      for (let i = 0; i < q; i++) this.insertHashed(labels[from + i]!, out, i * rows);
    }
  }

  remove(label: number): boolean {
    if (!this.raw.has(label)) return false;
    this.unhash(label);
    return this.raw.remove(label);
  }

  search(query: Float32Array, k: number, options: SearchOptions = {}): SearchResult {
    if (k <= 0 || this.size === 0) return { labels: new Uint32Array(0), scores: new Float32Array(0) };
    const probes = Math.min(this.bits, options.probes ?? this.probes);
    const proj = this.project(query);
    const seen = new LabelSet(1024);
    const cands: number[] = [];
    const filter = options.filter;
    const b = this.bits;
    const order = new Array<number>(b);
    for (let t = 0; t < this.tables; t++) {
      const base = this.signature(proj, 0, t);
      for (let i = 0; i < b; i++) order[i] = i;
      order.sort((x, y) => Math.abs(proj[t * b + x]!) - Math.abs(proj[t * b + y]!));
      const m = this.buckets[t]!;
      for (let p = -1; p < probes; p++) {
        const sig = p < 0 ? base : (base ^ (1 << order[p]!)) >>> 0;
        const bucket = m.get(sig);
        if (!bucket) continue;
        for (const label of bucket) {
          if (seen.has(label)) continue;
          seen.add(label);
          if (filter === undefined || labelPasses(filter, label)) cands.push(label);
        }
      }
    }
    const r = this.raw.scoreLabels(query, Uint32Array.from(cands));
    const sign = this.raw.slab.sign;
    const idx = Array.from(r.labels.keys()).sort((a, c) => sign * (r.scores[a]! - r.scores[c]!) || r.labels[a]! - r.labels[c]!).slice(0, k);
    return { labels: Uint32Array.from(idx, (i) => r.labels[i]!), scores: Float32Array.from(idx, (i) => r.scores[i]!) };
  }

  scoreLabels(query: Float32Array, labels: Uint32Array): SearchResult {
    return this.raw.scoreLabels(query, labels);
  }

  serialize(): Uint8Array[] {
    const w = new ByteWriter();
    w.u32(this.tables);
    w.u32(this.bits);
    w.u32(this.probes);
    w.u32(this.seed);
    w.bytes(concatBytes(this.raw.serialize()));
    return w.finish();
  }

  static deserialize(k: Kernels, dimensions: number, metric: Metric, r: ByteReader): LshIndex {
    const tables = r.u32(), bits = r.u32(), probes = r.u32(), seed = r.u32();
    const ix = new LshIndex(k, dimensions, metric, { tables, bits, probes, seed });
    const raw = FlatIndex.deserialize(k, dimensions, metric, new ByteReader(r.bytes()));
    const n = raw.slab.count;
    // re-hash from the stored vectors (hashing is cheap relative to I/O; keeps the format small)
    const labels = raw.table.labelOf.slice(0, n);
    const vectors = raw.slab.vectors().slice(0, n * dimensions);
    raw.dispose();
    ix.addBatch(labels, vectors);
    return ix;
  }

  stats(): VectorIndexStats {
    let bucketBytes = 0;
    for (const m of this.buckets) bucketBytes += m.size * 48;
    return {
      kind: 'lsh', metric: this.metric, dimensions: this.dimensions, count: this.size, deleted: 0,
      memoryBytes: this.raw.stats().memoryBytes + this.size * this.tables * 8 + bucketBytes + this.sigs.byteLength + this.planes.byteLength * 2,
      tables: this.tables, bits: this.bits, probes: this.probes,
    };
  }

  dispose(): void {
    this.raw.dispose();
    this.planeSlab.dispose();
  }
}
