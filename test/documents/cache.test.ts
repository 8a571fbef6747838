import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freshClient } from './helpers.ts';

describe('document cache (write-through)', () => {
  it('reads after writes see the latest committed document, through every read path', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('cache');
    await c.createIndex({ city: 1 });
    await c.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, city: `c${i % 5}`, n: i, tags: ['a', 'b'] })));
    for (let round = 0; round < 3; round++) {
      // point get, index scan (full decode), index scan with sort (lazy decode) and a collection scan all agree
      const one = await c.findOne({ _id: 7 });
      assert.equal(one?.n, 7 + round * 100);
      const eq = await c.find({ city: 'c2' }).toArray();
      assert.deepEqual(eq.map((d) => d.n), [2, 7, 12, 17, 22, 27, 32, 37, 42, 47].map((x) => (x === 7 ? 7 + round * 100 : x)));
      const top = await c.find({ city: 'c2' }).sort({ n: -1 }).limit(1).toArray();
      assert.equal(top[0]?._id, 7 + (round === 0 ? 40 : 0));
      // returned documents are copies: mutating them changes nothing stored
      one!.n = -1;
      (eq[0]!.tags as string[]).push('mutated');
      assert.deepEqual((await c.findOne({ _id: 2 }))?.tags, ['a', 'b']);
      await c.updateOne({ _id: 7 }, { $inc: { n: 100 } });
    }
    await c.deleteOne({ _id: 7 });
    assert.equal(await c.findOne({ _id: 7 }), null);
    assert.equal((await c.find({ city: 'c2' }).toArray()).length, 9);
    await client.close();
  });

  it('concurrent commits with different durabilities leave the last write visible', async () => {
    const client = await freshClient();
    const c = client.db('app').collection('race');
    await c.insertOne({ _id: 1, v: 0 });
    await c.findOne({ _id: 1 });
    await c.findOne({ _id: 1 });
    for (let i = 1; i <= 20; i++) {
      const a = c.updateOne({ _id: 1 }, { $set: { v: i * 2 - 1 } });
      const b = c.updateOne({ _id: 1 }, { $set: { v: i * 2 } }, { writeConcern: { j: false } });
      await Promise.all([a, b]);
      assert.equal((await c.findOne({ _id: 1 }))?.v, i * 2);
      assert.equal((await c.find({ v: { $gte: 0 } }).toArray())[0]?.v, i * 2);
    }
    await client.close();
  });
});
