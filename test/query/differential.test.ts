/**
 * Differential suite: Largetable's query layer against mingo 6.5.6 on generated documents and
 * filters, sorts, projections, updates and pipelines (>= 10,000 cases). Generators exclude the
 * divergences listed in docs/COMPATIBILITY.md (where we follow MongoDB and mingo does not);
 * a few classes are recognised per case instead (see compareUpdate / comparePipeline).
 * Plus property tests over the full generators (arrays of arrays, -0, NaN) that need no oracle.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import 'mingo/init/system';
import { update as mingoUpdate } from 'mingo/updater';
import { LargetableError } from '../../src/errors.ts';
import { arbArrayDoc, arbPlainPath, arbProjectionOperator, arbDocs, arbFilter, arbPipeline, arbPositionalUpdate, arbProjection, arbScalar, arbSort, arbUpdate, arbValue, arbPath, type Doc } from './arbitraries.ts';
import { compareUpdate, comparePipeline, canonUnordered, isolate, mingoFind, mingoProject, mingoSort, oursFind, oursProject, oursSort, canon } from './differential.ts';
import { applyUpdate, compareValues, compileFilter, compileSort, compileUpdate, getPathValues, runPipeline, sortDocuments, sortKey, splitPath } from '../../src/query/index.ts';
import { isPlainObject, valuesEqual } from '../../src/query/values.ts';
import { lookupForMatch } from '../../src/query/path.ts';
import { checkValue } from '../../src/query/validate.ts';
import { calculateObjectSize, Decimal128, Long } from 'bson';

const M = { forMingo: true };

function containsNaN(v: unknown): boolean {
  if (typeof v === 'number') return Number.isNaN(v);
  if (Array.isArray(v)) return v.some(containsNaN);
  if (isPlainObject(v)) return Object.values(v).some(containsNaN);
  return false;
}
const SEED = 20261128;

function runs(n: number): fc.Parameters<unknown> {
  return { seed: SEED + n, numRuns: n, endOnFailure: true };
}

describe('differential vs mingo 6.5.6', () => {
  let total = 0;
  it('filters: 4500 generated cases select the same documents', () => {
    let compared = 0;
    fc.assert(
      fc.property(arbDocs(M), arbFilter(M), (docs, filter) => {
        // MongoDB: NaN is neither greater nor less than any number in query comparisons; mingo orders it
        if (/"\$(gt|gte|lt|lte)"/.test(JSON.stringify(filter)) && containsNaN(docs)) return;
        compared++;
        assert.deepEqual(oursFind(docs, filter), mingoFind(docs, filter), JSON.stringify(canon({ docs, filter })));
      }),
      runs(4500) as fc.Parameters<[Doc[], Doc]>,
    );
    assert.ok(compared > 3500, `only ${compared} filter cases compared`);
    total += compared;
  });

  it('sorts: 1800 generated cases order documents the same way', () => {
    let compared = 0;
    fc.assert(
      fc.property(arbDocs({ ...M, noArrays: true, noBsonObjects: true, noNaN: true }), arbSort, (docs, sort) => {
        // mingo compares embedded documents by key names before value types; MongoDB by type first
        for (const p of Object.keys(sort)) for (const d of docs) if (isPlainObject(sortKey(d, splitPath(p), 1))) return;
        compared++;
        const spec = { ...sort, _id: 1 };
        assert.deepEqual(oursSort(docs, spec), mingoSort(docs, spec), JSON.stringify(canon({ docs, spec })));
      }),
      runs(1800) as fc.Parameters<[Doc[], Doc]>,
    );
    assert.ok(compared > 1200, `only ${compared} sort cases compared`);
    total += compared;
  });

  it('projections: 1600 generated cases give the same documents', () => {
    let compared = 0;
    fc.assert(
      fc.property(arbDocs(M), arbProjection(M), (docs, projection) => {
        let theirs: unknown[];
        try {
          theirs = mingoProject(docs, projection);
        } catch {
          return; // mingo 6.5.6 crashes on exclusions through arrays holding null
        }
        compared++;
        assert.deepEqual(oursProject(docs, projection), theirs, JSON.stringify(canon({ docs, projection })));
      }),
      runs(1600) as fc.Parameters<[Doc[], Doc]>,
    );
    assert.ok(compared > 1300, `only ${compared} projection cases compared`);
    total += compared;
  });

  it('projection operators ($elemMatch, $slice with an inclusion): 800 generated cases', () => {
    let compared = 0;
    fc.assert(
      fc.property(arbArrayDoc({ ...M, noNaN: true }), arbProjectionOperator, (doc, projection) => {
        // mingo's document-form $elemMatch also matches scalar elements (COMPATIBILITY.md #8)
        const first = Object.values(projection)[0] as Doc;
        if ('$elemMatch' in first && (doc['a'] as unknown[]).some((e) => !isPlainObject(e))) return;
        compared++;
        assert.deepEqual(oursProject([doc], projection), mingoProject([doc], projection), JSON.stringify(canon({ doc, projection })));
      }),
      runs(800) as fc.Parameters<[Doc, Doc]>,
    );
    assert.ok(compared > 400, `only ${compared} projection-operator cases compared`);
    total += compared;
  });

  it('updates: 2000 generated cases produce the same documents', () => {
    const tally = { agree: 0, documented: 0, 'mingo-crash': 0, differ: 0 };
    fc.assert(
      fc.property(arbDocs(M, 4), arbUpdate(M), (docs, update) => {
        for (const d of docs) {
          const r = compareUpdate(d, update);
          tally[r.verdict]++;
          assert.notEqual(r.verdict, 'differ', JSON.stringify(canon({ doc: d, update, ours: r.ours, mingo: r.mingo })));
        }
      }),
      runs(2000) as fc.Parameters<[Doc[], Doc]>,
    );
    assert.ok(tally.agree > tally.documented + tally['mingo-crash'], JSON.stringify(tally));
    total += 2000;
  });

  it('positional updates ($[], $[id] with arrayFilters): 1000 generated cases', () => {
    let compared = 0;
    fc.assert(
      fc.property(arbArrayDoc({ ...M, noNaN: true }), arbPositionalUpdate(), (doc, { update, arrayFilters }) => {
        let ours: unknown;
        try {
          ours = canonUnordered(applyUpdate(doc, update, { isUpsertInsert: false, arrayFilters }).doc);
        } catch (err) {
          // MongoDB refuses arithmetic on non-numbers and fields inside scalars; mingo coerces or skips
          assert.ok(err instanceof LargetableError && /non-numeric|Cannot create field/.test(err.message), String(err));
          return;
        }
        const copy = isolate(doc);
        mingoUpdate(copy, update as never, isolate(arrayFilters), undefined, { cloneMode: 'deep' } as never);
        compared++;
        assert.deepEqual(ours, canonUnordered(copy), JSON.stringify(canon({ doc, update, arrayFilters })));
      }),
      runs(1000) as fc.Parameters<[Doc, { update: Doc; arrayFilters: Doc[] }]>,
    );
    assert.ok(compared > 700, `only ${compared} positional cases compared`);
    total += compared;
  });

  it('pipelines: 1600 generated cases produce the same results', async () => {
    const tally = { agree: 0, documented: 0, 'mingo-crash': 0, differ: 0 };
    await fc.assert(
      fc.asyncProperty(arbDocs({ ...M, noNaN: true }), arbPipeline({ ...M, noNaN: true }), async (docs, pipeline) => {
        const r = await comparePipeline(docs, pipeline);
        tally[r.verdict]++;
        assert.notEqual(r.verdict, 'differ', JSON.stringify(canon({ docs, pipeline, ours: r.ours, mingo: r.mingo })));
      }),
      runs(1600) as fc.Parameters<[Doc[], Doc[]]>,
    );
    assert.ok(tally.agree > 10 * (tally.documented + tally['mingo-crash']), JSON.stringify(tally));
    total += tally.agree + tally.documented;
  });

  it('compared at least 10,000 generated cases in total', () => {
    assert.ok(total >= 10_000, `only ${total} differential cases compared`);
    console.log(`differential cases compared with mingo: ${total}`);
  });
});

describe('properties over the full generators (arrays of arrays, -0, NaN, no oracle)', () => {
  it('compareValues is a total preorder (antisymmetric, transitive) and sort comparators are consistent', () => {
    fc.assert(
      fc.property(arbValue({}, 2), arbValue({}, 2), arbValue({}, 2), (a, b, c) => {
        assert.equal(Math.sign(compareValues(a, b)), -Math.sign(compareValues(b, a)) || 0);
        assert.equal(compareValues(a, a), 0);
        if (compareValues(a, b) <= 0 && compareValues(b, c) <= 0) assert.ok(compareValues(a, c) <= 0);
      }),
      { seed: SEED, numRuns: 800 },
    );
  });

  it('$nor/$not are exact negations and $and/$or compose', () => {
    fc.assert(
      fc.property(arbDocs({}, 6), arbFilter({}), arbFilter({}), (docs, f, g) => {
        const mf = compileFilter(f);
        const mg = compileFilter(g);
        const nor = compileFilter({ $nor: [f] });
        const and = compileFilter({ $and: [f, g] });
        const or = compileFilter({ $or: [f, g] });
        for (const d of docs) {
          assert.equal(nor.test(d), !mf.test(d));
          assert.equal(and.test(d), mf.test(d) && mg.test(d));
          assert.equal(or.test(d), mf.test(d) || mg.test(d));
        }
      }),
      { seed: SEED + 1, numRuns: 600 },
    );
  });

  it('every value getPathValues reports (index keys) is found by an equality filter on that path', () => {
    fc.assert(
      fc.property(arbDocs({}, 6), arbPath, (docs, path) => {
        for (const d of docs) {
          for (const v of getPathValues(d, path)) {
            assert.ok(compileFilter({ [path]: { $eq: v } }).test(d), JSON.stringify(canon({ d, path, v })));
          }
        }
      }),
      { seed: SEED + 2, numRuns: 600 },
    );
  });

  it('applyUpdate never mutates its input and sort is a consistent total order', () => {
    fc.assert(
      fc.property(arbDocs({}, 5), arbUpdate({}), arbSort, (docs, update, sort) => {
        for (const d of docs) {
          const before = JSON.stringify(canon(d));
          try {
            applyUpdate(d, update, { isUpsertInsert: false });
          } catch {
            // refusals are fine here; mutation is not
          }
          assert.equal(JSON.stringify(canon(d)), before);
        }
        const cmp = compileSort({ ...sort, _id: 1 });
        const sorted = [...docs].sort(cmp);
        for (let i = 1; i < sorted.length; i++) assert.ok(cmp(sorted[i - 1] as Doc, sorted[i] as Doc) <= 0);
      }),
      { seed: SEED + 3, numRuns: 600 },
    );
  });

  it('$sort + $limit (bounded top-k) and fused per-document stages equal the unfused plan', async () => {
    await fc.assert(
      fc.asyncProperty(arbDocs({}, 12), arbSort, fc.integer({ min: 1, max: 5 }), arbFilter({}, 1), async (docs, sort, k, filter) => {
        const spec = { ...sort, _id: 1 };
        async function* src(): AsyncIterable<Doc> {
          yield* docs;
        }
        const out: Doc[] = [];
        for await (const d of runPipeline(src(), [{ $match: filter }, { $addFields: { z: 1 } }, { $sort: spec }, { $limit: k }], { collection: src })) out.push(d);
        const m = compileFilter(filter);
        const expected = sortDocuments(docs.filter((d) => m.test(d)), spec).slice(0, k).map((d) => ({ ...d, z: 1 }));
        assert.deepEqual(out.map((d) => canon(d)), expected.map((d) => canon(d)));
      }),
      { seed: SEED + 4, numRuns: 400 },
    );
  });

  it('compileUpdate applied to many documents equals applyUpdate on each', () => {
    fc.assert(
      fc.property(arbDocs({}, 6), arbUpdate({}), (docs, update) => {
        let compiled: ((d: Doc) => { doc: Doc; modified: boolean }) | undefined;
        try {
          compiled = compileUpdate(update, { isUpsertInsert: false });
        } catch {
          compiled = undefined;
        }
        for (const d of docs) {
          let a: unknown;
          let b: unknown;
          try {
            a = canon(applyUpdate(d, update, { isUpsertInsert: false }));
          } catch (e) {
            a = (e as Error).message;
          }
          try {
            b = compiled ? canon(compiled(d)) : 'compile failed';
          } catch (e) {
            b = (e as Error).message;
          }
          if (compiled === undefined) assert.equal(typeof a, 'string');
          else assert.deepEqual(b, a);
        }
      }),
      { seed: SEED + 5, numRuns: 400 },
    );
  });

  it('the size bound used by validateDocument is never below the encoded BSON size', () => {
    fc.assert(
      fc.property(arbDocs({}, 4), fc.string({ unit: 'binary', maxLength: 20 }), (docs, str) => {
        for (const d of docs) {
          const doc = { ...d, s: str, [str.replace(/^\$|\0|__proto__|constructor|prototype/g, 'x') || 'k']: [str, { t: str }] };
          const bound = checkValue(doc, 0, '');
          assert.ok(bound >= calculateObjectSize(doc), `${bound} < ${calculateObjectSize(doc)}`);
        }
      }),
      { seed: SEED + 6, numRuns: 400 },
    );
  });

  it('$in equals $or of $eq and $nin equals $nor of $eq (Long, Decimal128, NaN, -0 included)', () => {
    const extra = fc.constantFrom<unknown>(Long.fromNumber(2), Decimal128.fromString('3'), Decimal128.fromString('-0'), 2 ** 53, Long.fromString('9007199254740993'));
    fc.assert(
      fc.property(arbDocs({}, 6), arbPath, fc.array(fc.oneof(arbScalar({}), extra), { maxLength: 6 }), (docs, path, list) => {
        const inM = compileFilter({ [path]: { $in: list } });
        const ninM = compileFilter({ [path]: { $nin: list } });
        const orM = list.length === 0 ? { test: () => false } : compileFilter({ $or: list.map((x) => ({ [path]: { $eq: x } })) });
        for (const d of docs) {
          assert.equal(inM.test(d), orM.test(d));
          assert.equal(ninM.test(d), !orM.test(d));
        }
      }),
      { seed: SEED + 7, numRuns: 500 },
    );
  });

  it('$lookup hash join equals the nested-loop definition (null/missing, arrays, numeric types)', async () => {
    const expand = (vals: unknown[]): unknown[] => vals.flatMap((v) => (Array.isArray(v) ? (v.length === 0 ? [undefined] : v) : [v]));
    await fc.assert(
      fc.asyncProperty(arbDocs({}, 6), arbDocs({}, 6), arbPlainPath, arbPlainPath, async (locals, foreigns, lf, ff) => {
        async function* src(docs: Doc[]): AsyncIterable<Doc> {
          yield* docs;
        }
        const out: Doc[] = [];
        for await (const d of runPipeline(src(locals), [{ $lookup: { from: 'f', localField: lf, foreignField: ff, as: 'j' } }], { collection: () => src(foreigns) })) out.push(d);
        for (let i = 0; i < locals.length; i++) {
          const lv: unknown[] = [];
          lookupForMatch(locals[i], splitPath(lf), 0, lv);
          const keys = expand(lv);
          const expected = foreigns.filter((f) => {
            const fv: unknown[] = [];
            lookupForMatch(f, splitPath(ff), 0, fv);
            const ys = fv.flatMap((v) => (Array.isArray(v) ? [v, ...v] : [v]));
            return keys.some((k) => ys.some((y) => (k == null && y == null) || (k !== undefined && y !== undefined && valuesEqual(k, y))));
          });
          assert.deepEqual((out[i]?.['j'] as Doc[]).map((d) => d['_id']), expected.map((d) => d['_id']));
        }
      }),
      { seed: SEED + 8, numRuns: 400 },
    );
  });
});
