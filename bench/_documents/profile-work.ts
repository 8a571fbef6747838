// Profiling helper (not part of the bench): the bench's work phase up to its queries, on a store the
// bench's load phase left (copy `DIR/largetable/main` once, e.g. after `runner.mjs largetable load`,
// and pass the copy), through a built dist/ (so an old build can be A/B'd against a new one):
// cold open, first get, first query (city00), the bench's point gets (`--lookups=K`, default
// min(N, 20,000); their p50 printed), then the eq and range queries of the bench (each printed), timed
// per query, with the block and document caches' hits and misses per query.
//   node --import tsx bench/_documents/profile-work.ts STOREDIR [--dist=DIR] [--docs=N] [--eq=K] [--range=K] [--prof=OUTDIR]
// The store is opened in place: run it on a copy (the queries write nothing, but open may recover).
import path from 'node:path';
import { makeIds, shuffled, now, eqParams, rangeParams } from './workload.mjs';
import { cpuProfiled } from './cpuprofile.ts';
const arg = (k: string, d?: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
const dir = process.argv[2]!;
const dist = path.resolve(arg('dist', path.join(import.meta.dirname, '../../dist'))!);
const N = +arg('docs', '1000000')!;
const lookups = +arg('lookups', String(Math.min(N, 20000)))!;
const profDir = arg('prof');
const { open } = await import(path.join(dist, 'platform/node/bundle.js'));
const ids: string[] = makeIds(N, 1);
const client = await open(dir, { durability: 'strict', ttlMonitor: false });
const c = client.db('bench').collection('docs');
await c.createIndex({ city: 1 });
await c.createIndex({ age: 1 });
let t = now();
await c.findOne({ _id: ids[0] });
await c.find({ city: 'city00' }).toArray();
const first = now() - t;
t = now();
const lat: number[] = [];
for (const id of shuffled(ids, 3).slice(0, lookups)) { const t1 = now(); await c.findOne({ _id: id }); lat.push(now() - t1); }
lat.sort((a, b) => a - b);
console.log(`open+first ${first.toFixed(1)} ms, ${lookups} gets ${(now() - t).toFixed(0)} ms p50 ${(lat[lat.length >> 1]! * 1000).toFixed(2)} µs, document cache ${JSON.stringify((client as any).engine.docCache.stats())}, levels ${JSON.stringify((client as any).engine.store.levels())}`);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
async function phase(name: string, params: unknown[], fn: (p: any) => Promise<unknown[]>) {
  const ms: number[] = [];
  const cp: number[] = [];
  let rows = 0;
  const st = () => (client as any).engine.store.stats();
  const s0 = st();
  const dc0 = (client as any).engine.docCache.stats();
  await cpuProfiled(profDir, name, async () => {
    for (const p of params) {
      const c0 = cpu();
      const t0 = now();
      rows += (await fn(p)).length;
      ms.push(now() - t0);
      cp.push(cpu() - c0);
    }
  });
  const s1 = st();
  const q = params.length;
  const dc1 = (client as any).engine.docCache.stats();
  console.log(`${name} document cache hits/q ${Math.round((dc1.hits - dc0.hits) / q)} misses/q ${Math.round((dc1.misses - dc0.misses) / q)} entries ${dc1.entries}`);
  console.log(`${name} block cache hits/q ${Math.round((s1.blockCacheHits - s0.blockCacheHits) / q)} misses/q ${Math.round((s1.blockCacheMisses - s0.blockCacheMisses) / q)}`);
  console.log(`${name} rows/q ${Math.round(rows / params.length)} wall ms ${ms.map((x) => x.toFixed(0)).join(' ')} | median ${med(ms).toFixed(1)} (warm ${ms[0]!.toFixed(1)}) cpu median ${med(cp).toFixed(1)}`);
}
await phase('eq', eqParams(+arg('eq', '20')!), (city) => c.find({ city }).toArray());
if (+arg('range', '20')! > 0) await phase('range', rangeParams(+arg('range', '20')!), ([lo, hi]) => c.find({ age: { $gte: lo, $lt: hi } }).sort({ score: -1 }).limit(20).toArray());
await client.close();
