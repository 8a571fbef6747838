// Id-only projections ({ _id: 1 }, or _id implicit with index fields) are covered: the _id is decoded
// from the trailing part of the index entry, no document is read.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { open } from '../../platform/node/index.ts';
import { MemoryAdapter } from '../../platform/memory.ts';
import { openCollection, vectorPlugin } from '../vector/harness.ts';
import { mixture, row } from '../vector/data.ts';

type Doc = Record<string, unknown>;
const byId = (a: Doc, b: Doc): number => String(a._id).localeCompare(String(b._id));

describe('covered _id projections', () => {
  it('explain shows PROJECTION_COVERED with 0 documents examined; restrictions still apply', async () => {
    const c = await open('memory://covid-' + Math.random().toString(36).slice(2));
    const col = c.db('d').collection('c');
    await col.createIndex({ a: 1 });
    await col.createIndex({ t: 1 });
    await col.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: 'k' + i, a: i % 5, b: i, t: i % 2 === 0 ? [i, i + 1] : i })));
    const stage = async (f: Doc, p: Doc): Promise<[string, number]> => {
      const ex = await col.find(f, { projection: p }).explain('executionStats');
      return [((ex.queryPlanner as Doc).winningPlan as Doc).stage as string, (ex.executionStats as Doc).totalDocsExamined as number];
    };
    assert.deepEqual(await stage({ a: 3 }, { _id: 1 }), ['PROJECTION_COVERED', 0]);
    assert.deepEqual(await stage({ a: { $gte: 1, $lt: 3 } }, { a: 1 }), ['PROJECTION_COVERED', 0]);
    assert.deepEqual(await stage({ a: { $in: [0, 4] } }, { _id: 1, a: 1 }), ['PROJECTION_COVERED', 0]);
    const got = await col.find({ a: 3 }, { projection: { _id: 1 } }).toArray();
    assert.deepEqual(got.sort(byId), Array.from({ length: 10 }, (_, j) => ({ _id: 'k' + (3 + 5 * j) })).sort(byId));
    // a filter field outside the index, a non-index projected field, a multikey index, _id excluded only
    assert.notEqual((await stage({ a: 3, b: 8 }, { _id: 1 }))[0], 'PROJECTION_COVERED');
    assert.notEqual((await stage({ a: 3 }, { _id: 1, b: 1 }))[0], 'PROJECTION_COVERED');
    assert.notEqual((await stage({ t: 4 }, { _id: 1 }))[0], 'PROJECTION_COVERED');
    assert.notEqual((await stage({ a: 3 }, { _id: 0 }))[0], 'PROJECTION_COVERED');
    assert.notEqual((await stage({ a: { $ne: 3 } }, { _id: 1 }))[0], 'PROJECTION_COVERED');
    await c.close();
  });

  it('covered results equal the collection scan on random data (single and compound indexes)', async () => {
    const c = await open('memory://covid-r-' + Math.random().toString(36).slice(2));
    const col = c.db('d').collection('r');
    await col.createIndex({ a: 1 });
    await col.createIndex({ b: 1, a: -1 });
    const rnd = fc.record({ a: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }), b: fc.constantFrom('x', 'y', 'z', null), c: fc.integer() }, { requiredKeys: ['b', 'c'] });
    const docs = fc.sample(rnd, { numRuns: 300, seed: 7 }).map((d, i) => {
      const o: Doc = { _id: i % 3 === 0 ? i : 's' + i, b: d.b, c: d.c };
      if (d.a !== undefined) o.a = d.a;
      return o;
    });
    await col.insertMany(docs);
    const arbFilter = fc.oneof(
      fc.integer({ min: 0, max: 6 }).map((a): Doc => ({ a })),
      fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })).map(([x, y]): Doc => ({ a: { $gte: Math.min(x, y), $lte: Math.max(x, y) } })),
      fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 3 }).map((v): Doc => ({ a: { $in: v } })),
      fc.constant<Doc>({ a: null }),
      fc.tuple(fc.constantFrom('x', 'y', 'z'), fc.integer({ min: 0, max: 6 })).map(([b, a]): Doc => ({ b, a: { $gt: a } })),
      fc.constantFrom('x', 'y', 'z').map((b): Doc => ({ b })),
    );
    const arbProj = fc.constantFrom<Doc>({ _id: 1 }, { _id: true }, { a: 1 }, { _id: 1, a: 1 });
    await fc.assert(
      fc.asyncProperty(arbFilter, arbProj, async (f, p) => {
        const covered = (await col.find(f, { projection: p }).toArray()) as Doc[];
        const scanned = (await col.find(f, { projection: p, hint: { $natural: 1 } }).toArray()) as Doc[];
        assert.deepEqual(covered.sort(byId), scanned.sort(byId));
        if (p.a === undefined) {
          const ex = await col.find(f, { projection: p }).explain('executionStats');
          assert.equal((ex.executionStats as Doc).totalDocsExamined, 0, JSON.stringify(f));
        }
      }),
      { seed: 11, numRuns: 60 },
    );
    await c.close();
  });

  it('a filtered vectorSearch reads candidate ids from the index and returns the exact top k of the matches', async () => {
    const n = 2000, d = 8;
    const data = mixture(n, d, 71, 8), queries = mixture(4, d, 72, 8);
    const o = await openCollection(new MemoryAdapter(`covid-vec-${Date.now()}`), 'v');
    try {
      await o.coll.createIndex({ g: 1 });
      await o.coll.createIndex({ v: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', kind: 'hnsw' });
      await o.coll.insertMany(Array.from({ length: n }, (_, i) => ({ _id: 'd' + i, g: i % 50, v: Array.from(row(data, i, d)) })));
      const plugin = vectorPlugin(o.coll, 'vec');
      const ex = await o.coll.explainVectorSearch(row(queries, 0, d), { k: 5, filter: { g: 7 } });
      assert.equal(((ex.filter as Doc).queryPlanner as Doc & { winningPlan: Doc }).winningPlan.stage, 'PROJECTION_COVERED');
      for (let q = 0; q < 4; q++) {
        const qv = row(queries, q, d);
        const hits = await o.coll.vectorSearch(qv, { k: 5, filter: { g: 7 } });
        assert.equal(plugin.lastPlan!.candidates, 40);
        // reference: brute force over the matching documents read in full
        const all = (await o.coll.find({ g: 7 }, { hint: { $natural: 1 } }).toArray()) as Doc[];
        const ref = all
          .map((x) => ({ id: x._id, s: (x.v as number[]).reduce((acc, e, j) => acc + (e - qv[j]!) ** 2, 0) }))
          .sort((a, b) => a.s - b.s)
          .slice(0, 5)
          .map((x) => x.id);
        assert.deepEqual(hits.map((h) => h._id), ref);
      }
    } finally {
      await o.close();
    }
  });
});
