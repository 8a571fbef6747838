/**
 * Update operators, positional updates, replacement documents and update pipelines: examples from
 * the MongoDB manual, plus conflicts, `_id` immutability and no-mutation guarantees.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Decimal128, Long, Timestamp } from 'bson';
import { applyUpdate, upsertSeed, type Document } from '../../src/query/index.ts';
import { LargetableError } from '../../src/errors.ts';

const NOW = new Date('2026-01-02T03:04:05Z');

function up(doc: Document, update: Document | Document[], opts: { arrayFilters?: Document[]; query?: Document; isUpsertInsert?: boolean } = {}): Document {
  const before = JSON.stringify(doc);
  const r = applyUpdate(doc, update, { isUpsertInsert: opts.isUpsertInsert ?? false, now: NOW, ...(opts.arrayFilters ? { arrayFilters: opts.arrayFilters } : {}), ...(opts.query ? { query: opts.query } : {}) });
  assert.equal(JSON.stringify(doc), before, 'input mutated');
  return r.doc;
}

function badQuery(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof LargetableError && e.code === 'BAD_QUERY');
}

describe('field operators', () => {
  it('$set creates nested documents and array positions; $unset removes (nulls in arrays)', () => {
    assert.deepEqual(up({ _id: 1, a: 1 }, { $set: { 'b.c.d': 2, a: 3 } }), { _id: 1, a: 3, b: { c: { d: 2 } } });
    assert.deepEqual(up({ _id: 1, a: [1, 2] }, { $set: { 'a.4': 9 } }), { _id: 1, a: [1, 2, null, null, 9] });
    assert.deepEqual(up({ _id: 1, a: [{ x: 1 }] }, { $set: { 'a.0.y': 2 } }), { _id: 1, a: [{ x: 1, y: 2 }] });
    assert.deepEqual(up({ _id: 1, a: 1, b: { c: 1, d: 2 } }, { $unset: { a: '', 'b.c': 1, zz: '' } }), { _id: 1, b: { d: 2 } });
    assert.deepEqual(up({ _id: 1, a: [1, 2, 3] }, { $unset: { 'a.1': '' } }), { _id: 1, a: [1, null, 3] });
    badQuery(() => up({ _id: 1, a: 5 }, { $set: { 'a.b': 1 } }));
    badQuery(() => up({ _id: 1, a: [1] }, { $set: { 'a.x': 1 } }));
  });

  it('new fields are added in lexicographic path order (MongoDB 5+)', () => {
    assert.deepEqual(Object.keys(up({ _id: 1 }, { $set: { z: 1, b: 1, a: 1 } })), ['_id', 'a', 'b', 'z']);
  });

  it('$inc and $mul with numeric type rules', () => {
    assert.deepEqual(up({ _id: 1, q: 10, m: { o: 0 } }, { $inc: { q: -2, 'm.o': 1, n: 5 } }), { _id: 1, q: 8, m: { o: 1 }, n: 5 });
    assert.deepEqual(up({ _id: 1, p: 10.99 }, { $mul: { p: 2, z: 3 } }), { _id: 1, p: 21.98, z: 0 });
    const l = up({ _id: 1, n: Long.fromNumber(5) }, { $inc: { n: 2 } })['n'] as Long;
    assert.equal(l._bsontype, 'Long');
    assert.equal(l.toNumber(), 7);
    const d = up({ _id: 1, n: Decimal128.fromString('1.5') }, { $inc: { n: 1 } })['n'] as Decimal128;
    assert.equal(d.toString(), '2.5');
    badQuery(() => up({ _id: 1, s: 'x' }, { $inc: { s: 1 } }));
    badQuery(() => up({ _id: 1 }, { $inc: { s: '1' } }));
  });

  it('$min, $max compare in BSON order', () => {
    assert.deepEqual(up({ _id: 1, hi: 800, lo: 200 }, { $min: { lo: 150 }, $max: { hi: 950 } }), { _id: 1, hi: 950, lo: 150 });
    assert.deepEqual(up({ _id: 1, lo: 200 }, { $min: { lo: 250 } }), { _id: 1, lo: 200 });
    assert.deepEqual(up({ _id: 1, d: new Date(5) }, { $max: { d: new Date(9) } }), { _id: 1, d: new Date(9) });
    assert.deepEqual(up({ _id: 1, v: 5 }, { $max: { v: 'a' } }), { _id: 1, v: 'a' });
    assert.deepEqual(up({ _id: 1, v: 5 }, { $min: { v: null } }), { _id: 1, v: null });
  });

  it('$rename, $setOnInsert, $currentDate', () => {
    assert.deepEqual(up({ _id: 1, nmae: { first: 'a' }, x: 1 }, { $rename: { nmae: 'name' } }), { _id: 1, x: 1, name: { first: 'a' } });
    badQuery(() => up({ _id: 1, nmae: { first: 'a' } }, { $rename: { nmae: 'name', 'name.first': 'name.fname' } }));
    assert.deepEqual(up({ _id: 1, a: { b: 1 } }, { $rename: { 'a.b': 'c.d' } }), { _id: 1, a: {}, c: { d: 1 } });
    assert.deepEqual(up({ _id: 1 }, { $rename: { missing: 'x' } }), { _id: 1 });
    badQuery(() => up({ _id: 1, a: [{ b: 1 }] }, { $rename: { 'a.0.b': 'c' } }));
    assert.deepEqual(up({ _id: 1 }, { $set: { a: 1 }, $setOnInsert: { b: 2 } }), { _id: 1, a: 1 });
    assert.deepEqual(up({ _id: 1 }, { $set: { a: 1 }, $setOnInsert: { b: 2 } }, { isUpsertInsert: true }), { _id: 1, a: 1, b: 2 });
    const r = up({ _id: 1 }, { $currentDate: { d: true, t: { $type: 'timestamp' }, e: { $type: 'date' } } });
    assert.deepEqual(r['d'], NOW);
    assert.deepEqual(r['e'], NOW);
    assert.equal((r['t'] as Timestamp)._bsontype, 'Timestamp');
  });
});

describe('array operators', () => {
  it('$push with $each, $position, $sort, $slice', () => {
    assert.deepEqual(up({ _id: 1, s: [44, 78] }, { $push: { s: 89 } }), { _id: 1, s: [44, 78, 89] });
    assert.deepEqual(up({ _id: 1, s: [44, 78] }, { $push: { s: { $each: [90, 92] } } }), { _id: 1, s: [44, 78, 90, 92] });
    assert.deepEqual(up({ _id: 1, s: [100] }, { $push: { s: { $each: [50, 60, 70], $position: 0 } } }), { _id: 1, s: [50, 60, 70, 100] });
    assert.deepEqual(up({ _id: 1, s: [100, 20] }, { $push: { s: { $each: [10], $position: -1 } } }), { _id: 1, s: [100, 10, 20] });
    const quizzes = [{ wk: 1, score: 10 }, { wk: 2, score: 8 }, { wk: 3, score: 5 }, { wk: 4, score: 6 }];
    assert.deepEqual(
      up({ _id: 5, quizzes }, { $push: { quizzes: { $each: [{ wk: 5, score: 8 }, { wk: 6, score: 7 }, { wk: 7, score: 6 }], $sort: { score: -1 }, $slice: 3 } } }),
      { _id: 5, quizzes: [{ wk: 1, score: 10 }, { wk: 2, score: 8 }, { wk: 5, score: 8 }] },
    );
    assert.deepEqual(up({ _id: 1, s: [89, 70, 89, 50] }, { $push: { s: { $each: [40, 60], $sort: 1, $slice: -3 } } }), { _id: 1, s: [70, 89, 89] });
    assert.deepEqual(up({ _id: 1 }, { $push: { s: { $each: [], $slice: 0 } } }), { _id: 1, s: [] });
    badQuery(() => up({ _id: 1, s: 5 }, { $push: { s: 1 } }));
  });

  it('$addToSet (with $each), $pop, $pull, $pullAll', () => {
    assert.deepEqual(up({ _id: 1, t: ['a', 'b'] }, { $addToSet: { t: 'c' } }), { _id: 1, t: ['a', 'b', 'c'] });
    assert.deepEqual(up({ _id: 1, t: ['a', 'b'] }, { $addToSet: { t: ['c', 'd'] } }), { _id: 1, t: ['a', 'b', ['c', 'd']] });
    assert.deepEqual(up({ _id: 1, t: ['a', 'b'] }, { $addToSet: { t: { $each: ['b', 'e', 'e'] } } }), { _id: 1, t: ['a', 'b', 'e'] });
    assert.deepEqual(up({ _id: 1, t: [{ a: 1, b: 2 }] }, { $addToSet: { t: { b: 2, a: 1 } } }), { _id: 1, t: [{ a: 1, b: 2 }, { b: 2, a: 1 }] });
    assert.deepEqual(up({ _id: 1, s: [8, 9, 10] }, { $pop: { s: -1 } }), { _id: 1, s: [9, 10] });
    assert.deepEqual(up({ _id: 1, s: [8, 9, 10] }, { $pop: { s: 1 } }), { _id: 1, s: [8, 9] });
    assert.deepEqual(up({ _id: 1, fruits: ['apples', 'pears', 'oranges', 'grapes', 'bananas'], veg: ['carrots', 'celery'] }, { $pull: { fruits: { $in: ['apples', 'oranges'] }, veg: 'carrots' } }), { _id: 1, fruits: ['pears', 'grapes', 'bananas'], veg: ['celery'] });
    assert.deepEqual(up({ _id: 1, votes: [3, 5, 6, 7, 7, 8] }, { $pull: { votes: { $gte: 6 } } }), { _id: 1, votes: [3, 5] });
    assert.deepEqual(
      up({ _id: 1, results: [{ item: 'A', score: 5 }, { item: 'B', score: 8, comment: 'x' }] }, { $pull: { results: { score: 8, item: 'B' } } }),
      { _id: 1, results: [{ item: 'A', score: 5 }] },
    );
    assert.deepEqual(
      up({ _id: 1, results: [{ item: 'A', answers: [{ q: 1, a: 4 }, { q: 2, a: 6 }] }, { item: 'B', answers: [{ q: 1, a: 8 }] }] }, { $pull: { results: { answers: { $elemMatch: { q: 2, a: { $gte: 5 } } } } } }),
      { _id: 1, results: [{ item: 'B', answers: [{ q: 1, a: 8 }] }] },
    );
    assert.deepEqual(up({ _id: 1, s: [0, 2, 5, 5, 1, 0] }, { $pullAll: { s: [0, 5] } }), { _id: 1, s: [2, 1] });
    assert.deepEqual(up({ _id: 1, s: [[1], 1, [2, 1]] }, { $pull: { s: { $in: [1] } } }), { _id: 1, s: [[1], [2, 1]] });
    assert.deepEqual(up({ _id: 1, s: [[1], 1] }, { $pull: { s: [1] } }), { _id: 1, s: [1] });
  });
});

describe('positional updates', () => {
  it('$ updates the first element matched by the query', () => {
    assert.deepEqual(up({ _id: 1, grades: [85, 80, 80] }, { $set: { 'grades.$': 82 } }, { query: { _id: 1, grades: 80 } }), { _id: 1, grades: [85, 82, 80] });
    const doc = { _id: 4, grades: [{ grade: 80, mean: 75, std: 8 }, { grade: 85, mean: 90, std: 5 }, { grade: 85, mean: 85, std: 8 }] };
    assert.deepEqual(up(doc, { $set: { 'grades.$.std': 6 } }, { query: { _id: 4, 'grades.grade': 85 } })['grades'], [{ grade: 80, mean: 75, std: 8 }, { grade: 85, mean: 90, std: 6 }, { grade: 85, mean: 85, std: 8 }]);
    assert.deepEqual(up(doc, { $inc: { 'grades.$.std': 1 } }, { query: { grades: { $elemMatch: { grade: { $lte: 90 }, mean: { $gt: 80 } } } } })['grades'], [{ grade: 80, mean: 75, std: 8 }, { grade: 85, mean: 90, std: 6 }, { grade: 85, mean: 85, std: 8 }]);
  });

  it('$[] updates all elements, $[id] those matching arrayFilters', () => {
    assert.deepEqual(up({ _id: 1, grades: [85, 82, 80] }, { $inc: { 'grades.$[]': 10 } }), { _id: 1, grades: [95, 92, 90] });
    assert.deepEqual(up({ _id: 1, grades: [95, 92, 90] }, { $set: { 'grades.$[el]': 100 } }, { arrayFilters: [{ el: { $gte: 92 } }] }), { _id: 1, grades: [100, 100, 90] });
    const doc = { _id: 2, grades: [{ grade: 80, mean: 75, std: 6 }, { grade: 87, mean: 90, std: 3 }, { grade: 85, mean: 85, std: 4 }] };
    assert.deepEqual(up(doc, { $set: { 'grades.$[elem].mean': 100 } }, { arrayFilters: [{ 'elem.grade': { $gte: 85 } }] })['grades'], [{ grade: 80, mean: 75, std: 6 }, { grade: 87, mean: 100, std: 3 }, { grade: 85, mean: 100, std: 4 }]);
    const nested = { _id: 1, grades: [{ type: 'quiz', questions: [10, 8, 5] }, { type: 'quiz', questions: [8, 9, 6] }, { type: 'hw', questions: [5, 4, 3] }] };
    assert.deepEqual(up(nested, { $inc: { 'grades.$[t].questions.$[score]': 2 } }, { arrayFilters: [{ 't.type': 'quiz' }, { score: { $gte: 8 } }] })['grades'], [{ type: 'quiz', questions: [12, 10, 5] }, { type: 'quiz', questions: [10, 11, 6] }, { type: 'hw', questions: [5, 4, 3] }]);
    assert.deepEqual(up({ _id: 1, a: [{ b: [1, 2] }, { b: [3] }] }, { $inc: { 'a.$[].b.$[]': 1 } }), { _id: 1, a: [{ b: [2, 3] }, { b: [4] }] });
  });
});

describe('replacement, pipelines, conflicts, _id', () => {
  it('replacement keeps _id and replaces everything else', () => {
    assert.deepEqual(up({ _id: 1, a: 1, b: 2 }, { c: 3 }), { _id: 1, c: 3 });
    assert.deepEqual(up({ _id: 1, a: 1 }, { _id: 1, c: 3 }), { _id: 1, c: 3 });
    badQuery(() => up({ _id: 1 }, { _id: 2 }));
  });

  it('update pipelines: $set/$addFields, $unset, $project, $replaceRoot/$replaceWith', () => {
    const doc = { _id: 1, student: 'Skye', points: 75, commentsSemester1: 'great', commentsSemester2: 'good' };
    assert.deepEqual(
      up(doc, [{ $set: { status: 'Modified', comments: ['$commentsSemester1', '$commentsSemester2'], lastUpdate: '$$NOW' } }, { $unset: ['commentsSemester1', 'commentsSemester2'] }]),
      { _id: 1, student: 'Skye', points: 75, status: 'Modified', comments: ['great', 'good'], lastUpdate: NOW },
    );
    assert.deepEqual(up({ _id: 1, tests: [95, 92, 90] }, [{ $set: { average: { $trunc: [{ $avg: '$tests' }, 0] } } }, { $set: { grade: { $switch: { branches: [{ case: { $gte: ['$average', 90] }, then: 'A' }], default: 'F' } } } }]), { _id: 1, tests: [95, 92, 90], average: 92, grade: 'A' });
    assert.deepEqual(up({ _id: 1, a: 1, b: 2 }, [{ $project: { a: 1 } }]), { _id: 1, a: 1 });
    assert.deepEqual(up({ _id: 1, n: { x: 1 } }, [{ $replaceWith: { $mergeObjects: [{ _id: '$_id' }, '$n'] } }]), { _id: 1, x: 1 });
    assert.deepEqual(up({ _id: 1, n: { x: 1 } }, [{ $replaceRoot: { newRoot: '$n' } }]), { _id: 1, x: 1 });
  });

  it('conflicting paths are BAD_QUERY; _id is immutable', () => {
    badQuery(() => up({ _id: 1 }, { $set: { a: 1 }, $inc: { a: 1 } }));
    badQuery(() => up({ _id: 1 }, { $set: { 'a.b': 1 }, $unset: { a: '' } }));
    badQuery(() => up({ _id: 1, a: 1 }, { $rename: { a: 'b' }, $set: { b: 1 } }));
    badQuery(() => up({ _id: 1 }, { $set: { _id: 2 } }));
    assert.deepEqual(up({ _id: 1 }, { $set: { _id: 1, a: 1 } }), { _id: 1, a: 1 });
  });

  it('modified is false when nothing changes', () => {
    assert.equal(applyUpdate({ _id: 1, a: 1 }, { $set: { a: 1 } }, { isUpsertInsert: false }).modified, false);
    assert.equal(applyUpdate({ _id: 1, a: [1] }, { $addToSet: { a: 1 } }, { isUpsertInsert: false }).modified, false);
    assert.equal(applyUpdate({ _id: 1, a: 1 }, { $set: { a: 2 } }, { isUpsertInsert: false }).modified, true);
  });

  it('upsertSeed takes equality fields from the filter', () => {
    assert.deepEqual(upsertSeed({ name: 'x', 'a.b': 1, age: { $gt: 5 }, $and: [{ c: 2 }], d: { $eq: 3 }, e: { $in: [4] }, $or: [{ f: 1 }, { g: 2 }] }), { name: 'x', a: { b: 1 }, c: 2, d: 3, e: 4 });
  });
});
