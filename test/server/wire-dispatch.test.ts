// WireServer command dispatch in-process (Node and Deno) over a real client on a memory store.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Double, Long, ObjectId, UUID } from 'bson';
import { open } from '../../src/index.ts';
import { openMemoryAdapter } from '../../platform/memory.ts';
import { WireServer } from '../../src/wire/commands.ts';
import { wireConnectionsMax, wireSessionTimeoutMinutes } from '../../src/limits.ts';
import type { ClientLike } from '../../src/server/engine.ts';

type D = Record<string, any>;
let client: ClientLike;
let wire: WireServer;
const conn = { id: 1, remote: 'test' };
const run = (cmd: D, db = 'w'): Promise<D> => wire.run({ ...cmd, $db: db }, conn);

describe('WireServer', () => {
  before(async () => {
    client = (await open('memory://wire', { adapter: openMemoryAdapter('wire'), kernels: 'typescript', ttlMonitor: false })) as unknown as ClientLike;
    wire = new WireServer({ client });
  });
  after(async () => {
    await wire.closeAll();
    await client.close();
  });

  it('hello and unknown commands', async () => {
    const h = await run({ hello: 1 }, 'admin');
    assert.equal(h['isWritablePrimary'], true);
    assert.equal(h['maxWireVersion'] >= 8, true);
    const u = await run({ frob: 1 });
    assert.deepEqual([u['ok'], u['code'], u['codeName']], [0, 59, 'CommandNotFound']);
    const proto = await run({ __proto__: 1, constructor: 1 } as D);
    assert.equal(proto['code'], 59);
  });

  it('insert, find with batches, getMore until exhausted, killCursors', async () => {
    const docs = Array.from({ length: 25 }, (_, i) => ({ _id: i, v: i % 5 }));
    const ins = await run({ insert: 'c', documents: docs });
    assert.deepEqual([ins['ok'], ins['n']], [1, 25]);
    const f = await run({ find: 'c', filter: {}, sort: { _id: 1 }, batchSize: 10 });
    assert.equal(f['cursor'].firstBatch.length, 10);
    const id = f['cursor'].id as Long;
    assert.ok(!id.isZero());
    const g1 = await run({ getMore: id, collection: 'c', batchSize: 10 });
    assert.deepEqual(g1['cursor'].nextBatch.map((d: D) => d['_id']), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert.ok((g1['cursor'].id as Long).equals(id));
    const g2 = await run({ getMore: id, collection: 'c', batchSize: 10 });
    assert.equal(g2['cursor'].nextBatch.length, 5);
    assert.ok((g2['cursor'].id as Long).isZero());
    const gone = await run({ getMore: id, collection: 'c' });
    assert.equal(gone['code'], 43);
    const f2 = await run({ find: 'c', batchSize: 2 });
    const k = await run({ killCursors: 'c', cursors: [f2['cursor'].id] });
    assert.equal(k['cursorsKilled'].length, 1);
    const lim = await run({ find: 'c', limit: 3, batchSize: 2 });
    const more = await run({ getMore: lim['cursor'].id, collection: 'c' });
    assert.equal(lim['cursor'].firstBatch.length + more['cursor'].nextBatch.length, 3);
  });

  it('find by _id alone takes the point-read path and answers as the general path does', async () => {
    await run({ insert: 'pt', documents: [{ _id: 1, a: new Double(5), l: Long.fromNumber(7), s: 'x' }, { _id: 'k', b: [1, { c: 2 }] }, { _id: new ObjectId('0123456789abcdef01234567'), d: new Date(5) }] }, 'pt');
    const col = client.db('pt').collection('pt');
    let fast = 0;
    const orig = col.findRawById!.bind(col);
    col.findRawById = async (id: unknown) => {
      fast++;
      return orig(id);
    };
    try {
      const shapes: D[] = [
        { filter: { _id: 1 }, limit: 1, singleBatch: true, batchSize: 1 },
        { filter: { _id: 'k' } },
        { filter: { _id: new ObjectId('0123456789abcdef01234567') }, limit: -1 },
        { filter: { _id: 1.0 }, batchSize: 5, comment: 'c', maxTimeMS: 100 },
        { filter: { _id: 404 }, limit: 1, singleBatch: true },
        { filter: { _id: 1 }, lsid: { id: new UUID() } },
      ];
      for (const shape of shapes) {
        const before = fast;
        const r = await run({ find: 'pt', ...shape }, 'pt');
        assert.equal(fast, before + 1, JSON.stringify(shape));
        assert.equal(r['ok'], 1);
        assert.ok((r['cursor'].id as Long).isZero());
        assert.equal(r['cursor'].ns, 'pt.pt');
        // the general path (a filter the fast path does not take) finds the same documents
        const general = await run({ find: 'pt', filter: { $and: [shape['filter']] } }, 'pt');
        assert.equal(fast, before + 1);
        assert.deepEqual(r['cursor'].firstBatch, general['cursor'].firstBatch);
      }
      // stored BSON types are returned as stored (a double stays a double, a Long a Long)
      const one = (await run({ find: 'pt', filter: { _id: 1 } }, 'pt'))['cursor'].firstBatch[0];
      assert.ok(one.a instanceof Double || typeof one.a === 'number');
      assert.ok(Long.isLong(one.l));
      // shapes that could change the answer take the general path
      const before = fast;
      for (const shape of [{ filter: { _id: 1 }, batchSize: 0 }, { filter: { _id: 1 }, projection: { a: 1 } }, { filter: { _id: 1 }, skip: 1 }, { filter: { _id: 1, s: 'x' } }, { filter: { _id: { $gt: 0 } } }, { filter: { _id: 1 }, collation: { locale: 'en' } }]) {
        await run({ find: 'pt', ...shape }, 'pt');
      }
      assert.equal(fast, before + 1); // only the { $gt } filter reached findRawById (not a point value: undefined)
      // a missing collection answers an empty batch
      assert.deepEqual((await run({ find: 'nope', filter: { _id: 1 } }, 'pt'))['cursor'].firstBatch, []);
    } finally {
      delete (col as { findRawById?: unknown }).findRawById;
    }
  });

  it('write errors are reported per statement', async () => {
    const ins = await run({ insert: 'c', documents: [{ _id: 100 }, { _id: 1 }, { _id: 101 }], ordered: false });
    assert.equal(ins['n'], 2);
    assert.equal(ins['writeErrors'].length, 1);
    assert.deepEqual([ins['writeErrors'][0].index, ins['writeErrors'][0].code], [1, 11000]);
    const ordered = await run({ insert: 'c', documents: [{ _id: 1 }, { _id: 102 }] });
    assert.equal(ordered['n'], 0);
    const invalid = await run({ insert: 'c', documents: [{ _id: 200 }, { $bad: 1 }, { _id: 201 }], ordered: false });
    assert.equal(invalid['n'], 2);
    assert.deepEqual(invalid['writeErrors'].map((e: D) => e['index']), [1]);
    const invalidOrdered = await run({ insert: 'c', documents: [{ _id: 202 }, { $bad: 1 }, { _id: 203 }] });
    assert.equal(invalidOrdered['n'], 1);
    assert.equal((await run({ delete: 'c', deletes: [{ q: { _id: { $in: [200, 201, 202] } }, limit: 0 }] }))['n'], 3);
  });

  it('update (operators, replacement, upsert), delete, findAndModify, count, distinct', async () => {
    const u = await run({ update: 'c', updates: [{ q: { v: 0 }, u: { $set: { z: 1 } }, multi: true }, { q: { _id: 'new' }, u: { $set: { v: 9 } }, upsert: true }, { q: { _id: 3 }, u: { v: 33 } }] });
    assert.equal(u['ok'], 1);
    assert.equal(u['nModified'], 5 + 1);
    assert.deepEqual(u['upserted'], [{ index: 1, _id: 'new' }]);
    const fam = await run({ findAndModify: 'c', query: { _id: 3 }, update: { $inc: { v: 1 } }, new: true });
    assert.equal(fam['value'].v, 34);
    assert.equal(fam['lastErrorObject'].n, 1);
    const rem = await run({ findAndModify: 'c', query: { _id: 'new' }, remove: true });
    assert.equal(rem['value']._id, 'new');
    const d = await run({ delete: 'c', deletes: [{ q: { v: 1 }, limit: 1 }, { q: { _id: { $gte: 100 } }, limit: 0 }] });
    assert.equal(d['n'], 1 + 2);
    const cnt = await run({ count: 'c', query: { z: 1 } });
    assert.equal(cnt['n'], 5);
    const dist = await run({ distinct: 'c', key: 'v', query: { _id: { $lt: 10 } } });
    assert.deepEqual([...dist['values']].sort((a: number, b: number) => a - b), [0, 1, 2, 3, 4, 34]);
  });

  it('aggregate, indexes, explain, listCollections, drop', async () => {
    const a = await run({ aggregate: 'c', pipeline: [{ $match: { z: 1 } }, { $count: 'n' }], cursor: {} });
    assert.deepEqual(a['cursor'].firstBatch, [{ n: 5 }]);
    const cs = await run({ aggregate: 'c', pipeline: [{ $collStats: { storageStats: {} } }], cursor: {} });
    assert.equal(cs['cursor'].firstBatch[0].storageStats.count, 25 + 2 - 3 + 0);
    const ci = await run({ createIndexes: 'c', indexes: [{ key: { v: 1 }, name: 'v_1' }] });
    assert.equal(ci['ok'], 1);
    const li = await run({ listIndexes: 'c' });
    assert.deepEqual(li['cursor'].firstBatch.map((i: D) => i['name']).sort(), ['_id_', 'v_1']);
    const ex = await run({ explain: { find: 'c', filter: { v: 2 } } });
    assert.match(JSON.stringify(ex['queryPlanner']), /IXSCAN/);
    const di = await run({ dropIndexes: 'c', index: { v: 1 } });
    assert.equal(di['ok'], 1);
    const lc = await run({ listCollections: 1, filter: { name: 'c' }, nameOnly: true });
    assert.deepEqual(lc['cursor'].firstBatch, [{ name: 'c', type: 'collection' }]);
    assert.equal((await run({ drop: 'c' }))['ok'], 1);
    assert.deepEqual((await run({ listCollections: 1 }))['cursor'].firstBatch, []);
  });

  it('refuses hostile names and bad argument types with codes', async () => {
    for (const db of ['a/b', '..', 'x$y', '']) {
      const r = await wire.run({ find: 'c', $db: db }, conn);
      assert.equal(r['ok'], 0, db);
      assert.equal(typeof r['code'], 'number');
    }
    assert.equal((await run({ find: '../x' }))['ok'], 0);
    assert.equal((await run({ insert: 'c', documents: 'nope' }))['code'], 14);
    assert.equal((await run({ find: 'c', filter: 5 }))['code'], 14);
    assert.equal((await run({ hello: 1 }))['ok'], 1);
  });

  it('drop reports the real index count; dbStats sums the collections\' stats', async () => {
    await run({ insert: 'st1', documents: [{ _id: 1, a: 'x'.repeat(100) }, { _id: 2, a: 'y' }] }, 'stats');
    await run({ insert: 'st2', documents: [{ _id: 1, b: 1 }] }, 'stats');
    await run({ createIndexes: 'st1', indexes: [{ key: { a: 1 }, name: 'a_1' }, { key: { a: -1, _id: 1 }, name: 'a_-1__id_1' }] }, 'stats');
    const s = await run({ dbStats: 1 }, 'stats');
    let size = 0;
    let nindexes = 0;
    for (const n of ['st1', 'st2']) {
      const cs = await (client.db('stats').collection(n) as any).stats();
      size += cs.size;
      nindexes += cs.nindexes;
    }
    assert.ok(size > 100);
    assert.deepEqual([s['collections'], s['objects'], s['dataSize'], s['indexes']], [2, 3, size, nindexes]);
    assert.equal(s['indexes'], 4);
    assert.ok(s['storageSize'] > 0);
    const d = await run({ drop: 'st1' }, 'stats');
    assert.deepEqual([d['ok'], d['nIndexesWas']], [1, 3]);
    assert.equal((await run({ drop: 'st2' }, 'stats'))['nIndexesWas'], 1);
    assert.equal((await run({ drop: 'absent' }, 'stats'))['nIndexesWas'], 0);
    const empty = await run({ dbStats: 1 }, 'stats');
    assert.deepEqual([empty['dataSize'], empty['indexes'], empty['objects']], [0, 0, 0]);
  });

  it('createIndexes says whether it created the collection', async () => {
    await run({ create: 'made' }, 'ci');
    const a = await run({ createIndexes: 'made', indexes: [{ key: { a: 1 }, name: 'a_1' }] }, 'ci');
    assert.deepEqual([a['numIndexesBefore'], a['numIndexesAfter'], a['createdCollectionAutomatically']], [1, 2, false]);
    const b = await run({ createIndexes: 'fresh', indexes: [{ key: { b: 1 }, name: 'b_1' }] }, 'ci');
    assert.deepEqual([b['numIndexesBefore'], b['numIndexesAfter'], b['createdCollectionAutomatically']], [1, 2, true]);
  });

  it('hostInfo, serverStatus and getCmdLineOpts report the platform\'s facts', async () => {
    const w = new WireServer({ client, host: { hostname: 'box7', numCores: 3, memSizeMB: 2048, cpuArch: 'x64', osType: 'Linux', argv: ['node', 'serve'] } });
    w.connectionsCurrent = 2;
    const wr = (cmd: D): Promise<D> => w.run({ ...cmd, $db: 'admin' }, conn);
    const h = await wr({ hostInfo: 1 });
    assert.deepEqual([h['system'].hostname, h['system'].numCores, h['system'].memSizeMB, h['os'].type], ['box7', 3, 2048, 'Linux']);
    const st = await wr({ serverStatus: 1 });
    assert.equal(st['host'], 'box7');
    assert.deepEqual([st['connections'].current, st['connections'].available], [2, wireConnectionsMax - 2]);
    assert.deepEqual((await wr({ getCmdLineOpts: 1 }))['argv'], ['node', 'serve']);
    assert.equal((await wr({ hello: 1 }))['logicalSessionTimeoutMinutes'], wireSessionTimeoutMinutes);
    await w.closeAll();
  });
});
