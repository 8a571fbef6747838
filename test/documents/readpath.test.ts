import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, Decimal128, Long } from 'bson';
import { freshClient } from './helpers.ts';

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
});
