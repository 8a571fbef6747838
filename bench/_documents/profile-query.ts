// Profiling helper (not part of the bench): the bench's query conditions. Loads N documents into DIR
// once (kept), then reopens it, does point gets of every id (warming caches as the bench does), and
// times (optionally CPU-profiles) eq and range. Usage:
//   node --import tsx bench/_documents/profile-query.ts [N] [DIR] [--prof=OUTDIR] [--reps=K]
import { open } from '../../platform/node/index.ts';
import { makeIds, makeDoc, now, shuffled, rangeParams, eqParams } from './workload.mjs';
import fs from 'node:fs';
import { cpuProfiled } from './cpuprofile.ts';
const N = +(process.argv[2] ?? 100000);
const dir = process.argv[3] ?? '/tmp/lt-prof-query';
const profDir = process.argv.find((a) => a.startsWith('--prof='))?.slice(7);
const reps = +(process.argv.find((a) => a.startsWith('--reps='))?.slice(7) ?? 20);
const ids = makeIds(N, 1);
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
async function phase(name: string, params: unknown[], fn: (p: any) => Promise<unknown>) {
  await fn(params[0]);
  const ms: number[] = [];
  const cpu: number[] = [];
  await cpuProfiled(profDir, name, async () => {
    for (const p of params) { const c0 = process.cpuUsage(); const t = now(); await fn(p); ms.push(now() - t); const c1 = process.cpuUsage(c0); cpu.push((c1.user + c1.system) / 1000); }
  });
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const st = (client as any).engine.store.stats();
  console.log(name.padEnd(6), 'cpu median ms', cpu[cpu.length >> 1]!.toFixed(2), 'wall median ms', ms[ms.length >> 1]!.toFixed(2), 'min', ms[0]!.toFixed(2), 'levels', JSON.stringify((client as any).engine.store.levels()), 'blockCache hits', st.blockCacheHits, 'misses', st.blockCacheMisses, 'docCache', JSON.stringify((client as any).engine.docCache.stats()));
}
await phase('eq', eqParams(reps), (city) => c.find({ city }).toArray());
await phase('range', rangeParams(reps), ([lo, hi]) => c.find({ age: { $gte: lo, $lt: hi } }).sort({ score: -1 }).limit(20).toArray());
await client.close();
