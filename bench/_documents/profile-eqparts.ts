// Profiling helper (not part of the bench): per-document CPU cost of the parts of an indexed equality
// query (`find({ city })`, the bench's eq phase) after the bench's point-get phase. Each part runs on
// cities of its own (never on a city a part just touched, so CPU caches are as cold as in the
// bench), rotated in rounds; medians of µs per returned document.
//   node --import tsx bench/_documents/profile-eqparts.ts [N] [DIR] [--rounds=K]
// WALL=1 times wall clock instead of process CPU (which counts the GC's helper threads too).
// Parts: the index scan alone (rangeBatches over the city's index range); the store lookups alone
// (store.locateCached of each candidate's document key); lookups + decode (decodeDocumentAt); the
// whole find().toArray(). Decode = (lookups + decode) - lookups; the rest of the find (window,
// document-cache probe, FoundDoc, cursor, GC of the results) = find - scan - (lookups + decode).
import { CITIES } from './workload.mjs';
import { warmedStore } from './warmstore.ts';
import { choosePlan } from '../../src/document/exec.ts';
import { documentKey } from '../../src/document/keyspace.ts';
import { decodeDocumentAt } from '../../src/document/engine.ts';
import { entryValue } from '../../src/storage/store.ts';
const N = +(process.argv[2] ?? 100000);
const dir = process.argv[3] ?? '/tmp/lt-prof-query';
const rounds = +(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 3);
const { client, c } = await warmedStore(N, dir);
const engine = (client as any).engine;
const store = engine.store;
const coll = engine.collection('bench', 'docs');
const cpu = process.env.WALL ? () => performance.now() : () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
/** The candidates' document keys of a city (index scan, untimed). */
async function keysOf(city: string): Promise<Uint8Array[]> {
  const r = (await choosePlan(engine, coll, engine.live, { filter: { city } } as any)).plan.ranges[0];
  const out: Uint8Array[] = [];
  for await (const b of engine.live.rangeBatches({ gte: r.gte, lt: r.lt }, 8, 256)) for (let i = 0; i < b.n; i++) out.push(documentKey(coll.id, entryValue(b, i)));
  return out;
}
const parts: [string, (city: string, keys: Uint8Array[]) => Promise<number> | number][] = [
  ['index scan', async (city) => {
    const r = (await choosePlan(engine, coll, engine.live, { filter: { city } } as any)).plan.ranges[0];
    let n = 0;
    for await (const b of engine.live.rangeBatches({ gte: r.gte, lt: r.lt }, 8, 256)) n += b.n;
    return n;
  }],
  ['lookups (locateCached)', (_, ks) => { let x = 0; for (const k of ks) x += store.locateCached(k); return ks.length; }],
  ['lookups + decode', (_, ks) => { for (const k of ks) if (store.locateCached(k) === 1) decodeDocumentAt(store.hit.buf, store.hit.off, store.hit.len); return ks.length; }],
  ['find().toArray()', async (city) => (await c.find({ city }).toArray()).length],
];
const per: number[][] = parts.map(() => []);
let ci = 0;
for (let r = 0; r < rounds; r++) {
  for (let p = 0; p < parts.length; p++) {
    const city = CITIES[ci++ % CITIES.length]!;
    const ks = await keysOf(city);
    // the untimed key gathering touched only the index: the documents' blocks are as cold as in the bench
    const t = cpu();
    const n = await parts[p]![1](city, ks);
    per[p]!.push(((cpu() - t) * 1000) / n);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const m = per.map(med);
for (let p = 0; p < parts.length; p++) console.log(parts[p]![0].padEnd(24), 'µs/doc median', m[p]!.toFixed(2));
console.log('derived: decode', (m[2]! - m[1]!).toFixed(2), 'rest of find', (m[3]! - m[0]! - m[2]!).toFixed(2));
await client.close();
