/**
 * Vector search in real Chromium: HNSW on the wasm kernels (recall against flat), and a vector
 * index inside a collection on IndexedDB and on OPFS that answers the same after a page reload (phase 2).
 */
import { assert, test } from './harness.ts';
import { loadPlatformKernels } from '../../platform/browser/kernels.ts';
import { openIdbAdapter } from '../../platform/browser/idb-adapter.ts';
import { openOpfsAdapter } from '../../platform/browser/opfs-adapter.ts';
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { FlatIndex } from '../../src/vector/flat.ts';
import { HnswIndex } from '../../src/vector/hnsw.ts';
import { mixture, recall, row } from '../vector/data.ts';
import { openCollection, vectorPlugin } from '../vector/harness.ts';

const d = 16, n = 600;
const data = mixture(n, d, 41, 10), queries = mixture(5, d, 42, 10);
const key = 'largetable-vector-browser-answers';

test('hnsw on the wasm kernels reaches recall 0.95 against flat', async () => {
  const k = await loadPlatformKernels({ install: false });
  const big = mixture(3000, 32, 43, 30), qs = mixture(50, 32, 44, 30);
  const labels = Uint32Array.from({ length: 3000 }, (_, i) => i);
  const flat = new FlatIndex(k, 32, 'cosine'), h = new HnswIndex(k, 32, 'cosine', { M: 16, efConstruction: 100, efSearch: 128 });
  flat.addBatch(labels, big);
  h.addBatch(labels, big);
  const exact: Uint32Array[] = [], approx: Uint32Array[] = [];
  for (let q = 0; q < 50; q++) {
    exact.push(flat.search(row(qs, q, 32), 10).labels);
    approx.push(h.search(row(qs, q, 32), 10).labels);
  }
  const r = recall(approx, exact);
  assert.equal(r >= 0.95, true, `recall ${r}`);
  flat.dispose();
  h.dispose();
}, { phase: 1 });

const BACKENDS: [string, () => Promise<StorageAdapter>][] = [
  ['IndexedDB', () => openIdbAdapter('vectors-browser')],
  ['OPFS', () => openOpfsAdapter('vectors-browser')],
];

for (const [where, adapter] of BACKENDS) {
  const answersKey = `${key}-${where}`;
  test(`phase 1: a vector index on ${where} is built and closed`, async () => {
    await loadPlatformKernels();
    const o = await openCollection(await adapter(), 'items');
    try {
      await o.coll.createIndex({ embedding: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', kind: 'hnsw' });
      // Float32Array documents (stored as bson stores typed arrays) and plain arrays
      await o.coll.insertMany(Array.from({ length: n }, (_, i) => ({ _id: i, embedding: i % 2 === 0 ? Float32Array.from(row(data, i, d)) : Array.from(row(data, i, d)) })));
      await o.coll.deleteMany({ _id: { $lt: 20 } });
      const answers = [];
      for (let q = 0; q < 5; q++) answers.push((await o.coll.vectorSearch(row(queries, q, d), { k: 10 })).map((h) => h._id));
      localStorage.setItem(answersKey, JSON.stringify(answers));
    } finally {
      await o.close();
    }
  }, { phase: 1 });

  test(`phase 2: after the reload the ${where} index answers the same without a rebuild`, async () => {
    await loadPlatformKernels();
    const o = await openCollection(await adapter(), 'items');
    try {
      const want = JSON.parse(localStorage.getItem(answersKey) ?? '[]') as number[][];
      assert.equal(want.length, 5);
      assert.equal(vectorPlugin(o.coll, 'vec').replayed, 0);
      assert.equal(vectorPlugin(o.coll, 'vec').index.size, n - 20);
      for (let q = 0; q < 5; q++) assert.deepEqual((await o.coll.vectorSearch(row(queries, q, d), { k: 10 })).map((h) => h._id), want[q]);
      const top = await o.coll.aggregate([{ $vectorSearch: { index: 'vec', path: 'embedding', queryVector: Array.from(row(data, 100, d)), limit: 1 } }, { $project: { s: { $meta: 'vectorSearchScore' } } }]).toArray();
      assert.deepEqual(top, [{ _id: 100, s: 0 }]);
    } finally {
      await o.close();
    }
  }, { phase: 2 });
}
