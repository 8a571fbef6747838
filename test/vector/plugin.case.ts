/**
 * Vector indexes inside the document engine, run on every storage backend (memory, filesystem,
 * IndexedDB) from plugin*.test.ts: validation, search through collection.vectorSearch, filtered
 * search planning, updates and deletes, statistics, and close/reopen persistence.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Binary } from 'bson';
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { isLargetableError } from '../../src/errors.ts';
import { FlatIndex } from '../../src/vector/flat.ts';
import { referenceKernels } from '../../src/kernel/index.ts';
import { mixture, row } from './data.ts';
import { openCollection, vectorPlugin } from './harness.ts';

const d = 8;

function exactTop(data: Float32Array, ids: number[], q: Float32Array, k: number, metric: 'l2' | 'cosine', allow?: (id: number) => boolean): number[] {
  const flat = new FlatIndex(referenceKernels, d, metric);
  const keep = ids.filter((id) => !allow || allow(id));
  for (const id of keep) flat.add(id, row(data, id, d));
  const r = [...flat.search(q, k).labels];
  flat.dispose();
  return r;
}

/** `ann`: the approximate index kind under test and its options (hnsw by default; ivf and lsh too). */
export function pluginSuite(name: string, adapter: () => StorageAdapter | Promise<StorageAdapter>, ann: { kind: 'hnsw' | 'ivf' | 'lsh'; [option: string]: unknown } = { kind: 'hnsw', efSearch: 400 }): void {
  describe(`vector index plugin (${ann.kind}) on ${name}`, () => {
    const n = 400;
    const data = mixture(n, d, 9, 8);
    const queries = mixture(10, d, 10, 8);
    const docs = () => Array.from({ length: n }, (_, i) => ({ _id: i, group: i % 50, embedding: Array.from(row(data, i, d)) }));

    it('refuses invalid vectors with INVALID_VECTOR and stores nothing', async () => {
      const o = await openCollection(await adapter(), 'invalid');
      try {
        await o.coll.createIndex({ embedding: 'vector' }, { dimensions: d, metric: 'l2', kind: 'flat' });
        for (const bad of [[1, 2, 3], Array(d).fill(Number.NaN), Array(d).fill(Infinity), 'abc', [...Array(d - 1).fill(0), '1']]) {
          await assert.rejects(o.coll.insertOne({ _id: 'bad', embedding: bad }), (e) => isLargetableError(e, 'INVALID_VECTOR'));
        }
        assert.equal(await o.coll.countDocuments({}), 0);
        await o.coll.insertOne({ _id: 'none' }); // no vector field: not indexed, allowed
        // a BSON float32 vector (what drivers send) is accepted like an array
        await o.coll.insertOne({ _id: 'f32', embedding: Binary.fromFloat32Array(new Float32Array(d).fill(1)) });
        const hits = await o.coll.vectorSearch(new Float32Array(d).fill(1), { k: 5 });
        assert.deepEqual(hits.map((h) => h._id), ['f32']);
        await assert.rejects(o.coll.updateOne({ _id: 'f32' }, { $set: { embedding: [1] } }), (e) => isLargetableError(e, 'INVALID_VECTOR'));
      } finally {
        await o.close();
      }
    });

    it('typed-array vectors: Float32Array/Float64Array accepted and round-trip (read back, reopen, createIndex later); Int32Array => INVALID_VECTOR', async () => {
      const o = await openCollection(await adapter(), 'typed');
      const v1 = Float32Array.from(row(data, 1, d));
      try {
        await o.coll.insertOne({ _id: 'early', other: new Float32Array(v1) }); // typed array outside any vector index
        await o.coll.createIndex({ embedding: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', kind: 'flat' });
        await o.coll.insertOne({ _id: 'f32', embedding: v1 });
        await o.coll.insertOne({ _id: 'f64', embedding: Float64Array.from(row(data, 2, d)) });
        for (const bad of [new Int32Array(d).fill(1), new Uint8Array(d), new Float32Array(d - 1)]) {
          await assert.rejects(o.coll.insertOne({ _id: 'bad', embedding: bad }), (e) => isLargetableError(e, 'INVALID_VECTOR'));
        }
        assert.equal(await o.coll.countDocuments({ _id: 'bad' }), 0);
        const back = await o.coll.findOne({ _id: 'f32' });
        assert.deepEqual(Object.values(back!.embedding as object), Array.from(v1));
        assert.equal((await o.coll.vectorSearch(v1, { k: 1 }))[0]!._id, 'f32');
        // a later index over a field that holds a stored typed array reads what bson gave back
        await o.coll.createIndex({ other: 'vector' }, { name: 'vec2', dimensions: d, metric: 'l2', kind: 'flat' });
        assert.deepEqual((await o.coll.vectorSearch(v1, { k: 5, index: 'vec2' })).map((h) => h._id), ['early']);
      } finally {
        await o.close();
      }
      const o2 = await openCollection(await adapter(), 'typed');
      try {
        assert.deepEqual((await o2.coll.vectorSearch(v1, { k: 2, index: 'vec' })).map((h) => h._id), ['f32', 'f64']);
        await o2.coll.updateOne({ _id: 'f64' }, { $set: { embedding: new Float32Array(v1) } });
        const hits = await o2.coll.vectorSearch(v1, { k: 2, index: 'vec' });
        assert.ok(hits.every((h) => h.score === hits[0]!.score));
      } finally {
        await o2.close();
      }
    });

    it('createIndex on existing documents, then search equals exact search; updates and deletes apply', async () => {
      const o = await openCollection(await adapter(), 'basic');
      try {
        await o.coll.insertMany(docs());
        await o.coll.createIndex({ embedding: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', ...ann });
        const ids = Array.from({ length: n }, (_, i) => i);
        for (let qi = 0; qi < 5; qi++) {
          const q = row(queries, qi, d);
          const hits = await o.coll.vectorSearch(q, { k: 10 });
          assert.deepEqual(hits.map((h) => h._id), exactTop(data, ids, q, 10, 'l2'));
          assert.ok(hits.every((h) => typeof h.score === 'number' && (h.document as { _id: number })._id === h._id));
          const noScore = await o.coll.vectorSearch(q, { k: 10, includeScore: false });
          assert.deepEqual(noScore.map((h) => h._id), hits.map((h) => h._id));
          assert.ok(noScore.every((h) => !('score' in h) && (h.document as { _id: number })._id === h._id));
        }
        await assert.rejects(o.coll.vectorSearch(row(queries, 0, d), { k: 1, includeScore: 'no' }), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
        // delete and update
        await o.coll.deleteMany({ group: { $lt: 10 } });
        const target = row(queries, 0, d);
        await o.coll.updateOne({ _id: 333 }, { $set: { embedding: Array.from(target) } });
        const live = ids.filter((i) => i % 50 >= 10);
        const hits = await o.coll.vectorSearch(target, { k: 10 });
        assert.equal(hits[0]!._id, 333);
        assert.ok(hits.every((h) => (h._id as number) % 50 >= 10));
        // an update that leaves the vector alone does not touch the index
        const plugin = vectorPlugin(o.coll, 'vec');
        const logBefore = (plugin.stats() as { logEntries: number }).logEntries;
        await o.coll.updateMany({ group: 20 }, { $set: { tag: 'x' } });
        assert.equal((plugin.stats() as { logEntries: number }).logEntries, logBefore);
        // unset the field removes the document from the index
        await o.coll.updateOne({ _id: 333 }, { $unset: { embedding: 1 } });
        assert.ok(!(await o.coll.vectorSearch(target, { k: 10 })).some((h) => h._id === 333));
        const stats = await o.coll.stats();
        const details = stats.indexDetails as Record<string, { count: number; kind: string }>;
        assert.equal(details.vec!.kind, ann.kind);
        assert.equal(details.vec!.count, live.length - 1);
      } finally {
        await o.close();
      }
    });

    it('filtered search equals exact search over the filtered set; the planner picks exact for selective filters', async () => {
      const o = await openCollection(await adapter(), 'filtered');
      try {
        await o.coll.createIndex({ group: 1 });
        await o.coll.createIndex({ embedding: 'vector' }, { name: 'vec', dimensions: d, metric: 'cosine', ...ann });
        await o.coll.insertMany(docs());
        const ids = Array.from({ length: n }, (_, i) => i);
        const plugin = vectorPlugin(o.coll, 'vec');
        for (let qi = 0; qi < 5; qi++) {
          const q = row(queries, qi, d);
          // selective: 8 documents match, k = 8 => all 8 come back, exactly ordered
          const sel = await o.coll.vectorSearch(q, { k: 8, filter: { group: 7 } });
          assert.deepEqual(sel.map((h) => h._id), exactTop(data, ids, q, 8, 'cosine', (i) => i % 50 === 7));
          assert.equal(plugin.lastPlan!.strategy, 'exact-candidates');
          assert.equal(plugin.lastPlan!.candidates, 8);
          // broad: half the groups
          const broad = await o.coll.vectorSearch(q, { k: 10, filter: { group: { $gte: 25 } } });
          assert.deepEqual(broad.map((h) => h._id), exactTop(data, ids, q, 10, 'cosine', (i) => i % 50 >= 25));
        }
        // $vectorSearch (Atlas shape) followed by other stages
        const q0 = Array.from(row(queries, 1, d));
        const viaStage = await o.coll.aggregate([
          { $vectorSearch: { index: 'vec', path: 'embedding', queryVector: q0, numCandidates: 100, limit: 6, filter: { group: { $gte: 25 } } } },
          { $match: { group: { $lt: 40 } } },
          { $project: { _id: 1, group: 1, score: { $meta: 'vectorSearchScore' } } },
        ]).toArray() as { _id: number; group: number; score: number }[];
        const direct = (await o.coll.vectorSearch(q0, { k: 6, filter: { group: { $gte: 25 } } })).filter((h) => (h.document as { group: number }).group < 40);
        assert.ok(direct.length > 0);
        assert.deepEqual(viaStage.map((x) => x._id), direct.map((h) => h._id));
        for (let i = 0; i < direct.length; i++) {
          assert.deepEqual(Object.keys(viaStage[i]!).sort(), ['_id', 'group', 'score']);
          assert.ok(Math.abs(viaStage[i]!.score - (direct[i]!.score as number)) < 1e-6);
        }
        // the score survives $addFields/$set chains and no stray field appears in the documents
        const viaSet = await o.coll.aggregate([
          { $vectorSearch: { index: 'vec', path: 'embedding', queryVector: q0, numCandidates: 100, limit: 3 } },
          { $addFields: { tag: 'x' } },
          { $set: { s: { $multiply: [{ $meta: 'vectorSearchScore' }, 2] } } },
          { $unset: 'embedding' },
        ]).toArray();
        const direct3 = await o.coll.vectorSearch(q0, { k: 3 });
        assert.deepEqual(viaSet.map((x) => x._id), direct3.map((h) => h._id));
        for (let i = 0; i < 3; i++) {
          assert.deepEqual(Object.keys(viaSet[i]!).sort(), ['_id', 'group', 's', 'tag']);
          assert.ok(Math.abs((viaSet[i]!.s as number) - 2 * (direct3[i]!.score as number)) < 1e-6);
        }
        // without $vectorSearch there is no score: the field is left out
        const noMeta = await o.coll.aggregate([{ $match: { _id: 1 } }, { $project: { score: { $meta: 'vectorSearchScore' } } }]).toArray();
        assert.deepEqual(noMeta, [{ _id: 1 }]);
        await assert.rejects(o.coll.aggregate([{ $project: { s: { $meta: 'nonsense' } } }]).toArray(), (e) => isLargetableError(e, 'BAD_QUERY'));
        // 200 of 400 candidates: under vectorExactFilterDocuments, so exact over the candidates
        const plan = plugin.explain(row(queries, 0, d), { k: 10, candidates: ids.filter((i) => i % 2 === 0), efSearch: 400 });
        assert.equal(plan.strategy, 'exact-candidates');
        assert.equal(plan.candidates, 200);
        // collection-level explain of a $vectorSearch pipeline: the vector plan and the filter's plan
        const ex = await o.coll.aggregate([
          { $vectorSearch: { index: 'vec', path: 'embedding', queryVector: q0, numCandidates: 100, limit: 6, filter: { group: 7 } } },
          { $project: { score: { $meta: 'vectorSearchScore' } } },
        ]).explain();
        const wp = (ex.queryPlanner as { winningPlan: Record<string, unknown> }).winningPlan;
        assert.equal(wp.stage, 'VECTOR_SEARCH');
        assert.equal(wp.strategy, 'exact-candidates');
        assert.equal(wp.candidates, 8);
        assert.equal(wp.kind, ann.kind);
        if (ann.kind === 'hnsw') assert.equal(wp.efSearch, 400); // max(numCandidates 100, the index's efSearch 400)
        assert.match(JSON.stringify(wp.filter), /IXSCAN/);
        const ex2 = await o.coll.explainVectorSearch(q0, { k: 5, efSearch: 77 });
        assert.deepEqual({ ...(ex2.vectorSearch as object), indexed: 0 }, { index: 'vec', kind: ann.kind, strategy: 'ann', indexed: 0, k: 5, efSearch: 77, ...(ann.kind === 'ivf' ? { exactRerank: 50 } : {}) });
        assert.equal(ex2.filter, undefined);
      } finally {
        await o.close();
      }
    });

    it('close and reopen answers the same (checkpoint), and replays writes after the checkpoint', async () => {
      const a = await adapter();
      const o = await openCollection(a, 'persist');
      const before: unknown[][] = [];
      try {
        await o.coll.createIndex({ embedding: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', ...ann });
        await o.coll.insertMany(docs());
        await o.coll.deleteMany({ group: 3 });
        for (let qi = 0; qi < 5; qi++) before.push((await o.coll.vectorSearch(row(queries, qi, d), { k: 10 })).map((h) => h._id));
      } finally {
        await o.close();
      }
      const o2 = await openCollection(await adapter(), 'persist');
      try {
        const p = vectorPlugin(o2.coll, 'vec');
        assert.equal(p.replayed, 0, 'a clean close leaves nothing to replay');
        assert.equal(p.index.size, n - 8);
        for (let qi = 0; qi < 5; qi++) assert.deepEqual((await o2.coll.vectorSearch(row(queries, qi, d), { k: 10 })).map((h) => h._id), before[qi]);
        await o2.coll.insertOne({ _id: 'late', embedding: Array.from(row(queries, 0, d)) });
      } finally {
        await o2.close();
      }
      const o3 = await openCollection(await adapter(), 'persist');
      try {
        const hits = await o3.coll.vectorSearch(row(queries, 0, d), { k: 1 });
        assert.equal(hits[0]!._id, 'late');
      } finally {
        await o3.close();
      }
    });
  });
}
