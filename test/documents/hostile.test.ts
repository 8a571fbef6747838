import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LargetableError, type Collection, type LargetableClient } from '../../platform/node/index.ts';
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

const BAD_UPDATES: unknown[] = [
  { $set: { $x: 1 } },
  { $set: { 'a.$bad': 1 } },
  { $set: JSON.parse('{"__proto__": {"polluted": 1}}') },
  { $set: { 'a.__proto__.polluted': 1 } },
  { $set: { 'constructor.prototype.polluted': 1 } },
  { $inc: { n: 'str' } },
  { $inc: { n: {} } },
  { $mul: { n: [] } },
  { $rename: { a: 5 } },
  { $push: { a: { $each: 5 } } },
  { $bogus: { a: 1 } },
  { $set: { _id: 99 } },
  { $set: nest(120, 1) },
  { a: 1, $set: { b: 1 } },
  {},
  5,
  [{ $bogusStage: {} }],
  [{ $set: { a: { $function: { body: 'x', args: [], lang: 'js' } } } }],
];

const BAD_PIPELINES: unknown[] = [
  [{ $match: { $where: '1' } }],
  [{ $group: { _id: null, x: { $accumulator: { init: 'x' } } } }],
  [{ $project: { a: { $function: { body: 'x', args: [], lang: 'js' } } } }],
  [{ $bogus: 1 }],
  [{ $match: 1 }],
  [{ $limit: -1 }],
  [{ $limit: {} }],
  [{ $skip: 'x' }],
  [{ $out: 'x' }, { $match: {} }],
  [{ $sort: { a: 0 } }],
  [{ $unwind: 5 }],
  [{}],
  [{ $match: {}, $limit: 1 }],
  'pipeline',
];

const BAD_NAMES: unknown[] = ['', '..', 'a..b', 'a/b', 'a\\b', 'a\0b', '$a', 'a$', 'x'.repeat(65), 'é'.repeat(33), 5, null, {}];

const BAD_OPTIONS: [string, (c: Collection) => Promise<unknown>][] = [
  ['limit {}', (c) => c.find({}).limit({} as never).toArray()],
  ['limit NaN', (c) => c.find({}).limit(NaN).toArray()],
  ['skip -1', (c) => c.find({}).skip(-1).toArray()],
  ['skip "x"', (c) => c.find({}, { skip: 'x' as never }).toArray()],
  ['sort {a: {}}', (c) => c.find({}).sort({ a: {} }).toArray()],
  ['sort {a: 2}', (c) => c.find({}).sort({ a: 2 }).toArray()],
  ['projection mix', (c) => c.find({}, { projection: { a: 1, b: 0 } }).toArray()],
  ['projection string', (c) => c.find({}, { projection: 'a' as never }).toArray()],
  ['batchSize -1', (c) => c.find({}).batchSize(-1).toArray()],
  ['createIndex {}', (c) => c.createIndex({})],
  ['createIndex a:2', (c) => c.createIndex({ a: 2 })],
  ['createIndex $a', (c) => c.createIndex({ $a: 1 })],
  ['createIndex unknown kind', (c) => c.createIndex({ a: 'bogus' })],
  ['createIndex bad partial', (c) => c.createIndex({ a: 1 }, { partialFilterExpression: { $where: '1' } })],
  ['createIndex ttl compound', (c) => c.createIndex({ a: 1, b: 1 }, { expireAfterSeconds: 5 })],
  ['createIndex ttl negative', (c) => c.createIndex({ a: 1 }, { expireAfterSeconds: -5 })],
  ['insertMany not array', (c) => c.insertMany({} as never)],
  ['insertMany empty', (c) => c.insertMany([])],
  ['insertOne array', (c) => c.insertOne([1, 2] as never)],
  ['insertOne null', (c) => c.insertOne(null as never)],
  ['insertOne string', (c) => c.insertOne('x' as never)],
  ['bulkWrite empty', (c) => c.bulkWrite([])],
  ['bulkWrite two keys', (c) => c.bulkWrite([{ insertOne: { document: {} }, deleteOne: { filter: {} } }])],
  ['bulkWrite unknown', (c) => c.bulkWrite([{ explode: {} }])],
  ['distinct empty key', (c) => c.distinct('')],
  ['replaceOne with operators', (c) => c.replaceOne({}, { $set: { a: 1 } })],
  ['watch bad stage', async (c) => c.watch([{ $group: {} }])],
  ['watch bad token', async (c) => (await c.watch([], { resumeAfter: { _data: 'zz' } })).next()],
  ['dropIndex missing', (c) => c.dropIndex('nope')],
  ['dropIndex _id_', (c) => c.dropIndex('_id_')],
];

describe('hostile input', () => {
  it('every refusal is a typed LargetableError, the store is unchanged and Object.prototype untouched', async () => {
    const client = await freshClient();
    const c = client.db('h').collection('c');
    await c.createIndex({ u: 1 }, { unique: true });
    await c.insertMany([{ _id: 1, a: [1, 2], n: 1, u: 1 }, { _id: 2, a: 'x', n: 2, u: 2 }]);
    const cases: [string, () => Promise<unknown>][] = [];
    for (const [name, make] of badDocuments()) {
      cases.push([`insertOne ${name}`, () => c.insertOne(make())]);
      cases.push([`insertMany ${name}`, () => c.insertMany([{ ok: 1 }, make()])]);
      cases.push([`insertMany unordered ${name}`, () => c.insertMany([make(), { _id: 1 }], { ordered: false })]);
      cases.push([`bulkWrite ${name}`, () => c.bulkWrite([{ insertOne: { document: make() } }])]);
      if (name.endsWith('_id')) continue; // only a top-level _id is restricted
      cases.push([`replaceOne ${name}`, () => c.replaceOne({ _id: 1 }, (() => { const d = make(); delete d._id; return d; })())]);
      cases.push([`upsert replace ${name}`, () => c.replaceOne({ _id: 77 }, (() => { const d = make(); delete d._id; return d; })(), { upsert: true })]);
      cases.push([`updateOne $set ${name}`, () => c.updateOne({ _id: 1 }, { $set: { sub: make() } })]);
    }
    for (const f of [...FORBIDDEN_FILTERS, ...BAD_FILTERS]) {
      cases.push([`find ${JSON.stringify(f)}`, () => c.find(f as Doc).toArray()]);
      cases.push([`findOne ${JSON.stringify(f)}`, () => c.findOne(f as Doc)]);
      cases.push([`countDocuments ${JSON.stringify(f)}`, () => c.countDocuments(f as Doc)]);
      cases.push([`updateMany ${JSON.stringify(f)}`, () => c.updateMany(f as Doc, { $set: { z: 1 } })]);
      cases.push([`deleteMany ${JSON.stringify(f)}`, () => c.deleteMany(f as Doc)]);
      cases.push([`findOneAndDelete ${JSON.stringify(f)}`, () => c.findOneAndDelete(f as Doc)]);
    }
    for (const u of BAD_UPDATES) {
      cases.push([`updateOne ${JSON.stringify(u)}`, () => c.updateOne({ _id: 1 }, u as Doc)]);
      cases.push([`updateMany ${JSON.stringify(u)}`, () => c.updateMany({}, u as Doc)]);
      cases.push([`upsert ${JSON.stringify(u)}`, () => c.updateOne({ _id: 55 }, u as Doc, { upsert: true })]);
      cases.push([`findOneAndUpdate ${JSON.stringify(u)}`, () => c.findOneAndUpdate({ _id: 2 }, u as Doc)]);
    }
    for (const p of BAD_PIPELINES) cases.push([`aggregate ${JSON.stringify(p)}`, () => c.aggregate(p as Doc[]).toArray()]);
    for (const n of BAD_NAMES) {
      cases.push([`db name ${JSON.stringify(n)}`, async () => client.db(n as string).collection('x').insertOne({})]);
      cases.push([`collection name ${JSON.stringify(n)}`, async () => client.db('h').collection(n as string).insertOne({})]);
      cases.push([`createCollection ${JSON.stringify(n)}`, async () => client.db('h').createCollection(n as string)]);
      cases.push([`rename to ${JSON.stringify(n)}`, async () => c.rename(n as string)]);
    }
    for (const [name, f] of BAD_OPTIONS) cases.push([name, () => f(c)]);
    cases.push(['duplicate _id', () => c.insertOne({ _id: 1 })]);
    cases.push(['duplicate unique', () => c.insertOne({ u: 1 })]);
    cases.push(['update into duplicate unique', () => c.updateOne({ _id: 2 }, { $set: { u: 1 } })]);
    cases.push(['immutable _id via replace', () => c.replaceOne({ _id: 1 }, { _id: 3 })]);
    cases.push(['oversized document', () => c.insertOne({ big: 'x'.repeat(16 * 1024 * 1024 + 10) })]);
    cases.push(['oversized update', () => c.updateOne({ _id: 1 }, { $set: { big: 'x'.repeat(16 * 1024 * 1024 + 10) } })]);
    assert.ok(cases.length >= 300, `${cases.length} cases`);

    const before = await fingerprint(client);
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).join(',');
    const failures: string[] = [];
    for (const [name, run] of cases) {
      try {
        await run();
        failures.push(`${name}: accepted`);
      } catch (err) {
        if (!(err instanceof LargetableError)) failures.push(`${name}: ${String(err)}`);
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
});
