/**
 * Recall@10 of each approximate index against the flat index on seeded mixtures, above a floor
 * per kind, with the wasm kernels (SIMD when available) and realistic parameters.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPlatformKernels } from '../../platform/node/kernels.ts';
import type { Kernels, Metric } from '../../src/kernel/types.ts';
import { createVectorIndex, type VectorIndexOptions } from '../../src/vector/create.ts';
import { FlatIndex } from '../../src/vector/flat.ts';
import { mixture, recall, row } from './data.ts';

const n = 4000, d = 32, nq = 100;
const floors: { name: string; options: Omit<VectorIndexOptions, 'dimensions'>; floor: number; metrics: Metric[] }[] = [
  { name: 'hnsw', options: { kind: 'hnsw', M: 12, efConstruction: 100, efSearch: 64 }, floor: 0.95, metrics: ['l2', 'cosine'] },
  // inner product is not a metric: graph search is weaker (known for HNSW on MIPS)
  { name: 'hnsw', options: { kind: 'hnsw', M: 12, efConstruction: 100, efSearch: 128 }, floor: 0.75, metrics: ['dot'] },
  { name: 'ivf sq8', options: { kind: 'ivf', quantization: 'sq8', nlist: 64, nprobe: 8 }, floor: 0.9, metrics: ['l2', 'cosine'] },
  { name: 'ivf pq', options: { kind: 'ivf', quantization: 'pq', nlist: 64, nprobe: 8, pqM: 16, storeVectors: true }, floor: 0.85, metrics: ['l2', 'cosine'] },
  { name: 'ivf none', options: { kind: 'ivf', quantization: 'none', nlist: 64, nprobe: 8 }, floor: 0.9, metrics: ['l2', 'dot'] },
  { name: 'lsh', options: { kind: 'lsh', tables: 16, bits: 8, probes: 8 }, floor: 0.85, metrics: ['cosine'] },
];

let k: Kernels;
before(async () => {
  k = await loadPlatformKernels({ install: false });
});

describe('recall@10 against flat', () => {
  const data = mixture(n, d, 21, 40);
  const queries = mixture(nq, d, 22, 40);
  const labels = Uint32Array.from({ length: n }, (_, i) => i);
  for (const f of floors) {
    for (const metric of f.metrics) {
      it(`${f.name} ${metric} >= ${f.floor}`, () => {
        const flat = new FlatIndex(k, d, metric);
        flat.addBatch(labels, data);
        const ix = createVectorIndex(k, { dimensions: d, metric, ...f.options });
        ix.addBatch(labels, data);
        const exact: Uint32Array[] = [], approx: Uint32Array[] = [];
        for (let q = 0; q < nq; q++) {
          exact.push(flat.search(row(queries, q, d), 10).labels);
          approx.push(ix.search(row(queries, q, d), 10).labels);
        }
        const r = recall(approx, exact);
        assert.ok(r >= f.floor, `recall ${r.toFixed(3)} < ${f.floor}`);
        ix.dispose();
        flat.dispose();
      });
    }
  }
});

describe('IVF parameters', () => {
  it('defaults work for dimensions that are not multiples of 8', () => {
    const ix = createVectorIndex(k, { dimensions: 100, metric: 'cosine', kind: 'ivf', quantization: 'pq', trainSize: 300, nlist: 4 });
    const data = mixture(400, 100, 61, 4);
    ix.addBatch(Uint32Array.from({ length: 400 }, (_, i) => i), data);
    assert.equal(ix.search(row(data, 0, 100), 5).labels.length, 5);
    ix.dispose();
  });
});

describe('IVF with quantization memory', () => {
  it('sq8 holds recall >= 0.9 with memory <= 0.35x the raw vectors (d = 128)', () => {
    const n2 = 3000, d2 = 128;
    const data = mixture(n2, d2, 31, 30), queries = mixture(50, d2, 32, 30);
    const labels = Uint32Array.from({ length: n2 }, (_, i) => i);
    const flat = new FlatIndex(k, d2, 'cosine');
    flat.addBatch(labels, data);
    const ix = createVectorIndex(k, { dimensions: d2, metric: 'cosine', kind: 'ivf', quantization: 'sq8', nlist: 50, nprobe: 8 });
    ix.addBatch(labels, data);
    const exact: Uint32Array[] = [], approx: Uint32Array[] = [];
    for (let q = 0; q < 50; q++) {
      exact.push(flat.search(row(queries, q, d2), 10).labels);
      approx.push(ix.search(row(queries, q, d2), 10).labels);
    }
    assert.ok(recall(approx, exact) >= 0.9, `recall ${recall(approx, exact)}`);
    const ratio = ix.stats().memoryBytes / (n2 * d2 * 4);
    assert.ok(ratio <= 0.35, `memory ratio ${ratio.toFixed(3)}`);
    ix.dispose();
    flat.dispose();
  });
});
