// Largetable through its public API (MongoDB-driver shapes), Node fs adapter.
// Durability 'strict': every acknowledged write (batch or single) is fsynced (group commit).
// the built package as `import ... from 'largetable'` loads it on Node (dist/'s one-module Node entry):
// `npm run bench` builds first when dist/ is stale
import { open as openLt } from '../../../dist/platform/node/bundle.js';

export const meta = {
  engine: 'largetable', version: '0.1.0', persistent: true,
  durability: { bulk: "durability 'strict': each insertMany batch fsynced before it resolves", single: "durability 'strict': fsync per acknowledged insert (group commit across concurrent callers)", work: "updates/deletes with writeConcern { j: false } when not durable (fsync within 100 ms, like sqlite synchronous=NORMAL)" },
};

export async function open(dir: string, opts: { durable: boolean }) {
  const wc = opts.durable ? {} : { writeConcern: { j: false } };
  const client = await openLt(dir, { durability: 'strict', ttlMonitor: false });
  const c = client.db('bench').collection('docs');
  await c.createIndex({ city: 1 });
  await c.createIndex({ age: 1 });
  return {
    insertBatch: (docs: Record<string, unknown>[]) => c.insertMany(docs),
    insertOne: (d: Record<string, unknown>) => c.insertOne(d),
    get: (_id: string) => c.findOne({ _id }),
    findEq: (city: string) => c.find({ city }).toArray(),
    findRange: (lo: number, hi: number, limit: number) => c.find({ age: { $gte: lo, $lt: hi } }).sort({ score: -1 }).limit(limit).toArray(),
    scan: (x: number, tag: string) => c.find({ score: { $gt: x }, tags: tag }).toArray(),
    inc: (_id: string, field: string, by: number) => c.updateOne({ _id }, { $inc: { [field]: by } }, wc),
    remove: (_id: string) => c.deleteOne({ _id }, wc),
    flush: () => {},
    close: () => client.close(),
  };
}
