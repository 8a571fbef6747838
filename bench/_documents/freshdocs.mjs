// Shared by the profiling helpers (not part of the bench): largetable from a build in the checkout, opened on a fresh
// directory as the bench's adapter opens it (durability 'strict', the bench's indexes on city and age).
import fs from 'node:fs';
import path from 'node:path';

/** Opens `entry` (a module of the build `dist`, e.g. platform/node/bundle.js) on `dir`, emptied first: { client, c }. */
export async function openFreshDocs(dist, entry, dir) {
  const { open } = await import(path.join(path.resolve(dist), entry));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const client = await open(dir, { durability: 'strict', ttlMonitor: false });
  const c = client.db('bench').collection('docs');
  await c.createIndex({ city: 1 });
  await c.createIndex({ age: 1 });
  return { client, c };
}
