// Profiling helper (not part of the bench): the work phase in a fresh process, as the bench runs it
// (cold document cache). Load first with profile-phases.ts (same directory), then:
//   node --import tsx bench/_documents/profile-cold.ts N [--prof=DIR]
import { open } from './adapters/largetable.ts';
import { makeIds, now, shuffled, eqParams, rangeParams, scanParams } from './workload.mjs';
import { cpuProfiled } from './cpuprofile.ts';
const N = +(process.argv[2] ?? 100000);
const profDir = process.argv.find((a) => a.startsWith('--prof='))?.slice(7);
const db = await open('/tmp/lt-prof-phases', { durable: false });
const ids = makeIds(N, 1);
async function phase(name: string, fn: () => Promise<string>) {
  const line = await cpuProfiled(profDir, name, fn);
  console.log(name.padEnd(8), line);
}
await phase('get', async () => {
  const xs = shuffled(ids, 3).slice(0, 20000); const lat: number[] = [];
  for (const id of xs) { const t = now(); await db.get(id); lat.push(now() - t); }
  lat.sort((a, b) => a - b);
  return `p50 us ${(lat[lat.length >> 1]! * 1000).toFixed(2)}`;
});
await phase('eq', async () => { const ps = eqParams(10); const t = now(); for (const c of ps) await db.findEq(c); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
await phase('range', async () => { const ps = rangeParams(10); const t = now(); for (const [lo, hi] of ps) await db.findRange(lo, hi, 20); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
await phase('scan', async () => { const ps = scanParams(3); const t = now(); for (const [x, tag] of ps) await db.scan(x, tag); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
await db.close();
