import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LargetableClient, type LargetableError } from '../../platform/node/index.ts';
import { freshClient } from './helpers.ts';

describe('transactions', () => {
  it('withTransaction commits all writes atomically; reads inside see own writes, outside see none until commit', async () => {
    const client = await freshClient();
    const acc = client.db('bank').collection('acc');
    await acc.insertMany([{ _id: 'a', bal: 100 }, { _id: 'b', bal: 0 }]);
    const session = client.startSession();
    await session.withTransaction(async (s) => {
      await acc.updateOne({ _id: 'a' }, { $inc: { bal: -30 } }, { session: s });
      await acc.updateOne({ _id: 'b' }, { $inc: { bal: 30 } }, { session: s });
      await acc.insertOne({ _id: 'log', note: 'moved 30' }, { session: s });
      assert.equal((await acc.findOne({ _id: 'a' }, { session: s }))?.bal, 70, 'own write visible');
      assert.equal((await acc.findOne({ _id: 'a' }))?.bal, 100, 'not visible outside before commit');
      assert.equal(await acc.countDocuments({}, { session: s }), 3);
      assert.equal(await acc.countDocuments({}), 2);
    });
    assert.deepEqual(await acc.find({}, { projection: { bal: 1 } }).toArray(), [{ _id: 'a', bal: 70 }, { _id: 'b', bal: 30 }, { _id: 'log' }]);
    await session.endSession();
    await client.close();
  });

  it('abortTransaction discards everything; a thrown callback aborts', async () => {
    const client = await freshClient();
    const c = client.db('t').collection('x');
    const s = client.startSession();
    s.startTransaction();
    await c.insertOne({ _id: 1 }, { session: s });
    await s.abortTransaction();
    assert.equal(await c.countDocuments(), 0);
    await assert.rejects(
      s.withTransaction(async (ss) => {
        await c.insertOne({ _id: 2 }, { session: ss });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await c.countDocuments(), 0);
    await client.close();
  });

  it('snapshot isolation: a transaction does not see commits made after it started', async () => {
    const client = await freshClient();
    const c = client.db('t').collection('iso');
    await c.insertOne({ _id: 1, v: 1 });
    const s = client.startSession();
    s.startTransaction();
    assert.equal((await c.findOne({ _id: 1 }, { session: s }))?.v, 1);
    await c.updateOne({ _id: 1 }, { $set: { v: 2 } });
    await c.insertOne({ _id: 2 });
    assert.equal((await c.findOne({ _id: 1 }, { session: s }))?.v, 1);
    assert.equal(await c.countDocuments({}, { session: s }), 1);
    await s.commitTransaction();
    await client.close();
  });

  it('concurrent writes to the same document: WRITE_CONFLICT, store unchanged by the loser', async () => {
    const client = await freshClient();
    const c = client.db('t').collection('wc');
    await c.insertOne({ _id: 1, v: 0 });
    const s1 = client.startSession();
    const s2 = client.startSession();
    s1.startTransaction();
    s2.startTransaction();
    await c.updateOne({ _id: 1 }, { $inc: { v: 1 } }, { session: s1 });
    await c.updateOne({ _id: 1 }, { $inc: { v: 10 } }, { session: s2 });
    await c.insertOne({ _id: 2 }, { session: s2 });
    await s1.commitTransaction();
    await assert.rejects(s2.commitTransaction(), (e: LargetableError) => e.code === 'WRITE_CONFLICT');
    assert.deepEqual(await c.find().toArray(), [{ _id: 1, v: 1 }]);
    // a non-transactional write also conflicts with an open transaction
    s1.startTransaction();
    await c.updateOne({ _id: 1 }, { $set: { v: 5 } }, { session: s1 });
    await c.updateOne({ _id: 1 }, { $set: { v: 6 } });
    await assert.rejects(s1.commitTransaction(), (e: LargetableError) => e.code === 'WRITE_CONFLICT');
    assert.equal((await c.findOne({ _id: 1 }))?.v, 6);
    // unique-key conflicts between transactions are detected too
    await c.createIndex({ u: 1 }, { unique: true });
    s1.startTransaction();
    s2.startTransaction();
    await c.insertOne({ u: 'x' }, { session: s1 });
    await c.insertOne({ u: 'x' }, { session: s2 });
    await s1.commitTransaction();
    await assert.rejects(s2.commitTransaction(), (e: LargetableError) => e.code === 'WRITE_CONFLICT');
    assert.equal(await c.countDocuments({ u: 'x' }), 1);
    // withTransaction retries a conflicted callback
    let attempts = 0;
    await s2.withTransaction(async (s) => {
      attempts++;
      await c.updateOne({ _id: 1 }, { $inc: { v: 1 } }, { session: s });
      if (attempts === 1) await c.updateOne({ _id: 1 }, { $inc: { v: 100 } });
    });
    assert.equal(attempts, 2);
    assert.equal((await c.findOne({ _id: 1 }))?.v, 107);
    await client.close();
  });
});

describe('change streams', () => {
  it('watch() delivers insert/update/replace/delete/drop events in MongoDB shape', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('ev');
    const cs = c.watch<any>([], { fullDocument: 'updateLookup' });
    await c.insertOne({ _id: 1, a: 1 });
    await c.updateOne({ _id: 1 }, { $set: { b: 2 }, $unset: { a: '' } });
    await c.replaceOne({ _id: 1 }, { z: 9 });
    await c.deleteOne({ _id: 1 });
    await c.drop();
    const ins = await cs.next();
    assert.equal(ins.operationType, 'insert');
    assert.deepEqual(ins.ns, { db: 'app', coll: 'ev' });
    assert.deepEqual(ins.documentKey, { _id: 1 });
    assert.deepEqual(ins.fullDocument, { _id: 1, a: 1 });
    assert.equal(typeof ins._id._data, 'string');
    const upd = await cs.next();
    assert.equal(upd.operationType, 'update');
    assert.deepEqual(upd.updateDescription, { updatedFields: { b: 2 }, removedFields: ['a'], truncatedArrays: [] });
    assert.equal((await cs.next()).operationType, 'replace');
    assert.equal((await cs.next()).operationType, 'delete');
    assert.equal((await cs.next()).operationType, 'drop');
    assert.equal(await cs.tryNext(), null);
    await cs.close();
    await client.close();
  });

  it('a $match pipeline filters events; on("change") delivers them', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('ev2');
    const cs = c.watch<any>([{ $match: { operationType: 'insert', 'fullDocument.keep': true } }]);
    const seen: unknown[] = [];
    const done = new Promise<void>((resolve) => cs.on('change', (e) => { seen.push(e.documentKey); if (seen.length === 2) resolve(); }));
    await c.insertMany([{ _id: 1, keep: true }, { _id: 2 }, { _id: 3, keep: true }]);
    await c.deleteOne({ _id: 1 });
    await done;
    assert.deepEqual(seen, [{ _id: 1 }, { _id: 3 }]);
    await cs.close();
    await client.close();
  });

  it('resumeAfter survives closing and reopening the store', async () => {
    const loc = `memory://cs-${Date.now()}-${Math.random()}`;
    const opts = { kernels: 'typescript' as const, ttlMonitor: false };
    let client = await new LargetableClient(loc, opts).connect();
    let c = client.db('app').collection('r');
    const cs = c.watch<any>();
    await c.insertOne({ _id: 1 });
    const first = await cs.next();
    await cs.close();
    await c.insertOne({ _id: 2 });
    await c.updateOne({ _id: 2 }, { $set: { x: 1 } });
    await client.close();
    client = await new LargetableClient(loc, opts).connect();
    c = client.db('app').collection('r');
    const resumed = c.watch<any>([], { resumeAfter: first._id });
    const a = await resumed.next();
    const b = await resumed.next();
    assert.equal(a.operationType, 'insert');
    assert.deepEqual(a.documentKey, { _id: 2 });
    assert.equal(b.operationType, 'update');
    await c.insertOne({ _id: 3 });
    assert.deepEqual((await resumed.next()).documentKey, { _id: 3 });
    await resumed.close();
    await client.close();
  });
});

describe('change log records of inserts (written around the document\'s bytes)', () => {
  it('after reopen (WAL replay, then flushed), resumed events carry each inserted document as inserted', async () => {
    const loc = `memory://cs-inplace-${Date.now()}-${Math.random()}`;
    const opts = { kernels: 'typescript' as const, ttlMonitor: false };
    let client = await new LargetableClient(loc, opts).connect();
    let c = client.db('app').collection('docs');
    await c.createIndex({ city: 1 });
    const cs = c.watch<any>();
    await c.insertOne({ _id: 'start' });
    const token = (await cs.next())._id;
    await cs.close();
    const big = 'x'.repeat(5000); // over the encoder's shared-buffer size: its record is a copy
    const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `d${i}`, city: `c${i % 7}`, n: i, ...(i % 50 === 3 ? { big } : {}), tags: ['a', String(i)] }));
    await c.insertMany(docs);
    // one commit mixing inserts and other changes: records of both kinds
    await c.bulkWrite([
      { insertOne: { document: { _id: 'b1', city: 'c1' } } },
      { updateOne: { filter: { _id: 'd1' }, update: { $set: { n: -1 } } } },
      { insertOne: { document: { _id: 'b2', city: 'c2', big } } },
      { deleteOne: { filter: { _id: 'd2' } } },
      { insertOne: { document: { _id: 'b3', city: 'c3' } } },
    ]);
    // a transaction inserting a document and changing it before commit
    const session = client.startSession();
    await session.withTransaction(async (s) => {
      await c.insertOne({ _id: 't1', v: 1 }, { session: s });
      await c.updateOne({ _id: 't1' }, { $set: { v: 2 } }, { session: s });
      await c.insertOne({ _id: 't2', v: 1 }, { session: s });
    });
    await session.endSession();
    const expected = [
      ...docs.map((d) => ['insert', d._id, d]),
      ['insert', 'b1', { _id: 'b1', city: 'c1' }],
      ['update', 'd1', undefined],
      ['insert', 'b2', { _id: 'b2', city: 'c2', big }],
      ['delete', 'd2', undefined],
      ['insert', 'b3', { _id: 'b3', city: 'c3' }],
      ['insert', 't1', { _id: 't1', v: 1 }],
      ['update', 't1', undefined],
      ['insert', 't2', { _id: 't2', v: 1 }],
    ];
    const check = async (label: string) => {
      const resumed = c.watch<any>([], { resumeAfter: token });
      for (const [op, id, full] of expected) {
        const e = await resumed.next();
        assert.equal(e.operationType, op, `${label}: ${id}`);
        assert.deepEqual(e.documentKey, { _id: id }, label);
        if (full !== undefined) assert.deepEqual(e.fullDocument, full, `${label}: ${id}`);
      }
      assert.equal(await resumed.tryNext(), null, label);
      await resumed.close();
    };
    await check('live');
    assert.deepEqual(await c.findOne({ _id: 't1' }), { _id: 't1', v: 2 });
    assert.deepEqual(await c.findOne({ _id: 'd3' }), docs[3]);
    await client.close();
    client = await new LargetableClient(loc, opts).connect();
    c = client.db('app').collection('docs');
    await check('after reopen');
    assert.equal(await c.countDocuments({ city: 'c3' }), docs.filter((d) => d.city === 'c3').length + 1);
    assert.deepEqual(await c.findOne({ _id: 'd53' }), docs[53]);
    await client.close();
  });
});

describe('change log ring', () => {
  it('wraps around: resume replays exactly the events after the token; older tokens report history lost', async () => {
    const client = await freshClient();
    const c = client.db('ring').collection('r');
    const cs = c.watch<any>();
    const total = 10_050;
    for (let b = 0; b < total; b += 1005) await c.insertMany(Array.from({ length: 1005 }, (_, i) => ({ _id: b + i })));
    const first = await cs.next();
    for (let i = 1; i < 99; i++) await cs.next();
    const token100 = (await cs.next())._id;
    await cs.close();
    const resumed = c.watch<any>([], { resumeAfter: token100 });
    let n = 0;
    let expect = 100;
    for (;;) {
      const e = await resumed.tryNext();
      if (e === null) break;
      assert.deepEqual(e.documentKey, { _id: expect++ });
      n++;
    }
    assert.equal(n, total - 100);
    await resumed.close();
    const lost = c.watch<any>([], { resumeAfter: first._id });
    await assert.rejects(lost.next(), (e: LargetableError) => e.code === 'NOT_FOUND');
    await lost.close();
    await client.close();
  });
});

describe('aggregation', () => {
  it('aggregate() runs pipelines with a planner-pushed $match, $lookup, $out and $merge', async () => {
    const client = await freshClient();
    const db = client.db('agg');
    const orders = db.collection('orders');
    const users = db.collection('users');
    await users.insertMany([{ _id: 1, name: 'ann' }, { _id: 2, name: 'bo' }]);
    await orders.createIndex({ status: 1 });
    await orders.insertMany([
      { _id: 10, user: 1, amt: 5, status: 'paid' },
      { _id: 11, user: 1, amt: 7, status: 'paid' },
      { _id: 12, user: 2, amt: 1, status: 'open' },
    ]);
    const totals = await orders
      .aggregate([{ $match: { status: 'paid' } }, { $group: { _id: '$user', total: { $sum: '$amt' } } }, { $lookup: { from: 'users', localField: '_id', foreignField: '_id', as: 'u' } }, { $project: { total: 1, name: { $first: '$u.name' } } }])
      .toArray();
    assert.deepEqual(totals, [{ _id: 1, total: 12, name: 'ann' }]);
    const ex = await orders.aggregate([{ $match: { status: 'paid' } }]).explain();
    assert.equal((((ex.queryPlanner as Record<string, unknown>).winningPlan as Record<string, unknown>).inputStage as Record<string, unknown>).stage, 'IXSCAN');
    await orders.aggregate([{ $match: { status: 'paid' } }, { $project: { amt: 1 } }, { $out: 'paid' }]).toArray();
    assert.deepEqual(await db.collection('paid').find().toArray(), [{ _id: 10, amt: 5 }, { _id: 11, amt: 7 }]);
    await orders.aggregate([{ $match: { status: 'open' } }, { $project: { amt: 1 } }, { $merge: { into: 'paid' } }]).toArray();
    assert.equal(await db.collection('paid').countDocuments(), 3);
    await client.close();
  });
});
