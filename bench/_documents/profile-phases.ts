// Profiling helper (not part of the bench): load N documents, then time (and optionally CPU-profile)
// each read/update phase separately. Usage: node --import tsx bench/_documents/profile-phases.ts [N] [phase,...|all] [--prof=DIR]
import { open } from './adapters/largetable.ts';
import { makeIds, makeDoc, now, shuffled, rangeParams, scanParams, eqParams } from './workload.mjs';
import fs from 'node:fs';
import { cpuProfiled } from './cpuprofile.ts';
const N = +(process.argv[2] ?? 20000);
const only = (process.argv[3] ?? 'all').split(',');
const profDir = process.argv.find((a) => a.startsWith('--prof='))?.slice(7);
async function phase(name: string, fn: () => Promise<string>) {
  if (!only.includes('all') && !only.includes(name)) return;
  const line = await cpuProfiled(profDir, name, fn);
  console.log(name.padEnd(8), line);
}
const dir = '/tmp/lt-prof-phases'; fs.rmSync(dir, { recursive: true, force: true });
const db = await open(dir, { durable: false });
const ids = makeIds(N, 1);
await phase('load', async () => {
  const t = now();
  for (let b = 0; b < N; b += 1000) { const docs = []; for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids[i], i)); await db.insertBatch(docs); }
  return `docs/s ${Math.round(N / ((now() - t) / 1000))}`;
});
await phase('get', async () => {
  const xs = shuffled(ids, 3).slice(0, 20000); const t = now();
  for (const id of xs) await db.get(id);
  return `us ${((now() - t) * 1000 / xs.length).toFixed(2)}`;
});
await phase('eq', async () => { const ps = eqParams(20); const t = now(); for (const c of ps) await db.findEq(c); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
await phase('range', async () => { const ps = rangeParams(10); const t = now(); for (const [lo, hi] of ps) await db.findRange(lo, hi, 20); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
await phase('scan', async () => { const ps = scanParams(3); const t = now(); for (const [x, tag] of ps) await db.scan(x, tag); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
await phase('update', async () => { const xs = shuffled(ids, 4).slice(0, 3000); const t = now(); for (const id of xs) await db.inc(id, 'score', 1); return `ops/s ${Math.round(xs.length / ((now() - t) / 1000))}`; });
await db.close();
