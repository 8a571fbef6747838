/**
 * Hostile input (>= 300 cases): reserved keys and $-fields at any depth, nesting past the limit,
 * forbidden operators anywhere, objects where scalars belong, bad and catastrophic regexes, and
 * prototype pollution attempts through filters, updates, projections, pipelines and arrayFilters.
 * Every refusal must be a LargetableError with the expected code; Object.prototype and
 * Array.prototype must stay untouched after every case.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { LargetableError, type ErrorCode } from '../../src/errors.ts';
import { documentDepthMax } from '../../src/limits.ts';
import { applyUpdate, compileFilter, compileProjection, evaluateExpression, runPipeline, validateDocument, compileSort, upsertSeed, type Document } from '../../src/query/index.ts';

const objectProtoKeys = Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const arrayProtoKeys = Object.getOwnPropertyNames(Array.prototype).sort().join(',');
let cases = 0;

function assertPristine(label: string): void {
  assert.equal(Object.getOwnPropertyNames(Object.prototype).sort().join(','), objectProtoKeys, `Object.prototype changed by ${label}`);
  assert.equal(Object.getOwnPropertyNames(Array.prototype).sort().join(','), arrayProtoKeys, `Array.prototype changed by ${label}`);
  const probe = {} as Record<string, unknown>;
  for (const k of ['polluted', 'x', 'y', 'isAdmin']) assert.equal(probe[k], undefined, `({}).${k} is set after ${label}`);
}

/** Run `fn`; it must throw a LargetableError with `code`. */
async function refuses(label: string, code: ErrorCode | ErrorCode[], fn: () => unknown): Promise<void> {
  cases++;
  const codes = Array.isArray(code) ? code : [code];
  let threw: unknown;
  try {
    const r = fn();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      for await (const _ of r as AsyncIterable<unknown>) void _;
    } else if (r instanceof Promise) await r;
  } catch (err) {
    threw = err;
  }
  assert.ok(threw instanceof LargetableError, `${label}: expected LargetableError(${codes.join('|')}), got ${threw === undefined ? 'no error' : String(threw)}`);
  assert.ok(codes.includes(threw.code), `${label}: expected ${codes.join('|')}, got ${threw.code}: ${threw.message}`);
  assertPristine(label);
}

/** Run `fn`; it may succeed or refuse with a typed error, but must not pollute prototypes. */
async function harmless(label: string, fn: () => unknown): Promise<void> {
  cases++;
  try {
    const r = fn();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      for await (const _ of r as AsyncIterable<unknown>) void _;
    }
  } catch (err) {
    assert.ok(err instanceof LargetableError, `${label}: untyped error ${String(err)}`);
  }
  assertPristine(label);
}

const J = (s: string): Document => JSON.parse(s) as Document;

function nestObj(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}
function nestArr(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}
function wrap(depth: number, inner: string, arrays: boolean): string {
  let s = inner;
  for (let i = 0; i < depth; i++) s = arrays && i % 2 === 0 ? `[${s}]` : `{"k${i}":${s}}`;
  return s;
}

const ctx = {
  collection: async function* (): AsyncIterable<Document> {
    yield { _id: 1, a: 1 };
  },
};
async function* src(): AsyncIterable<Document> {
  yield { _id: 1, a: [1, 2], b: { c: 1 } };
  yield { _id: 2, a: 'x' };
}
const agg = (p: Document[]) => () => runPipeline(src(), p, ctx);
const upd = (u: Document | Document[], doc: Document = { _id: 1, a: [1, 2, 3], b: { c: 1 } }, arrayFilters?: Document[]) => () =>
  applyUpdate(doc, u, { isUpsertInsert: false, ...(arrayFilters ? { arrayFilters } : {}), query: { a: 2 } });

after(() => {
  assert.ok(cases >= 300, `only ${cases} hostile cases`);
  console.log(`hostile cases: ${cases}`);
});

describe('hostile: documents', () => {
  it('reserved keys at any depth are INVALID_DOCUMENT', async () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      for (let depth = 0; depth <= 6; depth++) {
        for (const arrays of [false, true]) {
          const doc = J(wrap(depth, `{"${key}":{"polluted":1}}`, arrays).replace(/^\[/, '{"w":[').replace(/\]$/, ']}'));
          await refuses(`doc ${key} depth ${depth} arrays ${arrays}`, 'INVALID_DOCUMENT', () => validateDocument(doc));
        }
      }
    }
  });

  it('$-prefixed field names at any depth are INVALID_DOCUMENT; dots are allowed', async () => {
    for (const key of ['$a', '$set', '$where', '$', '$$ROOT']) {
      for (let depth = 0; depth <= 5; depth++) {
        const doc = J(`{"w":${wrap(depth, `{"${key}":1}`, depth % 2 === 1)}}`);
        await refuses(`doc ${key} depth ${depth}`, 'INVALID_DOCUMENT', () => validateDocument(doc));
      }
    }
    cases++;
    validateDocument({ 'a.b': 1, c: { 'd.e': [1] } });
  });

  it('nesting deeper than the limit is INVALID_DOCUMENT, at the limit is fine', async () => {
    validateDocument(nestObj(documentDepthMax - 1, 1) as Document);
    for (const d of [documentDepthMax + 1, documentDepthMax + 5, 1000, 5000]) {
      await refuses(`object depth ${d}`, 'INVALID_DOCUMENT', () => validateDocument(nestObj(d, 1) as Document));
      await refuses(`array depth ${d}`, 'INVALID_DOCUMENT', () => validateDocument({ a: nestArr(d, 1) }));
    }
  });

  it('non-plain values and bad _ids are INVALID_DOCUMENT; oversize is LIMIT_EXCEEDED', async () => {
    const bad: [string, unknown][] = [
      ['function', () => 1],
      ['symbol', Symbol('x')],
      ['map', new Map([['a', 1]])],
      ['set', new Set([1])],
      ['class instance', new (class Foo { x = 1; })()],
      ['promise', Promise.resolve(1)],
      ['error', new Error('x')],
      ['weakmap', new WeakMap()],
      ['proxy to class', new Proxy(new (class Bar {})(), {})],
    ];
    for (const [label, v] of bad) {
      await refuses(`value ${label}`, 'INVALID_DOCUMENT', () => validateDocument({ a: v }));
      await refuses(`nested value ${label}`, 'INVALID_DOCUMENT', () => validateDocument({ a: [{ b: v }] }));
    }
    await refuses('array _id', 'INVALID_DOCUMENT', () => validateDocument({ _id: [1] }));
    await refuses('regex _id', 'INVALID_DOCUMENT', () => validateDocument({ _id: /x/ }));
    await refuses('NUL in key', 'INVALID_DOCUMENT', () => validateDocument({ 'a\0b': 1 }));
    await refuses('not an object', 'INVALID_DOCUMENT', () => validateDocument([1] as unknown as Document));
    await refuses('oversize', 'LIMIT_EXCEEDED', () => validateDocument({ s: 'x'.repeat(17 * 1024 * 1024) }));
  });
});

describe('hostile: forbidden operators anywhere', () => {
  it('$where, $function, $accumulator are FORBIDDEN_OPERATOR in every position', async () => {
    const js = { body: 'function() { Object.prototype.polluted = 1; return true; }', args: [], lang: 'js' };
    for (const op of ['$where', '$function', '$accumulator']) {
      const arg = op === '$where' ? 'this.a == 1' : js;
      const e = { [op]: arg };
      await refuses(`${op} top`, 'FORBIDDEN_OPERATOR', () => compileFilter(e));
      await refuses(`${op} in $and`, 'FORBIDDEN_OPERATOR', () => compileFilter({ $and: [{ a: 1 }, e] }));
      await refuses(`${op} in $or`, 'FORBIDDEN_OPERATOR', () => compileFilter({ $or: [e] }));
      await refuses(`${op} in $nor`, 'FORBIDDEN_OPERATOR', () => compileFilter({ $nor: [{ $and: [e] }] }));
      await refuses(`${op} in $elemMatch`, 'FORBIDDEN_OPERATOR', () => compileFilter({ a: { $elemMatch: e } }));
      await refuses(`${op} in $expr`, 'FORBIDDEN_OPERATOR', () => compileFilter({ $expr: { $and: [e] } }));
      await refuses(`${op} in $not`, 'FORBIDDEN_OPERATOR', () => compileFilter({ a: { $not: e } }));
      await refuses(`${op} as a field value`, 'FORBIDDEN_OPERATOR', () => compileFilter({ a: e }));
      await refuses(`${op} in evaluateExpression`, 'FORBIDDEN_OPERATOR', () => evaluateExpression(e, {}));
      await refuses(`${op} in projection`, 'FORBIDDEN_OPERATOR', () => compileProjection({ x: e }));
      await refuses(`${op} in update pipeline`, 'FORBIDDEN_OPERATOR', upd([{ $set: { x: e } }]));
      await refuses(`${op} in $pull`, 'FORBIDDEN_OPERATOR', upd({ $pull: { a: e } }));
      await refuses(`${op} in arrayFilters`, 'FORBIDDEN_OPERATOR', upd({ $set: { 'a.$[i]': 0 } }, undefined, [{ i: e }]));
      await refuses(`${op} in $match`, 'FORBIDDEN_OPERATOR', agg([{ $match: e }]));
      await refuses(`${op} in $addFields`, 'FORBIDDEN_OPERATOR', agg([{ $addFields: { x: e } }]));
      await refuses(`${op} in $project`, 'FORBIDDEN_OPERATOR', agg([{ $project: { x: e } }]));
      await refuses(`${op} in $group`, 'FORBIDDEN_OPERATOR', agg([{ $group: { _id: null, x: e } }]));
      await refuses(`${op} in $lookup pipeline`, 'FORBIDDEN_OPERATOR', agg([{ $lookup: { from: 'c', as: 'j', pipeline: [{ $match: { $expr: e } }] } }]));
      await refuses(`${op} in $facet`, 'FORBIDDEN_OPERATOR', agg([{ $facet: { f: [{ $match: e }] } }]));
      await refuses(`${op} in $unionWith`, 'FORBIDDEN_OPERATOR', agg([{ $unionWith: { coll: 'c', pipeline: [{ $addFields: { y: e } }] } }]));
      await refuses(`${op} in $bucket output`, 'FORBIDDEN_OPERATOR', agg([{ $bucket: { groupBy: '$a', boundaries: [0, 5], default: 'o', output: { x: e } } }]));
      await refuses(`${op} deep in $cond`, 'FORBIDDEN_OPERATOR', agg([{ $project: { x: { $cond: [true, { $add: [1, e] }, 0] } } }]));
      await refuses(`${op} in $sort key? (as stage value)`, 'FORBIDDEN_OPERATOR', agg([{ $sort: { a: 1 } }, { $replaceWith: e }]));
      await refuses(`${op} in upsertSeed`, 'FORBIDDEN_OPERATOR', () => upsertSeed({ a: 1, $and: [e] }));
    }
  });
});

describe('hostile: objects where scalars belong, malformed operators', () => {
  it('filters', async () => {
    const bad: Document[] = [
      { age: { $gt: { $x: 1 } } },
      { age: { $lt: { $gt: 1 } } },
      { age: { $eq: { $ne: 1 } } },
      { age: { $ne: { $in: [1] } } },
      { age: { $in: 5 } },
      { age: { $in: [{ $gt: 1 }] } },
      { age: { $nin: 'x' } },
      { age: { $all: 1 } },
      { age: { $all: [{ $gt: 1 }] } },
      { age: { $size: 'a' } },
      { age: { $size: -1 } },
      { age: { $size: 1.5 } },
      { age: { $size: { $gt: 1 } } },
      { age: { $mod: [0, 1] } },
      { age: { $mod: [1] } },
      { age: { $mod: 'x' } },
      { age: { $mod: [{ $x: 1 }, 1] } },
      { age: { $regex: {} } },
      { age: { $regex: 5 } },
      { age: { $options: 'i' } },
      { age: { $regex: 'a', $options: 'q' } },
      { age: { $type: 'nonsense' } },
      { age: { $type: 99 } },
      { age: { $type: {} } },
      { age: { $elemMatch: 5 } },
      { age: { $not: 5 } },
      { age: { $unknown: 1 } },
      { age: { $gt: 1, b: 2 } },
      { age: { b: { $gt: 1 } } },
      { $and: [] },
      { $or: {} },
      { $nor: [1] },
      { $and: [{ a: 1 }, 'x'] },
      { $bogus: 1 },
      { '': 1 },
      { 'a..b': 1 },
      { 'a.': 1 },
      { $expr: { $bogus: 1 } },
      { $expr: { $add: 1, $sub: 2 } },
    ];
    for (const f of bad) {
      await refuses(`filter ${JSON.stringify(f)}`, 'BAD_QUERY', () => {
        const m = compileFilter(f);
        m.test({ age: 5, a: 1 }); // $expr errors surface on evaluation
      });
    }
    await refuses('filter not an object', 'BAD_QUERY', () => compileFilter('x' as unknown as Document));
    await refuses('filter depth', 'BAD_QUERY', () => compileFilter({ a: nestObj(documentDepthMax + 10, 1) }));
    await refuses('filter $and depth', 'BAD_QUERY', () => {
      let f: Document = { a: 1 };
      for (let i = 0; i < 200; i++) f = { $and: [f] };
      compileFilter(f);
    });
  });

  it('updates', async () => {
    const bad: Document[] = [
      { $inc: { a: 'x' } },
      { $inc: { a: { $x: 1 } } },
      { $mul: { a: null } },
      { $inc: { 'b.c': 1 }, $set: { b: 1 } },
      { $set: { a: 1 }, $unset: { a: '' } },
      { $set: { 'a.0': 1, a: 2 } },
      { $rename: { a: 5 } },
      { $rename: { a: 'a.b' } },
      { $rename: { a: '$x' } },
      { $push: { a: { $each: 5 } } },
      { $push: { a: { $each: [1], $bogus: 1 } } },
      { $push: { a: { $each: [1], $slice: 'x' } } },
      { $push: { a: { $each: [1], $position: 1.5 } } },
      { $push: { a: { $each: [1], $sort: 2 } } },
      { $push: { a: { $each: [1], $sort: {} } } },
      { $addToSet: { a: { $each: 1 } } },
      { $pop: { a: 2 } },
      { $pop: { a: 'x' } },
      { $pullAll: { a: 1 } },
      { $currentDate: { a: 'yes' } },
      { $currentDate: { a: { $type: 'string' } } },
      { $bogus: { a: 1 } },
      { $set: 5 },
      { $set: { '': 1 } },
      { $set: { 'a..b': 1 } },
      { $set: { $x: 1 } },
      { $set: { 'a.$x': 1 } },
      { a: 1, $set: { b: 1 } },
      { $set: { _id: 2 } },
      { $unset: { _id: '' } },
      { $rename: { _id: 'x' } },
      { $inc: { 'b.c.d': 1 } },
      { $set: { 'a.x': 1 } },
      { $push: { b: 1 } },
      { $set: { 'a.$[]': 1, 'a.0': 2 } },
      { $set: { 'a.$[nope]': 1 } },
      { $set: { 'z.$[]': 1 } },
      { $set: { 'a.$': 1, 'a.$.b': 1 } },
    ];
    for (const u of bad) await refuses(`update ${JSON.stringify(u)}`, 'BAD_QUERY', upd(u));
    await refuses('positional without match', 'BAD_QUERY', () => applyUpdate({ _id: 1, a: [1] }, { $set: { 'a.$': 0 } }, { isUpsertInsert: false, query: { a: 9 } }));
    await refuses('positional without query', 'BAD_QUERY', () => applyUpdate({ _id: 1, a: [1] }, { $set: { 'a.$': 0 } }, { isUpsertInsert: false }));
    await refuses('unused array filter', 'BAD_QUERY', upd({ $set: { b: 1 } }, undefined, [{ i: 1 }]));
    await refuses('array filter with two ids', 'BAD_QUERY', upd({ $set: { 'a.$[i]': 1 } }, undefined, [{ i: 1, j: 2 }]));
    await refuses('array filter bad id', 'BAD_QUERY', upd({ $set: { 'a.$[i]': 1 } }, undefined, [{ i: 1 }, { I: 2 }]));
    await refuses('replacement changes _id', 'BAD_QUERY', upd({ _id: 2, x: 1 }));
    await refuses('replacement with $-key inside', 'INVALID_DOCUMENT', upd({ x: { $y: 1 } }));
    await refuses('$set value with $-key', 'INVALID_DOCUMENT', upd({ $set: { x: { $gt: 1 } } }));
    await refuses('$push value with $-key', 'INVALID_DOCUMENT', upd({ $push: { a: { $each: [{ $x: 1 }] } } }));
    await refuses('$set value too deep', 'BAD_QUERY', upd({ $set: { x: nestObj(documentDepthMax + 10, 1) } }));
    await refuses('update pipeline bad stage', 'BAD_QUERY', upd([{ $group: { _id: null } }]));
    await refuses('update pipeline $replaceWith scalar', 'BAD_QUERY', upd([{ $replaceWith: 5 }]));
    await refuses('update pipeline removes _id', 'BAD_QUERY', upd([{ $replaceWith: { _id: 9 } }]));
    await refuses('update not an object', 'BAD_QUERY', upd('x' as unknown as Document));
    await refuses('update pads a huge array', 'LIMIT_EXCEEDED', upd({ $set: { 'a.5000000': 1 } }));
  });

  it('pipelines', async () => {
    const bad: unknown[] = [
      [{ $limit: 'x' }],
      [{ $limit: 0 }],
      [{ $limit: -1 }],
      [{ $limit: 1.5 }],
      [{ $limit: {} }],
      [{ $skip: -1 }],
      [{ $skip: 'x' }],
      [{ $skip: { $x: 1 } }],
      [{ $sort: { a: 2 } }],
      [{ $sort: {} }],
      [{ $sort: 'a' }],
      [{ $match: 5 }],
      [{ $match: { a: { $gt: { $x: 1 } } } }],
      [{ $group: { a: 1 } }],
      [{ $group: { _id: null, x: 1 } }],
      [{ $group: { _id: null, x: { $bogus: 1 } } }],
      [{ $group: { _id: null, x: { $sum: 1, $avg: 1 } } }],
      [{ $group: { _id: null, 'x.y': { $sum: 1 } } }],
      [{ $group: { _id: null, x: { $count: 1 } } }],
      [{ $unwind: 'a' }],
      [{ $unwind: 5 }],
      [{ $unwind: { path: '$a', bogus: 1 } }],
      [{ $unwind: { path: '$a', preserveNullAndEmptyArrays: 'yes' } }],
      [{ $count: '' }],
      [{ $count: '$x' }],
      [{ $count: 'a.b' }],
      [{ $count: 5 }],
      [{ $project: {} }],
      [{ $project: { a: 1, b: 0 } }],
      [{ $project: { $x: 1 } }],
      [{ $project: 5 }],
      [{ $addFields: { $x: 1 } }],
      [{ $addFields: 5 }],
      [{ $unset: 5 }],
      [{ $unset: [] }],
      [{ $replaceRoot: {} }],
      [{ $replaceRoot: { newRoot: 5 } }],
      [{ $replaceWith: '$a' }],
      [{ $lookup: { from: 5, as: 'x', localField: 'a', foreignField: 'b' } }],
      [{ $lookup: { from: 'c', as: 'x' } }],
      [{ $lookup: { from: 'c', as: 'x', localField: 'a' } }],
      [{ $lookup: { from: 'c', as: 'x', pipeline: 5 } }],
      [{ $lookup: { from: 'c', as: 'x', pipeline: [{ $out: 'y' }] } }],
      [{ $facet: {} }],
      [{ $facet: { f: 5 } }],
      [{ $facet: { f: [{ $facet: { g: [] } }] } }],
      [{ $bucket: { groupBy: '$a', boundaries: [5, 1] } }],
      [{ $bucket: { groupBy: '$a', boundaries: [1] } }],
      [{ $bucket: { groupBy: '$a', boundaries: [0, 1] } }],
      [{ $bucketAuto: { groupBy: '$a', buckets: 0 } }],
      [{ $sample: { size: -1 } }],
      [{ $sample: {} }],
      [{ $out: 'x' }, { $match: {} }],
      [{ $merge: { into: 'x', bogus: 1 } }],
      [{ $bogus: 1 }],
      [{ $match: {}, $limit: 1 }],
      [{}],
      [5],
      [{ $vectorSearch: {} }, { $vectorSearch: {} }],
      [{ $project: { x: { $add: 1, $sub: 1 } } }],
      [{ $project: { x: { $bogusOp: 1 } } }],
      [{ $project: { x: { $let: { vars: { Bad: 1 }, in: 1 } } } }],
      [{ $project: { x: '$$undefinedVar' } }],
      [{ $project: { x: { $divide: [1, 0] } } }],
      [{ $project: { x: { $concat: [1] } } }],
      [{ $project: { x: { $regexMatch: { input: 'a', regex: '(?=a)' } } } }],
      [{ $project: { x: { $range: [0, 1, 0] } } }],
      [{ $project: { x: { $arrayElemAt: [5, 0] } } }],
      [{ $project: { x: { $size: 5 } } }],
      [{ $project: { x: { $toInt: 'abc' } } }],
      [{ $project: { x: { $dateAdd: { startDate: '$$NOW', unit: 'fortnight', amount: 1 } } } }],
      [{ $project: { x: { $switch: { branches: [] } } } }],
    ];
    for (const p of bad) await refuses(`pipeline ${JSON.stringify(p)}`, 'BAD_QUERY', agg(p as Document[]));
    await refuses('pipeline too long', 'LIMIT_EXCEEDED', agg(Array.from({ length: 1001 }, () => ({ $match: {} }))));
    await refuses('pipeline not an array', 'BAD_QUERY', agg({ $match: {} } as unknown as Document[]));
    await refuses('unsupported stage', 'NOT_SUPPORTED', agg([{ $graphLookup: {} }]));
    await refuses('$range too long', 'LIMIT_EXCEEDED', agg([{ $project: { x: { $range: [0, 100_000_000] } } }]));
  });

  it('projections and sorts', async () => {
    const bad: Document[] = [{ a: 1, b: 0 }, { a: 0, b: { $add: [1] } }, { a: 'x', b: 0 }, { a: { $slice: 'x' } }, { a: { $slice: [1] } }, { 'a.$': 0 }, { a: {} }, { $x: 1 }, { a: { $elemMatch: 5 } }, { 'a.b': { $elemMatch: { x: 1 } } }, { a: 1, 'a.b': 1 }];
    for (const p of bad) await refuses(`projection ${JSON.stringify(p)}`, 'BAD_QUERY', () => compileProjection(p)({ a: [1], b: 1 }));
    for (const s of [{ a: 2 }, { a: 'x' }, { a: {} }, { '': 1 }, { a: 0 }]) await refuses(`sort ${JSON.stringify(s)}`, 'BAD_QUERY', () => compileSort(s as Document));
  });
});

describe('hostile: regular expressions', () => {
  it('unsupported constructs and bad syntax are BAD_QUERY', async () => {
    const bad = ['(a)\\1', '(?=a)', '(?!a)', '(?<=a)b', '(?<!a)b', '(', '[', 'a{2,1}', '*', '\\', 'a**', '(?P<n>a)(?P=n)', 'a{1001}', '\\k<x>', '(?#comment)', 'x'.repeat(5000)];
    for (const pattern of bad) {
      await refuses(`$regex ${pattern.slice(0, 30)}`, 'BAD_QUERY', () => compileFilter({ a: { $regex: pattern } }));
      await refuses(`$regexMatch ${pattern.slice(0, 30)}`, 'BAD_QUERY', () => evaluateExpression({ $regexMatch: { input: 'a', regex: pattern } }, {}));
    }
    for (const flags of ['g y', 'q', 'iQ', '1']) await refuses(`flags ${flags}`, 'BAD_QUERY', () => compileFilter({ a: { $regex: 'a', $options: flags } }));
    await refuses('RegExp with backreference', 'BAD_QUERY', () => compileFilter({ a: /(a)\1/ }));
    await refuses('RegExp in $in with lookahead', 'BAD_QUERY', () => compileFilter({ a: { $in: [/(?=x)/] } }));
    await refuses('NUL in pattern', 'BAD_QUERY', () => compileFilter({ a: { $regex: 'a\0' } }));
  });

  it('catastrophic-backtracking patterns run in linear time and give the right answer', async () => {
    const long = 'a'.repeat(50_000) + '!';
    const patterns: [string, string, boolean][] = [
      ['(a+)+$', '', false],
      ['(a|a)+$', '', false],
      ['(a*)*b', '', false],
      ['(a|aa)+$', '', false],
      ['(.*a){20}$', '', false],
      ['^(a+)+!$', '', true],
      ['(a?){30}a{30}', '', true],
      ['(\\w+\\s?)+$', '', false],
      ['(A+)+$', 'i', false],
      ['^(([a-z])+.)+[A-Z]([a-z])+$', '', false],
      ['(x+x+)+y', '', false],
      ['((a+)+)+$', 'm', false],
    ];
    for (const [p, o, expected] of patterns) {
      cases++;
      const m = compileFilter({ s: { $regex: p, $options: o } });
      assert.equal(m.test({ s: long }), expected, `${p} on long input`);
      assertPristine(p);
    }
    for (const input of ['1'.repeat(200_000) + 'x', '1'.repeat(500) + '.' + '1'.repeat(400) + 'e']) {
      cases++;
      assert.throws(() => evaluateExpression({ $toDouble: input }, {}), (e: unknown) => e instanceof LargetableError && e.code === 'BAD_QUERY');
      assert.equal(evaluateExpression({ $convert: { input, to: 'int', onError: -1 } }, {}), -1);
    }
    for (let n = 1; n <= 8; n++) {
      cases++;
      const p = '(a+)'.repeat(n) + '+$';
      assert.equal(compileFilter({ s: { $regex: p } }).test({ s: 'a'.repeat(20_000) + 'b' }), false);
    }
  });
});

describe('hostile: prototype pollution attempts', () => {
  it('through filters', async () => {
    const filters = [
      J('{"__proto__": {"polluted": 1}}'),
      J('{"__proto__.polluted": 1}'),
      J('{"a.__proto__.polluted": 1}'),
      J('{"constructor": {"prototype": {"polluted": 1}}}'),
      J('{"constructor.prototype.polluted": 1}'),
      J('{"a": {"$elemMatch": {"__proto__": {"polluted": 1}}}}'),
      J('{"$or": [{"__proto__": 1}]}'),
      J('{"a.prototype": 1}'),
    ];
    for (const f of filters) await refuses(`filter ${JSON.stringify(f)}`, 'BAD_QUERY', () => compileFilter(f).test({ a: 1 }));
    // literal operands may contain such keys as data; matching must not pollute
    await harmless('literal __proto__ operand', () => compileFilter(J('{"a": {"$eq": {"__proto__": {"polluted": 1}}}}')).test(J('{"a": {"__proto__": {"polluted": 1}}}')));
    await harmless('$in with __proto__ object', () => compileFilter(J('{"a": {"$in": [{"__proto__": {"polluted": 1}}]}}')).test({ a: 1 }));
    await harmless('$expr reading __proto__', () => compileFilter({ $expr: { $eq: ['$__proto__', 1] } }).test({}));
    await refuses('$expr variable __proto__', 'BAD_QUERY', () => compileFilter({ $expr: '$$__proto__' }).test({}));
    await refuses('$expr variable constructor', 'BAD_QUERY', () => compileFilter({ $expr: '$$constructor.prototype' }).test({}));
    await harmless('documents with __proto__ keys are matched safely', () => compileFilter({ a: 1 }).test(J('{"__proto__": {"polluted": 1}, "a": 1}')));
  });

  it('through updates and arrayFilters', async () => {
    const doc = { _id: 1, a: [{ x: 1 }, { x: 2 }], b: { c: 1 } };
    const bad: [Document, ErrorCode][] = [
      [J('{"$set": {"__proto__.polluted": 1}}'), 'BAD_QUERY'],
      [J('{"$set": {"__proto__": {"polluted": 1}}}'), 'BAD_QUERY'],
      [J('{"$set": {"b.__proto__.polluted": 1}}'), 'BAD_QUERY'],
      [J('{"$set": {"b.constructor.prototype.polluted": 1}}'), 'BAD_QUERY'],
      [J('{"$set": {"a.0.__proto__.polluted": 1}}'), 'BAD_QUERY'],
      [J('{"$set": {"x": {"__proto__": {"polluted": 1}}}}'), 'INVALID_DOCUMENT'],
      [J('{"$set": {"x": [{"constructor": {"prototype": {"polluted": 1}}}]}}'), 'INVALID_DOCUMENT'],
      [J('{"$inc": {"__proto__.polluted": 1}}'), 'BAD_QUERY'],
      [J('{"$unset": {"__proto__": ""}}'), 'BAD_QUERY'],
      [J('{"$rename": {"b": "__proto__"}}'), 'BAD_QUERY'],
      [J('{"$rename": {"__proto__": "x"}}'), 'BAD_QUERY'],
      [J('{"$push": {"__proto__": 1}}'), 'BAD_QUERY'],
      [J('{"$push": {"a": {"__proto__": {"polluted": 1}}}}'), 'INVALID_DOCUMENT'],
      [J('{"$addToSet": {"a": {"$each": [{"__proto__": {"polluted": 1}}]}}}'), 'INVALID_DOCUMENT'],
      [J('{"$min": {"constructor": 1}}'), 'BAD_QUERY'],
      [J('{"$max": {"prototype": 1}}'), 'BAD_QUERY'],
      [J('{"$setOnInsert": {"__proto__.x": 1}}'), 'BAD_QUERY'],
      [J('{"$currentDate": {"__proto__": true}}'), 'BAD_QUERY'],
      [J('{"__proto__": {"polluted": 1}, "a": 1}'), 'INVALID_DOCUMENT'],
      [J('{"x": {"constructor": {"prototype": {"polluted": 1}}}}'), 'INVALID_DOCUMENT'],
      [J('{"$pull": {"__proto__": 1}}'), 'BAD_QUERY'],
      [J('{"$pullAll": {"constructor": [1]}}'), 'BAD_QUERY'],
      [J('{"$pop": {"prototype": 1}}'), 'BAD_QUERY'],
      [J('{"$mul": {"b.__proto__": 2}}'), 'BAD_QUERY'],
    ];
    for (const [u, code] of bad) await refuses(`update ${JSON.stringify(u)}`, code, upd(u, doc));
    await refuses('arrayFilters __proto__ id', 'BAD_QUERY', upd({ $set: { 'a.$[i].x': 1 } }, doc, [J('{"__proto__": 1}')]));
    await refuses('arrayFilters path through __proto__', 'BAD_QUERY', upd({ $set: { 'a.$[i].x': 1 } }, doc, [J('{"i.__proto__.polluted": 1}')]));
    await refuses('arrayFilters constructor', 'BAD_QUERY', upd({ $set: { 'a.$[constructor]': 1 } }, doc, [{ constructor: 1 } as unknown as Document]));
    await refuses('update pipeline $set __proto__', 'BAD_QUERY', upd([J('{"$set": {"__proto__": {"polluted": 1}}}')], doc));
    await refuses('update pipeline $set nested __proto__ path', 'BAD_QUERY', upd([J('{"$set": {"b.__proto__.polluted": 1}}')], doc));
    await refuses('update pipeline $replaceWith __proto__ literal', 'INVALID_DOCUMENT', upd([J('{"$replaceWith": {"$literal": {"_id": 1, "__proto__": {"polluted": 1}}}}')], doc));
    await refuses('update pipeline $unset __proto__', 'BAD_QUERY', upd([{ $unset: '__proto__' }], doc));
    await refuses('upsertSeed with __proto__', 'BAD_QUERY', () => upsertSeed(J('{"__proto__.polluted": 1}')));
    await harmless('upsertSeed literal value with __proto__', () => upsertSeed(J('{"a": {"__proto__": {"polluted": 1}}}')));
    // a document that already contains such keys (decoded from elsewhere) is handled as data
    await harmless('$set on doc with own __proto__ key', () => applyUpdate(J('{"_id": 1, "__proto__": {"x": 1}}'), { $set: { a: 1 } }, { isUpsertInsert: false }));
  });

  it('through pipelines and expressions', async () => {
    const bad: [unknown[], ErrorCode][] = [
      [[J('{"$addFields": {"__proto__": {"polluted": 1}}}')], 'BAD_QUERY'],
      [[J('{"$addFields": {"__proto__.polluted": 1}}')], 'BAD_QUERY'],
      [[J('{"$set": {"a.constructor.prototype.polluted": 1}}')], 'BAD_QUERY'],
      [[J('{"$project": {"__proto__": 1}}')], 'BAD_QUERY'],
      [[J('{"$project": {"x.__proto__.polluted": 1}}')], 'BAD_QUERY'],
      [[J('{"$project": {"x": {"__proto__": {"polluted": 1}}}}')], 'BAD_QUERY'],
      [[J('{"$group": {"_id": null, "__proto__": {"$sum": 1}}}')], 'BAD_QUERY'],
      [[J('{"$group": {"_id": null, "constructor": {"$push": "$a"}}}')], 'BAD_QUERY'],
      [[J('{"$unwind": "$__proto__"}')], 'BAD_QUERY'],
      [[J('{"$unwind": {"path": "$a", "includeArrayIndex": "__proto__"}}')], 'BAD_QUERY'],
      [[J('{"$count": "__proto__"}')], 'BAD_QUERY'],
      [[J('{"$lookup": {"from": "c", "as": "__proto__", "localField": "a", "foreignField": "a"}}')], 'BAD_QUERY'],
      [[J('{"$lookup": {"from": "c", "as": "j", "localField": "__proto__", "foreignField": "a"}}')], 'BAD_QUERY'],
      [[J('{"$lookup": {"from": "c", "as": "j", "let": {"__proto__": 1}, "pipeline": []}}')], 'BAD_QUERY'],
      [[J('{"$lookup": {"from": "c", "as": "j", "let": {"constructor": 1}, "pipeline": []}}')], 'BAD_QUERY'],
      [[J('{"$lookup": {"from": "c", "as": "j", "let": {"prototype": {"polluted": 1}}, "pipeline": []}}')], 'BAD_QUERY'],
      [[J('{"$facet": {"__proto__": []}}')], 'BAD_QUERY'],
      [[J('{"$sort": {"__proto__": 1}}')], 'BAD_QUERY'],
      [[J('{"$sortByCount": "$__proto__.x"}')], 'BAD_QUERY'],
      [[J('{"$unset": "constructor.prototype"}')], 'BAD_QUERY'],
      [[J('{"$bucket": {"groupBy": "$a", "boundaries": [0, 9], "default": 1, "output": {"__proto__": {"$sum": 1}}}}')], 'BAD_QUERY'],
      [[{ $project: { x: { $arrayToObject: [[['__proto__', { polluted: 1 }]]] } } }], 'BAD_QUERY'],
      [[{ $project: { x: { $arrayToObject: [[{ k: 'constructor', v: 1 }]] } } }], 'BAD_QUERY'],
      [[{ $project: { x: { $setField: { field: '__proto__', input: {}, value: { polluted: 1 } } } } }], 'BAD_QUERY'],
      [[{ $project: { x: { $let: { vars: J('{"__proto__": 1}'), in: 1 } } } }], 'BAD_QUERY'],
      [[{ $project: { x: { $map: { input: [1], as: '__proto__', in: 1 } } } }], 'BAD_QUERY'],
      [[{ $project: { x: { $filter: { input: [1], as: 'constructor', cond: true } } } }], 'BAD_QUERY'],
      [[{ $project: { x: '$$__proto__' } }], 'BAD_QUERY'],
      [[{ $project: { x: '$$prototype' } }], 'BAD_QUERY'],
      [[{ $project: { x: '$a.__proto__' } }], 'BAD_QUERY'],
      [[{ $project: { x: { $getField: '__proto__' }, y: 1 } }], 'BAD_QUERY'],
      [[{ $replaceWith: J('{"__proto__": {"polluted": 1}}') }], 'BAD_QUERY'],
      [[{ $project: { x: { $sortArray: { input: [{ a: 1 }], sortBy: J('{"__proto__": 1}') } } } }], 'BAD_QUERY'],
    ];
    for (const [p, code] of bad) await refuses(`pipeline ${JSON.stringify(p)}`, code, agg(p as Document[]));
    await harmless('$mergeObjects with __proto__ keys', agg([{ $project: { x: { $mergeObjects: [{ $literal: J('{"__proto__": {"polluted": 1}}') }, { a: 1 }] } } }]));
    await harmless('$literal __proto__ object', agg([{ $project: { x: { $literal: J('{"__proto__": {"polluted": 1}}') } } }]));
    await harmless('$objectToArray of doc with __proto__', () => evaluateExpression({ $objectToArray: '$$ROOT' }, J('{"__proto__": {"polluted": 1}}')));
    await harmless('$group on docs with __proto__ values', agg([{ $group: { _id: '$b', s: { $mergeObjects: { $literal: J('{"__proto__": {"polluted": 1}}') } } } }]));
  });
});
