/**
 * The public entry as users import it: the package self-reference 'largetable' (package.json
 * "exports", dist/ built by `npm run build`; `npm test` builds first when dist/ is missing or stale).
 * The specifier is a variable so that type-checking does not need dist/; types come from src/.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

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
});
