/**
 * Aggregation stages, expression operators and find() projections: examples from the MongoDB
 * manual (sales, inventory, orders collections).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Decimal128, Long, ObjectId } from 'bson';
import { compileProjection, evaluateExpression, runPipeline, type Document, type PipelineContext } from '../../src/query/index.ts';
import { LargetableError } from '../../src/errors.ts';

const sales: Document[] = [
  { _id: 1, item: 'abc', price: 10, quantity: 2, date: new Date('2014-03-01T08:00:00Z') },
  { _id: 2, item: 'jkl', price: 20, quantity: 1, date: new Date('2014-03-01T09:00:00Z') },
  { _id: 3, item: 'xyz', price: 5, quantity: 10, date: new Date('2014-03-15T09:00:00Z') },
  { _id: 4, item: 'xyz', price: 5, quantity: 20, date: new Date('2014-04-04T11:21:39.736Z') },
  { _id: 5, item: 'abc', price: 10, quantity: 10, date: new Date('2014-04-04T21:23:13.331Z') },
  { _id: 6, item: 'def', price: 7.5, quantity: 5, date: new Date('2015-06-04T05:08:13Z') },
  { _id: 7, item: 'def', price: 7.5, quantity: 10, date: new Date('2015-09-10T08:43:00Z') },
  { _id: 8, item: 'abc', price: 10, quantity: 5, date: new Date('2016-02-06T20:20:13Z') },
];

const collections: Record<string, Document[]> = {
  inventory: [
    { _id: 1, sku: 'almonds', description: 'product 1', instock: 120 },
    { _id: 2, sku: 'bread', description: 'product 2', instock: 80 },
    { _id: 3, sku: 'cashews', description: 'product 3', instock: 60 },
    { _id: 4, sku: 'pecans', description: 'product 4', instock: 70 },
    { _id: 5, sku: null, description: 'Incomplete' },
    { _id: 6 },
  ],
  orders: [
    { _id: 1, item: 'almonds', price: 12, quantity: 2 },
    { _id: 2, item: 'pecans', price: 20, quantity: 1 },
    { _id: 3 },
  ],
};

async function* iter(docs: Document[]): AsyncIterable<Document> {
  yield* docs;
}

const written: Record<string, Document[]> = {};
const ctx: PipelineContext = {
  collection: (name) => iter(collections[name] ?? []),
  write: async (name, docs) => {
    written[name] = docs;
  },
  now: new Date('2026-01-01T00:00:00Z'),
};

async function run(docs: Document[], pipeline: Document[]): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of runPipeline(iter(docs), pipeline, ctx)) out.push(d);
  return out;
}

const ev = (expr: unknown, doc: Document = {}) => evaluateExpression(expr, doc);

describe('stages', () => {
  it('$group with accumulators, $sort, $match, $count', async () => {
    const r = await run(sales, [
      { $match: { date: { $gte: new Date('2014-01-01'), $lt: new Date('2015-01-01') } } },
      { $group: { _id: { $dateToString: { format: '%Y-%m-%d', date: '$date' } }, totalSaleAmount: { $sum: { $multiply: ['$price', '$quantity'] } }, averageQuantity: { $avg: '$quantity' }, count: { $sum: 1 } } },
      { $sort: { totalSaleAmount: -1 } },
    ]);
    assert.deepEqual(r, [
      { _id: '2014-04-04', totalSaleAmount: 200, averageQuantity: 15, count: 2 },
      { _id: '2014-03-15', totalSaleAmount: 50, averageQuantity: 10, count: 1 },
      { _id: '2014-03-01', totalSaleAmount: 40, averageQuantity: 1.5, count: 2 },
    ]);
    const all = await run(sales, [{ $group: { _id: null, n: { $count: {} }, items: { $addToSet: '$item' }, first: { $first: '$_id' }, last: { $last: '$_id' }, max: { $max: '$price' }, min: { $min: '$price' }, qs: { $push: '$quantity' }, sd: { $stdDevPop: '$price' } } }]);
    assert.equal(all[0]?.['n'], 8);
    assert.deepEqual(all[0]?.['items'], ['abc', 'jkl', 'xyz', 'def']);
    assert.deepEqual([all[0]?.['first'], all[0]?.['last'], all[0]?.['max'], all[0]?.['min']], [1, 8, 20, 5]);
    assert.deepEqual(all[0]?.['qs'], [2, 1, 10, 20, 10, 5, 10, 5]);
    assert.ok(Math.abs((all[0]?.['sd'] as number) - 4.4634) < 1e-3);
    assert.deepEqual(await run(sales, [{ $match: { price: { $gt: 9 } } }, { $count: 'n' }]), [{ n: 4 }]);
    assert.deepEqual(await run([], [{ $count: 'n' }]), []);
    assert.deepEqual(await run(sales, [{ $group: { _id: null, s: { $stdDevSamp: '$quantity' }, none: { $avg: '$nothing' } } }, { $project: { _id: 0, none: 1 } }]), [{ none: null }]);
  });

  it('N-accumulators and $top/$bottom', async () => {
    const games = [
      { playerId: 'PlayerA', gameId: 'G1', score: 31 },
      { playerId: 'PlayerB', gameId: 'G1', score: 33 },
      { playerId: 'PlayerC', gameId: 'G1', score: 99 },
      { playerId: 'PlayerD', gameId: 'G1', score: 1 },
      { playerId: 'PlayerA', gameId: 'G2', score: 10 },
      { playerId: 'PlayerB', gameId: 'G2', score: 14 },
    ];
    const r = await run(games, [
      { $group: { _id: '$gameId', top: { $top: { output: ['$playerId', '$score'], sortBy: { score: -1 } } }, bottom: { $bottom: { output: '$playerId', sortBy: { score: -1 } } }, top2: { $topN: { n: 2, output: '$score', sortBy: { score: -1 } } }, bottom2: { $bottomN: { n: 2, output: '$score', sortBy: { score: -1 } } }, first2: { $firstN: { input: '$playerId', n: 2 } }, last2: { $lastN: { input: '$score', n: 2 } }, max2: { $maxN: { input: '$score', n: 2 } }, min2: { $minN: { input: '$score', n: 3 } } } },
      { $sort: { _id: 1 } },
    ]);
    assert.deepEqual(r[0], { _id: 'G1', top: ['PlayerC', 99], bottom: 'PlayerD', top2: [99, 33], bottom2: [31, 1], first2: ['PlayerA', 'PlayerB'], last2: [99, 1], max2: [99, 33], min2: [1, 31, 33] });
    assert.deepEqual(r[1], { _id: 'G2', top: ['PlayerB', 14], bottom: 'PlayerA', top2: [14, 10], bottom2: [14, 10], first2: ['PlayerA', 'PlayerB'], last2: [10, 14], max2: [14, 10], min2: [10, 14] });
  });

  it('$project, $addFields (nested, arrays), $unset, $replaceRoot, $limit, $skip', async () => {
    const docs = [{ _id: 1, a: { b: 1, c: 2 }, arr: [{ x: 1 }, { x: 2 }], s: 'x' }];
    assert.deepEqual(await run(docs, [{ $project: { 'a.b': 1, s: 1, n: { $add: ['$a.b', 10] } } }]), [{ _id: 1, a: { b: 1 }, s: 'x', n: 11 }]);
    assert.deepEqual(await run(docs, [{ $project: { _id: 0, a: 0, arr: 0 } }]), [{ s: 'x' }]);
    assert.deepEqual(await run(docs, [{ $addFields: { 'a.d': 3, 'arr.y': 0, t: '$$ROOT.s' } }]), [{ _id: 1, a: { b: 1, c: 2, d: 3 }, arr: [{ x: 1, y: 0 }, { x: 2, y: 0 }], s: 'x', t: 'x' }]);
    assert.deepEqual(await run(docs, [{ $set: { a: { e: 5 } } }]), [{ _id: 1, a: { b: 1, c: 2, e: 5 }, arr: [{ x: 1 }, { x: 2 }], s: 'x' }]);
    assert.deepEqual(await run(docs, [{ $unset: ['a', 'arr'] }]), [{ _id: 1, s: 'x' }]);
    assert.deepEqual(await run(docs, [{ $replaceRoot: { newRoot: '$a' } }]), [{ b: 1, c: 2 }]);
    assert.deepEqual(await run(docs, [{ $replaceWith: { $mergeObjects: [{ z: 0 }, '$a'] } }]), [{ z: 0, b: 1, c: 2 }]);
    assert.deepEqual(await run(docs, [{ $addFields: { gone: '$$REMOVE', s: '$$REMOVE' } }]), [{ _id: 1, a: { b: 1, c: 2 }, arr: [{ x: 1 }, { x: 2 }] }]);
    assert.deepEqual((await run(sales, [{ $sort: { _id: -1 } }, { $skip: 2 }, { $limit: 2 }])).map((d) => d['_id']), [6, 5]);
  });

  it('$unwind with includeArrayIndex and preserveNullAndEmptyArrays', async () => {
    const docs = [{ _id: 1, item: 'A', sizes: ['S', 'M'] }, { _id: 2, item: 'B', sizes: [] }, { _id: 3, item: 'C', sizes: 'M' }, { _id: 4, item: 'D' }, { _id: 5, item: 'E', sizes: null }];
    assert.deepEqual(await run(docs, [{ $unwind: '$sizes' }]), [{ _id: 1, item: 'A', sizes: 'S' }, { _id: 1, item: 'A', sizes: 'M' }, { _id: 3, item: 'C', sizes: 'M' }]);
    assert.deepEqual(await run(docs, [{ $unwind: { path: '$sizes', includeArrayIndex: 'i', preserveNullAndEmptyArrays: true } }]), [
      { _id: 1, item: 'A', sizes: 'S', i: 0 },
      { _id: 1, item: 'A', sizes: 'M', i: 1 },
      { _id: 2, item: 'B', i: null },
      { _id: 3, item: 'C', sizes: 'M', i: null },
      { _id: 4, item: 'D', i: null },
      { _id: 5, item: 'E', sizes: null, i: null },
    ]);
  });

  it('$lookup equality, with pipeline and let, and $unionWith', async () => {
    const r = await run(collections['orders'] as Document[], [{ $lookup: { from: 'inventory', localField: 'item', foreignField: 'sku', as: 'inv' } }]);
    assert.deepEqual(r.map((d) => (d['inv'] as Document[]).map((x) => x['_id'])), [[1], [4], [5, 6]]);
    const r2 = await run(collections['orders'] as Document[], [
      { $match: { item: { $exists: true } } },
      { $lookup: { from: 'inventory', let: { it: '$item', q: '$quantity' }, pipeline: [{ $match: { $expr: { $and: [{ $eq: ['$sku', '$$it'] }, { $gte: ['$instock', '$$q'] }] } } }, { $project: { _id: 0, sku: 1 } }], as: 'stock' } },
    ]);
    assert.deepEqual(r2.map((d) => d['stock']), [[{ sku: 'almonds' }], [{ sku: 'pecans' }]]);
    const arr = await run([{ _id: 9, items: ['bread', 'cashews'] }], [{ $lookup: { from: 'inventory', localField: 'items', foreignField: 'sku', as: 'f' } }, { $project: { n: { $size: '$f' } } }]);
    assert.deepEqual(arr, [{ _id: 9, n: 2 }]);
    const lf = await run([{ _id: 1, item: 'almonds' }], [{ $lookup: { from: 'inventory', pipeline: [{ $facet: { n: [{ $count: 'c' }] } }], as: 'f' } }]);
    assert.deepEqual(lf[0]?.['f'], [{ n: [{ c: 6 }] }]);
    const u = await run([{ _id: 'x' }], [{ $unionWith: { coll: 'orders', pipeline: [{ $project: { _id: 1 } }] } }]);
    assert.deepEqual(u, [{ _id: 'x' }, { _id: 1 }, { _id: 2 }, { _id: 3 }]);
  });

  it('$facet, $bucket, $bucketAuto, $sortByCount, $sample', async () => {
    const f = await run(sales, [{ $facet: { byItem: [{ $sortByCount: '$item' }], cheap: [{ $match: { price: { $lt: 8 } } }, { $count: 'n' }] } }]);
    assert.deepEqual(f[0]?.['cheap'], [{ n: 4 }]);
    assert.deepEqual((f[0]?.['byItem'] as Document[])[0], { _id: 'abc', count: 3 });
    const b = await run(sales, [{ $bucket: { groupBy: '$price', boundaries: [0, 8, 15], default: 'Other', output: { count: { $sum: 1 }, items: { $addToSet: '$item' } } } }]);
    assert.deepEqual(b, [{ _id: 0, count: 4, items: ['xyz', 'def'] }, { _id: 8, count: 3, items: ['abc'] }, { _id: 'Other', count: 1, items: ['jkl'] }]);
    const ba = await run(sales, [{ $bucketAuto: { groupBy: '$quantity', buckets: 3 } }]);
    assert.equal(ba.reduce((n, d) => n + (d['count'] as number), 0), 8);
    const bounds = ba.map((d) => d['_id'] as { min: number; max: number });
    assert.equal(bounds[0]?.min, 1);
    assert.equal(bounds[bounds.length - 1]?.max, 20);
    for (let i = 1; i < bounds.length; i++) assert.equal(bounds[i - 1]?.max, bounds[i]?.min);
    const s = await run(sales, [{ $sample: { size: 3 } }]);
    assert.equal(s.length, 3);
    assert.equal(new Set(s.map((d) => d['_id'])).size, 3);
  });

  it('$out and $merge hand the results to the writer; $vectorSearch needs the context', async () => {
    assert.deepEqual(await run(sales, [{ $match: { item: 'abc' } }, { $out: 'abcs' }]), []);
    assert.deepEqual(written['abcs']?.map((d) => d['_id']), [1, 5, 8]);
    await run(sales, [{ $limit: 1 }, { $merge: { into: 'm', on: '_id', whenMatched: 'replace' } }]);
    assert.equal(written['m']?.length, 1);
    await assert.rejects(async () => run(sales, [{ $vectorSearch: { index: 'v' } }]), (e: unknown) => e instanceof LargetableError && e.code === 'NOT_SUPPORTED');
  });
});

describe('validation happens before any document is read', () => {
  it('bad expressions throw from runPipeline/compileFilter/compileProjection themselves', () => {
    const bad = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof LargetableError && e.code === 'BAD_QUERY');
    bad(() => runPipeline(iter([]), [{ $project: { x: { $bogus: 1 } } }], ctx));
    bad(() => runPipeline(iter([]), [{ $addFields: { x: { $add: [1, { $nope: 2 }] } } }], ctx));
    bad(() => runPipeline(iter([]), [{ $group: { _id: { $nope: 1 } } }], ctx));
    bad(() => runPipeline(iter([]), [{ $group: { _id: null, s: { $sum: { $nope: 1 } } } }], ctx));
    bad(() => runPipeline(iter([]), [{ $replaceWith: { a: { $x: 1, $y: 2 } } }], ctx));
    bad(() => runPipeline(iter([]), [{ $match: { $expr: { $eq: ['$a', { $bad: 1 }] } } }], ctx));
    bad(() => compileProjection({ x: { $cond: [true, { $what: 1 }, 0] } }));
    assert.doesNotThrow(() => runPipeline(iter([]), [{ $project: { x: { $literal: { $anything: 1 } } } }], ctx));
  });
});

describe('expression operators', () => {
  it('arithmetic', () => {
    assert.equal(ev({ $add: [1, 2, 3] }), 6);
    assert.deepEqual(ev({ $add: [new Date(1000), 500] }), new Date(1500));
    assert.equal(ev({ $subtract: [new Date(3000), new Date(1000)] }), 2000);
    assert.equal(ev({ $multiply: [2, 3.5] }), 7);
    assert.equal(ev({ $divide: [9, 2] }), 4.5);
    assert.equal(ev({ $mod: [-7, 3] }), -1);
    assert.deepEqual([ev({ $abs: -2 }), ev({ $ceil: 1.2 }), ev({ $floor: -1.2 }), ev({ $sqrt: 16 }), ev({ $pow: [2, 10] }), ev({ $log10: 1000 })], [2, 2, -2, 4, 1024, 3]);
    assert.deepEqual([ev({ $round: [2.5, 0] }), ev({ $round: [3.5, 0] }), ev({ $round: [1234.5678, 2] }), ev({ $trunc: [-1.9, 0] }), ev({ $round: [1234.5678, -2] })], [2, 4, 1234.57, -1, 1200]);
    assert.equal(ev({ $add: [1, null] }), null);
    assert.equal(ev({ $add: ['$missing', 1] }), null);
    assert.equal((ev({ $add: [Long.fromNumber(2), 3] }) as Long).toNumber(), 5);
    assert.equal((ev({ $add: [Decimal128.fromString('1.1'), 1] }) as Decimal128).toString(), '2.1');
  });

  it('comparison (missing < null), boolean, conditional', () => {
    assert.deepEqual([ev({ $cmp: [1, 2] }), ev({ $eq: ['a', 'a'] }), ev({ $gt: ['b', 1] }), ev({ $lte: [null, 0] }), ev({ $ne: [1, Long.fromNumber(1)] })], [-1, true, true, true, false]);
    assert.equal(ev({ $eq: ['$missing', null] }), false);
    assert.equal(ev({ $lt: ['$missing', null] }), true);
    assert.deepEqual([ev({ $and: [1, 'x', true] }), ev({ $and: [1, 0] }), ev({ $or: [null, false, 0] }), ev({ $not: [[]] }), ev({ $and: [] })], [true, false, false, false, true]);
    assert.equal(ev({ $cond: { if: { $gte: ['$q', 250] }, then: 30, else: 20 } }, { q: 300 }), 30);
    assert.equal(ev({ $cond: [false, 1, 2] }), 2);
    assert.equal(ev({ $ifNull: ['$a', '$b', 'd'] }, { b: 'B' }), 'B');
    assert.equal(ev({ $switch: { branches: [{ case: { $eq: ['$x', 1] }, then: 'one' }], default: 'other' } }, { x: 2 }), 'other');
  });

  it('strings', () => {
    assert.equal(ev({ $concat: ['a', '-', 'b'] }), 'a-b');
    assert.equal(ev({ $concat: ['a', null] }), null);
    assert.deepEqual([ev({ $toUpper: 'abc' }), ev({ $toLower: 'ABC' }), ev({ $toUpper: null })], ['ABC', 'abc', '']);
    assert.deepEqual([ev({ $substrCP: ['café', 2, 2] }), ev({ $substrBytes: ['abcde', 1, 2] }), ev({ $substr: ['abcde', 1, -1] })], ['fé', 'bc', 'bcde']);
    assert.deepEqual([ev({ $strLenCP: 'café😀' }), ev({ $strLenBytes: 'café' })], [5, 5]);
    assert.deepEqual([ev({ $trim: { input: '  x  ' } }), ev({ $ltrim: { input: 'xxay', chars: 'x' } }), ev({ $rtrim: { input: 'ayy', chars: 'y' } })], ['x', 'ay', 'a']);
    assert.deepEqual(ev({ $split: ['June-15-2013', '-'] }), ['June', '15', '2013']);
    assert.deepEqual([ev({ $indexOfCP: ['cafeteria', 'e'] }), ev({ $indexOfBytes: ['abc', 'z'] }), ev({ $strcasecmp: ['ABC', 'abc'] })], [3, -1, 0]);
    assert.equal(ev({ $regexMatch: { input: 'Hello World', regex: 'world', options: 'i' } }), true);
    assert.deepEqual(ev({ $regexFind: { input: 'café au lait', regex: '(au) (l)' } }), { match: 'au l', idx: 5, captures: ['au', 'l'] });
    assert.deepEqual((ev({ $regexFindAll: { input: 'a1b22c333', regex: '[0-9]+' } }) as Document[]).map((m) => m['match']), ['1', '22', '333']);
    assert.deepEqual([ev({ $replaceOne: { input: 'aXbX', find: 'X', replacement: { $literal: '$1' } } }), ev({ $replaceAll: { input: 'aXbX', find: 'X', replacement: 'y' } })], ['a$1bX', 'ayby']);
  });

  it('dates', () => {
    const d = new Date('2014-01-01T08:15:39.736Z');
    const doc = { date: d };
    assert.deepEqual(
      [ev({ $year: '$date' }, doc), ev({ $month: '$date' }, doc), ev({ $dayOfMonth: '$date' }, doc), ev({ $hour: '$date' }, doc), ev({ $minute: '$date' }, doc), ev({ $second: '$date' }, doc), ev({ $millisecond: '$date' }, doc), ev({ $dayOfYear: '$date' }, doc), ev({ $dayOfWeek: '$date' }, doc), ev({ $week: '$date' }, doc), ev({ $isoWeek: '$date' }, doc), ev({ $isoDayOfWeek: '$date' }, doc)],
      [2014, 1, 1, 8, 15, 39, 736, 1, 4, 0, 1, 3],
    );
    assert.equal(ev({ $dateToString: { format: '%Y-%m-%d %H:%M:%S:%L%z', date: '$date' } }, doc), '2014-01-01 08:15:39:736+0000');
    assert.equal(ev({ $dateToString: { format: '%H:%M', date: '$date', timezone: '+05:30' } }, doc), '13:45');
    assert.equal(ev({ $hour: { date: '$date', timezone: 'America/New_York' } }, doc), 3);
    assert.deepEqual(ev({ $dateAdd: { startDate: new Date('2021-01-31T00:00:00Z'), unit: 'month', amount: 1 } }), new Date('2021-02-28T00:00:00Z'));
    assert.deepEqual(ev({ $dateSubtract: { startDate: new Date('2021-03-01T00:00:00Z'), unit: 'day', amount: 1 } }), new Date('2021-02-28T00:00:00Z'));
    assert.equal(ev({ $dateDiff: { startDate: new Date('2020-12-31T23:59:00Z'), endDate: new Date('2021-01-01T00:01:00Z'), unit: 'year' } }), 1);
    assert.equal(ev({ $dateDiff: { startDate: new Date('2021-01-01T00:00:00Z'), endDate: new Date('2021-01-03T12:00:00Z'), unit: 'day' } }), 2);
    assert.deepEqual(ev({ $dateTrunc: { date: new Date('2021-03-15T10:20:30Z'), unit: 'month' } }), new Date('2021-03-01T00:00:00Z'));
    assert.deepEqual(ev({ $dateTrunc: { date: new Date('2021-03-15T10:20:30Z'), unit: 'hour', binSize: 2 } }), new Date('2021-03-15T10:00:00Z'));
    assert.deepEqual(ev({ $dateFromParts: { year: 2017, month: 2, day: 8, hour: 12 } }), new Date('2017-02-08T12:00:00Z'));
    assert.deepEqual(ev({ $dateFromString: { dateString: '2017-02-08T12:10:40.787' } }), new Date('2017-02-08T12:10:40.787Z'));
    assert.deepEqual(ev({ $dateToParts: { date: new Date('2017-01-01T01:29:09.123Z') } }), { year: 2017, month: 1, day: 1, hour: 1, minute: 29, second: 9, millisecond: 123 });
    assert.deepEqual(ev({ $toDate: new ObjectId('5ab9cbfa31c2ab715d42129e') }), new Date('2018-03-27T04:43:38Z'));
  });

  it('arrays and sets', () => {
    const doc = { a: [1, 2, 3, 4], b: [{ v: 1 }, { v: 5 }] };
    assert.deepEqual([ev({ $size: '$a' }, doc), ev({ $arrayElemAt: ['$a', -1] }, doc), ev({ $first: '$a' }, doc), ev({ $last: '$a' }, doc)], [4, 4, 1, 4]);
    assert.deepEqual(ev({ $filter: { input: '$a', as: 'n', cond: { $gt: ['$$n', 2] } } }, doc), [3, 4]);
    assert.deepEqual(ev({ $filter: { input: '$a', cond: { $gt: ['$$this', 1] }, limit: 2 } }, doc), [2, 3]);
    assert.deepEqual(ev({ $map: { input: '$b', as: 'x', in: { $multiply: ['$$x.v', 2] } } }, doc), [2, 10]);
    assert.equal(ev({ $reduce: { input: '$a', initialValue: 0, in: { $add: ['$$value', '$$this'] } } }, doc), 10);
    assert.deepEqual([ev({ $in: [2, '$a'] }, doc), ev({ $indexOfArray: ['$a', 3] }, doc), ev({ $isArray: '$a' }, doc)], [true, 2, true]);
    assert.deepEqual([ev({ $range: [0, 10, 3] }), ev({ $reverseArray: '$a' }, doc), ev({ $slice: ['$a', -2] }, doc), ev({ $slice: ['$a', 1, 2] }, doc)], [[0, 3, 6, 9], [4, 3, 2, 1], [3, 4], [2, 3]]);
    assert.deepEqual(ev({ $concatArrays: ['$a', [5], null] }, doc), null);
    assert.deepEqual(ev({ $concatArrays: ['$a', [5]] }, doc), [1, 2, 3, 4, 5]);
    assert.deepEqual(ev({ $zip: { inputs: [['a', 'b'], [1, 2, 3]] } }), [['a', 1], ['b', 2]]);
    assert.deepEqual(ev({ $arrayToObject: [[['k', 1], ['j', 2]]] }), { k: 1, j: 2 });
    assert.deepEqual(ev({ $objectToArray: { x: 1 } }), [{ k: 'x', v: 1 }]);
    assert.deepEqual(ev('$b.v', doc), [1, 5]);
    assert.deepEqual(ev({ $sortArray: { input: '$b', sortBy: { v: -1 } } }, doc), [{ v: 5 }, { v: 1 }]);
    assert.deepEqual([ev({ $setUnion: [[1, 2], [2, 3]] }), ev({ $setIntersection: [[1, 2], [2, 3]] }), ev({ $setDifference: [[1, 2], [2]] }), ev({ $setEquals: [[1, 2], [2, 1, 1]] }), ev({ $setIsSubset: [[1], [1, 2]] })], [[1, 2, 3], [2], [1], true, true]);
    assert.deepEqual([ev({ $anyElementTrue: [[0, false, 1]] }), ev({ $allElementsTrue: [[1, 0]] })], [true, false]);
    assert.deepEqual([ev({ $sum: '$a' }, doc), ev({ $avg: [1, 2, 'x'] }), ev({ $max: '$a' }, doc), ev({ $min: [3, null, 1] })], [10, 1.5, 4, 1]);
  });

  it('types, conversion, variables, literals', () => {
    assert.deepEqual([ev({ $type: 1 }), ev({ $type: 1.5 }), ev({ $type: '$nope' }), ev({ $type: [[1]] }), ev({ $type: new ObjectId() })], ['int', 'double', 'missing', 'array', 'objectId']);
    assert.deepEqual([ev({ $toInt: '42' }), ev({ $toDouble: '1.5' }), ev({ $toString: 5 }), ev({ $toBool: 0 }), ev({ $toString: new Date(0) })], [42, 1.5, '5', false, '1970-01-01T00:00:00.000Z']);
    assert.equal((ev({ $toLong: '9007199254740993' }) as Long).toString(), '9007199254740993');
    assert.equal(ev({ $convert: { input: 'abc', to: 'int', onError: -1 } }), -1);
    assert.equal(ev({ $convert: { input: null, to: 'int', onNull: 0 } }), 0);
    assert.equal(ev({ $convert: { input: '7', to: 16 } }), 7);
    assert.equal(ev({ $isNumber: Long.fromNumber(1) }), true);
    assert.equal(ev({ $let: { vars: { low: 1, high: '$$ROOT.h' }, in: { $gt: ['$$high', '$$low'] } } }, { h: 5 }), true);
    assert.deepEqual(ev({ $literal: { $add: [1, 2] } }), { $add: [1, 2] });
    assert.equal(ev('$$CURRENT.x', { x: 3 }), 3);
    assert.equal(evaluateExpression('$$user', {}, { user: 'u' }), 'u');
    assert.deepEqual(ev({ $mergeObjects: [{ a: 1 }, null, { b: 2, a: 3 }] }), { a: 3, b: 2 });
    assert.equal(ev({ $getField: 'a.b' }, { 'a.b': 1 }), 1);
    assert.deepEqual(ev({ $setField: { field: 'x', input: { a: 1 }, value: 2 } }), { a: 1, x: 2 });
    assert.deepEqual(ev({ a: '$x', b: { c: { $add: [1, 1] } } }, { x: 1 }), { a: 1, b: { c: 2 } });
  });
});

describe('find() projections', () => {
  const doc = { _id: 1, item: 'x', size: { h: 1, w: 2, uom: 'cm' }, instock: [{ wh: 'A', qty: 5 }, { wh: 'C', qty: 15 }], tags: ['a', 'b', 'c', 'd'] };
  it('inclusion, exclusion, dotted and nested paths', () => {
    assert.deepEqual(compileProjection({ item: 1 })(doc), { _id: 1, item: 'x' });
    assert.deepEqual(compileProjection({ item: 1, _id: 0 })(doc), { item: 'x' });
    assert.deepEqual(compileProjection({ 'size.uom': 1 })(doc), { _id: 1, size: { uom: 'cm' } });
    assert.deepEqual(compileProjection({ size: { uom: 1 } })(doc), { _id: 1, size: { uom: 'cm' } });
    assert.deepEqual(compileProjection({ 'instock.qty': 1 })(doc), { _id: 1, instock: [{ qty: 5 }, { qty: 15 }] });
    assert.deepEqual(compileProjection({ size: 0, instock: 0, tags: 0 })(doc), { _id: 1, item: 'x' });
    assert.deepEqual(compileProjection({ 'size.h': 0, 'size.w': 0, instock: 0, tags: 0 })(doc), { _id: 1, item: 'x', size: { uom: 'cm' } });
    assert.deepEqual(compileProjection({ item: 1, total: { $add: ['$size.h', '$size.w'] }, lit: 'yes' })(doc), { _id: 1, item: 'x', total: 3, lit: 'yes' });
  });
  it('$slice, $elemMatch, positional $', () => {
    assert.deepEqual(compileProjection({ tags: { $slice: 2 } })(doc)['tags'], ['a', 'b']);
    assert.deepEqual(compileProjection({ tags: { $slice: -1 } })(doc)['tags'], ['d']);
    assert.deepEqual(compileProjection({ tags: { $slice: [1, 2] } })(doc)['tags'], ['b', 'c']);
    assert.deepEqual(Object.keys(compileProjection({ tags: { $slice: 1 } })(doc)), ['_id', 'item', 'size', 'instock', 'tags']);
    assert.deepEqual(compileProjection({ instock: { $elemMatch: { qty: { $gt: 10 } } } })(doc), { _id: 1, instock: [{ wh: 'C', qty: 15 }] });
    assert.deepEqual(compileProjection({ instock: { $elemMatch: { qty: 99 } } })(doc), { _id: 1 });
    assert.deepEqual(compileProjection({ 'instock.$': 1 }, { 'instock.wh': 'C' })(doc), { _id: 1, instock: [{ wh: 'C', qty: 15 }] });
    assert.deepEqual(compileProjection({ 'tags.$': 1 }, { tags: 'c' })(doc), { _id: 1, tags: ['c'] });
  });
});
