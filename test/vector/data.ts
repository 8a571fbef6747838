/** Seeded test data for the vector suites: Gaussian mixtures with low intrinsic dimension. */
export function rng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): () => number {
  return () => {
    const u = Math.max(r(), 1e-12), v = r();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** n vectors of dimension d drawn from `clusters` Gaussian blobs. */
export function mixture(n: number, d: number, seed = 1, clusters = 20): Float32Array {
  const r = rng(seed), g = gaussian(r);
  const centres = Float32Array.from({ length: clusters * d }, g);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * clusters);
    for (let x = 0; x < d; x++) out[i * d + x] = centres[c * d + x]! + 0.35 * g();
  }
  return out;
}

export function row(a: Float32Array, i: number, d: number): Float32Array {
  return a.subarray(i * d, (i + 1) * d);
}

/** Mean overlap of approximate and exact top-k label lists. */
export function recall(approx: Uint32Array[], exact: Uint32Array[]): number {
  let hit = 0, total = 0;
  for (let i = 0; i < exact.length; i++) {
    const g = new Set(exact[i]);
    for (const l of approx[i]!) if (g.has(l)) hit++;
    total += exact[i]!.length;
  }
  return total === 0 ? 1 : hit / total;
}
