/**
 * The public entry as users import it: the package self-reference 'largetable' (package.json
 * "exports", dist/ built by `npm run build`; `npm test` builds first when dist/ is missing or stale).
 * The specifier is a variable so that type-checking does not need dist/; types come from src/.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

type Api = typeof import('../../src/index.ts');
const specifier: string = 'largetable';

describe("package entry 'largetable'", () => {
  it("open(), LargetableClient.connect(), CRUD, cursor, bson types and typed errors from 'largetable'", async () => {
    const lt = (await import(specifier)) as Api;
    assert.equal(typeof lt.open, 'function');
    const name = `memory://pkg-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const client = await lt.open(name);
    const users = client.db('app').collection('users');
    const r = await users.insertOne({ name: 'Ada', age: 36 });
    assert.ok(r.insertedId instanceof lt.ObjectId);
    await users.insertMany([{ name: 'Bob', age: 20 }, { name: 'Cy', age: 50 }, { name: 'Di', age: 31 }]);
    await users.createIndex({ age: 1 });
    const rows = await users.find({ age: { $gte: 30 } }).sort({ age: -1 }).limit(10).toArray();
    assert.deepEqual(rows.map((d) => d.name), ['Cy', 'Ada', 'Di']);
    await assert.rejects(users.insertOne({ _id: r.insertedId }), (e: unknown) => e instanceof lt.LargetableError && e.code === 'DUPLICATE_KEY');
    await assert.rejects(async () => users.find({ $where: '1' }).toArray(), (e: unknown) => e instanceof lt.LargetableError && e.code === 'FORBIDDEN_OPERATOR');
    await client.close();

    const c2 = await new lt.LargetableClient(`${name}-2`).connect();
    const u = await c2.db('x').collection('y').updateOne({ _id: 1 }, { $set: { v: new lt.Decimal128('1.5') } }, { upsert: true });
    assert.equal(u.upsertedId, 1);
    assert.equal(String((await c2.db('x').collection('y').findOne({ _id: 1 }))?.v), '1.5');
    await c2.close();
  });

  it("on Node, 'largetable' (the one-module Node entry) exports the same names as the per-file entry", async (t) => {
    if ('Deno' in globalThis) return t.skip('Deno resolves the "deno" condition, not the Node bundle');
    const bundled = Object.keys(await import(specifier)).sort();
    const perFile = Object.keys(await import('../../platform/node/index.ts')).sort();
    assert.deepEqual(bundled, perFile);
    assert.ok(bundled.length > 10);
  });

  it("on Node, 'largetable' loads re2js at the first regex, not at import, and its $regex answers", async (t) => {
    if ('Deno' in globalThis) return t.skip('Deno resolves the "deno" condition, not the Node bundle');
    const lt = (await import(specifier)) as Api;
    const cache = createRequire(import.meta.url).cache;
    const re2Loaded = (): boolean => Object.keys(cache).some((k) => /[\\/]re2js[\\/]/.test(k));
    const client = await lt.open(`memory://pkg-re2-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const c = client.db('app').collection('words');
    await c.insertMany([{ _id: 1, w: 'Alpha' }, { _id: 2, w: 'beta' }, { _id: 3, w: 'alps' }, { _id: 4, w: 'gamma' }]);
    assert.equal(re2Loaded(), false, 'imported before any regex');
    assert.deepEqual((await c.find({ w: { $regex: '^al', $options: 'i' } }).sort({ _id: 1 }).toArray()).map((d) => d._id), [1, 3]);
    assert.deepEqual((await c.find({ w: /m+a$/ }).toArray()).map((d) => d._id), [4]);
    await assert.rejects(async () => c.find({ w: { $regex: '(a)\\1' } }).toArray(), (e: unknown) => e instanceof lt.LargetableError && e.code === 'BAD_QUERY');
    assert.equal(re2Loaded(), true);
    await client.close();
  });
});
