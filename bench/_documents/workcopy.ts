// Shared by the profiling helpers (profile-pair.ts, profile-gets-ab.ts; not part of the bench): opens a
// fresh copy of BASE (a store the bench's load phase left, DIR/largetable/main) at `dir` through the
// built dist/ `dist`, and does what the bench's work phase does before its gets: the bench's two
// indexes, one get (`firstId`), one indexed equality query (city00).
import fs from 'node:fs';
import path from 'node:path';

export async function openWorkCopy(dist: string, base: string, dir: string, firstId: string) {
  const { open } = await import(path.join(dist, 'platform/node/index.js'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(base, dir, { recursive: true });
  const client = await open(dir, { durability: 'strict', ttlMonitor: false });
  const c = client.db('bench').collection('docs');
  await c.createIndex({ city: 1 });
  await c.createIndex({ age: 1 });
  await c.findOne({ _id: firstId });
  await c.find({ city: 'city00' }).toArray();
  return { client, c };
}
