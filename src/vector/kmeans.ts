/**
 * k-means (Lloyd) with the kernels doing the assignment: points are scored against all centroids
 * with one `scoreBatch` call per chunk of points. Seeded, deterministic; k-means++-lite seeding
 * (random distinct points). Used by the IVF coarse quantizer and the PQ codebooks.
 */
import type { Kernels } from '../kernel/types.ts';
import { kernelBatchQueriesMax } from '../limits.ts';

export function mulberry32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the nearest centroid (squared L2) for each of n points, via batched kernel calls. */
export function assign(k: Kernels, points: Float32Array, n: number, d: number, centroids: Float32Array, c: number, out: Int32Array, dist?: Float32Array): void {
  const chunk = Math.max(1, Math.min(kernelBatchQueriesMax, Math.floor((1 << 22) / c)));
  const scores = new Float32Array(chunk * c);
  for (let from = 0; from < n; from += chunk) {
    const q = Math.min(chunk, n - from);
    k.scoreBatch('l2', points.subarray(from * d, (from + q) * d), q, centroids, c, d, scores);
    for (let i = 0; i < q; i++) {
      let best = 0, bd = Infinity;
      const o = i * c;
      for (let j = 0; j < c; j++) { const s = scores[o + j]!; if (s < bd) { bd = s; best = j; } }
      out[from + i] = best;
      if (dist) dist[from + i] = bd;
    }
  }
}

/** Trains `c` centroids over n points of dimension d. Returns row-major centroids. */
export function kmeans(k: Kernels, points: Float32Array, n: number, d: number, c: number, iterations = 10, seed = 7): Float32Array {
  const rng = mulberry32(seed);
  const cent = new Float32Array(c * d);
  // seed: distinct random points (repeat when n < c)
  const perm = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); const t = perm[i]!; perm[i] = perm[j]!; perm[j] = t; }
  for (let j = 0; j < c; j++) cent.set(points.subarray(perm[j % n]! * d, perm[j % n]! * d + d), j * d);
  if (n === 0) return cent;
  const asg = new Int32Array(n);
  const counts = new Uint32Array(c);
  const sums = new Float64Array(c * d);
  for (let it = 0; it < iterations; it++) {
    assign(k, points, n, d, cent, c, asg);
    counts.fill(0);
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const a = asg[i]!;
      counts[a]!++;
      const o = a * d, p = i * d;
      for (let x = 0; x < d; x++) sums[o + x]! += points[p + x]!;
    }
    for (let j = 0; j < c; j++) {
      if (counts[j] === 0) {
        // empty cluster: re-seed on a random point
        const r = Math.floor(rng() * n);
        cent.set(points.subarray(r * d, r * d + d), j * d);
        continue;
      }
      const inv = 1 / counts[j]!;
      for (let x = 0; x < d; x++) cent[j * d + x] = sums[j * d + x]! * inv;
    }
  }
  return cent;
}
