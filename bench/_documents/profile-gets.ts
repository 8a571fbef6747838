// Profiling helper (not part of the bench): the bench's point-get phase in the state the bench's work
// phase reaches it. BASE is a store left by the bench's load phase (`runner.mjs largetable load`, its
// DIR/largetable/main); every run copies it to a scratch directory, then does what the work phase does
// before its gets (open with the bench's indexes, one get, one indexed equality query) and times the
// 20,000 point gets by _id in the bench's order.
//   node --import tsx bench/_documents/profile-gets.ts BASE [--n=100000] [--gets=20000] [--prof=OUTDIR] [--idle] [--compact] [--split]
// [--warmblocks]; with --split, WIN=1 also prints the first pass's hit p50 and block reads per 2,000 gets
// LT_SRC=1 runs the TypeScript sources instead of dist/; MEM=1 prints heap and ArrayBuffer bytes around
// the gets (run with --expose-gc). --idle waits for background work the open started before the gets;
// --compact compacts first; --split then does further passes of first reads (ids not read yet) and
// reports the p50 of gets that found their block cached and of those that read one, and pass 1's hit p50
// by the number of gets since the last block read. To compare two builds use profile-gets-ab.ts.
import { makeIds, now, shuffled, pct } from './workload.mjs';
import { cpuProfiled } from './cpuprofile.ts';
import fs from 'node:fs';
const { open: openLt } = await import(process.env.LT_SRC ? '../../platform/node/index.ts' : '../../dist/platform/node/index.js');
const base = process.argv[2]!;
const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const N = +(arg('n') ?? 100000), G = +(arg('gets') ?? 20000);
const profDir = arg('prof');
const dir = `/tmp/lt-prof-gets-${process.pid}`;
fs.rmSync(dir, { recursive: true, force: true });
fs.cpSync(base, dir, { recursive: true });
const ids: string[] = makeIds(N, 1);
const t0 = now();
const client = await openLt(dir, { durability: 'strict', ttlMonitor: false });
const c = client.db('bench').collection('docs');
await c.createIndex({ city: 1 });
await c.createIndex({ age: 1 });
const store = (client as any).engine.store;
if (process.argv.includes('--compact')) await store.compact();
const openMs = now() - t0;
await c.findOne({ _id: ids[0] });
await c.find({ city: 'city00' }).toArray();
if (process.argv.includes('--idle')) await store.idle();
if (process.argv.includes('--warmblocks')) { const { documentKeyOf } = await import(process.env.LT_SRC ? '../../src/document/keyspace.ts' : '../../dist/src/document/keyspace.js'); const cid = (c as any).meta().id; for (const id of ids) await store.get(documentKeyOf(cid, id)); }
const s0 = store.stats();
const mem = () => { const m = process.memoryUsage(); return `heap ${(m.heapUsed / 2 ** 20).toFixed(1)} ab ${(m.arrayBuffers / 2 ** 20).toFixed(1)} rss ${(m.rss / 2 ** 20).toFixed(0)}`; };
if (process.env.MEM) { (globalThis as any).gc?.(); console.log('before gets', mem()); }
const look = shuffled(ids, 3).slice(0, G), lat = new Array(look.length);
const split = process.argv.includes('--split'), hit1: number[] = [], miss1: number[] = [], win1: [number, boolean][] = [];
const f0 = process.resourceUsage();
const c0 = process.cpuUsage();
const t1 = now();
await cpuProfiled(profDir, 'gets', async () => {
  for (let i = 0; i < look.length; i++) {
    const m0 = split ? store.stats().blockCacheMisses : 0;
    const t = now(); const d = await c.findOne({ _id: look[i] }); lat[i] = now() - t; if (!d) throw new Error('miss');
    if (split) { const isHit = store.stats().blockCacheMisses === m0; (isHit ? hit1 : miss1).push(lat[i]); win1.push([lat[i], isHit]); }
  }
});
const wall = now() - t1;
if (process.env.MEM) { console.log('after gets', mem()); (globalThis as any).gc?.(); console.log('after gc', mem(), 'docCache', JSON.stringify((client as any).engine.docCache.stats?.())); }
const cu = process.cpuUsage(c0);
const f1 = process.resourceUsage();
const s1 = store.stats();
lat.sort((a: number, b: number) => a - b);
console.log(`p50 us ${(pct(lat, 50) * 1000).toFixed(2)} p90 ${(pct(lat, 90) * 1000).toFixed(1)} p99 ${(pct(lat, 99) * 1000).toFixed(1)} mean ${((wall * 1000) / G).toFixed(2)} cpu/get us ${(((cu.user + cu.system) / G)).toFixed(2)}`,
  `| open ms ${openMs.toFixed(0)} levels ${JSON.stringify(store.levels())} block hits ${s1.blockCacheHits - s0.blockCacheHits} misses ${s1.blockCacheMisses - s0.blockCacheMisses} compactions ${s1.compactions} minflt ${f1.minorPageFault - f0.minorPageFault} ctxsw ${f1.voluntaryContextSwitches - f0.voluntaryContextSwitches}/${f1.involuntaryContextSwitches - f0.involuntaryContextSwitches}`);
if (split) {
  hit1.sort((a, b) => a - b); miss1.sort((a, b) => a - b);
  if (process.env.WIN) { const w = 2000; const parts: string[] = []; for (let a = 0; a < G; a += w) { const h = win1.slice(a, a + w).filter((x) => x[1]).map((x) => x[0]).sort((x, y) => x - y); parts.push(`${(pct(h, 50) * 1000).toFixed(1)}/${w - h.length}`); } console.log('pass 1 hit p50/misses per 2000:', parts.join(' ')); }
  // pass 1's hits by how many gets came since the last block read (a read's system call, copy and
  // decodes of 40 KiB evict what later gets use: measured ~7 us right after one, ~4 us 20+ gets later)
  { const bk = [1, 2, 3, 5, 10, 20, 1e9]; const by: number[][] = bk.map(() => []); let since = 1e9; for (const [l, h] of win1) { if (!h) { since = 0; continue; } since++; by[bk.findIndex((b) => since <= b)]!.push(l); } console.log('hit p50 by gets since last miss:', bk.map((b, i) => { const a = by[i]!.sort((x, y) => x - y); return `<=${b}: ${(pct(a, 50) * 1000).toFixed(2)} (${a.length})`; }).join(' | ')); }
  console.log(`pass 1: hits ${hit1.length} p50 ${(pct(hit1, 50) * 1000).toFixed(2)} misses ${miss1.length} p50 ${(pct(miss1, 50) * 1000).toFixed(2)}`);
  // more passes of first reads (ids not read yet), gets classified by whether they read a block
  const seen = new Set(look);
  const rest = shuffled(ids, 7).filter((id) => !seen.has(id));
  for (let p = 0; p + G <= rest.length; p += G) {
    const hit: number[] = [], miss: number[] = [];
    for (const id of rest.slice(p, p + G)) { const m0 = store.stats().blockCacheMisses; const t = now(); await c.findOne({ _id: id }); const dt = now() - t; (store.stats().blockCacheMisses === m0 ? hit : miss).push(dt); }
    hit.sort((a, b) => a - b); miss.sort((a, b) => a - b);
    const all = [...hit, ...miss].sort((a, b) => a - b);
    console.log(`pass ${p / G + 2}: p50 ${(pct(all, 50) * 1000).toFixed(2)} hits ${hit.length} p50 ${(pct(hit, 50) * 1000).toFixed(2)} misses ${miss.length} p50 ${(pct(miss, 50) * 1000).toFixed(2)}`);
  }
}
await client.close();
fs.rmSync(dir, { recursive: true, force: true });
