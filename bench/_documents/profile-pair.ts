// Profiling helper (not part of the bench): a paired A/B of two builds in ONE process, so that the
// machine's load hits both alike (separate runs of old and new builds differed by 20-50% under a load
// of 6-8 on 2 cores; interleaved in one process, two copies of one build agreed within 1% on get p50
// and within ~20% on eq medians: run it a few times). Each side (dist A = "old", dist B = "new") opens its own copy of BASE (a store the bench's load
// phase left: DIR/largetable/main), does what the bench's work phase does before its gets (indexes,
// one get, one city00 query), then the bench's 20,000 point gets run in alternating chunks of 500 per
// side, and its eq queries (the warm run, then 20 cities) alternate query by query (order flipped
// every other query). Prints per side: get p50/p90, eq median/min wall and median process CPU, block
// cache misses per eq query, and the document cache's stats.
// With --eq=K, K cities (up to 50 distinct ones); the last line is the median of the per-query ratios new/old.
// With --range=K, K of the bench's range queries (age range, sort by score, limit 20) follow, alternated the same way.
//   node --import tsx bench/_documents/profile-pair.ts BASE --a=OLD_DIST_DIR [--b=NEW_DIST_DIR] [--docs=N] [--eq=K]
import path from 'node:path';
import { makeIds, shuffled, now, eqParams, rangeParams, pct } from './workload.mjs';
import fs from 'node:fs';
import { openWorkCopy } from './workcopy.ts';
const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const base = process.argv[2]!;
if (!arg('a')) throw new Error('usage: profile-pair.ts BASE --a=OLD_DIST_DIR [--b=NEW_DIST_DIR] [--docs=N]');
const dists = { old: path.resolve(arg('a')!), new: path.resolve(arg('b') ?? path.join(import.meta.dirname, '../../dist')) };
const N = +(arg('docs') ?? 100000);
const ids: string[] = makeIds(N, 1);
const sides: Record<string, any> = {};
for (const [name, d] of Object.entries(dists)) {
  const dir = `/tmp/lt-prof-pair-${process.pid}-${name}`;
  const { client, c } = await openWorkCopy(d, base, dir, ids[0]!);
  sides[name] = { client, dir, c, lat: [] as number[], eq: [] as number[], eqcpu: [] as number[] };
}
const look = shuffled(ids, 3).slice(0, Math.min(N, 20000));
const order = ['old', 'new'];
for (let at = 0; at < look.length; at += 500) {
  for (const name of (at / 500) % 2 ? [...order].reverse() : order) {
    const s = sides[name]!;
    for (let i = at; i < Math.min(look.length, at + 500); i++) { const t = now(); await s.c.findOne({ _id: look[i] }); s.lat.push(now() - t); }
  }
}
const cities = eqParams(+(arg('eq') ?? 20)); // up to 50 distinct cities
const bm0: Record<string, number> = {};
for (const name of order) bm0[name] = sides[name]!.client.engine.store.stats().blockCacheMisses;
for (const name of order) await sides[name]!.c.find({ city: cities[0] }).toArray(); // the bench's warm run
for (let q = 0; q < cities.length; q++) {
  for (const name of q % 2 ? [...order].reverse() : order) {
    const s = sides[name]!;
    const u0 = process.cpuUsage(); const t = now();
    const r = await s.c.find({ city: cities[q] }).toArray();
    s.eq.push(now() - t); const u = process.cpuUsage(u0); s.eqcpu.push((u.user + u.system) / 1000);
    if (r.length < 1000) throw new Error(`few: ${name} ${cities[q]} ${r.length}`);
  }
}
const ranges = rangeParams(+(arg('range') ?? 0));
const rangeMs: Record<string, number[]> = { old: [], new: [] };
for (let q = 0; q < ranges.length; q++) {
  for (const name of q % 2 ? [...order].reverse() : order) {
    const [lo, hi] = ranges[q]!;
    const t = now();
    await sides[name]!.c.find({ age: { $gte: lo, $lt: hi } }).sort({ score: -1 }).limit(20).toArray();
    rangeMs[name]!.push(now() - t);
  }
}
const med = (a: number[]) => { const b = [...a].sort((x, y) => x - y); return b[b.length >> 1]!; };
for (const name of order) {
  const s = sides[name]!;
  s.lat.sort((a: number, b: number) => a - b);
  const st = s.client.engine.store.stats();
  console.log(`${name}: block misses/eq ${((st.blockCacheMisses - bm0[name]!) / 21).toFixed(0)} cache ${(st.blockCacheBytes / 2 ** 20).toFixed(1)} MB`);
  console.log(`${name}: get p50 ${(pct(s.lat, 50) * 1000).toFixed(2)} µs p90 ${(pct(s.lat, 90) * 1000).toFixed(1)} | eq median ${med(s.eq).toFixed(2)} ms min ${Math.min(...s.eq).toFixed(2)} cpu median ${med(s.eqcpu).toFixed(2)} | ${JSON.stringify(s.client.engine.docCache.stats())}`);
  await s.client.close();
  fs.rmSync(s.dir, { recursive: true, force: true });
}
// paired: per query, new against the old run next to it
const ratio = sides.new!.eq.map((x: number, i: number) => x / sides.old!.eq[i]!);
const cratio = sides.new!.eqcpu.map((x: number, i: number) => x / sides.old!.eqcpu[i]!);
console.log(`paired eq new/old: wall median ${med(ratio).toFixed(3)}, cpu median ${med(cratio).toFixed(3)} (${ratio.length} queries)`);
if (ranges.length > 0) console.log(`paired range new/old: wall median ${med(rangeMs.new!.map((x, i) => x / rangeMs.old![i]!)).toFixed(3)} (${ranges.length} queries; medians old ${med(rangeMs.old!).toFixed(2)} new ${med(rangeMs.new!).toFixed(2)} ms)`);
