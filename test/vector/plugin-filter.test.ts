/** Broad filters walk the HNSW graph with the candidate bitmap; results equal exact search over the matches. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAdapter } from '../../platform/memory.ts';
import { referenceKernels } from '../../src/kernel/index.ts';
import { FlatIndex } from '../../src/vector/flat.ts';
import { mixture, row } from './data.ts';
import { openCollection, vectorPlugin } from './harness.ts';

describe('filtered HNSW walk through the collection', () => {
  it('a broad filter runs filtered-ann and returns the exact top k of the matching documents', async () => {
    const n = 3000, d = 8;
    const data = mixture(n, d, 51, 12), queries = mixture(10, d, 52, 12);
    const o = await openCollection(new MemoryAdapter(`vector-filter-${Date.now()}`), 'f');
    try {
      await o.coll.createIndex({ g: 1 });
      await o.coll.createIndex({ v: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', kind: 'hnsw', efSearch: 300 });
      await o.coll.insertMany(Array.from({ length: n }, (_, i) => ({ _id: i, g: i % 10, v: Array.from(row(data, i, d)) })));
      const plugin = vectorPlugin(o.coll, 'vec');
      const flat = new FlatIndex(referenceKernels, d, 'l2');
      for (let i = 0; i < n; i++) if (i % 10 >= 2) flat.add(i, row(data, i, d));
      for (let q = 0; q < 10; q++) {
        const hits = await o.coll.vectorSearch(row(queries, q, d), { k: 10, filter: { g: { $gte: 2 } } });
        assert.match(plugin.lastPlan!.strategy, /^filtered-ann/);
        assert.equal(plugin.lastPlan!.candidates, 2400);
        assert.deepEqual(hits.map((h) => h._id), [...flat.search(row(queries, q, d), 10).labels]);
      }
      // k results whenever k documents match, even for a filter the walk cannot satisfy alone
      const few = await o.coll.vectorSearch(row(queries, 0, d), { k: 10, filter: { g: 3 }, efSearch: 10 });
      assert.equal(few.length, 10);
      flat.dispose();
    } finally {
      await o.close();
    }
  });

  it('a broad filter the IVF probe cannot satisfy falls back to exact (filtered-ann+exact-fallback); vectorSearchMany answers like vectorSearch', async () => {
    // two far blobs: A (g=0) near +50, B (g=1) near -50; queries near A, filter g=1 (2500 of 5000:
    // over the exact-filter bounds), nprobe 1 probes A's lists only => too few hits => exact fallback
    const n = 5000, d = 8;
    const base = mixture(n, d, 61, 8);
    const vec = (i: number): number[] => Array.from(row(base, i, d), (x) => x + (i % 2 === 0 ? 50 : -50));
    const queries = mixture(4, d, 62, 4);
    const o = await openCollection(new MemoryAdapter(`vector-filter-ivf-${Date.now()}`), 'ivf');
    try {
      await o.coll.createIndex({ g: 1 });
      await o.coll.insertMany(Array.from({ length: n }, (_, i) => ({ _id: i, g: i % 2, v: vec(i) })));
      await o.coll.createIndex({ v: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', kind: 'ivf', nlist: 16, nprobe: 1 });
      const plugin = vectorPlugin(o.coll, 'vec');
      const flat = new FlatIndex(referenceKernels, d, 'l2');
      for (let i = 1; i < n; i += 2) flat.add(i, Float32Array.from(vec(i)));
      const qs = Array.from({ length: 4 }, (_, q) => Array.from(row(queries, q, d), (x) => x + 50));
      const single: unknown[][] = [];
      for (const q of qs) {
        const hits = await o.coll.vectorSearch(q, { k: 10, filter: { g: 1 } });
        assert.equal(plugin.lastPlan!.strategy, 'filtered-ann+exact-fallback');
        assert.equal(plugin.lastPlan!.candidates, n / 2);
        assert.equal(plugin.lastPlan!.exactRerank, 100); // sq8 codes: k * rerank candidates re-ranked from the documents
        assert.deepEqual(hits.map((h) => h._id), [...flat.search(Float32Array.from(q), 10).labels]);
        single.push(hits.map((h) => h._id));
      }
      // unfiltered: plain ann over A
      await o.coll.vectorSearch(qs[0]!, { k: 10 });
      assert.equal(plugin.lastPlan!.strategy, 'ann');
      // batch search: same answers, same order, documents attached
      const many = await o.coll.vectorSearchMany(qs, { k: 10, filter: { g: 1 } });
      assert.deepEqual(many.map((hs) => hs.map((h) => h._id)), single);
      assert.ok(many.every((hs) => hs.every((h) => (h.document as { g: number }).g === 1 && typeof h.score === 'number')));
      const manyPlain = await o.coll.vectorSearchMany(qs, { k: 3, exact: true, includeScore: false });
      for (let q = 0; q < qs.length; q++) assert.deepEqual(manyPlain[q]!.map((h) => h._id), (await o.coll.vectorSearch(qs[q]!, { k: 3, exact: true })).map((h) => h._id));
      assert.ok(manyPlain.flat().every((h) => !('score' in h)));
      flat.dispose();
    } finally {
      await o.close();
    }
  });
});
