/**
 * The mingo differential through a real collection: generated documents are inserted into a
 * collection with single-field, compound, multikey and sparse indexes; generated filters must select
 * the same documents as mingo 6.5.6, planner-chosen and with hint({ $natural: 1 }), from the
 * memtable, after store.flush() and after store.compact(). Same exclusions as test/query/differential.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { arbDocs, arbFilter, type Doc } from '../query/arbitraries.ts';
import { canon, mingoFind } from '../query/differential.ts';
import { isPlainObject } from '../../src/query/values.ts';
import { freshClient } from './helpers.ts';

const M = { forMingo: true };
const SEED = 20261128;

function containsNaN(v: unknown): boolean {
  if (typeof v === 'number') return Number.isNaN(v);
  if (Array.isArray(v)) return v.some(containsNaN);
  if (isPlainObject(v)) return Object.values(v).some(containsNaN);
  return false;
}

const ids = (docs: { _id?: unknown }[]): string[] => docs.map((d) => JSON.stringify(canon(d._id))).sort();

describe('differential vs mingo through a collection with indexes', () => {
  it('1,000+ filter cases agree: indexed and $natural, memtable, flushed and compacted', async () => {
    const client = await freshClient();
    const store = client.engine.store;
    const db = client.db('diff');
    let n = 0;
    let compared = 0;
    let indexed = 0;
    await fc.assert(
      fc.asyncProperty(arbDocs(M, 10), fc.array(arbFilter(M), { minLength: 4, maxLength: 4 }), async (generated, filters) => {
        // a compound index refuses parallel arrays (as MongoDB does): leave such documents out
        const docs = generated.filter((d) => !(Array.isArray(d.a) && Array.isArray(d.c)));
        const c = db.collection(`c${n++}`);
        await c.createIndex({ a: 1 });
        await c.createIndex({ b: -1 });
        await c.createIndex({ 'a.b': 1 });
        await c.createIndex({ a: 1, c: -1 });
        await c.createIndex({ c: 1 }, { sparse: true });
        if (docs.length > 0) await c.insertMany(docs.map((d) => ({ ...d })));
        const cases = filters.filter((f) => !(/"\$(gt|gte|lt|lte)"/.test(JSON.stringify(f)) && containsNaN(docs)));
        const expected = cases.map((f) => ids(mingoFind(docs, f).map((_id) => ({ _id }))));
        const check = async (stage: string) => {
          for (let i = 0; i < cases.length; i++) {
            const f = cases[i]!;
            const msg = `${stage}: ${JSON.stringify(canon({ docs, filter: f }))}`;
            const plan = (await c.find(f).explain('queryPlanner')) as { queryPlanner: { winningPlan: unknown } };
            if (JSON.stringify(plan.queryPlanner.winningPlan).includes('IXSCAN')) indexed++;
            assert.deepEqual(ids(await c.find(f).toArray()), expected[i], `planned ${msg}`);
            assert.deepEqual(ids(await c.find(f).hint({ $natural: 1 }).toArray()), expected[i], `$natural ${msg}`);
            compared++;
          }
        };
        await check('memtable');
        await store.flush();
        await check('flushed');
        await store.compact();
        await check('compacted');
        await c.drop();
      }),
      { seed: SEED, numRuns: 150, endOnFailure: true, includeErrorInReport: true },
    );
    await client.close();
    console.log(`# ${compared} filter cases (each planned and $natural), ${indexed} answered with an index`);
    assert.ok(compared >= 1000, `only ${compared} cases compared`);
    assert.ok(indexed >= 100, `only ${indexed} cases used an index`);
  });
});
