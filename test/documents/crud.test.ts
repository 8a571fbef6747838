import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, Decimal128, Long, ObjectId, UUID, LargetableError, LargetableBulkWriteError, LargetableClient } from '../../platform/node/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../../platform/node/index.ts';
import { freshClient } from './helpers.ts';

describe('collection CRUD', () => {
  it('insertOne/insertMany/find return driver shapes; bson types round-trip', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('users');
    const doc: Record<string, unknown> = { name: 'Ada', age: 36 };
    const r = await c.insertOne(doc);
    assert.equal(r.acknowledged, true);
    assert.ok(r.insertedId instanceof ObjectId);
    assert.equal(doc._id, r.insertedId, 'the driver sets _id on the caller document');
    const m = await c.insertMany([{ name: 'Bob', age: 20 }, { _id: 7, name: 'Cy', age: 50 }]);
    assert.equal(m.insertedCount, 2);
    assert.equal(m.insertedIds[1], 7);
    const rich = { _id: 'rich', l: Long.fromString('9007199254740993'), d: Decimal128.fromString('1.10'), b: new Binary(new Uint8Array([1, 2]), 0), u: new UUID(), when: new Date(5), o: new ObjectId() };
    await c.insertOne(rich);
    const back = await c.findOne({ _id: 'rich' });
    assert.ok(back);
    assert.equal(String(back.l), '9007199254740993');
    assert.ok(back.l instanceof Long);
    assert.equal(String(back.d), '1.10');
    assert.deepEqual([...(back.b as Binary).buffer], [1, 2]);
    assert.equal(String(back.u), String(rich.u));
    assert.equal((back.when as Date).getTime(), 5);
    assert.ok((back.o as ObjectId).equals(rich.o));
    const rows = await c.find({ age: { $gte: 30 } }).sort({ age: -1 }).limit(10).toArray();
    assert.deepEqual(rows.map((x) => x.name), ['Cy', 'Ada']);
    assert.equal(await c.countDocuments(), 4);
    assert.equal(await c.estimatedDocumentCount(), 4);
    assert.equal(await c.countDocuments({ age: { $lt: 40 } }), 2);
    assert.deepEqual(await c.distinct('age'), [20, 36, 50]);
    await client.close();
  });

  it('cursor: skip, limit, project, map, batchSize, hasNext/next, for await, close', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('n');
    await c.insertMany(Array.from({ length: 25 }, (_, i) => ({ _id: i, v: i % 5, sq: i * i })));
    const cur = c.find({ v: { $ne: 0 } }, { projection: { sq: 1 } }).sort({ _id: -1 }).skip(2).limit(5).batchSize(2).map((d) => d.sq);
    assert.equal(await cur.hasNext(), true);
    assert.equal(await cur.next(), 22 * 22);
    const rest: unknown[] = [];
    for await (const x of cur) rest.push(x);
    assert.deepEqual(rest, [21 * 21, 19 * 19, 18 * 18, 17 * 17]);
    assert.equal(await cur.next(), null);
    const p = await c.find({ _id: 3 }).project({ _id: 0, v: 1 }).toArray();
    assert.deepEqual(p, [{ v: 3 }]);
    const c2 = c.find({});
    assert.equal(await c2.count(), 25);
    await c2.close();
    assert.equal(await c2.next(), null);
    await client.close();
  });

  it('update/replace/delete with upsert and driver result shapes', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('u');
    await c.insertMany([{ _id: 1, n: 1, tags: ['a'] }, { _id: 2, n: 2 }, { _id: 3, n: 3 }]);
    assert.deepEqual(await c.updateOne({ _id: 1 }, { $inc: { n: 10 }, $push: { tags: 'b' } }), { acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null });
    assert.deepEqual((await c.findOne({ _id: 1 }))?.tags, ['a', 'b']);
    assert.equal((await c.updateOne({ _id: 2 }, { $set: { n: 2 } })).modifiedCount, 0);
    const many = await c.updateMany({ n: { $gte: 2 } }, { $set: { big: true } });
    assert.equal(many.matchedCount, 3);
    const up = await c.updateOne({ name: 'new' }, { $set: { n: 99 } }, { upsert: true });
    assert.equal(up.upsertedCount, 1);
    assert.ok(up.upsertedId instanceof ObjectId);
    assert.deepEqual(await c.findOne({ _id: up.upsertedId }, { projection: { _id: 0 } }), { name: 'new', n: 99 });
    const rep = await c.replaceOne({ _id: 3 }, { z: 1 });
    assert.equal(rep.modifiedCount, 1);
    assert.deepEqual(await c.findOne({ _id: 3 }), { _id: 3, z: 1 });
    await assert.rejects(c.updateOne({ _id: 3 }, { $set: { _id: 4 } }), (e: LargetableError) => e instanceof LargetableError);
    await assert.rejects(c.updateOne({ _id: 3 }, { z: 2 }), (e: LargetableError) => e.code === 'INVALID_ARGUMENT');
    assert.deepEqual(await c.deleteOne({ _id: 3 }), { acknowledged: true, deletedCount: 1 });
    assert.equal((await c.deleteMany({ big: true })).deletedCount, 2);
    assert.equal(await c.countDocuments(), 1);
    await client.close();
  });

  it('findOneAndUpdate/Replace/Delete honour returnDocument, sort and projection', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('f');
    await c.insertMany([{ _id: 1, q: 5 }, { _id: 2, q: 9 }, { _id: 3, q: 1 }]);
    assert.deepEqual(await c.findOneAndUpdate({}, { $inc: { q: 1 } }, { sort: { q: -1 } }), { _id: 2, q: 9 });
    assert.deepEqual(await c.findOneAndUpdate({ _id: 2 }, { $inc: { q: 1 } }, { returnDocument: 'after', projection: { _id: 0 } }), { q: 11 });
    assert.deepEqual(await c.findOneAndReplace({ _id: 3 }, { r: true }, { returnDocument: 'after' }), { _id: 3, r: true });
    assert.deepEqual(await c.findOneAndDelete({ q: { $lt: 6 } }), { _id: 1, q: 5 });
    assert.equal(await c.findOneAndDelete({ q: 1000 }), null);
    const up = await c.findOneAndUpdate({ _id: 10 }, { $set: { x: 1 } }, { upsert: true, returnDocument: 'after' });
    assert.deepEqual(up, { _id: 10, x: 1 });
    await client.close();
  });

  it('insertMany ordered stops at the first error; unordered reports every writeError', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('dups');
    await c.insertOne({ _id: 2 });
    await assert.rejects(c.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]), (e: LargetableError) => {
      assert.equal(e.code, 'DUPLICATE_KEY');
      assert.match(e.message, /^E11000 duplicate key error collection: app\.dups index: _id_ dup key: \{ _id: 2 \}/);
      assert.equal((e.details.writeErrors as unknown[]).length, 1);
      assert.equal(e.details.insertedCount, 1);
      return true;
    });
    assert.equal(await c.countDocuments(), 2);
    await assert.rejects(c.insertMany([{ _id: 2 }, { _id: 4 }, { _id: 1 }, { _id: 5 }], { ordered: false }), (e: LargetableError) => {
      assert.deepEqual((e.details.writeErrors as { index: number }[]).map((w) => w.index), [0, 2]);
      assert.equal(e.details.insertedCount, 2);
      return true;
    });
    assert.deepEqual((await c.find().toArray()).map((d) => d._id), [1, 2, 4, 5]);
    await client.close();
  });

  it('insertMany/bulkWrite errors carry the driver fields at top level (writeErrors, result, insertedIds, errorResponse)', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('bulkerr');
    await c.insertOne({ _id: 2 });
    await assert.rejects(c.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }], { ordered: false }), (e: LargetableBulkWriteError) => {
      assert.ok(e instanceof LargetableBulkWriteError && e instanceof LargetableError);
      assert.equal(e.code, 'DUPLICATE_KEY');
      assert.equal(e.errorResponse.code, 11000);
      assert.equal(e.errorResponse.codeName, 'DuplicateKey');
      assert.deepEqual(e.writeErrors.map((w) => [w.index, w.code, w.codeName]), [[1, 11000, 'DuplicateKey']]);
      assert.equal(e.insertedCount, 2);
      assert.deepEqual(e.insertedIds, { 0: 1, 2: 3 });
      assert.equal(e.result.insertedCount, 2);
      return true;
    });
    await assert.rejects(c.insertMany([{ _id: 9 }, { $bad: 1 }]), (e: LargetableBulkWriteError) => {
      assert.equal(e.code, 'INVALID_DOCUMENT');
      assert.equal(e.errorResponse.code, 2);
      assert.equal(e.insertedCount, 0);
      return true;
    });
    await assert.rejects(c.bulkWrite([{ insertOne: { document: { _id: 5 } } }, { insertOne: { document: { _id: 5 } } }, { deleteOne: { filter: { _id: 1 } } }]), (e: LargetableBulkWriteError) => {
      assert.deepEqual(e.writeErrors.map((w) => [w.index, w.code]), [[1, 11000]]);
      assert.equal(e.result.insertedCount, 1);
      assert.deepEqual(e.insertedIds, { 0: 5 });
      assert.equal(e.result.deletedCount, 0, 'ordered: stops at the first error');
      return true;
    });
    await client.close();
  });

  it('bulkWrite mixes operations and returns the BulkWriteResult counts', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('bulk');
    const r = await c.bulkWrite([
      { insertOne: { document: { _id: 1, a: 1 } } },
      { insertOne: { document: { _id: 2, a: 2 } } },
      { updateOne: { filter: { _id: 1 }, update: { $set: { a: 5 } } } },
      { updateMany: { filter: {}, update: { $inc: { a: 1 } } } },
      { replaceOne: { filter: { _id: 9 }, replacement: { a: 9 }, upsert: true } },
      { deleteOne: { filter: { _id: 2 } } },
    ]);
    assert.equal(r.insertedCount, 2);
    assert.equal(r.matchedCount, 3);
    assert.equal(r.modifiedCount, 3);
    assert.equal(r.upsertedCount, 1);
    assert.equal(r.deletedCount, 1);
    assert.deepEqual(await c.find().toArray(), [{ _id: 1, a: 6 }, { _id: 9, a: 9 }]);
    await client.close();
  });

  it('databases and collections: create, list, rename, drop, stats', async () => {
    const client = await freshClient();
    const db = client.db('shop');
    await db.createCollection('items');
    await assert.rejects(db.createCollection('items'), (e: LargetableError) => e.code === 'ALREADY_EXISTS');
    await db.collection('orders').insertOne({ x: 1 });
    assert.deepEqual((await db.listCollections().toArray()).map((c) => c.name).sort(), ['items', 'orders']);
    const renamed = await db.collection('orders').rename('orders2');
    assert.equal(await renamed.countDocuments(), 1);
    assert.equal(await db.collection('orders').countDocuments(), 0);
    const st = await renamed.stats();
    assert.equal(st.count, 1);
    assert.ok((st.size as number) > 0);
    assert.deepEqual(((await client.listDatabases()).databases as { name: string }[]).map((d) => d.name), ['shop']);
    assert.equal(await db.dropCollection('items'), true);
    await db.dropDatabase();
    assert.deepEqual(await db.listCollections().toArray(), []);
    await client.close();
  });

  it('new LargetableClient(location).connect() and CLOSED after close', async () => {
    const client = await new LargetableClient(`memory://lc-${Date.now()}`, { kernels: 'typescript', ttlMonitor: false }).connect();
    const c = client.db('a').collection('b');
    await c.insertOne({ x: 1 });
    await client.close();
    await assert.rejects(c.insertOne({ x: 2 }), (e: LargetableError) => e.code === 'CLOSED');
    assert.throws(() => c.find({}), (e: LargetableError) => e.code === 'CLOSED');
  });

  it("kernels 'auto' that fail to load: TypeScript kernels and one warning per process; 'wasm' is KERNEL_ERROR", async () => {
    const failing = { openAdapter: (loc: string) => import('../../platform/node/storage.ts').then((m) => m.openAdapter(loc)), loadKernels: () => Promise.reject(new Error('simd.wasm not found')) };
    const warnings: unknown[][] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args);
    try {
      for (let i = 0; i < 2; i++) {
        const client = await new LargetableClient(`memory://kfail-${Date.now()}-${i}`, { platform: failing, ttlMonitor: false }).connect();
        assert.equal(client.kernelBuild, 'typescript');
        await client.db('a').collection('b').insertOne({ x: i });
        assert.equal(await client.db('a').collection('b').countDocuments(), 1);
        await client.close();
      }
      await assert.rejects(new LargetableClient(`memory://kfail-w-${Date.now()}`, { platform: failing, kernels: 'wasm', ttlMonitor: false }).connect(), (e: LargetableError) => e.code === 'KERNEL_ERROR');
    } finally {
      console.warn = warn;
    }
    // once per process (no other test makes the kernels fail to load)
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(String(warnings[0]![0]), /wasm kernels failed to load \(simd\.wasm not found\); running on the TypeScript kernels/);
  });

  it('persists across reopen on the same memory volume', async () => {
    const loc = `memory://persist-${Date.now()}`;
    let client = await new LargetableClient(loc, { kernels: 'typescript', ttlMonitor: false }).connect();
    await client.db('d').collection('c').createIndex({ k: 1 }, { unique: true });
    await client.db('d').collection('c').insertMany([{ k: 1 }, { k: 2 }]);
    await client.close();
    client = await new LargetableClient(loc, { kernels: 'typescript', ttlMonitor: false }).connect();
    const c = client.db('d').collection('c');
    assert.equal(await c.countDocuments(), 2);
    assert.equal(await c.estimatedDocumentCount(), 2);
    await assert.rejects(c.insertOne({ k: 2 }), (e: LargetableError) => e.code === 'DUPLICATE_KEY');
    assert.equal(await c.indexExists('k_1'), true);
    await client.close();
  });

  it('persists on the filesystem adapter (path location) with indexes and change log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lt-doc-'));
    try {
      let client = await open(dir, { kernels: 'typescript', ttlMonitor: false });
      let c = client.db('fs').collection('c');
      await c.createIndex({ k: -1 });
      await c.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, k: i % 5 })));
      await client.engine.store.flush();
      await c.deleteMany({ k: 0 });
      await client.close();
      client = await open(dir, { kernels: 'typescript', ttlMonitor: false });
      c = client.db('fs').collection('c');
      assert.equal(await c.countDocuments(), 40);
      assert.deepEqual((await c.find({ k: { $gte: 3 } }).sort({ k: -1, _id: 1 }).limit(3).toArray()).map((d) => d._id), [4, 9, 14]);
      const ex = await c.find({ k: 2 }).explain();
      assert.equal(((ex.queryPlanner as Record<string, any>).winningPlan.inputStage as Record<string, unknown>).stage, 'IXSCAN');
      await client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('concurrent writers: group-committed inserts stay unique-exact and all land', async () => {
    const client = await freshClient();
    const c = client.db('conc').collection('c');
    await c.createIndex({ k: 1 }, { unique: true });
    const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => c.insertOne({ _id: i, k: i % 8 })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 8);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as LargetableError).code, 'DUPLICATE_KEY');
    assert.equal(await c.countDocuments(), 8);
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.updateOne({ _id: i % 8 }, { $inc: { n: 1 } })));
    const docs = await c.find().toArray();
    assert.equal(docs.reduce((s, d) => s + (d.n as number), 0), 50, 'no lost updates');
    assert.deepEqual(await c.distinct('k'), [0, 1, 2, 3, 4, 5, 6, 7]);
    await client.close();
  });

  it('document cache: never stale, never shared with callers', async () => {
    const client = await freshClient();
    const c = client.db('cache').collection('c');
    await c.createIndex({ g: 1 });
    await c.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, g: i % 2, v: 0, when: new Date(0) })));
    for (let round = 1; round <= 5; round++) {
      for (let i = 0; i < 20; i++) {
        await c.findOne({ _id: i });
        const d = await c.findOne({ _id: i });
        assert.equal(d?.v, round - 1);
        d!.v = 'mutated';
        (d!.when as Date).setTime(99);
      }
      const viaIndex = await c.find({ g: 1 }).toArray();
      viaIndex[0]!.v = 'mutated too';
      // concurrent reads while the update commits
      const reads = Array.from({ length: 20 }, (_, i) => c.findOne({ _id: i }));
      await c.updateMany({}, { $inc: { v: 1 } });
      for (const r of await Promise.all(reads)) assert.ok(r!.v === round - 1 || r!.v === round);
      for (let i = 0; i < 20; i++) {
        const d = await c.findOne({ _id: i });
        assert.equal(d?.v, round);
        assert.equal((d?.when as Date).getTime(), 0);
      }
      assert.deepEqual((await c.find({ g: 1 }).toArray()).map((d) => d.v), Array(10).fill(round));
    }
    await c.deleteOne({ _id: 3 });
    assert.equal(await c.findOne({ _id: 3 }), null);
    await client.close();
  });
});
