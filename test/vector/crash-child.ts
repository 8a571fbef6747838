/** Child of crash.test.ts (argv: dir, kind hnsw|ivf): inserts, updates and deletes vector documents forever; prints a line per 100 writes. */
import { openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { loadPlatformKernels } from '../../platform/node/kernels.ts';
import { openCollection } from './harness.ts';
import { rng, gaussian } from './data.ts';

const [dir, d, kind] = [process.argv[2]!, 8, process.argv[3] ?? 'hnsw'];
const kindOptions = kind === 'ivf' ? { kind: 'ivf', nlist: 8, nprobe: 8, trainSize: 256 } : { kind: 'hnsw' };
await loadPlatformKernels();
const o = await openCollection(await openNodeFsAdapter(dir), 'crash');
await o.coll.createIndex({ embedding: 'vector' }, { name: 'vec', dimensions: d, metric: 'l2', ...kindOptions, checkpointEvery: 150 });
const r = rng(5), g = gaussian(r);
for (let i = 0; ; i++) {
  const op = r();
  if (op < 0.7 || i < 50) await o.coll.insertOne({ _id: i, embedding: Array.from({ length: d }, g) });
  else if (op < 0.85) await o.coll.updateOne({ _id: Math.floor(r() * i) }, { $set: { embedding: Array.from({ length: d }, g) } });
  else if (op < 0.95) await o.coll.deleteOne({ _id: Math.floor(r() * i) });
  else await o.coll.insertMany(Array.from({ length: 20 }, (_, j) => ({ _id: `m${i}-${j}`, embedding: Array.from({ length: d }, g) })));
  if (i % 100 === 0) process.stdout.write(`${i}\n`);
}
