import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Binary, Decimal128, Double, Int32, Long, ObjectId } from 'bson';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshClient } from './helpers.ts';
import { open } from '../../platform/node/index.ts';
import { cloneDoc, decodeDocument, DocumentCache, docKeyHash, encodeDocument } from '../../src/document/engine.ts';
import { documentKey, documentKeyOf, documentKeyScratch, encodeId } from '../../src/document/keyspace.ts';
import { SortMemos } from '../../src/document/sortmemo.ts';
import { bytesKey } from '../../src/document/keycodec.ts';

/** docKeyHash of a bytesKey string's bytes. */
const hashOf = (k: string): number => docKeyHash(Uint8Array.from(k, (c) => c.charCodeAt(0)));

describe('read path', () => {
  it('returned Binary values are the caller\'s: mutating them changes nothing cached or stored', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('bin');
    await c.createIndex({ k: 1 });
    await c.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, k: i % 2, b: new Binary(Uint8Array.of(1, 2, 3)) })));
    for (let round = 0; round < 4; round++) {
      // point gets (raw cache entry, then its decoded upgrade), index fetches, collection scan, sorted top-k
      const reads = [
        await c.findOne({ _id: 3 }),
        ...(await c.find({ k: 1 }).toArray()),
        ...(await c.find({ b: { $exists: true } }).toArray()),
        ...(await c.find({ k: { $gte: 0 } }).sort({ _id: -1 }).limit(3).toArray()),
      ];
      for (const d of reads) {
        const bin = d!.b as Binary;
        assert.deepEqual([...bin.buffer.subarray(0, bin.position)], [1, 2, 3]);
        bin.buffer[0] = 99;
        bin.write(Uint8Array.of(7, 7, 7, 7), 0);
      }
    }
    await client.close();
  });

  it('collection and index scans tested on raw BSON agree with the full matcher (Long, Decimal128, arrays, NaN)', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('raw');
    const vals: unknown[] = [1, 2.5, -0, NaN, 'x', 'é', true, null, Long.fromInt(2), Decimal128.fromString('2'), [1, 2], [[2]], [Long.fromInt(3), 'x'], { a: 2 }, new Date(2)];
    await c.insertMany(vals.flatMap((v, i) => [{ _id: i, v, w: i % 3 }, { _id: 100 + i, w: i % 3 }]));
    const filters = [{ v: 2 }, { v: { $gt: 1 } }, { v: { $gte: 2, $lt: 3 } }, { v: 'x' }, { v: { $in: [2, 'é', true] } }, { v: NaN }, { v: { $lte: 0 } }, { v: 2, w: 1 }, { v: { $in: [] } }];
    const brute = async (f: Record<string, unknown>) => (await c.find({ $and: [f] }).toArray()).map((d) => d._id).sort();
    for (const f of filters) {
      const want = await brute(f);
      assert.deepEqual((await c.find(f).toArray()).map((d) => d._id).sort(), want, JSON.stringify(f));
      assert.deepEqual((await c.find(f).sort({ w: -1, _id: 1 }).limit(50).toArray()).map((d) => d._id).sort(), want, JSON.stringify(f));
      assert.equal(await c.countDocuments(f), want.length);
    }
    await c.createIndex({ w: 1 });
    for (const f of filters) {
      const g = { ...f, w: { $gte: 0 } };
      assert.deepEqual((await c.find(g).sort({ v: 1 }).limit(50).toArray()).map((d) => d._id).sort(), await brute(g), JSON.stringify(g));
    }
    await client.close();
  });

  it('sort + limit (bounded top-k, raw sort-key gate) equals the full sort cut to size, with and without an index', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('topk');
    const arbS = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: -20, max: 20 }) },
      { weight: 4, arbitrary: fc.double({ min: -20, max: 20, noNaN: true }) },
      { weight: 1, arbitrary: fc.constantFrom(NaN, -0, Infinity, null, 'x', [3, -4], [], new Int32(2), new Double(2.5), Long.fromInt(1), Decimal128.fromString('1.5'), undefined) },
    );
    const docs = fc.sample(fc.record({ g: fc.integer({ min: 0, max: 9 }), s: arbS }), { seed: 21, numRuns: 300 }).map((d, i) => (d.s === undefined ? { _id: i, g: d.g } : { _id: i, ...d }));
    await c.insertMany(docs);
    const ids = (xs: Record<string, unknown>[]) => xs.map((d) => d._id);
    for (const indexed of [false, true]) {
      if (indexed) await c.createIndex({ g: 1 });
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 9 }), fc.constantFrom(1, -1), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 5 }), async (lo, dir, limit, skip) => {
          const f = { g: { $gte: lo } };
          const full = await c.find(f).sort({ s: dir }).toArray();
          const got = await c.find(f).sort({ s: dir }).skip(skip).limit(limit).toArray();
          assert.deepEqual(ids(got), ids(full).slice(skip, skip + limit));
        }),
        { seed: 22, numRuns: 60 },
      );
    }
    await client.close();
  });

  it('sort + limit over cached raw documents (the sort values their entries keep) follows writes and sort fields: equals the full sort cut to size, from the memtable and from segments, with and without an index', async () => {
    const arbV = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: -8, max: 8 }) },
      { weight: 4, arbitrary: fc.double({ min: -8, max: 8, noNaN: true }) },
      { weight: 2, arbitrary: fc.constantFrom(NaN, -0, 0, Infinity, -Infinity, null, 'x', [3, -4], [], new Int32(2), new Double(2), Long.fromInt(1), Decimal128.fromString('1.5'), undefined) },
    );
    const action = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('find' as const), lo: fc.integer({ min: 0, max: 6 }), field: fc.constantFrom('s', 't'), dir: fc.constantFrom(1, -1), limit: fc.integer({ min: 1, max: 30 }), skip: fc.integer({ min: 0, max: 4 }) }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), id: fc.integer({ min: 0, max: 199 }), field: fc.constantFrom('s', 't'), v: arbV }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('replace' as const), id: fc.integer({ min: 0, max: 199 }), g: fc.integer({ min: 0, max: 9 }), v: arbV }) },
    );
    for (const flushed of [false, true]) {
      for (const indexed of [false, true]) {
        const client = await freshClient();
        const c = client.db('app').collection('memo');
        const docs = fc.sample(fc.record({ g: fc.integer({ min: 0, max: 9 }), s: arbV, t: arbV }), { seed: 31, numRuns: 200 }).map((d, i) => {
          const doc: Record<string, unknown> = { _id: i, g: d.g };
          if (d.s !== undefined) doc.s = d.s;
          if (d.t !== undefined) doc.t = d.t;
          return doc;
        });
        await c.insertMany(docs);
        if (indexed) await c.createIndex({ g: 1 });
        if (flushed) await client.engine.store.flush();
        const ids = (xs: Record<string, unknown>[]) => xs.map((d) => d._id);
        await fc.assert(
          fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
            for (const a of actions) {
              if (a.op === 'set') await c.updateOne({ _id: a.id }, a.v === undefined ? { $unset: { [a.field]: '' } } : { $set: { [a.field]: a.v } });
              else if (a.op === 'replace') await c.replaceOne({ _id: a.id }, a.v === undefined ? { g: a.g } : { g: a.g, s: a.v, t: a.v });
              else {
                const f = { g: { $gte: a.lo } };
                const cur = () => (indexed ? c.find(f).hint({ g: 1 }) : c.find(f));
                const full = await cur().sort({ [a.field]: a.dir }).toArray();
                // twice: the first fills the cache (and the entries' sort values), the second reads them
                for (let k = 0; k < 2; k++) {
                  const got = await cur().sort({ [a.field]: a.dir }).skip(a.skip).limit(a.limit).toArray();
                  assert.deepEqual(ids(got), ids(full).slice(a.skip, a.skip + a.limit), JSON.stringify(a));
                }
              }
            }
          }),
          { seed: 32, numRuns: 40 },
        );
        assert.ok(client.engine.docCache.stats().hits > 0, 'candidates came from the document cache');
        await client.close();
      }
    }
  });

  it('SortMemos: a value per document key and field, found by key bytes in two parts, dropped by a write, kept across growth and dropped values; a full table starts over', () => {
    const m = new SortMemos(8 << 20);
    const key = (i: number) => documentKey(3, encodeId(`doc-${i}`));
    const s = m.fieldId('s');
    const t = m.fieldId('t');
    assert.equal(m.fieldId('s'), s);
    assert.notEqual(s, t);
    const find = (k: Uint8Array) => m.find(docKeyHash(k), k, 5, k, 5, k.length - 5);
    const model = new Map<number, [number, number]>();
    const vals = [0, -0, 1.5, -7, NaN, Infinity, 2 ** 40];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20000; i++) {
        const k = key(i);
        if ((i + round) % 7 === 0) {
          m.drop(k, docKeyHash(k));
          model.delete(i);
        } else if ((i * 31 + round) % 3 !== 0) {
          const f = i % 2 ? s : t;
          const x = vals[(i + round) % vals.length]!;
          m.set(docKeyHash(k), k, 5, k, 5, k.length - 5, f, x);
          model.set(i, [f, x]);
        }
      }
      assert.equal(m.count, model.size);
      for (let i = 0; i < 20000; i++) {
        const at = find(key(i));
        const want = model.get(i);
        if (want === undefined) assert.equal(at, -1, `${round}: ${i} dropped`);
        else {
          assert.ok(at >= 0, `${round}: ${i} kept`);
          assert.deepEqual([m.fieldAt(at), m.valueAt(at)], want);
        }
      }
    }
    // a key of another collection with the same _id bytes is another document
    assert.equal(find(documentKey(4, encodeId('doc-1'))), -1);
    // past its bytes it starts over rather than grow
    const small = new SortMemos(256 * 1024);
    for (let i = 0; i < 20000; i++) {
      const k = key(i);
      small.set(docKeyHash(k), k, k.length, k, 0, 0, s, i);
      assert.ok(small.bytes <= 256 * 1024, `${small.bytes} bytes`);
    }
    assert.ok(small.count > 1000 && small.count < 20000, `${small.count} kept`);
    const at = small.find(docKeyHash(key(19999)), key(19999), 5, key(19999), 5, key(19999).length - 5);
    assert.equal(small.valueAt(at), 19999);
    m.clear();
    assert.equal(find(key(1)), -1);
    // records that fill their 64 KiB chunks exactly (13-byte header + 51-byte key), and a table
    // that starts over in its own memory when full
    for (const budget of [8 << 20, 200 * 1024]) {
      const t = new SortMemos(budget);
      const k51 = (i: number) => Uint8Array.from({ length: 51 }, (_, j) => (j < 4 ? i >>> (8 * j) : i * 31 + j * 7) & 255);
      let bytes = 0;
      for (let i = 0; i < 5000; i++) {
        const k = k51(i);
        t.set(docKeyHash(k), k, 51, k, 0, 0, s, i);
        if (i === 2500) bytes = t.bytes;
      }
      if (budget > 1 << 20) for (let i = 0; i < 5000; i++) assert.equal(t.valueAt(t.find(docKeyHash(k51(i)), k51(i), 51, k51(i), 0, 0)), i);
      else assert.equal(t.bytes, bytes, 'a full table starts over in the memory it has');
      const last = t.find(docKeyHash(k51(4999)), k51(4999), 51, k51(4999), 0, 0);
      assert.equal(t.valueAt(last), 4999);
    }
  });

  it('documents a top-k read from the store and dropped by their sort value (kept in SortMemos, not cached) read whole by every other read, and the top-k follows writes to them', async () => {
    for (const flushed of [false, true]) {
      const client = await freshClient();
      const c = client.db('app').collection('dropped');
      const all = Array.from({ length: 400 }, (_, i) => ({ _id: i, g: i % 5, s: (i * 7919) % 1009, t: `t${i % 3}`, n: i }));
      await c.insertMany(all);
      await c.createIndex({ g: 1 });
      if (flushed) await client.engine.store.flush();
      const bySDesc = (a: { s: number; _id: number }, b: { s: number; _id: number }) => b.s - a.s || a._id - b._id;
      const top = () => c.find({ g: { $gte: 0 } }).hint({ g: 1 }).sort({ s: -1 }).limit(4).toArray();
      assert.deepEqual(await top(), [...all].sort(bySDesc).slice(0, 4));
      const st = client.engine.docCache.stats();
      assert.ok(client.engine.docCache.memos.count > 300 && st.entries < 100, `dropped documents keep their sort value only (${client.engine.docCache.memos.count} values, ${st.entries} documents cached)`);
      // point reads, whole-document index fetches, raw-tested fetches without a sort, another sort field, counts
      for (const d of all.slice(0, 60)) assert.deepEqual(await c.findOne({ _id: d._id }), d);
      assert.deepEqual(await c.find({ g: 2 }).toArray(), all.filter((d) => d.g === 2));
      assert.deepEqual(await c.find({ g: { $gte: 3 }, t: 't1' }).hint({ g: 1 }).toArray(), all.filter((d) => d.g >= 3 && d.t === 't1').sort((a, b) => a.g - b.g || a._id - b._id));
      assert.deepEqual(await c.find({ g: { $gte: 1 } }).hint({ g: 1 }).sort({ n: -1 }).limit(3).toArray(), all.filter((d) => d.g >= 1).sort((a, b) => b.n - a.n).slice(0, 3));
      assert.equal(await c.countDocuments({ g: { $gte: 0 }, t: 't2' }), all.filter((d) => d.t === 't2').length);
      // writes to dropped documents: one rises to the top, one is deleted, one changes its sort value's type
      const low = [...all].sort(bySDesc).slice(-3);
      await c.updateOne({ _id: low[0]!._id }, { $set: { s: 5000 } });
      await c.deleteOne({ _id: low[1]!._id });
      await c.updateOne({ _id: low[2]!._id }, { $set: { s: 'text' } });
      const want = all.filter((d) => d._id !== low[1]!._id).map((d) => (d._id === low[0]!._id ? { ...d, s: 5000 } : d._id === low[2]!._id ? { ...d, s: 'text' } : d));
      // strings sort after numbers: descending, the string comes first
      const expected = [want.find((d) => d._id === low[2]!._id)!, ...want.filter((d) => typeof d.s === 'number').sort(bySDesc as never).slice(0, 3)];
      for (let k = 0; k < 2; k++) assert.deepEqual(await top(), expected);
      await client.close();
    }
  });

  it('index fetches whose window probes the document cache at once (DocumentCache.heads) while its own fills evict: answers equal the reference', async () => {
    for (const flushed of [false, true]) {
      // a cache of ~130 documents: a window of a wider range fills (evicting) before it reaches the
      // cached documents whose chains it probed at its start
      const client = await freshClient({ documentCacheBytes: 62 * 1024 });
      const c = client.db('app').collection('heads');
      const all = Array.from({ length: 600 }, (_, i) => ({ _id: i, g: i % 6, s: (i * 7919) % 1009, t: `t${i % 3}`, pad: 'x'.repeat(150 + (i % 40)) }));
      await c.insertMany(all);
      await c.createIndex({ g: 1 });
      if (flushed) await client.engine.store.flush();
      const bySDesc = (a: { s: number; _id: number }, b: { s: number; _id: number }) => b.s - a.s || a._id - b._id;
      for (let round = 0; round < 3; round++) {
        for (const lo of [5, 5, 4, 5, 3]) {
          const want = all.filter((d) => d.g >= lo);
          assert.deepEqual(await c.find({ g: { $gte: lo } }).hint({ g: 1 }).sort({ s: -1 }).limit(12).toArray(), [...want].sort(bySDesc).slice(0, 12));
          const tw = want.filter((d) => d.t === 't1');
          assert.deepEqual(await c.find({ g: { $gte: lo }, t: 't1' }).hint({ g: 1 }).toArray(), [...tw].sort((a, b) => a.g - b.g || a._id - b._id));
        }
      }
      const st = client.engine.docCache.stats();
      assert.ok(st.hits > 500 && st.entries < 200, JSON.stringify(st));
      await client.close();
    }
  });

  it('toArray over many batches (index fetch windows of 8 to 256 with documents the filter drops, sorted output, a map, after a next(), a batchSize) equals the documents read one by one', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('many');
    await c.createIndex({ k: 1 });
    await c.insertMany(Array.from({ length: 1500 }, (_, i) => ({ _id: i, k: i % 3, v: i % 7 })));
    const oneByOne = async (cur: { next(): Promise<unknown> }): Promise<unknown[]> => {
      const out = [];
      for (let d = await cur.next(); d !== null; d = await cur.next()) out.push(d);
      return out;
    };
    const cases = [
      () => c.find({ k: 1, v: { $ne: 2 } }),
      () => c.find({ k: 2 }),
      () => c.find({ k: { $gte: 0 } }).sort({ v: -1, _id: 1 }),
      () => c.find({ k: 1 }).map((d) => ({ id: d._id })),
      () => c.find({ v: { $lt: 5 } }).batchSize(5),
    ];
    for (const make of cases) {
      const want = await oneByOne(make());
      assert.ok(want.length > 400, `${want.length}`);
      assert.deepEqual(await make().toArray(), want);
      // a cursor that has handed out some documents already gives the rest
      const cur = make();
      const first = [await cur.next(), await cur.next(), await cur.next()];
      assert.deepEqual([...first, ...(await cur.toArray())], want);
    }
    await client.close();
  });

  it('countDocuments on an exact index plan counts index entries and equals the collection scan', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('count');
    await c.createIndex({ s: 1 });
    await c.createIndex({ d: -1, s: 1 });
    const vals = ['a', 'b', 'c', null, undefined, new Date(1), new Date(2)];
    await c.insertMany(Array.from({ length: 120 }, (_, i) => {
      const s = vals[i % vals.length];
      const d = vals[(i * 3) % vals.length];
      return { _id: i, ...(s === undefined ? {} : { s }), ...(d === undefined ? {} : { d }) };
    }));
    const filters = [{ s: 'a' }, { s: null }, { s: { $in: ['a', 'a', 'c', null] } }, { s: { $gte: 'b' } }, { s: { $gt: 'a', $lte: 'c' } }, { d: new Date(1) }, { d: { $lt: new Date(2) }, s: 'a' }, { d: null, s: { $in: ['b', 'c'] } }, { s: 'zz' }];
    const check = async () => {
      for (const f of filters) {
        const want = (await c.find(f, { hint: { $natural: 1 } }).toArray()).length;
        assert.equal(await c.countDocuments(f), want, JSON.stringify(f));
        assert.equal(await c.countDocuments(f, { skip: 2, limit: 5 }), Math.max(0, Math.min(5, want - 2)), JSON.stringify(f));
      }
    };
    await check();
    const ex = await c.find({ s: 'a' }).explain();
    assert.equal((ex.queryPlanner as { winningPlan: { inputStage?: { stage: string } } }).winningPlan.inputStage?.stage, 'IXSCAN');
    // an array value makes the index multikey: counts then go through the documents
    await c.insertOne({ _id: 'arr', s: ['a', 'b', 'a'] });
    await check();
    await c.deleteMany({ s: 'b' });
    await check();
    await client.close();
  });

  it('cloneDoc: an equal document (key order, types, own __proto__ keys) sharing no mutable object', () => {
    const leaf = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.date({ noInvalidDate: true }), fc.constant(new Binary(Uint8Array.of(1, 2))), fc.constant(Long.fromInt(5)));
    const key = fc.oneof(fc.constantFrom('a', 'b', '0', '7', '__proto__', 'constructor'), fc.string({ maxLength: 4 }).filter((k) => !k.includes('\0')));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ weight: 4, arbitrary: leaf }, { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 3 }) }, { weight: 1, arbitrary: fc.dictionary(key, tie('v'), { maxKeys: 4 }) }),
    })).v;
    /** Every mutable object inside x (objects, arrays, Dates, Binary values and bytes; bson's immutable values are shared by design). */
    const mutables = (x: unknown, out: unknown[] = []): unknown[] => {
      if (x === null || typeof x !== 'object' || x instanceof Long) return out;
      out.push(x);
      if (x instanceof Binary) out.push(x.buffer);
      else if (!(x instanceof Date)) for (const k of Object.keys(x)) mutables((x as Record<string, unknown>)[k], out);
      return out;
    };
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 6 }), (body) => {
        // as the document cache holds them: decoded from BSON (own __proto__ keys included)
        const doc = decodeDocument(encodeDocument(body));
        const copy = cloneDoc(doc);
        assert.deepStrictEqual(copy, doc);
        assert.deepEqual(Object.keys(copy), Object.keys(doc));
        assert.equal(Object.getPrototypeOf(copy), Object.prototype);
        const mine = new Set(mutables(doc));
        for (const m of mutables(copy)) assert.ok(!mine.has(m), 'a mutable object is shared');
      }),
      { seed: 31, numRuns: 1500 },
    );
  });

  it('documentKeyOf(coll, id) is documentKey(coll, encodeId(id)) for every point _id', () => {
    const idArb = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.double(), fc.integer(), fc.boolean(), fc.date({ noInvalidDate: true }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), idArb, (coll, id) => {
        assert.deepEqual(documentKeyOf(coll, id), documentKey(coll, encodeId(id)));
      }),
      { seed: 11, numRuns: 2000 },
    );
  });

  it('documentKeyScratch(coll, id) is documentKeyOf(coll, id), and a view of one reused buffer for ASCII strings and ObjectIds', () => {
    const idArb = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(b)),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.date({ noInvalidDate: true }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), idArb, idArb, (coll, id, other) => {
        const want = documentKeyOf(coll, id);
        const got = documentKeyScratch(coll, id);
        assert.deepEqual(got, want);
        const copy = got.slice();
        // the next call may overwrite it: only a copy is kept
        assert.deepEqual(documentKeyScratch(coll ^ 1, other), documentKeyOf(coll ^ 1, other));
        assert.deepEqual(copy, want);
      }),
      { seed: 12, numRuns: 2000 },
    );
    const a = documentKeyScratch(1, 'abc');
    assert.equal(documentKeyScratch(2, 'xyz').buffer, a.buffer, 'one reused buffer');
  });

  it('collection scans streamed through reused store buffers (transient reads, a store larger than the block cache): every answer equals the reference', async () => {
    const client = await freshClient({ blockCacheSizeBytes: 64 * 1024, documentCacheBytes: 0 });
    const c = client.db('app').collection('stream');
    const all = Array.from({ length: 6000 }, (_, i) => ({ _id: `id-${String((i * 7919) % 6000).padStart(5, '0')}`, n: (i * 37) % 1009, score: ((i * 7907) % 10007) / 7, tags: ['a', `t${i % 5}`], pad: 'p'.repeat(150 + (i % 90)), ...(i % 13 === 0 ? { bin: new Binary(Uint8Array.of(i & 255, 9)) } : {}) }));
    await c.insertMany(all);
    await client.engine.store.flush();
    const byId = (a: { _id: string }, b: { _id: string }) => (a._id < b._id ? -1 : 1);
    const byScore = (a: { score: number; _id: string }, b: { score: number; _id: string }) => b.score - a.score || byId(a, b);
    for (let round = 0; round < 2; round++) {
      const lo = 100 + round * 300;
      const inRange = (d: (typeof all)[number]) => d.n >= lo && d.n < lo + 400;
      // streamed results (each match a view of a store batch until it is materialized), raw-tested
      assert.deepEqual(await c.find({ n: { $gte: lo, $lt: lo + 400 } }).toArray(), all.filter(inRange).sort(byId));
      assert.deepEqual(await c.find({ tags: 't2', score: { $gt: 300 } }).toArray(), all.filter((d) => d.tags.includes('t2') && d.score > 300).sort(byId));
      // held across batches: a top-k (gated on raw BSON) and a whole sort
      assert.deepEqual(await c.find({ n: { $gte: lo, $lt: lo + 400 } }).sort({ score: -1 }).limit(25).toArray(), all.filter(inRange).sort(byScore).slice(0, 25));
      assert.deepEqual(await c.find({ n: { $gte: lo, $lt: lo + 400 } }).sort({ score: -1, _id: 1 }).toArray(), all.filter(inRange).sort(byScore));
      assert.equal(await c.countDocuments({ tags: 't3' }), all.filter((d) => d.tags.includes('t3')).length);
      // decoded whole (a $where-free filter the raw test cannot decide: $expr)
      assert.deepEqual(await c.find({ $expr: { $lt: ['$n', 50] } }).toArray(), all.filter((d) => d.n < 50).sort(byId));
    }
    assert.ok(client.engine.store.stats().blockCacheMisses > 100, 'blocks were read from storage');
    await client.close();
  });

  it('findOne by _id: concurrent reads that need storage I/O each answer their own _id (the reused key is copied before awaiting)', async () => {
    const client = await freshClient({ blockCacheSizeBytes: 64 * 1024, documentCacheBytes: 0 });
    const c = client.db('app').collection('many');
    const oids = Array.from({ length: 1500 }, () => new ObjectId());
    const docs = [
      ...Array.from({ length: 1500 }, (_, i) => ({ _id: `id-${i}`, pad: 'x'.repeat(200), i })),
      ...oids.map((_id, i) => ({ _id, pad: 'y'.repeat(200), i })),
    ];
    await c.insertMany(docs);
    await client.engine.store.flush();
    // issued in one synchronous turn: every read that misses the cache awaits while later calls reuse the key buffer
    const want = docs.filter((_, i) => i % 7 === 3);
    const got = await Promise.all(want.map((d) => c.findOne({ _id: d._id })));
    assert.deepEqual(got, want);
    assert.ok(client.engine.store.stats().blockCacheMisses > 0, 'some reads went to storage');
    await client.close();
  });

  it('index fetches that read blocks synchronously (Node fs, a full block cache): answers equal the reference, caller-owned, over L0 and L1 segments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lt-fetch-'));
    try {
      for (const documentCacheBytes of [0, 1 << 20]) {
        rmSync(dir, { recursive: true, force: true });
        const client = await open(dir, { blockCacheSizeBytes: 96 * 1024, documentCacheBytes, ttlMonitor: false });
        const c = client.db('app').collection('fetch');
        await c.createIndex({ city: 1 });
        await c.createIndex({ n: 1 });
        const doc = (i: number) => ({ _id: `id-${String((i * 7919) % 4000).padStart(5, '0')}`, city: `c${i % 9}`, n: (i * 37) % 501, pad: 'p'.repeat(100 + (i % 50)), tags: ['a', `t${i % 3}`], ...(i % 11 === 0 ? { bin: new Binary(Uint8Array.of(i & 255, 7)) } : {}) });
        const all = Array.from({ length: 4000 }, (_, i) => doc(i));
        // three flushes: segments whose key ranges overlap (a fetch in key order reads them together)
        for (let part = 0; part < 3; part++) {
          await c.insertMany(all.filter((_, i) => i % 3 === part));
          await client.engine.store.flush();
        }
        const byId = (a: { _id: string }, b: { _id: string }) => (a._id < b._id ? -1 : 1);
        const cached = () => client.engine.docCache.stats().entries;
        for (let round = 0; round < 3; round++) {
          for (const city of ['c0', 'c4', 'c8']) {
            const before = cached();
            const got = await c.find({ city }).hint({ city: 1 }).toArray();
            assert.deepEqual(got, all.filter((d) => d.city === city).sort(byId));
            // whole documents read from storage are cached on their second read, as point reads' are
            if (documentCacheBytes > 0 && round < 2) assert.ok(round === 0 ? cached() < before + 5 : cached() > before + 50, `round ${round}: ${before} -> ${cached()} cached`);
            // the caller's to mutate
            got[0]!.tags.push('x');
            for (const d of got) if (d.bin) (d.bin as Binary).buffer[0] = 99;
          }
          // an index range in n order (fetches out of _id order), with a filter tested on raw BSON and a sort
          const lo = 100 + round * 50;
          const want = all.filter((d) => d.n >= lo && d.n < lo + 120 && d.tags.includes('t1')).sort((a, b) => a.n - b.n || byId(a, b));
          assert.deepEqual(await c.find({ n: { $gte: lo, $lt: lo + 120 }, tags: 't1' }).sort({ n: 1, _id: 1 }).hint({ n: 1 }).toArray(), want);
          assert.deepEqual(await c.find({ n: { $gte: lo, $lt: lo + 120 }, tags: 't1' }).sort({ pad: -1, _id: 1 }).limit(7).hint({ n: 1 }).toArray(), [...want].sort((a, b) => b.pad.length - a.pad.length || byId(a, b)).slice(0, 7));
        }
        assert.ok(client.engine.store.stats().blockCacheMisses > 100, 'blocks were read from storage');
        await client.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('index fetches over overlapping segments with a full cache: streamed, counted, sorted, multikey and in a transaction\'s snapshot, each equal to the reference', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lt-fetch-views-'));
    try {
      const client = await open(dir, { blockCacheSizeBytes: 64 * 1024, documentCacheBytes: 0, ttlMonitor: false });
      const c = client.db('app').collection('views');
      await c.createIndex({ city: 1 });
      await c.createIndex({ tags: 1 });
      // _ids of two lengths (keys of different sizes in one window), numbers and strings
      const id = (i: number) => (i % 5 === 0 ? i : `k${String((i * 7919) % 3000).padStart(i % 2 ? 4 : 6, '0')}`);
      const doc = (i: number, v = 0) => ({ _id: id(i), city: `c${i % 7}`, v, pad: 'q'.repeat(80 + (i % 40)), tags: [`t${i % 3}`, `t${(i + 1) % 3}`, 'all'] });
      const all = new Map<unknown, ReturnType<typeof doc>>();
      for (let part = 0; part < 3; part++) {
        const docs = Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 3 === part).map((i) => doc(i));
        await c.insertMany(docs);
        for (const d of docs) all.set(d._id, d);
        await client.engine.store.flush();
      }
      const order = (a: { _id?: unknown }, b: { _id?: unknown }) => {
        const ta = typeof a._id, tb = typeof b._id;
        if (ta !== tb) return ta === 'number' ? -1 : 1;
        return (a._id as number | string) < (b._id as number | string) ? -1 : 1;
      };
      const want = (f: (d: ReturnType<typeof doc>) => boolean) => [...all.values()].filter(f).sort(order);
      const check = async () => {
        for (const city of ['c0', 'c3', 'c6']) {
          assert.deepEqual(await c.find({ city }).hint({ city: 1 }).toArray(), want((d) => d.city === city), city);
          assert.equal(await c.countDocuments({ city, v: { $gte: 0 } }), want((d) => d.city === city).length);
          // a sort keeps the fetched _ids beyond their window
          assert.deepEqual((await c.find({ city }).sort({ pad: -1, _id: 1 }).limit(9).hint({ city: 1 }).toArray()).map((d) => d._id), want((d) => d.city === city).sort((a, b) => b.pad.length - a.pad.length || order(a, b)).slice(0, 9).map((d) => d._id));
        }
        // multikey: each document once, though two of its entries are in the bounds (in index order: compared as sets)
        assert.deepEqual((await c.find({ tags: { $in: ['t0', 't1'] } }).hint({ tags: 1 }).toArray()).sort(order), want((d) => d.tags.includes('t0') || d.tags.includes('t1')));
      };
      await check();
      // a transaction reads its snapshot (no document cache, cached-only reads then fetches) while newer versions land
      const s = client.startSession();
      s.startTransaction();
      const before = want((d) => d.city === 'c2');
      assert.deepEqual(await c.find({ city: 'c2' }, { session: s }).hint({ city: 1 }).toArray(), before);
      for (let i = 0; i < 3000; i += 4) {
        const d = doc(i, 1);
        d.city = i % 8 === 0 ? 'c2' : d.city;
        await c.replaceOne({ _id: d._id }, d);
        all.set(d._id, d);
      }
      await client.engine.store.flush();
      assert.deepEqual(await c.find({ city: 'c2' }, { session: s }).hint({ city: 1 }).toArray(), before, 'the snapshot, not the newer versions');
      await s.commitTransaction();
      await s.endSession();
      await check();
      assert.ok(client.engine.store.stats().blockCacheMisses > 100, 'blocks were read from storage');
      await client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('index fetches whose read-ahead hashes the keys for their lookups: newer versions and deletes in the memtable over segments, in L0 and after compaction, each equal to the reference', async () => {
    // no document cache: every fetch is a store lookup (LsmStore.locateRead with the hash the
    // window's read-ahead wrote); a lookup with another key's hash would miss the memtable's newer
    // version (its hash index) or a segment's bloom filter and answer an older version or none
    for (const documentCacheBytes of [0, 1 << 20]) {
      const client = await freshClient({ documentCacheBytes });
      const c = client.db('app').collection('hashes');
      await c.createIndex({ city: 1 });
      const id = (i: number) => (i % 4 === 0 ? i : i % 4 === 1 ? `k${String(i).padStart(i % 3 ? 3 : 7, '0')}` : i % 4 === 2 ? new ObjectId(i.toString(16).padStart(24, '0')) : `é${i}`);
      const all = new Map<string, { _id: unknown; city: string; v: number; pad: string }>();
      const keyOf = (x: unknown) => (x instanceof ObjectId ? `o${x.toHexString()}` : `${typeof x}${String(x)}`);
      const put = (i: number, v: number) => {
        const d = { _id: id(i), city: `c${i % 5}`, v, pad: 'p'.repeat(20 + (i % 90)) };
        all.set(keyOf(d._id), d);
        return d;
      };
      // three flushed parts (overlapping L0 segments), then newer versions and deletes left in the memtable
      for (let part = 0; part < 3; part++) {
        await c.insertMany(Array.from({ length: 2400 }, (_, i) => i).filter((i) => i % 3 === part).map((i) => put(i, 0)));
        await client.engine.store.flush();
      }
      const check = async (what: string) => {
        for (let city = 0; city < 5; city++) {
          const want = [...all.values()].filter((d) => d.city === `c${city}`).sort((a, b) => (keyOf(a._id) < keyOf(b._id) ? -1 : 1));
          for (let round = 0; round < 2; round++) {
            const got = await c.find({ city: `c${city}` }).hint({ city: 1 }).toArray();
            assert.deepEqual(got.sort((a, b) => (keyOf(a._id) < keyOf(b._id) ? -1 : 1)), want, `${what}, city c${city}, round ${round}, cache ${documentCacheBytes}`);
          }
        }
      };
      await check('segments only');
      for (let i = 0; i < 2400; i += 3) await c.replaceOne({ _id: id(i) }, put(i, 1));
      for (let i = 1; i < 2400; i += 29) {
        await c.deleteOne({ _id: id(i) });
        all.delete(keyOf(id(i)));
      }
      await check('newer versions and deletes in the memtable');
      await client.engine.store.flush();
      for (let i = 2; i < 2400; i += 7) {
        await c.updateOne({ _id: id(i) }, { $set: { v: 2 } });
        const d = all.get(keyOf(id(i)));
        if (d) d.v = 2;
      }
      await check('a fourth segment and the memtable');
      await client.engine.store.compact();
      await check('compacted');
      await client.close();
    }
  });

  it('findOne by _id follows drops, re-creations, renames and closed clients', async () => {
    const client = await freshClient();
    const db = client.db('app');
    const c = db.collection('p');
    assert.equal(await c.findOne({ _id: 'a' }), null);
    await c.insertOne({ _id: 'a', v: 1 });
    assert.deepEqual(await c.findOne({ _id: 'a' }), { _id: 'a', v: 1 });
    await c.drop();
    assert.equal(await c.findOne({ _id: 'a' }), null);
    await db.collection('p').insertOne({ _id: 'a', v: 2 });
    assert.deepEqual(await c.findOne({ _id: 'a' }), { _id: 'a', v: 2 });
    await c.rename('q');
    assert.equal(await c.findOne({ _id: 'a' }), null);
    assert.deepEqual(await db.collection('q').findOne({ _id: 'a' }), { _id: 'a', v: 2 });
    const d = (await db.collection('q').findOne({ _id: 'a' }))!;
    d.v = 99; // the caller's object: the next read is unchanged
    assert.deepEqual(await db.collection('q').findOne({ _id: 'a' }), { _id: 'a', v: 2 });
    await client.close();
    await assert.rejects(db.collection('q').findOne({ _id: 'a' }), { code: 'CLOSED' });
  });

  it('the document cache\'s point-miss batch: long byte keys (its key buffer grown) and string _ids by reference interleaved, each admitted key read back with its own bytes', () => {
    // a fake store memory: the committed value of each key (by its bytes)
    const stored = new Map<string, Uint8Array>();
    const asked: string[] = [];
    const cache = new DocumentCache(1 << 22, (key) => {
      asked.push(bytesKey(key));
      return stored.get(bytesKey(key)) ?? null;
    });
    const keys: { key: Uint8Array; id?: string }[] = [];
    for (let i = 0; i < 64; i++) {
      if (i % 3 === 0) {
        // a string _id of collection 0x81020304 (its top bit set), noted by reference
        const id = `s${i}`;
        keys.push({ key: documentKeyOf(0x81020304, id), id });
      } else {
        // a byte key of 40-400 bytes (64 of them outgrow the batch's first 2 KiB of key bytes)
        const key = documentKey(7, Uint8Array.from({ length: 40 + ((i * 97) % 360) }, (_, j) => (i * 31 + j * 7) & 255));
        keys.push({ key });
      }
    }
    for (const [i, k] of keys.entries()) {
      const v = encodeDocument({ _id: i, n: i });
      stored.set(bytesKey(k.key), v);
    }
    // every key missed twice in a row: two full batches, each admitting its 32 keys (the first
    // grows the batch's key buffer while holding keys it admits)
    for (const k of keys) for (let r = 0; r < 2; r++) cache.notePointMiss(k.key, docKeyHash(k.key), k.id);
    assert.equal(cache.stats().entries, 64);
    assert.deepEqual(new Set(asked), new Set(keys.map((k) => bytesKey(k.key))));
    for (const [i, k] of keys.entries()) {
      const e = cache.entryOf(k.key, docKeyHash(k.key));
      assert.ok(e, `key ${i}`);
      assert.deepEqual(cache.own(e), { _id: i, n: i });
    }
    // a key deleted from store memory before its batch: not cached; a key whose read needs I/O: not cached
    cache.clear();
    const gone = keys[1]!;
    stored.delete(bytesKey(gone.key));
    for (let r = 0; r < 2; r++) for (const k of keys.slice(0, 10)) cache.notePointMiss(k.key, docKeyHash(k.key), k.id);
    cache.admitPending();
    assert.equal(cache.stats().entries, 9);
    assert.equal(cache.entryOf(gone.key, docKeyHash(gone.key)), undefined);
  });

  it('the document cache\'s held-keys filter: no false negatives, and rebuilt as removed keys pile up', () => {
    const cache = new DocumentCache(1 << 30);
    const raw = new Uint8Array(8);
    for (let i = 0; i < 200_000; i++) {
      cache.setRaw('d' + i, raw);
      if (i % 1000 !== 7) cache.delete('d' + i);
    }
    for (let i = 7; i < 200_000; i += 1000) assert.ok(cache.mayHold(hashOf('d' + i)) && cache.entry('d' + i), `d${i}`);
    // 199,800 keys removed: without rebuilds ~9% of the bits would be stale; rebuilt, at most ~3%
    let falsePositives = 0;
    for (let i = 0; i < 20_000; i++) if (cache.mayHold(hashOf('absent' + i))) falsePositives++;
    assert.ok(falsePositives < 1000, `${falsePositives} of 20,000 absent keys may be held`);
    assert.equal(docKeyHash(Uint8Array.of(0x10, 0, 0, 0, 1, 2, 98, 0)), hashOf('\x10\0\0\0\x01\x02b\0'));
  });

  it('the document cache\'s held-keys filter sets two bits per key: few false positives while it holds few keys', () => {
    // a false positive sends a read down the map probe: with one bit per key, 20,000 held keys
    // answered "may hold" for ~1% of absent keys (and the first such probe of a run of point reads
    // deoptimizes the read path compiled without it); with two bits of the key's word, ~0.04%
    const cache = new DocumentCache(1 << 30);
    const raw = new Uint8Array(8);
    for (let i = 0; i < 20_000; i++) cache.setRaw('h' + i, raw);
    for (let i = 0; i < 20_000; i += 97) assert.ok(cache.mayHold(hashOf('h' + i)), `h${i}`);
    let falsePositives = 0;
    for (let i = 0; i < 100_000; i++) if (cache.mayHold(hashOf('absent' + i))) falsePositives++;
    assert.ok(falsePositives < 200, `${falsePositives} of 100,000 absent keys may be held`);
  });

  it('the document cache evicts in insertion order within its budget (model check)', () => {
    type Op = { kind: 'raw' | 'del' | 'get'; key: number; len: number };
    const arbOp: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom('raw', 'raw', 'raw', 'del', 'get'), key: fc.integer({ min: 0, max: 40 }), len: fc.integer({ min: 5, max: 200 }) }) as fc.Arbitrary<Op>;
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 3000 }), fc.integer({ min: 300, max: 6000 }), (ops, maxBytes) => {
        const cache = new DocumentCache(maxBytes);
        // model: keys in insertion order with their sizes (a re-put moves the key to the end)
        let model: { k: string; size: number; len: number }[] = [];
        for (const op of ops) {
          const k = 'k' + op.key;
          if (op.kind === 'raw') {
            const raw = new Uint8Array(op.len);
            cache.setRaw(k, raw);
            model = model.filter((m) => m.k !== k);
            const size = op.len + 256;
            if (size <= maxBytes) model.push({ k, size, len: op.len });
            let bytes = model.reduce((a, m) => a + m.size, 0);
            while (bytes > maxBytes) bytes -= model.shift()!.size;
          } else if (op.kind === 'del') {
            cache.delete(k);
            model = model.filter((m) => m.k !== k);
          } else {
            const e = cache.entry(k);
            const m = model.find((x) => x.k === k);
            assert.equal(e !== undefined, m !== undefined, k);
            // the held-keys filter has no false negatives
            if (m) assert.ok(cache.mayHold(hashOf(k)), k);
            if (e) assert.equal(e.raw!.length, m!.len);
          }
          assert.equal(cache.stats().entries, model.length);
          assert.equal(cache.stats().bytes, model.reduce((a, m) => a + m.size, 0));
        }
      }),
      { seed: 23, numRuns: 200 },
    );
  });

  it('the document cache keeps copies of views in slab chunks within its budget (model check)', () => {
    // views (of a larger buffer, as a store block's values are) are copied into 32 KiB chunks; a
    // chunk counts whole while a live entry is in it, so re-put keys leave dead bytes that count
    type Op = { kind: 'raw' | 'own' | 'del' | 'get'; key: number; len: number };
    const arbOp: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom('raw', 'raw', 'raw', 'raw', 'own', 'del', 'get'), key: fc.integer({ min: 0, max: 400 }), len: fc.integer({ min: 1, max: 5000 }) }) as fc.Arbitrary<Op>;
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 1000, maxLength: 3000 }), fc.integer({ min: 1 << 20, max: 3 << 20 }), (ops, maxBytes) => {
        const cache = new DocumentCache(maxBytes);
        const block = new Uint8Array(8192);
        const last = new Map<string, Uint8Array>();
        let n = 0;
        /** Every entry held has the bytes last put (nothing overwrote a slab view), and the bytes counted cover the memory held. */
        const audit = (): void => {
          let held = 0;
          let lower = 0;
          const chunks = new Set<ArrayBufferLike>();
          for (const [k, bytes] of last) {
            const e = cache.entry(k);
            if (!e) continue;
            held++;
            assert.deepEqual(e.raw, bytes, k);
            if (e.raw!.buffer.byteLength === 32 * 1024 && e.raw!.length < 32 * 1024) {
              chunks.add(e.raw!.buffer);
              lower += 256;
            } else lower += e.raw!.length + 256;
          }
          assert.equal(cache.stats().entries, held);
          assert.ok(cache.stats().bytes >= lower + chunks.size * 32 * 1024, `counted ${cache.stats().bytes} < held ${lower} + ${chunks.size} chunks`);
        };
        for (const op of ops) {
          const k = 'k' + op.key;
          if (op.kind === 'raw' || op.kind === 'own') {
            const bytes = new Uint8Array(op.len);
            for (let i = 0; i < op.len; i++) bytes[i] = (n * 31 + i) & 255;
            n++;
            let src = bytes;
            if (op.kind === 'raw' && op.len <= 4000) {
              block.set(bytes, 100);
              src = block.subarray(100, 100 + op.len);
            }
            const kept = cache.setRaw(k, src);
            if (kept) {
              assert.deepEqual(kept, bytes);
              // a view of the caller's buffer is never kept
              assert.ok(kept === bytes || kept.buffer !== block.buffer);
            }
            last.set(k, bytes);
            block.fill(0);
          } else if (op.kind === 'del') {
            cache.delete(k);
            last.delete(k);
          } else {
            const e = cache.entry(k);
            if (e) assert.deepEqual(e.raw, last.get(k), k);
          }
          assert.ok(cache.stats().bytes <= maxBytes, `${cache.stats().bytes} > ${maxBytes}`);
          if (n % 200 === 0) audit();
        }
        audit();
        cache.clear();
        assert.equal(cache.stats().bytes, 0);
      }),
      { seed: 31, numRuns: 30 },
    );
  });

  it('the document cache keeps keys whose 32-bit hashes collide apart (model check, by string and by key bytes)', () => {
    // colliding pairs of 8-byte keys, found by the birthday bound (~4 expected among 200,000 keys)
    const byHash = new Map<number, string>();
    const pool: string[] = [];
    let seed = 12345;
    const rnd = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (t ^ (t >>> 14)) >>> 0;
    };
    while (pool.length < 6) {
      const a = rnd();
      const b = rnd();
      const k = String.fromCharCode(0x10, 0, 0, 0, 1, 2, a & 255, (a >>> 8) & 255, (a >>> 16) & 255, a >>> 24, b & 255, (b >>> 8) & 255);
      const h = hashOf(k);
      const other = byHash.get(h);
      if (other !== undefined && other !== k) pool.push(other, k);
      else byHash.set(h, k);
    }
    for (let i = 0; i < pool.length; i += 2) {
      assert.equal(hashOf(pool[i]!), hashOf(pool[i + 1]!));
      assert.notEqual(pool[i], pool[i + 1]);
    }
    pool.push('\x10plain-a', '\x10plain-b');
    const bytesOf = (k: string) => Uint8Array.from(k, (c) => c.charCodeAt(0));
    type Op = { kind: 'raw' | 'del' | 'get' | 'clear'; key: number; len: number };
    const arbOp: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom('raw', 'raw', 'raw', 'del', 'get', 'get', 'clear'), key: fc.integer({ min: 0, max: pool.length - 1 }), len: fc.integer({ min: 1, max: 120 }) }) as fc.Arbitrary<Op>;
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 50, maxLength: 400 }), fc.integer({ min: 300, max: 2000 }), (ops, maxBytes) => {
        const cache = new DocumentCache(maxBytes);
        let model: { k: string; size: number; raw: Uint8Array }[] = [];
        for (const op of ops) {
          const k = pool[op.key]!;
          if (op.kind === 'raw') {
            const raw = new Uint8Array(op.len).fill(op.key + 1);
            const kept = cache.setRaw(k, raw);
            model = model.filter((m) => m.k !== k);
            const size = op.len + 256;
            if (size <= maxBytes) model.push({ k, size, raw });
            let bytes = model.reduce((a, m) => a + m.size, 0);
            while (bytes > maxBytes) bytes -= model.shift()!.size;
            assert.equal(kept !== undefined, model.some((m) => m.k === k));
          } else if (op.kind === 'del') {
            cache.delete(k);
            model = model.filter((m) => m.k !== k);
          } else if (op.kind === 'clear') {
            cache.clear();
            model = [];
          }
          for (const key of pool) {
            const m = model.find((x) => x.k === key);
            const b = bytesOf(key);
            const e1 = cache.entry(key);
            const e2 = cache.mayHold(docKeyHash(b)) ? cache.entryOf(b, docKeyHash(b)) : undefined;
            assert.equal(e1, e2, key);
            assert.equal(e1 !== undefined, m !== undefined, key);
            assert.equal(cache.has(key), m !== undefined, key);
            if (m) assert.deepEqual(e1!.raw, m.raw, key);
          }
          assert.equal(cache.stats().entries, model.length);
          assert.equal(cache.stats().bytes, model.reduce((a, m) => a + m.size, 0));
        }
      }),
      { seed: 29, numRuns: 150 },
    );
  });
});
