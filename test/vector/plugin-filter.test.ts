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
});
