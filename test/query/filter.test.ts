/**
 * Query operators, BSON comparison order and sorts: hand-written examples from the MongoDB manual
 * (inventory-style collections) and MongoDB's documented edge cases.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, BSONRegExp, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } from 'bson';
import { compareValues, compileFilter, compileSort, getPathValues, type Document } from '../../src/query/index.ts';

const inventory: Document[] = [
  { _id: 1, item: 'journal', qty: 25, tags: ['blank', 'red'], size: { h: 14, w: 21, uom: 'cm' }, instock: [{ warehouse: 'A', qty: 5 }, { warehouse: 'C', qty: 15 }] },
  { _id: 2, item: 'notebook', qty: 50, tags: ['red', 'blank'], size: { h: 8.5, w: 11, uom: 'in' }, instock: [{ warehouse: 'C', qty: 5 }] },
  { _id: 3, item: 'paper', qty: 100, tags: ['red', 'blank', 'plain'], size: { h: 8.5, w: 11, uom: 'in' }, instock: [{ warehouse: 'A', qty: 60 }, { warehouse: 'B', qty: 15 }] },
  { _id: 4, item: 'planner', qty: 75, tags: ['blank', 'red'], size: { h: 22.85, w: 30, uom: 'cm' }, instock: [{ warehouse: 'A', qty: 40 }, { warehouse: 'B', qty: 5 }] },
  { _id: 5, item: 'postcard', qty: 45, tags: ['blue'], size: { h: 10, w: 15.25, uom: 'cm' }, instock: [{ warehouse: 'B', qty: 15 }, { warehouse: 'C', qty: 35 }] },
];

function ids(filter: Document, docs: Document[] = inventory): unknown[] {
  const m = compileFilter(filter);
  return docs.filter((d) => m.test(d)).map((d) => d['_id']);
}

describe('comparison and logical operators', () => {
  it('equality, ranges, $in/$nin, $ne', () => {
    assert.deepEqual(ids({ item: 'paper' }), [3]);
    assert.deepEqual(ids({ qty: { $gt: 45, $lte: 75 } }), [2, 4]);
    assert.deepEqual(ids({ qty: { $in: [25, 100] } }), [1, 3]);
    assert.deepEqual(ids({ qty: { $nin: [25, 100] } }), [2, 4, 5]);
    assert.deepEqual(ids({ 'size.uom': { $ne: 'cm' } }), [2, 3]);
    assert.deepEqual(ids({ item: { $in: [/^p/] } }), [3, 4, 5]);
  });

  it('$and, $or, $nor, $not', () => {
    assert.deepEqual(ids({ $or: [{ qty: { $lt: 30 } }, { item: /^p/ }] }), [1, 3, 4, 5]);
    assert.deepEqual(ids({ $and: [{ qty: { $gt: 30 } }, { qty: { $lt: 80 } }] }), [2, 4, 5]);
    assert.deepEqual(ids({ $nor: [{ qty: { $lt: 50 } }, { 'size.uom': 'cm' }] }), [2, 3]);
    assert.deepEqual(ids({ qty: { $not: { $gt: 50 } } }), [1, 2, 5]);
    assert.deepEqual(ids({ item: { $not: /^p/ } }), [1, 2]);
  });

  it('type bracketing: range operators only match the operand type', () => {
    const docs = [{ _id: 1, v: 5 }, { _id: 2, v: '6' }, { _id: 3, v: new Date(10) }, { _id: 4, v: null }, { _id: 5 }, { _id: 6, v: Long.fromNumber(7) }, { _id: 7, v: Decimal128.fromString('8.5') }];
    assert.deepEqual(ids({ v: { $gt: 1 } }, docs), [1, 6, 7]);
    assert.deepEqual(ids({ v: { $gt: '' } }, docs), [2]);
    assert.deepEqual(ids({ v: { $lt: new Date(100) } }, docs), [3]);
    assert.deepEqual(ids({ v: { $gte: null } }, docs), [4, 5]);
    assert.deepEqual(ids({ v: { $gt: null } }, docs), []);
    assert.deepEqual(ids({ v: { $gt: new MinKey() } }, docs), [1, 2, 3, 4, 6, 7]);
    assert.deepEqual(ids({ v: 7 }, docs), [6]);
    assert.deepEqual(ids({ v: 8.5 }, docs), [7]);
  });

  it('null matches null and missing, not undefined-as-value arrays', () => {
    const docs = [{ _id: 1, item: null }, { _id: 2 }, { _id: 3, item: [null, 1] }, { _id: 4, item: [] }, { _id: 5, item: 0 }];
    assert.deepEqual(ids({ item: null }, docs), [1, 2, 3]);
    assert.deepEqual(ids({ item: { $ne: null } }, docs), [4, 5]);
    assert.deepEqual(ids({ item: { $type: 'null' } }, docs), [1, 3]);
    assert.deepEqual(ids({ item: { $exists: false } }, docs), [2]);
    assert.deepEqual(ids({ item: { $in: [null] } }, docs), [1, 2, 3]);
  });

  it('NaN equals NaN, -0 equals 0, numbers equal across types', () => {
    const docs = [{ _id: 1, v: NaN }, { _id: 2, v: -0 }, { _id: 3, v: 0 }, { _id: 4, v: Long.fromNumber(0) }, { _id: 5, v: Decimal128.fromString('0.0') }];
    assert.deepEqual(ids({ v: NaN }, docs), [1]);
    assert.deepEqual(ids({ v: 0 }, docs), [2, 3, 4, 5]);
    assert.deepEqual(ids({ v: -0 }, docs), [2, 3, 4, 5]);
    assert.deepEqual(ids({ v: { $gt: NaN } }, docs), []);
    assert.deepEqual(ids({ v: { $gte: NaN } }, docs), [1]);
    assert.deepEqual(ids({ v: { $lt: 1 } }, docs), [2, 3, 4, 5]);
    assert.deepEqual(ids({ v: { $lte: Infinity } }, docs), [2, 3, 4, 5]);
  });
});

describe('embedded documents and arrays', () => {
  it('embedded document equality is exact, including field order', () => {
    assert.deepEqual(ids({ size: { h: 14, w: 21, uom: 'cm' } }), [1]);
    assert.deepEqual(ids({ size: { w: 21, h: 14, uom: 'cm' } }), []);
    assert.deepEqual(ids({ 'size.h': { $lt: 15 }, 'size.uom': 'in' }), [2, 3]);
  });

  it('arrays: exact match, element match, $all, $size, $elemMatch, positions', () => {
    assert.deepEqual(ids({ tags: ['red', 'blank'] }), [2]);
    assert.deepEqual(ids({ tags: { $all: ['red', 'blank'] } }), [1, 2, 3, 4]);
    assert.deepEqual(ids({ tags: 'red' }), [1, 2, 3, 4]);
    assert.deepEqual(ids({ tags: { $size: 3 } }), [3]);
    assert.deepEqual(ids({ 'tags.1': 'blank' }), [2, 3]);
    const dim = [{ _id: 1, d: [14, 21] }, { _id: 2, d: [8, 11] }, { _id: 3, d: [25, 16] }];
    assert.deepEqual(ids({ d: { $gt: 15, $lt: 20 } }, dim), [1, 3]);
    assert.deepEqual(ids({ d: { $elemMatch: { $gt: 15, $lt: 20 } } }, dim), [3]);
    assert.deepEqual(ids({ 'd.1': { $gt: 20 } }, dim), [1]);
  });

  it('arrays of embedded documents', () => {
    assert.deepEqual(ids({ instock: { warehouse: 'A', qty: 5 } }), [1]);
    assert.deepEqual(ids({ instock: { qty: 5, warehouse: 'A' } }), []);
    assert.deepEqual(ids({ 'instock.0.qty': { $lte: 20 } }), [1, 2, 5]);
    assert.deepEqual(ids({ 'instock.qty': { $lte: 20 } }), [1, 2, 3, 4, 5]);
    assert.deepEqual(ids({ instock: { $elemMatch: { qty: 5, warehouse: 'A' } } }), [1]);
    assert.deepEqual(ids({ instock: { $elemMatch: { qty: { $gt: 10, $lte: 20 } } } }), [1, 3, 5]);
    assert.deepEqual(ids({ 'instock.qty': { $gt: 10, $lte: 20 } }), [1, 3, 4, 5]);
    assert.deepEqual(ids({ 'instock.qty': 5, 'instock.warehouse': 'A' }), [1, 4]);
    assert.deepEqual(ids({ instock: { $all: [{ $elemMatch: { warehouse: 'A' } }, { $elemMatch: { warehouse: 'B' } }] } }), [3, 4]);
  });

  it('arrays nested in arrays are traversed one level only', () => {
    const docs = [{ _id: 1, a: [[1, 2]] }, { _id: 2, a: [1, 2] }, { _id: 3, a: [[{ b: 1 }]] }, { _id: 4, a: [{ b: [1] }] }];
    assert.deepEqual(ids({ a: 1 }, docs), [2]);
    assert.deepEqual(ids({ a: [1, 2] }, docs), [1, 2]);
    assert.deepEqual(ids({ 'a.b': 1 }, docs), [4]);
    assert.deepEqual(ids({ a: { $size: 1 } }, docs), [1, 3, 4]);
    assert.deepEqual(ids({ a: { $elemMatch: { 0: 1 } } }, docs), [1]);
    assert.deepEqual(ids({ a: { $elemMatch: { $eq: 1 } } }, docs), [2]);
    assert.deepEqual(ids({ a: { $elemMatch: { $eq: [1, 2] } } }, docs), [1]);
  });

  it('$all on a scalar behaves like $and of equalities', () => {
    assert.deepEqual(ids({ item: { $all: ['paper'] } }), [3]);
    assert.deepEqual(ids({ tags: { $all: [] } }), []);
  });
});

describe('element, evaluation and misc operators', () => {
  it('$exists and $type (aliases, codes, arrays, number)', () => {
    const docs = [
      { _id: 1, v: 1 }, { _id: 2, v: 1.5 }, { _id: 3, v: 'x' }, { _id: 4, v: [1, 'x'] }, { _id: 5, v: { a: 1 } }, { _id: 6, v: new ObjectId() },
      { _id: 7, v: new Date() }, { _id: 8, v: true }, { _id: 9, v: Long.fromNumber(1) }, { _id: 10, v: Decimal128.fromString('1') }, { _id: 11, v: /x/ },
      { _id: 12, v: new Binary(new Uint8Array([1])) }, { _id: 13, v: new Timestamp({ t: 1, i: 1 }) }, { _id: 14, v: new MinKey() }, { _id: 15, v: new MaxKey() }, { _id: 16 },
    ];
    assert.deepEqual(ids({ v: { $type: 'number' } }, docs), [1, 2, 4, 9, 10]);
    assert.deepEqual(ids({ v: { $type: 'string' } }, docs), [3, 4]);
    assert.deepEqual(ids({ v: { $type: 'array' } }, docs), [4]);
    assert.deepEqual(ids({ v: { $type: 'object' } }, docs), [5]);
    assert.deepEqual(ids({ v: { $type: 7 } }, docs), [6]);
    assert.deepEqual(ids({ v: { $type: ['date', 'bool'] } }, docs), [7, 8]);
    assert.deepEqual(ids({ v: { $type: 'long' } }, docs), [9]);
    assert.deepEqual(ids({ v: { $type: 'decimal' } }, docs), [10]);
    assert.deepEqual(ids({ v: { $type: 'regex' } }, docs), [11]);
    assert.deepEqual(ids({ v: { $type: 'binData' } }, docs), [12]);
    assert.deepEqual(ids({ v: { $type: 'timestamp' } }, docs), [13]);
    assert.deepEqual(ids({ v: { $type: 'minKey' } }, docs), [14]);
    assert.deepEqual(ids({ v: { $type: 127 } }, docs), [15]);
    assert.deepEqual(ids({ v: { $type: 'int' } }, docs), [1, 4]);
    assert.deepEqual(ids({ v: { $type: 'double' } }, docs), [2]);
    assert.deepEqual(ids({ v: { $exists: true } }, docs).length, 15);
  });

  it('$mod truncates toward zero and ignores non-numbers', () => {
    const docs = [{ _id: 1, q: 0 }, { _id: 2, q: 5 }, { _id: 3, q: 12 }, { _id: 4, q: -4 }, { _id: 5, q: 4.5 }, { _id: 6, q: null }, { _id: 7, q: 'x' }];
    assert.deepEqual(ids({ q: { $mod: [4, 0] } }, docs), [1, 3, 4, 5]);
    assert.deepEqual(ids({ q: { $mod: [4, 1] } }, docs), [2]);
    assert.deepEqual(ids({ q: { $mod: [-4, 0] } }, docs), [1, 3, 4, 5]);
  });

  it('$regex with options i m s x, RegExp and BSONRegExp values', () => {
    const docs = [{ _id: 100, sku: 'abc123', d: 'Single line description.' }, { _id: 101, sku: 'abc789', d: 'First line\nSecond line' }, { _id: 102, sku: 'xyz456', d: 'Many spaces before     line' }, { _id: 103, sku: 'xyz789', d: 'Multiple\nline description' }];
    assert.deepEqual(ids({ sku: { $regex: '789$' } }, docs), [101, 103]);
    assert.deepEqual(ids({ sku: { $regex: '^ABC', $options: 'i' } }, docs), [100, 101]);
    assert.deepEqual(ids({ d: { $regex: '^S', $options: 'm' } }, docs), [100, 101]);
    assert.deepEqual(ids({ d: { $regex: '^S' } }, docs), [100]);
    assert.deepEqual(ids({ d: { $regex: 'm.*line', $options: 'si' } }, docs), [102, 103]);
    assert.deepEqual(ids({ d: { $regex: 'm.*line', $options: 'i' } }, docs), [102]);
    assert.deepEqual(ids({ sku: { $regex: ' abc # comment\n  \\d+', $options: 'x' } }, docs), [100, 101]);
    assert.deepEqual(ids({ sku: /^ABC/i }, docs), [100, 101]);
    assert.deepEqual(ids({ sku: new BSONRegExp('^xyz') }, docs), [102, 103]);
    assert.deepEqual(ids({ sku: { $regex: /789$/, $options: 'i' } }, docs), [101, 103]);
    assert.deepEqual(ids({ sku: { $in: [/^abc1/, 'xyz456'] } }, docs), [100, 102]);
  });

  it('$expr with aggregation expressions, $comment ignored', () => {
    const docs = [{ _id: 1, spent: 400, budget: 450 }, { _id: 2, spent: 500, budget: 400 }, { _id: 3, spent: 1200, budget: 1500 }];
    assert.deepEqual(ids({ $expr: { $gt: ['$spent', '$budget'] } }, docs), [2]);
    assert.deepEqual(ids({ $expr: { $lt: [{ $multiply: ['$spent', 1.1] }, '$budget'] }, $comment: 'x' }, docs), [1, 3]);
  });

  it('ObjectId, Date, UUID, Binary equality', () => {
    const oid = new ObjectId();
    const uuid = new UUID();
    const docs = [{ _id: 1, o: oid, u: uuid, d: new Date(5) }, { _id: 2, o: new ObjectId(), u: new UUID(), d: new Date(6) }];
    assert.deepEqual(ids({ o: new ObjectId(oid.toHexString()) }, docs), [1]);
    assert.deepEqual(ids({ u: new UUID(uuid.toHexString()) }, docs), [1]);
    assert.deepEqual(ids({ d: new Date(5) }, docs), [1]);
    assert.deepEqual(ids({ d: { $gt: new Date(5) } }, docs), [2]);
  });
});

describe('BSON comparison order and sorting', () => {
  it('orders types MinKey < null < numbers < strings < objects < arrays < binData < ObjectId < bool < Date < Timestamp < regex < MaxKey', () => {
    const ordered = [new MinKey(), null, -Infinity, 1, Long.fromNumber(2), Decimal128.fromString('2.5'), 'a', 'b', {}, { a: 1 }, [], [1], new Binary(new Uint8Array([1])), new ObjectId('000000000000000000000001'), false, true, new Date(0), new Timestamp({ t: 1, i: 0 }), /a/, new MaxKey()];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(Math.sign(compareValues(ordered[i], ordered[j])), Math.sign(i - j), `${i} vs ${j}`);
      }
    }
    assert.equal(compareValues(undefined, null), 0);
    assert.equal(compareValues(NaN, -Infinity), -1);
    assert.equal(compareValues(-0, 0), 0);
    assert.equal(compareValues(Long.fromString('9007199254740993'), 9007199254740992), 1);
    assert.equal(compareValues('\u{1F600}', '\uFFFF'), 1);
  });

  it('sorts arrays by their min (ascending) / max (descending); [] before null/missing', () => {
    const docs = [{ _id: 1, a: [1, 5] }, { _id: 2, a: 3 }, { _id: 3, a: [] }, { _id: 4 }, { _id: 5, a: [0, 'x'] }, { _id: 6, a: null }];
    const asc = [...docs].sort(compileSort({ a: 1, _id: 1 })).map((d) => d._id);
    const desc = [...docs].sort(compileSort({ a: -1, _id: 1 })).map((d) => d._id);
    assert.deepEqual(asc, [3, 4, 6, 5, 1, 2]);
    assert.deepEqual(desc, [5, 1, 2, 4, 6, 3]);
    const nested = [{ _id: 1, s: [{ v: 3 }, { v: 1 }] }, { _id: 2, s: [{ v: 2 }] }];
    assert.deepEqual([...nested].sort(compileSort({ 's.v': 1 })).map((d) => d._id), [1, 2]);
    assert.deepEqual([...nested].sort(compileSort({ 's.v': -1 })).map((d) => d._id), [1, 2]);
  });

  it('getPathValues expands arrays for multikey index keys', () => {
    const d = { a: [{ b: 1 }, { b: [2, 3] }, { c: 1 }, 5], x: { y: [] }, z: [[1, 2]] };
    assert.deepEqual(getPathValues(d, 'a.b'), [1, 2, 3]);
    assert.deepEqual(getPathValues(d, 'a.0.b'), [1]);
    assert.deepEqual(getPathValues(d, 'x.y'), [[]]);
    assert.deepEqual(getPathValues(d, 'z'), [[1, 2]]);
    assert.deepEqual(getPathValues(d, 'missing.path'), []);
  });
});
