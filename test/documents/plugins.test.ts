import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getIndexPlugin, registerIndexKind, type LargetableError } from '../../platform/node/index.ts';
import type { IndexPlugin } from '../../src/document/plugins.ts';
import { freshClient } from './helpers.ts';

describe('index plugins', () => {
  it('a registered kind receives every write in the same batch and can refuse writes', async () => {
    const calls: string[] = [];
    let committed = 0;
    registerIndexKind('test-kind', async (ctx, existing) => {
      let seen = 0;
      if (existing) for await (const _ of existing) seen++;
      calls.push(`create ${ctx.name} existing=${seen}`);
      const plugin: IndexPlugin & { search(): unknown[] } = {
        onWrite(id, before, after) {
          if (after && after.refuse) throw new (class extends Error {})('refused');
          calls.push(`write ${String(id)} ${before ? 'b' : '-'}${after ? 'a' : '-'}`);
          return after ? [{ type: 'put', key: new Uint8Array([...ctx.keyPrefix, 1]), value: new Uint8Array([Number(id)]) }] : [];
        },
        afterCommit() {
          committed++;
        },
        abort() {
          calls.push('abort');
        },
        stats: () => ({ kind: 'test' }),
        drop: async () => [{ type: 'del', key: new Uint8Array([...ctx.keyPrefix, 1]) }],
        close: async () => {},
        search: () => [],
      };
      return plugin;
    });
    const client = await freshClient();
    const c = client.db('p').collection('c');
    await c.insertOne({ _id: 1 });
    await c.createIndex({ f: 'test-kind' as unknown as number }, { name: 'tk' });
    await c.insertOne({ _id: 2 });
    await c.updateOne({ _id: 2 }, { $set: { x: 1 } });
    await c.deleteOne({ _id: 1 });
    await assert.rejects(c.insertOne({ _id: 3, refuse: true }));
    assert.equal(await c.countDocuments(), 1);
    assert.deepEqual(calls, ['create tk existing=1', 'write 2 -a', 'write 2 ba', 'write 1 b-', 'abort']);
    assert.equal(committed, 3);
    assert.ok(getIndexPlugin(c, 'tk'));
    assert.deepEqual(((await c.stats()).indexDetails as Record<string, unknown>).tk, { kind: 'test' });
    await c.dropIndex('tk');
    assert.equal(getIndexPlugin(c, 'tk'), undefined);
    await client.close();
  });

  it("createIndex({ v: 'vector' }) builds the vector plugin; vectorSearch, filter and $vectorSearch use it", async () => {
    const client = await freshClient();
    const c = client.db('p').collection('vec');
    await c.insertMany([
      { _id: 'x', v: [1, 0, 0], t: 'a' },
      { _id: 'y', v: [0, 1, 0], t: 'b' },
      { _id: 'z', v: [0.9, 0.1, 0], t: 'b' },
    ]);
    await c.createIndex({ v: 'vector' as unknown as number }, { name: 'v_vec', dimensions: 3, metric: 'cosine' });
    await c.insertOne({ _id: 'w', v: [0, 0, 1], t: 'a' });
    const hits = await c.vectorSearch([1, 0, 0], { k: 2 });
    assert.deepEqual(hits.map((h) => h._id), ['x', 'z']);
    assert.equal((hits[0]!.document as Record<string, unknown>).t, 'a');
    const filtered = await c.vectorSearch([1, 0, 0], { k: 2, filter: { t: 'b' } });
    assert.deepEqual(filtered.map((h) => h._id), ['z', 'y']);
    const agg = await c.aggregate([{ $vectorSearch: { path: 'v', queryVector: [0, 0, 1], limit: 1 } }, { $project: { _id: 1 } }]).toArray();
    assert.deepEqual(agg, [{ _id: 'w' }]);
    await assert.rejects(c.insertOne({ v: [1, 2] }), (e: LargetableError) => e.code === 'INVALID_VECTOR' || e.code === 'INVALID_ARGUMENT');
    assert.equal(await c.countDocuments(), 4);
    await client.close();
  });
});
