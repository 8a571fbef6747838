// Shared by the query profiling helpers (not part of the bench): the bench's store of N documents in
// DIR (loaded once, kept), reopened with the bench's indexes and warmed by point gets of every id in
// the bench's order, as the bench's work phase leaves it before its queries.
import { open } from '../../platform/node/index.ts';
import { makeIds, makeDoc, shuffled } from './workload.mjs';
import fs from 'node:fs';

export async function warmedStore(N: number, dir: string) {
  const ids: string[] = makeIds(N, 1);
  if (!fs.existsSync(dir)) {
    const client = await open(dir, { durability: 'strict', ttlMonitor: false });
    const c = client.db('bench').collection('docs');
    await c.createIndex({ city: 1 });
    await c.createIndex({ age: 1 });
    for (let b = 0; b < N; b += 1000) { const docs = []; for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids[i], i)); await c.insertMany(docs); }
    await client.close();
  }
  const client = await open(dir, { durability: 'strict', ttlMonitor: false });
  const c = client.db('bench').collection('docs');
  await c.createIndex({ city: 1 });
  await c.createIndex({ age: 1 });
  for (const id of shuffled(ids, 3)) await c.findOne({ _id: id });
  return { client, c, ids };
}
