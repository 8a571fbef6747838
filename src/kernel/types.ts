/**
 * The kernel API the engine sees. Three implementations share it: the SIMD wasm build, the
 * scalar wasm build and the pure-TypeScript twin (src/kernel/reference.ts), which is both the
 * fallback and the differential-test oracle. Every call moves a whole batch; nothing here is
 * meant to be called per element.
 *
 * Two layers:
 * - array calls (this interface's plain methods): take JS typed arrays, copy them into the
 *   arena, run the kernel, copy results out. Convenient, one copy per call.
 * - pointer calls (`arena` + `*Ptr` methods): data already resident in linear memory (vector
 *   blocks kept by an index), no copies. Views must be re-taken after any `alloc` (memory.grow).
 */

export type Metric = 'dot' | 'l2' | 'cosine' | 'l1';
export type KernelBuild = 'simd' | 'scalar' | 'typescript';

/**
 * Score semantics (all metrics: SMALLER IS CLOSER is NOT assumed; see `higherIsCloser`):
 * - dot:    sum(q[i] * v[i])                                    (higher is closer)
 * - cosine: dot(q, v) / (|q| * |v|), |v| from `norms`; 0 when a norm is 0 (higher is closer)
 * - l2:     sum((q[i] - v[i])^2)  (squared Euclidean)           (lower is closer)
 * - l1:     sum(|q[i] - v[i]|)                                   (lower is closer)
 */
export const higherIsCloser: Record<Metric, boolean> = { dot: true, cosine: true, l2: false, l1: false };

export interface TopK {
  /** Indices into the score array, best first (ties: lower index first). */
  indices: Uint32Array;
  scores: Float32Array;
}

export interface Arena {
  /** Allocate `bytes` (16-byte aligned) in linear memory; returns the pointer. */
  alloc(bytes: number): number;
  free(ptr: number): void;
  /** Fresh views (never cache them across alloc calls: memory.grow detaches the buffer). */
  f32(ptr: number, length: number): Float32Array;
  u32(ptr: number, length: number): Uint32Array;
  i8(ptr: number, length: number): Int8Array;
  u8(ptr: number, length: number): Uint8Array;
}

export interface Kernels {
  readonly build: KernelBuild;
  readonly arena: Arena;

  // ---- similarity, array API ----
  /** out[i] = score(query, vectors[i*d .. i*d+d)) for i < n. `norms` required for cosine. */
  scoreBlock(metric: Metric, query: Float32Array, vectors: Float32Array, n: number, d: number, out: Float32Array, norms?: Float32Array): void;
  /** out[qi*n + i] = score(queries[qi], vectors[i]) for qi < q, i < n. */
  scoreBatch(metric: Metric, queries: Float32Array, q: number, vectors: Float32Array, n: number, d: number, out: Float32Array, norms?: Float32Array): void;
  /** Best k of `scores` (largest first when `higherIsBetter`, else smallest first). NaN never wins. k <= 1024. */
  topK(scores: Float32Array, k: number, higherIsBetter: boolean): TopK;
  /** L2 norms of n vectors of dimension d. */
  norms(vectors: Float32Array, n: number, d: number, out: Float32Array): void;

  // ---- similarity, pointer API (data resident in the arena) ----
  scoreBlockPtr(metric: Metric, queryPtr: number, vectorsPtr: number, n: number, d: number, outPtr: number, normsPtr: number): void;
  /**
   * out[j] = score(query, vectors[ids[j]]) for j < count: scores a gathered neighbour list.
   * When `n` (the number of vectors at vectorsPtr) is given, an id >= n throws INVALID_ARGUMENT.
   */
  scoreGatherPtr(metric: Metric, queryPtr: number, vectorsPtr: number, idsPtr: number, count: number, d: number, outPtr: number, normsPtr: number, n?: number): void;

  /** topK over n scores already in the arena (e.g. the output of scoreBlockPtr): no copy-in. */
  topKPtr(scoresPtr: number, n: number, k: number, higherIsBetter: boolean): TopK;

  // ---- int8 scalar quantization ----
  /** q[i] = round(clamp((v[i] - min[i%d]) / scale[i%d] - 128)) per dimension; n vectors. */
  quantizeI8(vectors: Float32Array, n: number, d: number, min: Float32Array, scale: Float32Array, out: Int8Array): void;
  /** out[i] = sum(a[j] * codes[i*d+j]) as int32 -> f32, over n int8 vectors. */
  dotI8(query: Int8Array, codes: Int8Array, n: number, d: number, out: Float32Array): void;
  /** out[i] = sum((a[j] - codes[i*d+j])^2) over n int8 vectors. */
  l2I8(query: Int8Array, codes: Int8Array, n: number, d: number, out: Float32Array): void;

  /** Pointer form of dotI8 / l2I8 over int8 codes resident in the arena (no copies). */
  scoreI8Ptr(metric: 'dot' | 'l2', queryPtr: number, codesPtr: number, n: number, d: number, outPtr: number): void;

  // ---- checksums ----
  /**
   * CRC-32C (Castagnoli) of bytes[start, end) (default all), continuing from `crc` (default 0). A
   * range, not a view of it: a WAL record's checksum skips its header on every commit.
   */
  crc32c(bytes: Uint8Array, crc?: number, start?: number, end?: number): number;
  /**
   * The segment block checksum of format version 2 (docs/FORMAT.md "Segment file") of
   * `bytes[0, len)` (default all), an unsigned 32-bit value.
   */
  blockSum(bytes: Uint8Array, len?: number): number;

  // ---- codecs ----
  /** zigzag(delta(values)) then bit-pack; returns encoded bytes (format in docs/FORMAT.md). */
  encodeU32(values: Uint32Array): Uint8Array;
  decodeU32(bytes: Uint8Array): Uint32Array;
  encodeI64(values: BigInt64Array): Uint8Array;
  decodeI64(bytes: Uint8Array): BigInt64Array;
}
