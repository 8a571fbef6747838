// Regression: an exclusion-only projection must not be treated as covered by the index.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { open } from '../../platform/node/index.ts';
it('{_id:0} projection on an indexed filter returns every other field', async () => {
  const c = await open('memory://cov-' + Math.random().toString(36).slice(2));
  const col = c.db('d').collection('c');
  await col.createIndex({ sku: 1 });
  await col.insertOne({ sku: 'a1', qty: 5, tags: ['x'] });
  assert.deepEqual(await col.find({ sku: 'a1' }, { projection: { _id: 0 } }).toArray(), [{ sku: 'a1', qty: 5, tags: ['x'] }]);
  assert.deepEqual(await col.find({ sku: 'a1' }, { projection: { _id: 0, sku: 1 } }).toArray(), [{ sku: 'a1' }]);
  await c.close();
});
