/**
 * The vector-search kernels for a given `Kernels` instance: the wasm exports of
 * assembly/vector.ts when the loaded module has them, else the TypeScript twin over the same
 * arena. One instance per Kernels (cached).
 */
import type { Kernels } from '../kernel/types.ts';
import { createReferenceVectorKernels, type VectorKernels } from '../kernel/reference-vector.ts';

const cache = new WeakMap<Kernels, VectorKernels>();

export function vectorKernels(k: Kernels): VectorKernels {
  let v = cache.get(k);
  if (v === undefined) {
    const ex = (k as { exports?: Record<string, unknown> }).exports;
    if (ex && typeof ex.hnswSearch0 === 'function' && typeof ex.distGather === 'function') {
      v = { build: k.build, hnswSearch0: ex.hnswSearch0 as VectorKernels['hnswSearch0'], distGather: ex.distGather as VectorKernels['distGather'] };
    } else v = createReferenceVectorKernels(k.arena);
    cache.set(k, v);
  }
  return v;
}

export const metricCode: Record<string, number> = { dot: 0, l2: 1, l1: 3 };
