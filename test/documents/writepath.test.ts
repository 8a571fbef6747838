/**
 * The write path under concurrency: commits that wait for a durable store write in flight go to
 * the store as one merged batch (engine.ts, "commit coalescing"); batched inserts check `_id`
 * up front and stage synchronously. These tests pin the semantics that must not change: per-write
 * atomicity, commit order (a later write of a key wins, also across durability classes), unique
 * checks across in-flight commits, counters, and the change log.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BSON } from 'bson';
import fc from 'fast-check';
import { open, LargetableError, LargetableBulkWriteError, type LargetableClient } from '../../platform/node/index.ts';
import { Mutex, encodeCounters } from '../../src/document/engine.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lt-writepath-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const opts = { kernels: 'typescript', ttlMonitor: false, durability: 'strict' } as const;

async function indexAgreesWithScan(client: LargetableClient, filter: Record<string, unknown>, hint: string): Promise<void> {
  const c = client.db('w').collection('c');
  const byIndex = (await c.find(filter, { hint }).toArray()).map((d) => String(d._id)).sort();
  const byScan = (await c.find(filter, { hint: { $natural: 1 } }).toArray()).map((d) => String(d._id)).sort();
  assert.deepEqual(byIndex, byScan);
}

/** The first `n` change events after `token`, as `operationType:_id`. */
async function replayAfter(c: ReturnType<ReturnType<LargetableClient['db']>['collection']>, token: unknown, n: number): Promise<string[]> {
  const replay = c.watch([], { resumeAfter: token });
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = await replay.next();
    seen.push(`${e!.operationType}:${(e!.documentKey as { _id: unknown })._id}`);
  }
  await replay.close();
  return seen;
}

describe('write path: concurrent commits', () => {
  it('64 concurrent inserts and updates: every acknowledged write survives a reopen, counters and indexes agree', async () => {
    await withDir(async (dir) => {
      let client = await open(dir, opts);
      let c = client.db('w').collection('c');
      await c.createIndex({ k: 1 });
      const n = 400;
      let next = 0;
      const updated = new Set<number>();
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < n) {
            const i = next++;
            await c.insertOne({ _id: i, k: i % 7, v: 'x'.repeat(i % 50) });
            // an update of a document inserted by another caller, possibly still in flight
            if (i >= 10 && (await c.updateOne({ _id: i - 10 }, { $set: { k: 100 + (i % 3) }, $inc: { n: 1 } })).matchedCount === 1) updated.add(i - 10);
          }
        }),
      );
      const before = await c.find({}).sort({ _id: 1 }).toArray();
      const stats = await c.stats();
      await client.close();
      client = await open(dir, opts);
      c = client.db('w').collection('c');
      assert.equal(await c.estimatedDocumentCount(), n);
      assert.equal(await c.countDocuments(), n);
      assert.deepEqual(await c.find({}).sort({ _id: 1 }).toArray(), before);
      assert.equal((await c.stats()).size, stats.size);
      assert.ok(updated.size > 0);
      for (let i = 0; i < n; i++) assert.equal(before[i]!.n, updated.has(i) ? 1 : undefined, `document ${i}`);
      for (const k of [0, 3, 6, 100, 101, 102]) await indexAgreesWithScan(client, { k }, 'k_1');
      await client.close();
    });
  });

  it('64 concurrent strict single inserts share WAL syncs (no per-document synchronous write)', async () => {
    await withDir(async (dir) => {
      const client = await open(dir, opts);
      const c = client.db('w').collection('c');
      await c.createIndex({ k: 1 });
      const store = (client as unknown as { engine: { store: { stats(): { walSyncs: number } } } }).engine.store;
      // a sequential writer first: its lone commits may take the synchronous WAL write
      for (let i = 0; i < 50; i++) await c.insertOne({ _id: -1 - i, k: i % 7 });
      const before = store.stats().walSyncs;
      const n = 1280;
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < n) {
            const i = next++;
            await c.insertOne({ _id: i, k: i % 7, v: 'x'.repeat(i % 50) });
          }
        }),
      );
      const syncs = store.stats().walSyncs - before;
      // group commit: a few syncs per round of 64 callers; a synchronous write per commit that
      // blocks the callers from staging would make it one sync per document
      assert.ok(syncs <= n / 8, `${syncs} WAL syncs for ${n} inserts from 64 callers`);
      assert.equal(await c.countDocuments(), n + 50);
      await client.close();
    });
  });

  it('a relaxed write issued after a strict one of the same document lands after it', async () => {
    await withDir(async (dir) => {
      let client = await open(dir, opts);
      let c = client.db('w').collection('c');
      await c.insertOne({ _id: 'warm' }); // keep a durable write in flight below
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) {
        writes.push(c.insertOne({ _id: i, state: 'inserted' }));
        writes.push(c.updateOne({ _id: i }, { $set: { state: 'updated' } }, { writeConcern: { j: false } }));
        writes.push(c.updateOne({ _id: i }, { $inc: { n: 1 } }));
      }
      await Promise.all(writes);
      await client.close();
      client = await open(dir, opts);
      c = client.db('w').collection('c');
      const docs = await c.find({ _id: { $type: 'number' } }).sort({ _id: 1 }).toArray();
      assert.equal(docs.length, 50);
      for (const d of docs) assert.deepEqual({ state: d.state, n: d.n }, { state: 'updated', n: 1 });
      await client.close();
    });
  });

  it('duplicate keys across concurrent commits: exactly one insert of each _id and unique key wins', async () => {
    await withDir(async (dir) => {
      const client = await open(dir, opts);
      const c = client.db('w').collection('c');
      await c.createIndex({ u: 1 }, { unique: true });
      const results = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? c.insertOne({ _id: i % 10, u: `a${i}` }) : c.insertOne({ _id: 100 + i, u: `b${i % 5}` }))),
      );
      const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      for (const r of refused) assert.ok(r.reason instanceof LargetableError && r.reason.code === 'DUPLICATE_KEY', String(r.reason));
      // 5 distinct _ids (0, 2, 4, 6, 8) and 5 distinct unique keys (b0..b4)
      assert.equal(results.length - refused.length, 10);
      assert.equal(await c.countDocuments(), 10);
      assert.equal(await c.estimatedDocumentCount(), 10);
      await indexAgreesWithScan(client, { u: { $gte: '' } }, 'u_1');
      await client.close();
    });
  });

  it('insertOne calls issued together are staged in call order, each atomic on its own: a duplicate rejects only its caller, a write queued between them keeps its place', async () => {
    await withDir(async (dir) => {
      let client = await open(dir, opts);
      let c = client.db('w').collection('c');
      await c.createIndex({ k: 1 });
      const stream = c.watch();
      const first = stream.next();
      await c.insertOne({ _id: 'start' });
      const token = (await first)!._id;
      await stream.close();
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) calls.push(c.insertOne({ _id: i % 30, k: i, v: 'x'.repeat(i) }));
      // a delete queued after the first 40 calls, then a re-insert of the deleted _id
      calls.push(c.deleteOne({ _id: 5 }));
      calls.push(c.insertOne({ _id: 5, k: 'again' }));
      for (let i = 40; i < 60; i++) calls.push(c.insertOne({ _id: i, k: i }));
      const results = await Promise.allSettled(calls);
      const refused = results.map((r, i) => (r.status === 'rejected' ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(refused, Array.from({ length: 10 }, (_, j) => 30 + j));
      for (const i of refused) {
        const e = (results[i] as PromiseRejectedResult).reason;
        assert.ok(e instanceof LargetableError && e.code === 'DUPLICATE_KEY', String(e));
      }
      assert.equal((await c.findOne({ _id: 5 }))!.k, 'again');
      assert.equal((await c.findOne({ _id: 7 }))!.k, 7); // the first call with _id 7 won
      assert.equal(await c.countDocuments({ k: { $gte: 30, $lt: 40 } }), 0);
      assert.equal(await c.estimatedDocumentCount(), 51); // start, _ids 0..29 (5 deleted and inserted again), 40..59
      await indexAgreesWithScan(client, { k: { $gte: 0 } }, 'k_1');
      await client.close();
      client = await open(dir, opts);
      c = client.db('w').collection('c');
      const seen = await replayAfter(c, token, 52);
      const expected = [...Array.from({ length: 30 }, (_, i) => `insert:${i}`), 'delete:5', 'insert:5', ...Array.from({ length: 20 }, (_, i) => `insert:${40 + i}`)];
      assert.deepEqual(seen, expected);
      assert.equal(await c.estimatedDocumentCount(), 51);
      await client.close();
    });
  });

  it('insertMany: in-batch and stored duplicates, ordered and unordered, stage nothing for the refused documents', async () => {
    await withDir(async (dir) => {
      const client = await open(dir, opts);
      const c = client.db('w').collection('c');
      await c.createIndex({ k: 1 });
      await c.insertOne({ _id: 3, k: 'stored' });
      const docs = [{ _id: 1, k: 'a' }, { _id: 2, k: 'b' }, { _id: 1, k: 'dup' }, { _id: 3, k: 'dup' }, { _id: 4, k: 'c' }];
      await assert.rejects(c.insertMany(docs), (e: LargetableBulkWriteError) => e.code === 'DUPLICATE_KEY' && e.insertedCount === 2 && e.writeErrors.length === 1 && e.writeErrors[0]!.index === 2);
      assert.deepEqual((await c.find({}).sort({ _id: 1 }).toArray()).map((d) => d._id), [1, 2, 3]);
      await c.deleteMany({ _id: { $in: [1, 2] } });
      await assert.rejects(c.insertMany(docs, { ordered: false }), (e: LargetableBulkWriteError) => e.insertedCount === 3 && e.writeErrors.map((w) => w.index).join() === '2,3');
      assert.deepEqual((await c.find({}).sort({ _id: 1 }).toArray()).map((d) => [d._id, d.k]), [[1, 'a'], [2, 'b'], [3, 'stored'], [4, 'c']]);
      assert.equal(await c.countDocuments({ k: 'dup' }), 0);
      assert.equal(await c.estimatedDocumentCount(), 4);
      await client.close();
    });
  });

  it('the change log of merged commits replays every change in order after a restart', async () => {
    await withDir(async (dir) => {
      let client = await open(dir, opts);
      let c = client.db('w').collection('c');
      const stream = c.watch();
      const first = stream.next();
      await c.insertOne({ _id: 'start' });
      const token = (await first)!._id;
      await stream.close();
      await Promise.all(Array.from({ length: 40 }, (_, i) => c.insertOne({ _id: i })));
      await Promise.all(Array.from({ length: 40 }, (_, i) => c.updateOne({ _id: i }, { $set: { y: i } })));
      await client.close();
      client = await open(dir, opts);
      c = client.db('w').collection('c');
      const seen = await replayAfter(c, token, 80);
      const inserts = seen.slice(0, 40).map((s) => s.split(':'));
      assert.ok(inserts.every(([op]) => op === 'insert'));
      assert.deepEqual(inserts.map(([, id]) => Number(id)).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
      assert.ok(seen.slice(40).every((s) => s.startsWith('update:')));
      await client.close();
    });
  });

  it('updates that keep the document size and stage no index change still persist', async () => {
    await withDir(async (dir) => {
      let client = await open(dir, opts);
      let c = client.db('w').collection('c');
      await c.createIndex({ a: 1 });
      await c.insertOne({ _id: 1, a: 5, s: 1.5 });
      const size = (await c.stats()).size;
      for (let i = 0; i < 5; i++) await c.updateOne({ _id: 1 }, { $inc: { s: 1 } }, { writeConcern: { j: false } });
      await client.close();
      client = await open(dir, opts);
      c = client.db('w').collection('c');
      assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, a: 5, s: 6.5 });
      assert.equal((await c.stats()).size, size);
      assert.deepEqual((await c.find({ a: 5 }, { hint: 'a_1' }).toArray()).map((d) => d._id), [1]);
      await client.close();
    });
  });
});

describe('write path: counters record', () => {
  it('encodeCounters writes what BSON.serialize writes for { count, bytes } (int32 where it fits, else double)', () => {
    const num = fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.constantFrom(0, -0, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e300));
    fc.assert(
      fc.property(num, num, (count, bytes) => {
        assert.deepEqual(Array.from(encodeCounters(count, bytes)), Array.from(BSON.serialize({ count, bytes })));
      }),
    );
  });
});

describe('write path: the mutex', () => {
  it('grants lock() and lockThen() callers in call order, each in a microtask (never inside the release that hands it over)', async () => {
    const m = new Mutex();
    const log: string[] = [];
    let inRelease = false;
    const release = (r: () => void, who: string): void => {
      inRelease = true;
      r();
      inRelease = false;
      log.push(`${who} released`);
    };
    const run = (who: string) => (r: () => void): void => {
      assert.equal(inRelease, false, `${who} ran inside a release`);
      log.push(`${who} runs (waiting ${m.waiting})`);
      queueMicrotask(() => release(r, who));
    };
    m.lockThen(run('a'));
    assert.equal(log.length, 0, 'a free lock is granted a microtask later, as then() would');
    const b = m.lock().then((r) => {
      log.push(`b runs (waiting ${m.waiting})`);
      release(r, 'b');
    });
    m.lockThen(run('c'));
    m.lockThen(run('d'));
    assert.equal(m.queued, 4);
    assert.equal(m.waiting, 3);
    await b;
    while (log.length < 8) await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(log, ['a runs (waiting 3)', 'a released', 'b runs (waiting 2)', 'b released', 'c runs (waiting 1)', 'c released', 'd runs (waiting 0)', 'd released']);
    // free again: lock() takes it at once
    const r = await m.lock();
    r();
    r(); // lock()'s release is guarded: a second call does nothing
    assert.equal(m.waiting, 0);
  });
});
