/**
 * IVF: a k-means coarse quantizer (`nlist` centroids, trained with the kernels) and inverted
 * lists; a query scans the `nprobe` nearest lists. List payloads:
 * - quantization 'none': the lists hold slots of the raw arena slab, scanned with one gathered
 *   kernel call per list (exact distances);
 * - 'sq8': residuals (vector - centroid) scalar-quantized to int8 with one global min/scale,
 *   stored contiguously per list and scanned with the int8 L2 kernel (query residual quantized
 *   the same way); 4x smaller than f32;
 * - 'pq': residuals product-quantized (`pqM` sub-spaces x 256 centroids, 1 byte each); scanned
 *   with asymmetric distance tables built by the block-score kernel over the codebooks.
 * The best `k * rerank` candidates are then re-ranked: exactly against the raw vectors when they
 * are kept (`storeVectors`, always for 'none'), else against the float reconstruction (sq8).
 *
 * Until `trainSize` vectors exist the index is an exact scan of the raw slab; training happens
 * once that many are present (or on a batch build) and again when the index has grown 16x.
 * Quantization needs a metric that ranks by L2 on stored vectors: l2 or cosine (unit vectors).
 */
import { LargetableError } from '../errors.ts';
import type { Kernels, Metric } from '../kernel/types.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import { FlatIndex } from './flat.ts';
import { MaxHeap } from './heap.ts';
import { assign, kmeans } from './kmeans.ts';
import { VectorSlab } from './slab.ts';
import type { LabelFilter, SearchOptions, SearchResult, VectorIndex, VectorIndexStats } from './types.ts';

export type IvfQuantization = 'none' | 'sq8' | 'pq';

export interface IvfParams {
  nlist?: number;
  nprobe?: number;
  quantization?: IvfQuantization;
  pqM?: number;
  storeVectors?: boolean;
  rerank?: number;
  trainSize?: number;
  seed?: number;
}

interface List {
  labels: Uint32Array;
  codes: Int8Array | Uint8Array;
  n: number;
}

const qNames: IvfQuantization[] = ['none', 'sq8', 'pq'];

function intParam(name: string, v: unknown, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new LargetableError('INVALID_ARGUMENT', `${name} must be an integer in ${lo}..${hi}`, { details: { [name]: v } });
  }
}

export class IvfIndex implements VectorIndex {
  readonly kind = 'ivf' as const;
  readonly metric: Metric;
  readonly dimensions: number;
  readonly quantization: IvfQuantization;
  readonly keepRaw: boolean;
  readonly nlistParam: number;
  nprobe: number;
  readonly rerank: number;
  readonly trainSize: number;
  readonly pqM: number;
  readonly seed: number;
  private k: Kernels;
  /** Raw vectors (always before training; after it only when kept). */
  raw: FlatIndex | undefined;
  trained = false;
  trainedAt = 0;
  nlist = 0;
  centroids: VectorSlab | undefined;
  lists: List[] = [];
  private listOf = new Int32Array(1024).fill(-1);
  /** Scratch of the current search: candidate i is entry candPos[i] of list candList[i]. */
  private candList: number[] = [];
  private candPos: number[] = [];
  private live = 0;
  // sq8
  private sqMin = 0;
  private sqScale = 1;
  // pq
  private codebooks: VectorSlab | undefined;
  private dsub = 0;
  private heap = new MaxHeap(64);
  private tmp: Float32Array;

  constructor(k: Kernels, dimensions: number, metric: Metric, params: IvfParams = {}) {
    this.k = k;
    this.metric = metric;
    this.dimensions = dimensions;
    const quant = params.quantization ?? (metric === 'l2' || metric === 'cosine' ? 'sq8' : 'none');
    if (!qNames.includes(quant)) throw new LargetableError('INVALID_ARGUMENT', `quantization must be one of ${qNames.join(', ')}`, { details: { quantization: quant } });
    if (quant !== 'none' && metric !== 'l2' && metric !== 'cosine') {
      throw new LargetableError('INVALID_ARGUMENT', `IVF quantization '${quant}' needs metric l2 or cosine`, { details: { metric } });
    }
    this.quantization = quant;
    this.keepRaw = quant === 'none' || params.storeVectors === true;
    this.nlistParam = params.nlist ?? 0;
    if (this.nlistParam !== 0) intParam('nlist', this.nlistParam, 1, 65536);
    this.nprobe = params.nprobe ?? 0;
    if (this.nprobe !== 0) intParam('nprobe', this.nprobe, 1, 65536);
    this.rerank = params.rerank ?? 10;
    intParam('rerank', this.rerank, 1, 64);
    this.trainSize = params.trainSize ?? Math.max(1024, this.nlistParam * 16);
    intParam('trainSize', this.trainSize, 1, 1 << 30);
    this.pqM = params.pqM ?? defaultPqM(dimensions);
    intParam('pqM', this.pqM, 1, dimensions);
    if (quant === 'pq' && dimensions % this.pqM !== 0) {
      throw new LargetableError('INVALID_ARGUMENT', `pqM (${this.pqM}) must divide dimensions (${dimensions})`);
    }
    this.seed = params.seed ?? 7;
    this.raw = new FlatIndex(k, dimensions, metric);
    this.tmp = new Float32Array(dimensions);
  }

  get size(): number {
    return this.trained ? this.live : this.raw!.size;
  }

  has(label: number): boolean {
    if (!this.trained) return this.raw!.has(label);
    return label < this.listOf.length && this.listOf[label]! >= 0;
  }

  // ---------- training ----------

  /** Vectors in the metric's space (unit for cosine), all live labels. */
  private collect(): { labels: Uint32Array; vectors: Float32Array } {
    const d = this.dimensions;
    if (this.raw) {
      const n = this.raw.slab.count;
      return { labels: this.raw.table.labelOf.slice(0, n), vectors: this.raw.slab.vectors().slice(0, n * d) };
    }
    const labels = new Uint32Array(this.live), vectors = new Float32Array(this.live * d);
    let o = 0;
    for (let j = 0; j < this.lists.length; j++) {
      const list = this.lists[j]!;
      for (let i = 0; i < list.n; i++) {
        labels[o] = list.labels[i]!;
        this.reconstruct(j, i, vectors, o * d);
        o++;
      }
    }
    return { labels, vectors };
  }

  train(): void {
    const { labels, vectors } = this.collect();
    const n = labels.length, d = this.dimensions;
    if (n === 0) return;
    const nlist = this.nlistParam || Math.max(1, Math.min(65536, Math.round(Math.sqrt(n))));
    const sampleN = Math.min(n, nlist * 64);
    const sample = vectors.subarray(0, sampleN * d); // vectors arrive in insertion order; take a strided sample
    const strided = new Float32Array(sampleN * d);
    for (let i = 0; i < sampleN; i++) {
      const src = Math.floor((i * n) / sampleN);
      strided.set(vectors.subarray(src * d, src * d + d), i * d);
    }
    void sample;
    const cent = kmeans(this.k, strided, sampleN, d, Math.min(nlist, n), 10, this.seed);
    const nl = Math.min(nlist, n);
    this.centroids?.dispose();
    this.centroids = new VectorSlab(this.k, d, this.metric === 'dot' ? 'dot' : 'l2', nl);
    this.centroids.reserveScratch(nl);
    for (let j = 0; j < nl; j++) this.centroids.write(j, cent, j * d);
    this.nlist = nl;
    const asg = new Int32Array(n);
    assign(this.k, vectors, n, d, cent, nl, asg);
    if (this.quantization === 'sq8') this.trainSq(vectors, n, asg, cent);
    if (this.quantization === 'pq') this.trainPq(strided, sampleN, cent);
    // fill lists
    const width = this.codeWidth();
    const counts = new Uint32Array(nl);
    for (let i = 0; i < n; i++) counts[asg[i]!]!++;
    this.lists = [];
    for (let j = 0; j < nl; j++) {
      const cap = Math.max(8, counts[j]!);
      this.lists.push({ labels: new Uint32Array(cap), codes: this.quantization === 'pq' ? new Uint8Array(cap * width) : new Int8Array(cap * width), n: 0 });
    }
    this.listOf = new Int32Array(Math.max(1024, maxLabel(labels) + 1)).fill(-1);
    this.live = 0;
    this.trained = true;
    for (let i = 0; i < n; i++) this.place(labels[i]!, vectors, i * d, asg[i]!);
    this.trainedAt = n;
    if (!this.keepRaw && this.raw) {
      this.raw.dispose();
      this.raw = undefined;
    }
  }

  private codeWidth(): number {
    return this.quantization === 'sq8' ? this.dimensions : this.quantization === 'pq' ? this.pqM : 0;
  }

  private trainSq(vectors: Float32Array, n: number, asg: Int32Array, cent: Float32Array): void {
    const d = this.dimensions;
    let lo = Infinity, hi = -Infinity;
    const step = Math.max(1, Math.floor(n / 20000));
    for (let i = 0; i < n; i += step) {
      const c = asg[i]! * d;
      for (let x = 0; x < d; x++) {
        const r = vectors[i * d + x]! - cent[c + x]!;
        if (r < lo) lo = r;
        if (r > hi) hi = r;
      }
    }
    if (!(hi > lo)) { lo = -1; hi = 1; }
    const pad = (hi - lo) * 0.02;
    this.sqMin = lo - pad;
    this.sqScale = (hi - lo + 2 * pad) / 255;
  }

  private trainPq(sample: Float32Array, n: number, cent: Float32Array): void {
    const d = this.dimensions, m = this.pqM, dsub = d / m;
    this.dsub = dsub;
    const asg = new Int32Array(n);
    assign(this.k, sample, n, d, cent, this.nlist, asg);
    const books = new Float32Array(m * 256 * dsub);
    const sub = new Float32Array(n * dsub);
    for (let s = 0; s < m; s++) {
      for (let i = 0; i < n; i++) {
        const c = asg[i]! * d;
        for (let x = 0; x < dsub; x++) sub[i * dsub + x] = sample[i * d + s * dsub + x]! - cent[c + s * dsub + x]!;
      }
      books.set(kmeans(this.k, sub, n, dsub, 256, 8, this.seed + s), s * 256 * dsub);
    }
    this.codebooks?.dispose();
    this.codebooks = new VectorSlab(this.k, dsub, 'l2', m * 256);
    this.codebooks.reserveScratch(256);
    for (let r = 0; r < m * 256; r++) this.codebooks.write(r, books, r * dsub);
  }

  // ---------- encoding ----------

  private residual(v: Float32Array, offset: number, list: number): Float32Array {
    const d = this.dimensions, c = this.centroids!.vectors(), r = this.tmp;
    for (let x = 0; x < d; x++) r[x] = v[offset + x]! - c[list * d + x]!;
    return r;
  }

  private encodeInto(v: Float32Array, offset: number, list: number, out: Int8Array | Uint8Array, o: number): void {
    const d = this.dimensions;
    const r = this.residual(v, offset, list);
    if (this.quantization === 'sq8') {
      const inv = 1 / this.sqScale;
      for (let x = 0; x < d; x++) {
        const q = Math.round((r[x]! - this.sqMin) * inv - 128);
        out[o + x] = q < -128 ? -128 : q > 127 ? 127 : q;
      }
    } else if (this.quantization === 'pq') {
      const books = this.codebooks!, dsub = this.dsub;
      for (let s = 0; s < this.pqM; s++) {
        const q = books.setQuery(r.subarray(s * dsub, s * dsub + dsub));
        const dist = books.scan(q, s * 256, 256);
        let best = 0, bd = Infinity;
        for (let c = 0; c < 256; c++) if (dist[c]! < bd) { bd = dist[c]!; best = c; }
        out[o + s] = best;
      }
    }
  }

  /** Reconstructed vector (metric space) of list entry i into out[o..o+d). */
  private reconstruct(list: number, i: number, out: Float32Array, o: number): void {
    const d = this.dimensions, c = this.centroids!.vectors(), L = this.lists[list]!;
    if (this.quantization === 'sq8') {
      const codes = L.codes;
      for (let x = 0; x < d; x++) out[o + x] = c[list * d + x]! + (codes[i * d + x]! + 128) * this.sqScale + this.sqMin;
    } else if (this.quantization === 'pq') {
      const books = this.codebooks!.vectors(), dsub = this.dsub, m = this.pqM;
      for (let s = 0; s < m; s++) {
        const code = L.codes[i * m + s]!;
        for (let x = 0; x < dsub; x++) out[o + s * dsub + x] = c[list * d + s * dsub + x]! + books[(s * 256 + code) * dsub + x]!;
      }
    } else {
      const slot = this.raw!.table.slot(L.labels[i]!);
      out.set(this.raw!.slab.vectors().subarray(slot * d, slot * d + d), o);
    }
  }

  private place(label: number, v: Float32Array, offset: number, list: number): void {
    const L = this.lists[list]!;
    const w = this.codeWidth();
    if (L.n === L.labels.length) {
      const labels = new Uint32Array(Math.ceil(L.labels.length * 1.5) + 4); labels.set(L.labels); L.labels = labels;
      const codes = L.codes instanceof Uint8Array ? new Uint8Array(labels.length * w) : new Int8Array(labels.length * w);
      codes.set(L.codes as never); L.codes = codes;
    }
    if (w > 0) this.encodeInto(v, offset, list, L.codes, L.n * w);
    L.labels[L.n] = label;
    if (label >= this.listOf.length) {
      const n = Math.max(label + 1, this.listOf.length * 2);
      const lo = new Int32Array(n).fill(-1); lo.set(this.listOf); this.listOf = lo;
    }
    this.listOf[label] = list;
    L.n++;
    this.live++;
  }

  private unplace(label: number): boolean {
    if (label >= this.listOf.length || this.listOf[label]! < 0) return false;
    const list = this.listOf[label]!;
    const L = this.lists[list]!, w = this.codeWidth();
    const pos = this.posIn(list, label);
    const last = L.n - 1;
    if (pos !== last) {
      const moved = L.labels[last]!;
      L.labels[pos] = moved;
      if (w > 0) L.codes.copyWithin(pos * w, last * w, last * w + w);
    }
    L.n--;
    this.listOf[label] = -1;
    this.live--;
    return true;
  }

  /** Position of a label inside its list (lists are short: n / nlist entries). */
  private posIn(list: number, label: number): number {
    const L = this.lists[list]!;
    const i = L.labels.subarray(0, L.n).indexOf(label);
    if (i < 0) throw new Error(`assertion failed: label ${label} missing from list ${list}`);
    return i;
  }

  /** Nearest centroid of one vector (metric space), one block-score call. */
  private nearestList(v: Float32Array, offset: number): number {
    const cs = this.centroids!;
    const q = cs.setQuery(v.subarray(offset, offset + this.dimensions));
    const dist = cs.scan(q, 0, this.nlist);
    let best = 0, bd = Infinity;
    for (let j = 0; j < this.nlist; j++) if (dist[j]! < bd) { bd = dist[j]!; best = j; }
    return best;
  }

  /** Stored-space copy of a user vector (unit for cosine). */
  private toSpace(v: Float32Array, offset: number): Float32Array {
    const d = this.dimensions, out = new Float32Array(d);
    if (this.metric === 'cosine') {
      let s = 0;
      for (let x = 0; x < d; x++) s += v[offset + x]! * v[offset + x]!;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let x = 0; x < d; x++) out[x] = v[offset + x]! * inv;
    } else out.set(v.subarray(offset, offset + d));
    return out;
  }

  add(label: number, vector: Float32Array): void {
    if (!this.trained) {
      this.raw!.add(label, vector);
      if (this.raw!.size >= this.trainSize) this.train();
      return;
    }
    this.unplace(label);
    if (this.raw) this.raw.add(label, vector);
    const v = this.toSpace(vector, 0);
    this.place(label, v, 0, this.nearestList(v, 0));
    if (this.nlistParam === 0 && this.live > 16 * this.trainedAt) this.train();
  }

  addBatch(labels: Uint32Array, vectors: Float32Array): void {
    if (!this.trained) {
      this.raw!.addBatch(labels, vectors);
      if (this.raw!.size >= this.trainSize) this.train();
      return;
    }
    const d = this.dimensions;
    for (let i = 0; i < labels.length; i++) this.add(labels[i]!, vectors.subarray(i * d, i * d + d));
  }

  remove(label: number): boolean {
    if (!this.trained) return this.raw!.remove(label);
    if (this.raw) this.raw.remove(label);
    return this.unplace(label);
  }

  // ---------- search ----------

  search(query: Float32Array, k: number, options: SearchOptions = {}): SearchResult {
    if (!this.trained) return this.raw!.search(query, k, options);
    if (k <= 0 || this.live === 0) return { labels: new Uint32Array(0), scores: new Float32Array(0) };
    const nprobe = Math.min(this.nlist, options.nprobe ?? (this.nprobe || Math.max(1, Math.ceil(this.nlist / 16))));
    const filter = options.filter;
    const q = this.toSpace(query, 0);
    // rank lists
    const cs = this.centroids!;
    const cq = cs.setQuery(q);
    const cdist = cs.scan(cq, 0, this.nlist).slice(0, this.nlist);
    const order = new MaxHeap(nprobe);
    for (let j = 0; j < this.nlist; j++) order.pushBounded(cdist[j]!, j, nprobe);
    const probe = order.drainSorted().ids;
    const want = this.quantization === 'none' ? k : k * this.rerank;
    const heap = this.heap;
    heap.clear();
    this.candList.length = 0;
    this.candPos.length = 0;
    for (const list of probe) this.scanList(q, list, want, filter, heap);
    const { ids: slots, dist } = heap.drainSorted();
    const cand = Uint32Array.from(slots, (i) => this.lists[this.candList[i]!]!.labels[this.candPos[i]!]!);
    if (this.quantization === 'none') return this.finish(cand, dist, k, this.raw!.slab.sign);
    if (this.raw) {
      const r = this.raw.scoreLabels(query, cand);
      return topOf(r, k, this.raw.slab.sign);
    }
    if (this.quantization === 'pq') return this.finish(cand, dist, k, 1, true);
    // float re-rank against the sq8 reconstruction
    const d = this.dimensions, rec = new Float32Array(d);
    const scores = new Float32Array(cand.length);
    for (let i = 0; i < cand.length; i++) {
      this.reconstruct(this.candList[slots[i]!]!, this.candPos[slots[i]!]!, rec, 0);
      scores[i] = this.exactScore(q, rec);
    }
    return topOf({ labels: cand, scores }, k, this.metric === 'l2' ? 1 : -1);
  }

  /** Score in the user's metric between a stored-space query and a stored-space vector. */
  private exactScore(q: Float32Array, v: Float32Array): number {
    const d = this.dimensions;
    if (this.metric === 'l2') {
      let s = 0;
      for (let x = 0; x < d; x++) { const t = q[x]! - v[x]!; s += t * t; }
      return s;
    }
    let dot = 0, nv = 0;
    for (let x = 0; x < d; x++) { dot += q[x]! * v[x]!; nv += v[x]! * v[x]!; }
    return nv > 0 ? dot / Math.sqrt(nv) : 0;
  }

  private finish(cand: Uint32Array, dist: Float32Array, k: number, sign: number, fromL2 = false): SearchResult {
    const m = Math.min(k, cand.length);
    const labels = cand.slice(0, m), scores = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      // pq distances are squared L2 in the stored space; cosine of unit vectors = 1 - l2/2
      scores[i] = fromL2 ? (this.metric === 'cosine' ? 1 - dist[i]! / 2 : dist[i]!) : sign * dist[i]!;
    }
    return { labels, scores };
  }

  private scanList(q: Float32Array, list: number, want: number, filter: LabelFilter | undefined, heap: MaxHeap): void {
    const L = this.lists[list]!;
    const n = L.n;
    if (n === 0) return;
    const fn = typeof filter === 'function' ? filter : undefined;
    const set = filter !== undefined && typeof filter !== 'function' ? filter : undefined;
    const candList = this.candList, candPos = this.candPos;
    const consider = (dist: number, label: number, pos: number) => {
      if (heap.size >= want && !(dist < heap.topDist())) return;
      if (filter !== undefined && (set ? !set.has(label) : !fn!(label))) return;
      heap.pushBounded(dist, candList.length, want);
      candList.push(list);
      candPos.push(pos);
    };
    if (this.quantization === 'none') {
      const slab = this.raw!.slab, table = this.raw!.table;
      const qp = slab.setQuery(q);
      slab.reserveScratch(n);
      const ids = slab.idsView();
      for (let i = 0; i < n; i++) ids[i] = table.slot(L.labels[i]!);
      const out = slab.gather(qp, n);
      for (let i = 0; i < n; i++) consider(out[i]!, L.labels[i]!, i);
      return;
    }
    if (this.quantization === 'sq8') {
      const d = this.dimensions;
      const r = this.residual(q, 0, list);
      const qcode = new Int8Array(d);
      const inv = 1 / this.sqScale;
      for (let x = 0; x < d; x++) {
        const v = Math.round((r[x]! - this.sqMin) * inv - 128);
        qcode[x] = v < -128 ? -128 : v > 127 ? 127 : v;
      }
      const out = new Float32Array(n);
      this.k.l2I8(qcode, (L.codes as Int8Array).subarray(0, n * d), n, d, out);
      const s2 = this.sqScale * this.sqScale;
      for (let i = 0; i < n; i++) consider(out[i]! * s2, L.labels[i]!, i);
      return;
    }
    // pq: distance table per sub-space (one block-score call each), then table lookups
    const m = this.pqM, dsub = this.dsub, books = this.codebooks!;
    const r = this.residual(q, 0, list);
    const table = new Float32Array(m * 256);
    for (let s = 0; s < m; s++) {
      const qp = books.setQuery(r.subarray(s * dsub, s * dsub + dsub));
      table.set(books.scan(qp, s * 256, 256).subarray(0, 256), s * 256);
    }
    const codes = L.codes;
    for (let i = 0; i < n; i++) {
      let dist = 0;
      const o = i * m;
      for (let s = 0; s < m; s++) dist += table[s * 256 + codes[o + s]!]!;
      consider(dist, L.labels[i]!, i);
    }
  }

  scoreLabels(query: Float32Array, labels: Uint32Array): SearchResult {
    if (this.raw) return this.raw.scoreLabels(query, labels);
    const q = this.toSpace(query, 0), rec = new Float32Array(this.dimensions);
    const out: number[] = [], sc: number[] = [];
    for (const label of labels) {
      if (!this.has(label)) continue;
      const list = this.listOf[label]!;
      this.reconstruct(list, this.posIn(list, label), rec, 0);
      out.push(label);
      sc.push(this.exactScore(q, rec));
    }
    return { labels: Uint32Array.from(out), scores: Float32Array.from(sc) };
  }

  // ---------- persistence ----------

  serialize(): Uint8Array[] {
    const w = new ByteWriter();
    w.u8(qNames.indexOf(this.quantization));
    w.u8(this.keepRaw ? 1 : 0);
    w.u32(this.nlistParam);
    w.u32(this.nprobe);
    w.u32(this.rerank);
    w.u32(this.trainSize);
    w.u32(this.pqM);
    w.u32(this.seed);
    w.u8(this.trained ? 1 : 0);
    w.u8(this.raw ? 1 : 0);
    if (this.raw) for (const p of this.raw.serialize()) { w.u32(p.length); w.bytes(p); }
    if (this.raw) w.u32(0xffffffff);
    if (!this.trained) return w.finish();
    w.u32(this.trainedAt);
    w.u32(this.nlist);
    w.array(this.centroids!.vectors().subarray(0, this.nlist * this.dimensions));
    w.f64(this.sqMin);
    w.f64(this.sqScale);
    if (this.quantization === 'pq') w.array(this.codebooks!.vectors().subarray(0, this.pqM * 256 * this.dsub));
    const width = this.codeWidth();
    for (const L of this.lists) {
      w.array(L.labels.subarray(0, L.n));
      w.array(L.codes.subarray(0, L.n * width));
    }
    return w.finish();
  }

  static deserialize(k: Kernels, dimensions: number, metric: Metric, r: ByteReader): IvfIndex {
    const quantization = qNames[r.u8()]!;
    const storeVectors = r.u8() === 1;
    const nlist = r.u32(), nprobe = r.u32(), rerank = r.u32(), trainSize = r.u32(), pqM = r.u32(), seed = r.u32();
    const ix = new IvfIndex(k, dimensions, metric, { quantization, storeVectors, nlist, nprobe, rerank, trainSize, pqM, seed });
    ix.trained = r.u8() === 1;
    const hasRaw = r.u8() === 1;
    if (hasRaw) {
      const parts: Uint8Array[] = [];
      for (let n = r.u32(); n !== 0xffffffff; n = r.u32()) parts.push(r.bytes());
      ix.raw!.dispose();
      let len = 0;
      for (const p of parts) len += p.length;
      const all = new Uint8Array(len);
      let o = 0;
      for (const p of parts) { all.set(p, o); o += p.length; }
      ix.raw = FlatIndex.deserialize(k, dimensions, metric, new ByteReader(all));
    } else {
      ix.raw!.dispose();
      ix.raw = undefined;
    }
    if (!ix.trained) return ix;
    ix.trainedAt = r.u32();
    ix.nlist = r.u32();
    const cent = r.f32s();
    ix.centroids = new VectorSlab(k, dimensions, metric === 'dot' ? 'dot' : 'l2', ix.nlist);
    ix.centroids.reserveScratch(ix.nlist);
    for (let j = 0; j < ix.nlist; j++) ix.centroids.write(j, cent, j * dimensions);
    ix.sqMin = r.f64();
    ix.sqScale = r.f64();
    if (quantization === 'pq') {
      ix.dsub = dimensions / pqM;
      const books = r.f32s();
      ix.codebooks = new VectorSlab(k, ix.dsub, 'l2', pqM * 256);
      ix.codebooks.reserveScratch(256);
      for (let j = 0; j < pqM * 256; j++) ix.codebooks.write(j, books, j * ix.dsub);
    }
    ix.lists = [];
    for (let j = 0; j < ix.nlist; j++) {
      const labels = r.u32s().slice();
      const codesBytes = r.bytes();
      const codes = quantization === 'pq' ? new Uint8Array(codesBytes) : new Int8Array(codesBytes.buffer, codesBytes.byteOffset, codesBytes.length).slice();
      const n = labels.length;
      ix.lists.push({ labels: n ? labels : new Uint32Array(8), codes: n ? codes : quantization === 'pq' ? new Uint8Array(8 * ix.codeWidth()) : new Int8Array(8 * ix.codeWidth()), n });
      for (let i = 0; i < n; i++) {
        const label = labels[i]!;
        if (label >= ix.listOf.length) {
          const size = Math.max(label + 1, ix.listOf.length * 2);
          const lo = new Int32Array(size).fill(-1); lo.set(ix.listOf); ix.listOf = lo;
        }
        ix.listOf[label] = j;
        ix.live++;
      }
    }
    return ix;
  }

  stats(): VectorIndexStats {
    let listBytes = 0;
    for (const L of this.lists) listBytes += L.labels.byteLength + L.codes.byteLength;
    const memoryBytes = listBytes + (this.centroids?.memoryBytes() ?? 0) + (this.codebooks?.memoryBytes() ?? 0) +
      (this.raw ? this.raw.stats().memoryBytes : 0) + this.listOf.byteLength;
    return {
      kind: 'ivf', metric: this.metric, dimensions: this.dimensions, count: this.size, deleted: 0, memoryBytes,
      trained: this.trained, nlist: this.nlist, nprobe: this.nprobe || Math.max(1, Math.ceil(this.nlist / 16)),
      quantization: this.quantization, storeVectors: this.keepRaw,
    };
  }

  dispose(): void {
    this.raw?.dispose();
    this.centroids?.dispose();
    this.codebooks?.dispose();
  }
}

/** Largest divisor of d that is at most d/8 (one byte per ~8 dimensions). */
function defaultPqM(d: number): number {
  for (let m = Math.max(1, Math.floor(d / 8)); m > 1; m--) if (d % m === 0) return m;
  return 1;
}

function maxLabel(labels: Uint32Array): number {
  let m = 0;
  for (const l of labels) if (l > m) m = l;
  return m;
}

/** Best k of (labels, scores) where sign = 1 means lower is closer. */
function topOf(r: SearchResult, k: number, sign: number): SearchResult {
  const order = Array.from(r.labels.keys()).sort((a, b) => sign * (r.scores[a]! - r.scores[b]!) || r.labels[a]! - r.labels[b]!).slice(0, k);
  return { labels: Uint32Array.from(order, (i) => r.labels[i]!), scores: Float32Array.from(order, (i) => r.scores[i]!) };
}
