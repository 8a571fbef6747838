/** Child of crash.test.ts: inserts, updates and deletes vector documents forever; prints a line per 100 writes. */
import { openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { loadPlatformKernels } from '../../platform/node/kernels.ts';
import { openCollection } from './harness.ts';
import { rng, gaussian } from './data.ts';

const [dir, d] = [process.argv[2]!, 8];
await loadPlatformKernels();
const o = await openCollection(await openNodeFsAdapter(dir), 'crash');
await o.coll.createIndex({ embedding: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', kind: 'hnsw', checkpointEvery: 150 });
const r = rng(5), g = gaussian(r);
for (let i = 0; ; i++) {
  const op = r();
  if (op < 0.7 || i < 50) await o.coll.insertOne({ _id: i, embedding: Array.from({ length: d }, g) });
  else if (op < 0.85) await o.coll.updateOne({ _id: Math.floor(r() * i) }, { $set: { embedding: Array.from({ length: d }, g) } });
  else if (op < 0.95) await o.coll.deleteOne({ _id: Math.floor(r() * i) });
  else await o.coll.insertMany(Array.from({ length: 20 }, (_, j) => ({ _id: `m${i}-${j}`, embedding: Array.from({ length: d }, g) })));
  if (i % 100 === 0) process.stdout.write(`${i}\n`);
}
