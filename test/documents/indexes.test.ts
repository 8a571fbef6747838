import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileSort } from '../../src/query/index.ts';
import type { LargetableClient, LargetableError } from '../../platform/node/index.ts';
import { arbDocs, arbFilter, arbSort, type Doc } from '../query/arbitraries.ts';
import { freshClient } from './helpers.ts';

const INDEXES: [Doc, Doc][] = [
  [{ a: 1 }, { name: 'a_1' }],
  [{ 'a.b': 1 }, { name: 'ab_1' }],
  [{ b: 1, a: -1 }, { name: 'b_1_a_-1' }],
  [{ c: -1 }, { name: 'c_sparse', sparse: true }],
  [{ b: 1 }, { name: 'b_partial', partialFilterExpression: { b: { $gt: 0 } } }],
];

const ids = (docs: Doc[]) => docs.map((d) => d._id as number).sort((x, y) => x - y);

async function checkAll(client: LargetableClient, coll: string, filters: Doc[], sorts: Doc[]): Promise<void> {
  const c = client.db('t').collection(coll);
  for (const filter of filters) {
    const truth = ids(await c.find(filter).hint({ $natural: 1 }).toArray());
    assert.deepEqual(ids(await c.find(filter).toArray()), truth, `planner: ${JSON.stringify(filter)}`);
    for (const [, o] of INDEXES) {
      assert.deepEqual(ids(await c.find(filter).hint(o.name as string).toArray()), truth, `hint ${String(o.name)}: ${JSON.stringify(filter)}`);
    }
    for (const sort of sorts) {
      const cmp = compileSort(sort);
      const all = await c.find(filter).sort(sort).toArray();
      assert.deepEqual(ids(all), truth);
      for (let i = 1; i < all.length; i++) assert.ok(cmp(all[i - 1]!, all[i]!) <= 0, `sorted ${JSON.stringify(sort)}`);
      const lim = await c.find(filter).sort(sort).limit(2).toArray();
      const ref = await c.find(filter).sort(sort).hint({ $natural: 1 }).limit(2).toArray();
      assert.equal(lim.length, ref.length);
      for (let i = 0; i < lim.length; i++) assert.ok(cmp(lim[i]!, ref[i]!) === 0, 'top-k matches the full sort');
    }
  }
}

describe('secondary indexes', () => {
  it('every indexed query (any hint) equals the full scan, from the memtable and after flush/compact', async () => {
    const client = await freshClient();
    let run = 0;
    const res = await fc.check(
      fc.asyncProperty(arbDocs({}, 10), fc.array(arbFilter({}, 1), { minLength: 1, maxLength: 3 }), fc.array(arbSort, { maxLength: 1 }), async (docs, filters, sorts) => {
        try {
        const name = `p${run++}`;
        const c = client.db('t').collection(name);
        for (const [k, o] of INDEXES) await c.createIndex(k, o);
        // half the documents before the indexes exist, half after (build + maintenance paths)
        const c2 = client.db('t').collection(name + 'b');
        // parallel arrays under the compound index are refused (as MongoDB does): skip those documents
        const ok = docs.filter((d) => !(Array.isArray(d.a) && Array.isArray(d.b)));
        const okHalf = ok.slice(0, ok.length >> 1);
        if (ok.length > 0) await c.insertMany(ok.map((d) => ({ ...d })));
        if (okHalf.length > 0) await c2.insertMany(okHalf.map((d) => ({ ...d })));
        for (const [k, o] of INDEXES) await c2.createIndex(k, o);
        for (const d of ok.slice(okHalf.length)) await c2.insertOne({ ...d });
        await checkAll(client, name, filters, sorts);
        await checkAll(client, name + 'b', filters, sorts);
        // updates and deletes keep the indexes exact
        await c.updateMany({ _id: { $in: [0, 2, 4] } }, { $set: { a: 3, b: [1, 2] } });
        await c.deleteMany({ _id: { $in: [1, 5] } });
        await checkAll(client, name, filters, []);
        if (run % 10 === 0) {
          await client.engine.store.flush();
          await checkAll(client, name, filters, sorts);
          await client.engine.store.compact();
          await checkAll(client, name, filters, sorts);
        }
        await c.drop();
        await c2.drop();
        } catch (err) {
          throw new Error(`property failed: ${(err as Error).message}`, { cause: err });
        }
      }),
      { seed: 1234, numRuns: 60 },
    );
    if (res.failed) console.error('FAILED', res.counterexample, res.errorInstance);
    assert.equal(res.failed, false);
    await client.close();
  });

  it('planner picks an index and explain() shows IXSCAN with keys examined', async () => {
    const client = await freshClient();
    const c = client.db('t').collection('plan');
    await c.insertMany(Array.from({ length: 500 }, (_, i) => ({ _id: i, k: i % 50, r: i, s: `s${i % 7}` })));
    await c.createIndex({ k: 1 });
    await c.createIndex({ s: 1, r: -1 });
    const ex = await c.find({ k: 7 }).explain('executionStats');
    const wp = (ex.queryPlanner as Doc).winningPlan as Doc;
    assert.equal(wp.stage, 'FETCH');
    assert.equal((wp.inputStage as Doc).stage, 'IXSCAN');
    assert.equal((wp.inputStage as Doc).indexName, 'k_1');
    const st = ex.executionStats as Doc;
    assert.equal(st.nReturned, 10);
    assert.equal(st.totalKeysExamined, 10);
    assert.equal(st.totalDocsExamined, 10);
    // range + sort on a compound index: no SORT stage, limit honoured
    const ex2 = await c.find({ s: 's3', r: { $gte: 100 } }).sort({ r: -1 }).limit(5).explain('executionStats');
    const wp2 = (ex2.queryPlanner as Doc).winningPlan as Doc;
    assert.equal(wp2.stage, 'LIMIT');
    assert.equal(((wp2.inputStage as Doc).inputStage as Doc).indexName, 's_1_r_-1');
    assert.ok(!JSON.stringify(wp2).includes('"SORT"'));
    assert.equal((ex2.executionStats as Doc).totalKeysExamined, 5);
    // covered
    const ex3 = await c.find({ k: { $in: [1, 2] } }, { projection: { _id: 0, k: 1 } }).explain('executionStats');
    assert.equal(((ex3.queryPlanner as Doc).winningPlan as Doc).stage, 'PROJECTION_COVERED');
    assert.equal((ex3.executionStats as Doc).totalDocsExamined, 0);
    assert.deepEqual(await c.find({ k: { $in: [1, 2] } }, { projection: { _id: 0, k: 1 } }).toArray(), [...Array(10).fill({ k: 1 }), ...Array(10).fill({ k: 2 })]);
    // the trailing _id of index keys serves a tie-breaking _id sort
    const ex6 = await c.find({ k: { $gte: 48 } }).sort({ k: 1, _id: 1 }).explain('executionStats');
    assert.ok(!JSON.stringify((ex6.queryPlanner as Doc).winningPlan).includes('"SORT"'));
    assert.deepEqual((await c.find({ k: { $gte: 48 } }).sort({ k: -1, _id: -1 }).limit(3).toArray()).map((d) => d._id), [499, 449, 399]);
    assert.deepEqual((await c.find({ k: { $gte: 48 } }).sort({ k: -1, _id: 1 }).limit(3).toArray()).map((d) => d._id), [49, 99, 149]);
    // _id point lookups
    const ex4 = await c.find({ _id: 42 }).explain();
    assert.equal(((ex4.queryPlanner as Doc).winningPlan as Doc).stage, 'IDHACK');
    // plan cache: the second run of the same shape uses it
    await c.find({ k: 8 }).toArray();
    const ex5 = await c.find({ k: 9 }).explain('queryPlanner');
    assert.equal((ex5.queryPlanner as Doc).planCacheUsed, true);
    assert.ok(((ex5.queryPlanner as Doc).rejectedPlans as Doc[]).length >= 1);
    // indexBounds in MongoDB's notation
    const boundsOf = async (filter: Doc, hint: string): Promise<unknown> => {
      const ex = await c.find(filter).hint(hint).explain('queryPlanner');
      const find = (st: Doc): Doc => (st.stage === 'IXSCAN' ? st : find(st.inputStage as Doc));
      return find((ex.queryPlanner as Doc).winningPlan as Doc).indexBounds;
    };
    assert.deepEqual(await boundsOf({ k: { $gte: 3, $lt: 20 } }, 'k_1'), { k: ['[3, 20)'] });
    assert.deepEqual(await boundsOf({ k: { $gt: 3 } }, 'k_1'), { k: ['(3, inf.0]'] });
    assert.deepEqual(await boundsOf({ k: { $lte: 3 } }, 'k_1'), { k: ['[-inf.0, 3]'] });
    assert.deepEqual(await boundsOf({ k: { $in: [1, 2] } }, 'k_1'), { k: ['[1, 1]', '[2, 2]'] });
    assert.deepEqual(await boundsOf({ s: { $gt: 's3' } }, 's_1_r_-1'), { s: ['("s3", {})'], r: ['[MaxKey, MinKey]'] });
    await client.close();
  });

  it('planner costs document fetches against a scan: a wide index range loses to COLLSCAN when the documents do not fit the caches', async () => {
    const docs = Array.from({ length: 3000 }, (_, i) => ({ _id: i, age: i % 60, city: `c${i % 100}`, score: (i * 7919) % 1000, pad: 'x'.repeat(400) }));
    const run = async (options: Record<string, unknown>) => {
      const client = await freshClient(options);
      const c = client.db('t').collection('fetchcost');
      await c.insertMany(docs);
      await c.createIndex({ age: 1 });
      await c.createIndex({ city: 1 });
      await client.engine.store.flush();
      const q = () => c.find({ age: { $gte: 10, $lt: 20 } }).sort({ score: -1, _id: 1 }).limit(20);
      const stage = async (cur: { explain(v: string): Promise<Doc> }) => JSON.stringify(((await cur.explain('queryPlanner')).queryPlanner as Doc).winningPlan);
      const range = await stage(q());
      const eq = await stage(c.find({ city: 'c7' }));
      const got = await q().toArray();
      const viaIndex = await q().hint({ age: 1 }).toArray();
      const viaScan = await q().hint({ $natural: 1 }).toArray();
      const eqGot = await c.find({ city: 'c7' }).toArray();
      await client.close();
      return { range, eq, got, viaIndex, viaScan, eqGot };
    };
    // ~1.3 MB of documents: caches of 64 KiB make a fetch a block read; default caches hold it all
    const small = await run({ blockCacheSizeBytes: 64 * 1024, documentCacheBytes: 0 });
    const large = await run({});
    const want = docs.filter((d) => d.age >= 10 && d.age < 20).sort((a, b) => b.score - a.score || a._id - b._id).slice(0, 20);
    for (const r of [small, large]) {
      assert.deepEqual(r.got, want);
      assert.deepEqual(r.viaIndex, want);
      assert.deepEqual(r.viaScan, want);
      assert.deepEqual(r.eqGot, docs.filter((d) => d.city === 'c7'));
    }
    // 1/6 of the collection through the index: scanned when fetches miss the cache, fetched when they hit
    assert.match(small.range, /"COLLSCAN"/);
    assert.match(large.range, /"IXSCAN"/);
    // 1% selective equality stays on its index either way
    assert.match(small.eq, /"IXSCAN"/);
    assert.match(large.eq, /"IXSCAN"/);
  });

  it('a hint naming no index is BAD_QUERY (MongoDB BadValue); $natural and _id hints are accepted', async () => {
    const client = await freshClient();
    const c = client.db('t').collection('hints');
    await c.insertMany([{ _id: 1, a: 1 }, { _id: 2, a: 2 }]);
    await c.createIndex({ a: 1 });
    for (const hint of ['nope', { y: 1 }, { a: -1 }, {}, { $natural: 2 }] as (string | Doc)[]) {
      await assert.rejects(c.find({ a: 1 }).hint(hint).toArray(), (e: LargetableError) => e.code === 'BAD_QUERY' && e.details.codeName === 'BadValue', JSON.stringify(hint));
      await assert.rejects(c.countDocuments({ a: 1 }, { hint }), (e: LargetableError) => e.code === 'BAD_QUERY', JSON.stringify(hint));
    }
    for (const hint of ['a_1', { a: 1 }, '_id_', { _id: 1 }, { $natural: 1 }, { $natural: -1 }] as (string | Doc)[]) {
      assert.deepEqual((await c.find({ a: 1 }).hint(hint).toArray()).map((d) => d._id), [1], JSON.stringify(hint));
    }
    await client.close();
  });

  it('unique, sparse, partial and TTL indexes', async () => {
    const client = await freshClient();
    const c = client.db('t').collection('kinds');
    await c.createIndex({ email: 1 }, { unique: true });
    await c.insertOne({ _id: 1, email: 'a@x' });
    await assert.rejects(c.insertOne({ _id: 2, email: 'a@x' }), (e: LargetableError) => {
      assert.equal(e.code, 'DUPLICATE_KEY');
      assert.equal(e.message, 'E11000 duplicate key error collection: t.kinds index: email_1 dup key: { email: "a@x" }');
      assert.deepEqual(e.details.keyPattern, { email: 1 });
      assert.deepEqual(e.details.keyValue, { email: 'a@x' });
      return true;
    });
    assert.equal(await c.countDocuments(), 1, 'refused insert left nothing behind');
    await assert.rejects(c.updateOne({ _id: 1 }, { $set: { email: 'b@x' } }).then(() => c.insertOne({ email: 'b@x' })), (e: LargetableError) => e.code === 'DUPLICATE_KEY');
    // unique on a missing field: only one document may lack it (null key)
    await c.insertOne({ _id: 3 });
    await assert.rejects(c.insertOne({ _id: 4 }), (e: LargetableError) => e.code === 'DUPLICATE_KEY');
    // building a unique index over duplicates fails and leaves no index
    const d = client.db('t').collection('dupbuild');
    await d.insertMany([{ v: 1 }, { v: 1 }]);
    await assert.rejects(d.createIndex({ v: 1 }, { unique: true }), (e: LargetableError) => e.code === 'DUPLICATE_KEY');
    assert.equal(await d.indexExists('v_1'), false);
    // sparse unique: many documents without the field are fine
    const s = client.db('t').collection('sparse');
    await s.createIndex({ tag: 1 }, { unique: true, sparse: true });
    await s.insertMany([{ x: 1 }, { x: 2 }, { tag: 't' }]);
    await assert.rejects(s.insertOne({ tag: 't' }), (e: LargetableError) => e.code === 'DUPLICATE_KEY');
    // partial unique: only documents matching the expression are constrained
    const p = client.db('t').collection('partial');
    await p.createIndex({ u: 1 }, { unique: true, partialFilterExpression: { active: true } });
    await p.insertMany([{ u: 1, active: false }, { u: 1, active: false }, { u: 1, active: true }]);
    await assert.rejects(p.insertOne({ u: 1, active: true }), (e: LargetableError) => e.code === 'DUPLICATE_KEY');
    // TTL: deterministic sweep
    const t = client.db('t').collection('ttl');
    await t.createIndex({ at: 1 }, { expireAfterSeconds: 60 });
    const now = new Date('2026-01-01T00:10:00Z');
    await t.insertMany([
      { _id: 'old', at: new Date('2026-01-01T00:00:00Z') },
      { _id: 'fresh', at: new Date('2026-01-01T00:09:30Z') },
      { _id: 'arr', at: [new Date('2026-01-01T00:09:59Z'), new Date('2025-12-31T00:00:00Z')] },
      { _id: 'nodate', at: 'soon' },
    ]);
    assert.equal(await client.runTtlSweep(now), 2);
    assert.deepEqual((await t.find().toArray()).map((x) => x._id).sort(), ['fresh', 'nodate']);
    // a descending TTL index expires the same documents
    const t2 = client.db('t').collection('ttl2');
    await t2.createIndex({ at: -1 }, { expireAfterSeconds: 60 });
    await t2.insertMany([
      { _id: 'old', at: new Date('2026-01-01T00:00:00Z') },
      { _id: 'edge', at: new Date('2026-01-01T00:09:00Z') },
      { _id: 'fresh', at: new Date('2026-01-01T00:09:30Z') },
      { _id: 'arr', at: [new Date('2026-01-01T00:09:59Z'), new Date('2025-12-31T00:00:00Z')] },
    ]);
    assert.equal(await client.runTtlSweep(now), 2);
    assert.deepEqual((await t2.find().toArray()).map((x) => x._id).sort(), ['edge', 'fresh']);
    const names = (await t.listIndexes().toArray()).map((i) => i.name);
    assert.deepEqual(names, ['_id_', 'at_1']);
    await t.dropIndex('at_1');
    assert.deepEqual((await t.indexes()).map((i) => i.name), ['_id_']);
    await client.close();
  });

  it('multikey indexes index every array element and dedupe results', async () => {
    const client = await freshClient();
    const c = client.db('t').collection('mk');
    await c.createIndex({ tags: 1 });
    await c.insertMany([{ _id: 1, tags: ['a', 'b', 'a'] }, { _id: 2, tags: ['b'] }, { _id: 3, tags: [] }, { _id: 4 }]);
    assert.deepEqual((await c.find({ tags: { $in: ['a', 'b'] } }).toArray()).map((d) => d._id), [1, 2]);
    assert.deepEqual((await c.find({ tags: 'a' }).toArray()).map((d) => d._id), [1]);
    const ex = await c.find({ tags: 'b' }).explain();
    assert.equal((((ex.queryPlanner as Doc).winningPlan as Doc).inputStage as Doc).isMultiKey, true);
    await client.close();
  });
});
