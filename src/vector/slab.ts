/**
 * VectorSlab: the vectors of one index, resident in the kernel arena as ONE contiguous row-major
 * block (slot i at `ptr + i*d*4`), so block scans and gathered neighbour scoring run on them
 * without copies. Cosine vectors are stored unit-normalised and scored with the dot kernel (the
 * score equals the cosine similarity; a zero vector stays zero and scores 0, as the kernel's
 * cosine does). Growth doubles the block (one copy, amortised). Also owns a scratch area for the
 * query, a gathered id list and the score output.
 *
 * Distances: `dist = sign * score` with sign = -1 for higher-is-closer metrics, so every index
 * ranks by "smaller is closer" internally and converts back with `scoreOf`.
 */
import type { Arena, Kernels, Metric } from '../kernel/types.ts';
import { higherIsCloser } from '../kernel/types.ts';
import { metricCode, vectorKernels } from './kernels.ts';
import type { VectorKernels } from '../kernel/reference-vector.ts';

export class VectorSlab {
  readonly k: Kernels;
  readonly d: number;
  readonly metric: Metric;
  /** Metric passed to the kernels (cosine runs as dot on unit vectors). */
  readonly kernelMetric: Metric;
  readonly sign: number;
  readonly vk: VectorKernels;
  readonly code: number;
  ptr = 0;
  capacity = 0;
  /** Slots in use (high-water mark; deleted slots are tracked by the index). */
  count = 0;
  // scratch
  qPtr = 0;
  idsPtr = 0;
  outPtr = 0;
  scratchCap = 0;
  private ids: Uint32Array = new Uint32Array(0);
  private out: Float32Array = new Float32Array(0);
  private vecView: Float32Array = new Float32Array(0);

  constructor(k: Kernels, d: number, metric: Metric, capacity = 1024) {
    this.k = k;
    this.d = d;
    this.metric = metric;
    this.kernelMetric = metric === 'cosine' ? 'dot' : metric;
    this.sign = higherIsCloser[metric] ? -1 : 1;
    this.vk = vectorKernels(k);
    this.code = metricCode[this.kernelMetric]!;
    this.qPtr = k.arena.alloc(d * 4);
    this.reserve(Math.max(16, capacity));
    this.reserveScratch(1024);
  }

  get arena(): Arena {
    return this.k.arena;
  }

  /** Make room for `n` slots in total. */
  reserve(n: number): void {
    if (n <= this.capacity) return;
    const cap = Math.max(n, this.capacity * 2);
    const p = this.k.arena.alloc(cap * this.d * 4);
    if (this.count > 0) this.k.arena.f32(p, this.count * this.d).set(this.k.arena.f32(this.ptr, this.count * this.d));
    if (this.ptr) this.k.arena.free(this.ptr);
    this.ptr = p;
    this.capacity = cap;
    this.refresh();
  }

  /** Scratch big enough for `n` gathered ids/scores. */
  reserveScratch(n: number): void {
    if (n <= this.scratchCap) return;
    const cap = Math.max(n, this.scratchCap * 2);
    if (this.idsPtr) this.k.arena.free(this.idsPtr);
    if (this.outPtr) this.k.arena.free(this.outPtr);
    this.idsPtr = this.k.arena.alloc(cap * 4);
    this.outPtr = this.k.arena.alloc(cap * 4);
    this.scratchCap = cap;
    this.refresh();
  }

  /** Re-take views (memory.grow detaches them). Cheap; called when a view went stale. */
  refresh(): void {
    const a = this.k.arena;
    this.vecView = a.f32(this.ptr, this.capacity * this.d);
    this.ids = a.u32(this.idsPtr, this.scratchCap);
    this.out = a.f32(this.outPtr, this.scratchCap);
  }

  private fresh(): void {
    if (this.vecView.byteLength === 0 || this.ids.byteLength === 0) this.refresh();
  }

  vectors(): Float32Array {
    this.fresh();
    return this.vecView;
  }

  idsView(): Uint32Array {
    this.fresh();
    return this.ids;
  }

  outView(): Float32Array {
    this.fresh();
    return this.out;
  }

  /** Writes `v` (normalised for cosine) into `slot`. */
  write(slot: number, v: Float32Array, offset = 0): void {
    const d = this.d;
    const dst = this.vectors();
    const o = slot * d;
    if (this.metric === 'cosine') {
      let s = 0;
      for (let i = 0; i < d; i++) { const x = v[offset + i]!; s += x * x; }
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let i = 0; i < d; i++) dst[o + i] = v[offset + i]! * inv;
    } else dst.set(v.subarray(offset, offset + d), o);
    if (slot >= this.count) this.count = slot + 1;
  }

  /** Copy of the stored (possibly normalised) vector of a slot. */
  read(slot: number): Float32Array {
    return this.vectors().slice(slot * this.d, (slot + 1) * this.d);
  }

  /** Loads a query into the arena query slot (normalised for cosine). Returns its pointer. */
  setQuery(q: Float32Array): number {
    const d = this.d;
    const dst = this.k.arena.f32(this.qPtr, d);
    if (this.metric === 'cosine') {
      let s = 0;
      for (let i = 0; i < d; i++) s += q[i]! * q[i]!;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let i = 0; i < d; i++) dst[i] = q[i]! * inv;
    } else dst.set(q.subarray(0, d));
    return this.qPtr;
  }

  /** Pointer of a stored vector (to use it as a query, e.g. during graph construction). */
  slotPtr(slot: number): number {
    return this.ptr + slot * this.d * 4;
  }

  /**
   * Scores the first `count` ids of the scratch id list against the vector at `queryPtr` in ONE
   * kernel call; distances (smaller is closer) land in the scratch output. Returns the output view.
   */
  gather(queryPtr: number, count: number): Float32Array {
    this.k.scoreGatherPtr(this.kernelMetric, queryPtr, this.ptr, this.idsPtr, count, this.d, this.outPtr, 0);
    const out = this.outView();
    if (this.sign < 0) for (let i = 0; i < count; i++) out[i] = -out[i]!;
    return out;
  }

  /** Like `gather` but through the vector kernels' raw distance call (no wrapper checks, no negation pass). */
  dist(queryPtr: number, count: number): Float32Array {
    this.vk.distGather(this.code, queryPtr, this.ptr, this.d, this.idsPtr, count, this.outPtr);
    return this.outView();
  }

  /** Scores slots [from, from+n) against the query; distances in the scratch output (n <= scratchCap). */
  scan(queryPtr: number, from: number, n: number): Float32Array {
    this.k.scoreBlockPtr(this.kernelMetric, queryPtr, this.ptr + from * this.d * 4, n, this.d, this.outPtr, 0);
    const out = this.outView();
    if (this.sign < 0) for (let i = 0; i < n; i++) out[i] = -out[i]!;
    return out;
  }

  /** Distance -> user-facing score. */
  scoreOf(dist: number): number {
    return this.sign * dist;
  }

  memoryBytes(): number {
    return this.capacity * this.d * 4;
  }

  dispose(): void {
    const a = this.k.arena;
    for (const p of [this.ptr, this.qPtr, this.idsPtr, this.outPtr]) if (p) a.free(p);
    this.ptr = this.qPtr = this.idsPtr = this.outPtr = 0;
    this.capacity = this.scratchCap = this.count = 0;
  }
}
