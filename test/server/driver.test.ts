// Integration: `largetable serve` as a child process, driven by the official mongodb driver
// (wire protocol) and by fetch / ws (REST, SSE, WebSocket). Node only (child process + driver).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { EJSON } from 'bson';
import WebSocket from 'ws';
import { startServerProcess } from './spawn.ts';
import type { Child } from './spawn.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

describe('server over the mongodb driver and HTTP', { skip: isDeno ? 'child-process suite runs on Node' : false }, () => {
  let srv: Child;
  let client: MongoClient;

  before(async () => {
    srv = await startServerProcess();
    client = new MongoClient(`mongodb://127.0.0.1:${srv.mongoPort}/?directConnection=true`, { serverSelectionTimeoutMS: 30_000 });
    await client.connect();
  });
  after(async () => {
    await client?.close();
    const code = await srv?.stop();
    assert.equal(code, 0, srv?.stderr());
  });

  it('handshakes, pings and reports buildInfo', async () => {
    const admin = client.db('admin');
    assert.equal((await admin.command({ ping: 1 })).ok, 1);
    const bi = await admin.command({ buildInfo: 1 });
    assert.match(String(bi['version']), /^\d+\.\d+/);
    const hello = await admin.command({ hello: 1 });
    assert.equal(hello['isWritablePrimary'], true);
    const hi = await admin.command({ hostInfo: 1 });
    assert.ok(hi['system'].numCores >= 1, 'numCores from the platform');
    assert.ok(hi['system'].memSizeMB > 0);
  });

  it('CRUD round trip', async () => {
    const c = client.db('shop').collection('items');
    const one = await c.insertOne({ sku: 'a', qty: 5, tags: ['x', 'y'], at: new Date(0) });
    assert.ok(one.insertedId instanceof ObjectId);
    const many = await c.insertMany([{ sku: 'b', qty: 1 }, { sku: 'c', qty: 9 }, { sku: 'd', qty: 3 }]);
    assert.equal(many.insertedCount, 3);
    const a = await c.findOne({ sku: 'a' });
    assert.deepEqual(a?.['tags'], ['x', 'y']);
    assert.equal((a?.['at'] as Date).getTime(), 0);
    const up = await c.updateOne({ sku: 'b' }, { $inc: { qty: 10 } });
    assert.equal(up.matchedCount, 1);
    assert.equal(up.modifiedCount, 1);
    const upMany = await c.updateMany({ qty: { $lt: 6 } }, { $set: { low: true } });
    assert.equal(upMany.modifiedCount, 2);
    const ups = await c.updateOne({ sku: 'z' }, { $set: { qty: 0 } }, { upsert: true });
    assert.equal(ups.upsertedCount, 1);
    const rep = await c.replaceOne({ sku: 'z' }, { sku: 'z', qty: 100 });
    assert.equal(rep.modifiedCount, 1);
    const fam = await c.findOneAndUpdate({ sku: 'c' }, { $set: { qty: 10 } }, { returnDocument: 'after' });
    assert.equal(fam?.['qty'], 10);
    const fad = await c.findOneAndDelete({ sku: 'z' });
    assert.equal(fad?.['qty'], 100);
    assert.equal(await c.countDocuments({}), 4);
    assert.equal(await c.countDocuments({ low: true }), 2);
    assert.deepEqual((await c.distinct('sku')).sort(), ['a', 'b', 'c', 'd']);
    const del = await c.deleteMany({ low: true });
    assert.equal(del.deletedCount, 2);
    const sorted = await c.find({}, { projection: { _id: 0, sku: 1 } }).sort({ sku: -1 }).toArray();
    assert.deepEqual(sorted, [{ sku: 'c' }, { sku: 'b' }]);
  });

  it('iterates cursors across getMore batches and kills them', async () => {
    const c = client.db('shop').collection('many');
    const docs = Array.from({ length: 250 }, (_, i) => ({ i }));
    await c.insertMany(docs);
    const seen: number[] = [];
    for await (const d of c.find({}, { batchSize: 7 }).sort({ i: 1 })) seen.push(d['i'] as number);
    assert.deepEqual(seen, docs.map((d) => d.i));
    const cur = c.find({}).batchSize(10);
    await cur.next();
    await cur.close();
    const limited = await c.find({}).sort({ i: -1 }).limit(15).batchSize(4).toArray();
    assert.deepEqual(limited.map((d) => d['i']), Array.from({ length: 15 }, (_, k) => 249 - k));
    const skipped = await c.find({ i: { $gte: 100 } }).skip(140).toArray();
    assert.deepEqual(skipped.map((d) => d['i']), Array.from({ length: 10 }, (_, k) => 240 + k));
    const status = await client.db('admin').command({ serverStatus: 1 });
    assert.equal(typeof status['opcounters'], 'object');
  });

  it('creates, lists and drops indexes; unique violations carry code 11000', async () => {
    const c = client.db('shop').collection('users');
    const name = await c.createIndex({ email: 1 }, { unique: true });
    assert.equal(name, 'email_1');
    const names = (await c.listIndexes().toArray()).map((i) => i['name']).sort();
    assert.deepEqual(names, ['_id_', 'email_1']);
    await c.insertOne({ email: 'a@x' });
    await assert.rejects(c.insertOne({ email: 'a@x' }), (e: unknown) => e instanceof MongoServerError && e.code === 11000);
    const bulk = await c.insertMany([{ email: 'b@x' }, { email: 'a@x' }, { email: 'c@x' }], { ordered: false }).catch((e: unknown) => e);
    assert.ok(bulk instanceof Error);
    assert.equal((bulk as { code?: number }).code, 11000);
    assert.equal(await c.countDocuments({}), 3);
    const explain = await c.find({ email: 'b@x' }).explain();
    assert.ok(JSON.stringify(explain).includes('IXSCAN'));
    await c.dropIndex('email_1');
    assert.deepEqual((await c.listIndexes().toArray()).map((i) => i['name']), ['_id_']);
  });

  it('aggregates with a cursor', async () => {
    const c = client.db('shop').collection('sales');
    await c.insertMany(Array.from({ length: 30 }, (_, i) => ({ region: i % 3 === 0 ? 'n' : 's', amount: i })));
    const out = await c.aggregate([{ $group: { _id: '$region', total: { $sum: '$amount' } } }, { $sort: { _id: 1 } }]).toArray();
    const n = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 3 === 0).reduce((a, b) => a + b, 0);
    assert.deepEqual(out, [{ _id: 'n', total: n }, { _id: 's', total: 435 - n }]);
    const batched = await c.aggregate([{ $sort: { amount: 1 } }], { batchSize: 4 }).toArray();
    assert.equal(batched.length, 30);
  });

  it('lists and drops collections and databases', async () => {
    const db = client.db('tmpdb');
    await db.createCollection('a');
    await assert.rejects(db.createCollection('a'), (e: unknown) => e instanceof MongoServerError && e.code === 48);
    await db.collection('b').insertOne({ x: 1 });
    const names = (await db.listCollections().toArray()).map((c) => c.name).sort();
    assert.deepEqual(names, ['a', 'b']);
    const dbs = await client.db('admin').admin().listDatabases();
    assert.ok(dbs.databases.some((d) => d.name === 'tmpdb'));
    assert.equal(await db.collection('a').drop(), true);
    await db.dropDatabase();
    assert.deepEqual(await db.listCollections().toArray(), []);
  });

  it('answers errors in the driver shape; unknown command is 59', async () => {
    await assert.rejects(client.db('x').command({ noSuchCommand: 1 }), (e: unknown) => e instanceof MongoServerError && e.code === 59 && e.codeName === 'CommandNotFound');
    await assert.rejects(client.db('x').collection('y').find({ a: { $bogus: 1 } }).toArray(), (e: unknown) => e instanceof MongoServerError && e.code === 2);
    await assert.rejects(client.db('bad/name').collection('y').insertOne({}), (e: unknown) => e instanceof MongoServerError);
    assert.equal((await client.db('admin').command({ ping: 1 })).ok, 1);
  });

  it('/metrics breaks the process memory down (heap spaces, external, rest) and shows what the store budgets hold', async () => {
    await client.db('shop').collection('mem').insertOne({ n: 1 });
    const text = await (await fetch(`${srv.http}/metrics`)).text();
    const v = (metric: string, key: string): number => {
      const m = new RegExp(`^${metric}\\{key="${key}"\\} (\\S+)`, 'm').exec(text);
      assert.ok(m, `${metric}{key="${key}"} in /metrics`);
      return Number(m[1]);
    };
    const mem = (key: string): number => v('largetable_process_memory_bytes', key);
    assert.ok(mem('rss') > 0 && mem('heapTotal') > 0 && mem('newSpace') > 0 && mem('oldSpace') > 0);
    assert.ok(mem('newSpace') + mem('oldSpace') + mem('codeSpace') + mem('largeObjectSpace') <= mem('heapTotal'), 'the heap spaces are part of the heap');
    assert.equal(mem('other'), Math.max(0, mem('rss') - mem('heapTotal') - mem('external')));
    assert.ok(v('largetable_store', 'memtableBytes') > 0, 'the insert is in the memtable');
    assert.ok(v('largetable_store', 'immutableMemtables') >= 0 && v('largetable_store', 'blockCacheBytes') >= 0);
  });

  it('REST: documents written by the driver are visible as Extended JSON', async () => {
    const c = client.db('shop').collection('rest');
    const { insertedId } = await c.insertOne({ name: 'via driver', n: 1 });
    const r = await fetch(`${srv.http}/api/v1/databases/shop/collections/rest/documents/${insertedId.toHexString()}`);
    assert.equal(r.status, 200);
    const doc = EJSON.parse(await r.text()) as { name: string; _id: ObjectId };
    assert.equal(doc.name, 'via driver');
    assert.ok(insertedId.equals(doc._id));
    const post = await fetch(`${srv.http}/api/v1/databases/shop/collections/rest/documents`, { method: 'POST', body: '{"name":"via rest","when":{"$date":"2020-01-01T00:00:00Z"}}' });
    assert.equal(post.status, 201);
    const back = await c.findOne({ name: 'via rest' });
    assert.ok(back?.['when'] instanceof Date);
    const health = await (await fetch(`${srv.http}/health`)).json() as { status: string; mongoPort: number; kernel: string };
    assert.equal(health.status, 'ok');
    assert.equal(health.mongoPort, srv.mongoPort);
    const page = await fetch(`${srv.http}/`);
    assert.match(await page.text(), /<title>Largetable console<\/title>/);
  });

  it('collection.watch() through the driver, resuming after a token', async () => {
    const c = client.db('shop').collection('watched');
    const cs = c.watch([{ $match: { operationType: 'insert' } }]);
    const first = cs.next();
    await new Promise((r) => setTimeout(r, 200));
    await c.insertOne({ k: 1 });
    await c.insertOne({ k: 2 });
    const e1 = await first;
    assert.equal((e1 as unknown as { fullDocument: { k: number } }).fullDocument.k, 1);
    const token = cs.resumeToken;
    await cs.close();
    const again = c.watch([], { resumeAfter: token });
    const e2 = await again.next();
    assert.equal((e2 as unknown as { fullDocument: { k: number } }).fullDocument.k, 2);
    await again.close();
  });

  it('largetable shell and export against the server URL', async () => {
    const { spawnSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const { repoRoot } = await import('./spawn.ts');
    const url = `mongodb://127.0.0.1:${srv.mongoPort}/?directConnection=true`;
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'platform/node/cli.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    const sh = run('shell', url, '--eval', 'use viaShell\ndb.people.insertMany([{ n: 1 }, { n: 2 }, { n: 3 }])\ndb.people.countDocuments({ n: { $gte: 2 } })\nshow dbs');
    assert.equal(sh.status, 0, sh.stderr);
    assert.match(sh.stdout, /^2$/m);
    assert.match(sh.stdout, /^viaShell$/m);
    const ex = run('export', 'viaShell.people', '--data', url);
    assert.equal(ex.status, 0, ex.stderr);
    assert.equal(ex.stdout.trim().split('\n').length, 3);
  });

  it('change streams over WebSocket and SSE', async () => {
    const c = client.db('shop').collection('live');
    const ws = new WebSocket(`${srv.http.replace('http', 'ws')}/api/v1/databases/shop/collections/live/changes/ws`);
    await new Promise((ok, fail) => {
      ws.once('open', ok);
      ws.once('error', fail);
    });
    const got = new Promise<Record<string, unknown>>((ok) => ws.once('message', (m) => ok(EJSON.parse(String(m)) as Record<string, unknown>)));
    await new Promise((r) => setTimeout(r, 100));
    await c.insertOne({ hello: 'ws' });
    const ev = await got;
    assert.equal(ev['operationType'], 'insert');
    assert.equal((ev['fullDocument'] as { hello: string }).hello, 'ws');
    ws.close();

    const ac = new AbortController();
    const res = await fetch(`${srv.http}/api/v1/databases/shop/collections/live/changes`, { signal: ac.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes('event: ready')) text += dec.decode((await reader.read()).value);
    await c.insertOne({ hello: 'sse' });
    while (!/event: change\ndata: .*\n/.test(text)) text += dec.decode((await reader.read()).value);
    assert.match(text, /"hello":"sse"/);
    ac.abort();
  });
});
