import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LargetableError, type Collection, type ErrorCode, type LargetableClient } from '../../platform/node/index.ts';
import { freshClient } from './helpers.ts';

type Doc = Record<string, unknown>;

async function fingerprint(client: LargetableClient): Promise<string> {
  let h = 0;
  let n = 0;
  for await (const [k, v] of client.engine.store.iterate({})) {
    n++;
    for (const b of k) h = (Math.imul(h, 31) + b) | 0;
    for (const b of v) h = (Math.imul(h, 31) + b) | 0;
  }
  return `${n}:${h}`;
}

function nest(depth: number, leaf: unknown): Doc {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { x: v };
  return v as Doc;
}

const RESERVED = ['__proto__', 'constructor', 'prototype'];

/** Bad documents for stored writes: reserved keys and $-fields at several depths, depth bombs, bad values. */
function badDocuments(): [string, () => Doc][] {
  const out: [string, () => Doc][] = [];
  for (const k of RESERVED) {
    for (let depth = 0; depth < 4; depth++) {
      out.push([`${k} at depth ${depth}`, () => nest(depth, JSON.parse(`{"${k}": {"polluted": 1}}`)) as Doc]);
      out.push([`${k} in array at depth ${depth}`, () => nest(depth, [JSON.parse(`{"${k}": {"polluted": 1}}`)]) as Doc]);
    }
  }
  for (const k of ['$set', '$where', '$x', '$']) {
    for (let depth = 0; depth < 3; depth++) out.push([`${k} field at depth ${depth}`, () => nest(depth, { [k]: 1 })]);
  }
  for (const d of [101, 150, 400]) out.push([`depth ${d}`, () => nest(d, 1)]);
  out.push(['array depth 120', () => ({ a: JSON.parse('['.repeat(120) + ']'.repeat(120)) })]);
  out.push(['function value', () => ({ f: () => 1 })]);
  out.push(['symbol value', () => ({ s: Symbol('x') })]);
  out.push(['Map value', () => ({ m: new Map() })]);
  out.push(['array _id', () => ({ _id: [1, 2] })]);
  out.push(['regex _id', () => ({ _id: /x/ })]);
  return out;
}

const FORBIDDEN_FILTERS: Doc[] = [
  { $where: 'this.a == 1' },
  { a: { $where: '1' } },
  { $expr: { $function: { body: 'function(){return true}', args: [], lang: 'js' } } },
  { $and: [{ $where: 'x' }] },
  { $or: [{ a: 1 }, { $where: 'x' }] },
  { a: { $elemMatch: { $where: 'x' } } },
  { $nor: [{ $expr: { $function: { body: 'x', args: [], lang: 'js' } } }] },
];

const BAD_FILTERS: unknown[] = [
  { a: { $size: {} } },
  { a: { $size: 'x' } },
  { a: { $in: 5 } },
  { a: { $nin: {} } },
  { a: { $mod: [0, 1] } },
  { a: { $regex: {} } },
  { a: { $exists: {} } , $and: 5 },
  { $and: [] },
  { $or: {} },
  { a: { $bogus: 1 } },
  { a: { $elemMatch: 5 } },
  { a: { $all: 3 } },
  { a: { $type: 'nonsense' } },
  { a: { $regex: '(a' } },
  'not a filter',
  [1, 2],
];

/** Bad updates and their code: malformed operators are BAD_QUERY, a non-document or mixed update INVALID_ARGUMENT. */
const BAD_UPDATES: [unknown, ErrorCode][] = [
  [{ $set: { $x: 1 } }, 'BAD_QUERY'],
  [{ $set: { 'a.$bad': 1 } }, 'BAD_QUERY'],
  [{ $set: JSON.parse('{"__proto__": {"polluted": 1}}') }, 'BAD_QUERY'],
  [{ $set: { 'a.__proto__.polluted': 1 } }, 'BAD_QUERY'],
  [{ $set: { 'constructor.prototype.polluted': 1 } }, 'BAD_QUERY'],
  [{ $inc: { n: 'str' } }, 'BAD_QUERY'],
  [{ $inc: { n: {} } }, 'BAD_QUERY'],
  [{ $mul: { n: [] } }, 'BAD_QUERY'],
  [{ $rename: { a: 5 } }, 'BAD_QUERY'],
  [{ $push: { a: { $each: 5 } } }, 'BAD_QUERY'],
  [{ $bogus: { a: 1 } }, 'BAD_QUERY'],
  [{ $set: { _id: 99 } }, 'BAD_QUERY'],
  [{ $set: nest(120, 1) }, 'BAD_QUERY'],
  [{ a: 1, $set: { b: 1 } }, 'INVALID_ARGUMENT'],
  [{}, 'INVALID_ARGUMENT'],
  [5, 'INVALID_ARGUMENT'],
  [[{ $bogusStage: {} }], 'BAD_QUERY'],
  [[{ $set: { a: { $function: { body: 'x', args: [], lang: 'js' } } } }], 'FORBIDDEN_OPERATOR'],
];

const BAD_PIPELINES: [unknown, ErrorCode][] = [
  [[{ $match: { $where: '1' } }], 'FORBIDDEN_OPERATOR'],
  [[{ $group: { _id: null, x: { $accumulator: { init: 'x' } } } }], 'FORBIDDEN_OPERATOR'],
  [[{ $project: { a: { $function: { body: 'x', args: [], lang: 'js' } } } }], 'FORBIDDEN_OPERATOR'],
  [[{ $bogus: 1 }], 'BAD_QUERY'],
  [[{ $match: 1 }], 'BAD_QUERY'],
  [[{ $limit: -1 }], 'BAD_QUERY'],
  [[{ $limit: {} }], 'BAD_QUERY'],
  [[{ $skip: 'x' }], 'BAD_QUERY'],
  [[{ $out: 'x' }, { $match: {} }], 'BAD_QUERY'],
  [[{ $sort: { a: 0 } }], 'BAD_QUERY'],
  [[{ $unwind: 5 }], 'BAD_QUERY'],
  [[{}], 'BAD_QUERY'],
  [[{ $match: {}, $limit: 1 }], 'BAD_QUERY'],
  ['pipeline', 'BAD_QUERY'],
];

const BAD_NAMES: unknown[] = ['', '..', 'a..b', 'a/b', 'a\\b', 'a\0b', '$a', 'a$', 'x'.repeat(65), 'é'.repeat(33), 5, null, {}];

const BAD_OPTIONS: [string, (c: Collection) => Promise<unknown>, ErrorCode][] = [
  ['limit {}', (c) => c.find({}).limit({} as never).toArray(), 'INVALID_ARGUMENT'],
  ['limit NaN', (c) => c.find({}).limit(NaN).toArray(), 'INVALID_ARGUMENT'],
  ['skip -1', (c) => c.find({}).skip(-1).toArray(), 'INVALID_ARGUMENT'],
  ['skip "x"', (c) => c.find({}, { skip: 'x' as never }).toArray(), 'INVALID_ARGUMENT'],
  ['sort {a: {}}', (c) => c.find({}).sort({ a: {} }).toArray(), 'BAD_QUERY'],
  ['sort {a: 2}', (c) => c.find({}).sort({ a: 2 }).toArray(), 'BAD_QUERY'],
  ['projection mix', (c) => c.find({}, { projection: { a: 1, b: 0 } }).toArray(), 'BAD_QUERY'],
  ['projection string', (c) => c.find({}, { projection: 'a' as never }).toArray(), 'BAD_QUERY'],
  ['batchSize -1', (c) => c.find({}).batchSize(-1).toArray(), 'INVALID_ARGUMENT'],
  ['createIndex {}', (c) => c.createIndex({}), 'INVALID_ARGUMENT'],
  ['createIndex a:2', (c) => c.createIndex({ a: 2 }), 'INVALID_ARGUMENT'],
  ['createIndex $a', (c) => c.createIndex({ $a: 1 }), 'INVALID_ARGUMENT'],
  ['createIndex unknown kind', (c) => c.createIndex({ a: 'bogus' }), 'NOT_SUPPORTED'],
  ['createIndex bad partial', (c) => c.createIndex({ a: 1 }, { partialFilterExpression: { $where: '1' } }), 'FORBIDDEN_OPERATOR'],
  ['createIndex ttl compound', (c) => c.createIndex({ a: 1, b: 1 }, { expireAfterSeconds: 5 }), 'INVALID_ARGUMENT'],
  ['createIndex ttl negative', (c) => c.createIndex({ a: 1 }, { expireAfterSeconds: -5 }), 'INVALID_ARGUMENT'],
  ['insertMany not array', (c) => c.insertMany({} as never), 'INVALID_ARGUMENT'],
  ['insertMany empty', (c) => c.insertMany([]), 'INVALID_ARGUMENT'],
  ['insertOne array', (c) => c.insertOne([1, 2] as never), 'INVALID_DOCUMENT'],
  ['insertOne null', (c) => c.insertOne(null as never), 'INVALID_DOCUMENT'],
  ['insertOne string', (c) => c.insertOne('x' as never), 'INVALID_DOCUMENT'],
  ['bulkWrite empty', (c) => c.bulkWrite([]), 'INVALID_ARGUMENT'],
  ['bulkWrite two keys', (c) => c.bulkWrite([{ insertOne: { document: {} }, deleteOne: { filter: {} } }]), 'INVALID_ARGUMENT'],
  ['bulkWrite unknown', (c) => c.bulkWrite([{ explode: {} }]), 'INVALID_ARGUMENT'],
  ['distinct empty key', (c) => c.distinct(''), 'INVALID_ARGUMENT'],
  ['replaceOne with operators', (c) => c.replaceOne({}, { $set: { a: 1 } }), 'INVALID_ARGUMENT'],
  ['watch bad stage', async (c) => c.watch([{ $group: {} }]), 'BAD_QUERY'],
  ['watch bad token', async (c) => (await c.watch([], { resumeAfter: { _data: 'zz' } })).next(), 'INVALID_ARGUMENT'],
  ['dropIndex missing', (c) => c.dropIndex('nope'), 'NOT_FOUND'],
  ['dropIndex _id_', (c) => c.dropIndex('_id_'), 'INVALID_ARGUMENT'],
];

describe('hostile input', () => {
  it('every refusal is a typed LargetableError, the store is unchanged and Object.prototype untouched', async () => {
    const client = await freshClient();
    const c = client.db('h').collection('c');
    await c.createIndex({ u: 1 }, { unique: true });
    await c.insertMany([{ _id: 1, a: [1, 2], n: 1, u: 1 }, { _id: 2, a: 'x', n: 2, u: 2 }]);
    const cases: [string, () => Promise<unknown>, ErrorCode][] = [];
    for (const [name, make] of badDocuments()) {
      cases.push([`insertOne ${name}`, () => c.insertOne(make()), 'INVALID_DOCUMENT']);
      cases.push([`insertMany ${name}`, () => c.insertMany([{ ok: 1 }, make()]), 'INVALID_DOCUMENT']);
      cases.push([`insertMany unordered ${name}`, () => c.insertMany([make(), { _id: 1 }], { ordered: false }), 'INVALID_DOCUMENT']);
      cases.push([`bulkWrite ${name}`, () => c.bulkWrite([{ insertOne: { document: make() } }]), 'INVALID_DOCUMENT']);
      if (name.endsWith('_id')) continue; // only a top-level _id is restricted
      // a replacement that is an array or has a top-level $ field is not a replacement document (the driver's check)
      const notReplacement = /(in array|field) at depth 0$/.test(name);
      const replaceCode: ErrorCode = notReplacement ? 'INVALID_ARGUMENT' : 'INVALID_DOCUMENT';
      cases.push([`replaceOne ${name}`, () => c.replaceOne({ _id: 1 }, (() => { const d = make(); delete d._id; return d; })()), replaceCode]);
      cases.push([`upsert replace ${name}`, () => c.replaceOne({ _id: 77 }, (() => { const d = make(); delete d._id; return d; })(), { upsert: true }), replaceCode]);
      // an update whose own nesting is over the bound is refused while parsing it (BAD_QUERY)
      const updateTooDeep = /^(depth (150|400)|array depth 120)$/.test(name);
      // and a $where key inside an update is refused as server-side JavaScript wherever it appears
      const setCode: ErrorCode = updateTooDeep ? 'BAD_QUERY' : name.startsWith('$where') ? 'FORBIDDEN_OPERATOR' : 'INVALID_DOCUMENT';
      cases.push([`updateOne $set ${name}`, () => c.updateOne({ _id: 1 }, { $set: { sub: make() } }), setCode]);
    }
    const filters: [unknown, ErrorCode][] = [...FORBIDDEN_FILTERS.map((f): [unknown, ErrorCode] => [f, 'FORBIDDEN_OPERATOR']), ...BAD_FILTERS.map((f): [unknown, ErrorCode] => [f, 'BAD_QUERY'])];
    for (const [f, code] of filters) {
      cases.push([`find ${JSON.stringify(f)}`, () => c.find(f as Doc).toArray(), code]);
      cases.push([`findOne ${JSON.stringify(f)}`, () => c.findOne(f as Doc), code]);
      cases.push([`countDocuments ${JSON.stringify(f)}`, () => c.countDocuments(f as Doc), code]);
      cases.push([`updateMany ${JSON.stringify(f)}`, () => c.updateMany(f as Doc, { $set: { z: 1 } }), code]);
      cases.push([`deleteMany ${JSON.stringify(f)}`, () => c.deleteMany(f as Doc), code]);
      cases.push([`findOneAndDelete ${JSON.stringify(f)}`, () => c.findOneAndDelete(f as Doc), code]);
    }
    for (const [u, code] of BAD_UPDATES) {
      cases.push([`updateOne ${JSON.stringify(u)}`, () => c.updateOne({ _id: 1 }, u as Doc), code]);
      cases.push([`updateMany ${JSON.stringify(u)}`, () => c.updateMany({}, u as Doc), code]);
      cases.push([`upsert ${JSON.stringify(u)}`, () => c.updateOne({ _id: 55 }, u as Doc, { upsert: true }), code]);
      cases.push([`findOneAndUpdate ${JSON.stringify(u)}`, () => c.findOneAndUpdate({ _id: 2 }, u as Doc), code]);
    }
    for (const [p, code] of BAD_PIPELINES) cases.push([`aggregate ${JSON.stringify(p)}`, () => c.aggregate(p as Doc[]).toArray(), code]);
    for (const n of BAD_NAMES) {
      cases.push([`db name ${JSON.stringify(n)}`, async () => client.db(n as string).collection('x').insertOne({}), 'INVALID_ARGUMENT']);
      cases.push([`collection name ${JSON.stringify(n)}`, async () => client.db('h').collection(n as string).insertOne({}), 'INVALID_ARGUMENT']);
      cases.push([`createCollection ${JSON.stringify(n)}`, async () => client.db('h').createCollection(n as string), 'INVALID_ARGUMENT']);
      cases.push([`rename to ${JSON.stringify(n)}`, async () => c.rename(n as string), 'INVALID_ARGUMENT']);
    }
    for (const [name, f, code] of BAD_OPTIONS) cases.push([name, () => f(c), code]);
    cases.push(['duplicate _id', () => c.insertOne({ _id: 1 }), 'DUPLICATE_KEY']);
    cases.push(['duplicate unique', () => c.insertOne({ u: 1 }), 'DUPLICATE_KEY']);
    cases.push(['update into duplicate unique', () => c.updateOne({ _id: 2 }, { $set: { u: 1 } }), 'DUPLICATE_KEY']);
    cases.push(['immutable _id via replace', () => c.replaceOne({ _id: 1 }, { _id: 3 }), 'INVALID_ARGUMENT']);
    cases.push(['oversized document', () => c.insertOne({ big: 'x'.repeat(16 * 1024 * 1024 + 10) }), 'LIMIT_EXCEEDED']);
    cases.push(['oversized update', () => c.updateOne({ _id: 1 }, { $set: { big: 'x'.repeat(16 * 1024 * 1024 + 10) } }), 'LIMIT_EXCEEDED']);
    assert.ok(cases.length >= 300, `${cases.length} cases`);

    const before = await fingerprint(client);
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).join(',');
    const failures: string[] = [];
    for (const [name, run, code] of cases) {
      try {
        await run();
        failures.push(`${name}: accepted`);
      } catch (err) {
        if (!(err instanceof LargetableError)) failures.push(`${name}: ${String(err)}`);
        else if (err.code !== code) failures.push(`${name}: ${err.code}, expected ${code} (${err.message})`);
      }
      if (({} as Doc).polluted !== undefined) failures.push(`${name}: Object.prototype polluted`);
      if ((await fingerprint(client)) !== before) failures.push(`${name}: store changed`);
    }
    assert.deepEqual(failures, []);
    assert.equal(await fingerprint(client), before, 'store unchanged');
    assert.equal(Object.getOwnPropertyNames(Object.prototype).join(','), protoKeys);
    assert.deepEqual(await c.find().toArray(), [{ _id: 1, a: [1, 2], n: 1, u: 1 }, { _id: 2, a: 'x', n: 2, u: 2 }]);
    await client.close();
    await assert.rejects(c.insertOne({}), (e: LargetableError) => e.code === 'CLOSED');
    await assert.rejects(client.db('h').collection('c').findOne({}), (e: LargetableError) => e.code === 'CLOSED');
  });

  it('many documents with one long string in an indexed field (index entries sharing a 30 KB prefix) are stored, queried and flushed', async () => {
    // the memtable's sort recursed once per 4 bytes such entries share: 50 of them overflowed the call stack
    const client = await freshClient();
    const c = client.db('h').collection('long');
    await c.createIndex({ s: 1 });
    const long = 'a'.repeat(30_000);
    await c.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, s: long + (i % 2 === 0 ? '' : 'b') })));
    assert.equal(await c.countDocuments({ s: long }), 25);
    assert.deepEqual((await c.find({ s: { $gte: long } }, { projection: { _id: 1 } }).sort({ s: 1, _id: 1 }).toArray()).map((d) => d._id), [
      ...Array.from({ length: 25 }, (_, i) => 2 * i),
      ...Array.from({ length: 25 }, (_, i) => 2 * i + 1),
    ]);
    await client.close();
  });
});
