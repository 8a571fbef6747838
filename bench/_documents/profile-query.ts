// Profiling helper (not part of the bench): the bench's query conditions. Loads N documents into DIR
// once (kept), then reopens it, does point gets of every id (warming caches as the bench does), and
// times (optionally CPU-profiles) eq and range. Usage:
//   node --import tsx bench/_documents/profile-query.ts [N] [DIR] [--prof=OUTDIR] [--reps=K]
import { now, rangeParams, eqParams } from './workload.mjs';
import { warmedStore } from './warmstore.ts';
import { cpuProfiled } from './cpuprofile.ts';
const N = +(process.argv[2] ?? 100000);
const dir = process.argv[3] ?? '/tmp/lt-prof-query';
const profDir = process.argv.find((a) => a.startsWith('--prof='))?.slice(7);
const reps = +(process.argv.find((a) => a.startsWith('--reps='))?.slice(7) ?? 20);
const { client, c } = await warmedStore(N, dir);
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
