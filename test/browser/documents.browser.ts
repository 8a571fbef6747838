/**
 * The document API in Chromium on IndexedDB and OPFS: CRUD, an index used by the planner, a unique
 * violation, a transaction; phase 2 (after a page reload) reopens and checks everything persisted,
 * including a change-stream resume across the reload.
 */
import { assert, test } from './harness.ts';
import { open, LargetableError, ObjectId } from '../../platform/browser/index.ts';

const LOCATIONS = ['idb://lt-documents-test', 'opfs://lt-documents-test'];
let token: unknown;

for (const loc of LOCATIONS) {
  test(`documents on ${loc}: CRUD, index, unique, transaction`, async () => {
    const client = await open(loc, { ttlMonitor: false });
    const c = client.db('app').collection('users');
    await c.drop();
    await c.createIndex({ age: 1 });
    await c.createIndex({ email: 1 }, { unique: true });
    const r = await c.insertOne({ name: 'Ada', age: 36, email: 'ada@x' });
    assert.equal(r.insertedId instanceof ObjectId, true);
    await c.insertMany(Array.from({ length: 200 }, (_, i) => ({ name: `u${i}`, age: i % 90, email: `u${i}@x` })));
    await assert.rejects(() => c.insertOne({ email: 'ada@x' }), (e) => e instanceof LargetableError && e.code === 'DUPLICATE_KEY');
    const rows = await c.find({ age: { $gte: 30, $lt: 40 } }).sort({ age: -1 }).limit(5).toArray();
    assert.deepEqual(rows.map((d) => d.age), [39, 39, 38, 38, 37]);
    const ex = await c.find({ age: 36 }).explain('executionStats');
    assert.equal((ex.queryPlanner as any).winningPlan.inputStage.stage, 'IXSCAN');
    assert.equal((ex.executionStats as any).totalDocsExamined, 3);
    assert.equal((await c.updateMany({ age: { $lt: 10 } }, { $inc: { age: 100 } })).modifiedCount, 30);
    assert.equal((await c.deleteMany({ age: { $gte: 100 } })).deletedCount, 30);
    const s = client.startSession();
    await s.withTransaction(async (ss) => {
      await c.updateOne({ name: 'Ada' }, { $set: { role: 'admin' } }, { session: ss });
      await c.insertOne({ name: 'Tx', age: 1, email: 'tx@x' }, { session: ss });
    });
    const cs = c.watch();
    await c.insertOne({ name: 'before-reload', age: 5, email: 'b@x' });
    token = (await cs.next())?._id;
    await cs.close();
    await c.insertOne({ name: 'after-token', age: 6, email: 'a@x' });
    (globalThis as any).localStorage?.setItem(`lt-token-${loc}`, JSON.stringify(token));
    assert.equal(await c.countDocuments(), 174);
    await client.close();
  }, { phase: 1 });

  test(`documents on ${loc}: everything persisted across a reload`, async () => {
    const client = await open(loc, { ttlMonitor: false });
    const c = client.db('app').collection('users');
    assert.equal(await c.countDocuments(), 174);
    assert.equal((await c.findOne({ name: 'Ada' }))?.role, 'admin');
    assert.equal((await c.findOne({ name: 'Tx' }))?.age, 1);
    await assert.rejects(() => c.insertOne({ email: 'u50@x' }), (e) => e instanceof LargetableError && e.code === 'DUPLICATE_KEY');
    assert.equal((await c.find({ age: 36 }).toArray()).length, 3);
    const saved = JSON.parse((globalThis as any).localStorage?.getItem(`lt-token-${loc}`) ?? 'null');
    const resumed = c.watch([], { resumeAfter: saved });
    const ev = await resumed.next();
    assert.equal(ev?.operationType, 'insert');
    assert.equal((ev?.fullDocument as any)?.name, 'after-token');
    await resumed.close();
    await c.drop();
    await client.close();
  }, { phase: 2 });
}
